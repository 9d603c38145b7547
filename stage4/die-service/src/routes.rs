use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use telemetry::OpenTelemetrySpanExt;
use tracing::{Span, info, warn};

use crate::AppState;
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct DiceQuery {
    identifier: Option<String>,
}

/// `GET /dice` lists the identifiers; `GET /dice?identifier=X` returns X's
/// specification, or 404.
pub async fn dice(
    State(state): State<AppState>,
    query: Result<Query<DiceQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let specs = state.specs.current();
    let identifier = query.ok().and_then(|Query(query)| query.identifier);
    let Some(identifier) = identifier else {
        state.metrics.record_list_served();
        info!(dice = specs.len(), "die list requested");
        return Ok(Json(
            json!({ "identifiers": specs.identifiers().collect::<Vec<_>>() }),
        ));
    };

    // The identifier is caller input: bounded before it goes anywhere.
    let shown: String = identifier.chars().take(64).collect();
    let span = Span::current();
    span.set_attribute("die.identifier", shown.clone());
    match specs.get(&identifier) {
        Some(spec) => {
            span.set_attribute("die.found", true);
            state.metrics.record_spec_served(&identifier);
            info!(identifier = %identifier, "die specification requested");
            Ok(Json(json!({
                "identifier": identifier,
                "faces": spec.faces,
                "error_rate": spec.error_rate,
            })))
        }
        None => {
            span.set_attribute("die.found", false);
            warn!(identifier = %shown, "unknown die identifier requested");
            Err(ApiError::UnknownDie {
                known: specs.identifiers().map(str::to_owned).collect(),
            })
        }
    }
}

/// `GET /`: what this service is and what it serves.
pub async fn index() -> Json<Value> {
    Json(json!({
        "service": "die-service",
        "stage": 4,
        "endpoints": {
            "/dice": "the identifiers of every die: {\"identifiers\": [...]}",
            "/dice?identifier=X": "die X: {\"identifier\", \"faces\", \"error_rate\"}, or 404",
            "/metrics": "Prometheus metrics",
        },
    }))
}
