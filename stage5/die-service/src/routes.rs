use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use telemetry::OpenTelemetrySpanExt;
use tracing::{Span, info, warn};

use crate::AppState;
use crate::error::{ApiError, MAX_IDENTIFIER_CHARS};
use crate::store;

#[derive(Deserialize)]
pub struct DiceQuery {
    identifier: Option<String>,
}

/// `GET /dice` lists the identifiers; `GET /dice?identifier=X` returns X's
/// specification, or 404. Both read the table on every request: the database
/// is the live configuration.
pub async fn dice(
    State(state): State<AppState>,
    query: Result<Query<DiceQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let identifier = query.ok().and_then(|Query(query)| query.identifier);
    let Some(identifier) = identifier else {
        info!(query_type = "list", "querying database");
        let identifiers = store::identifiers(&state.db).await?;
        state.metrics.record_list_served();
        state.metrics.set_loaded(identifiers.len());
        info!(dice = identifiers.len(), "die list requested");
        return Ok(Json(json!({ "identifiers": identifiers })));
    };

    // The identifier is caller input: bounded before it goes anywhere.
    let shown: String = identifier.chars().take(64).collect();
    let span = Span::current();
    span.set_attribute("die.identifier", shown.clone());
    // Checked before the query: PostgreSQL refuses a NUL character in a
    // parameter with an error, and a client's typo must not look like a
    // broken database.
    if !could_be_an_identifier(&identifier) {
        warn!(identifier = %shown.escape_debug(), "malformed die identifier requested");
        return Err(ApiError::MalformedIdentifier);
    }
    info!(query_type = "get", identifier = %shown, "querying database");
    match store::spec(&state.db, &identifier).await? {
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
            let known = store::identifiers(&state.db).await?;
            Err(ApiError::UnknownDie { known })
        }
    }
}

/// Whether `identifier` could name a die in the table: 1 to 50 characters
/// (the column is `VARCHAR(50)`), none of them a control character (NUL
/// above all).
fn could_be_an_identifier(identifier: &str) -> bool {
    let length = identifier.chars().count();
    (1..=MAX_IDENTIFIER_CHARS).contains(&length) && !identifier.chars().any(char::is_control)
}

/// `GET /ready`: 200 once the database answers and is migrated and seeded,
/// 503 saying which part is missing before that. Liveness is `GET /`, which
/// answers as long as the process runs.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let reachable = state.db.is_reachable().await;
    let prepared = state.prepared.is_done();
    let database = match (reachable, prepared) {
        (true, true) => "ready",
        (true, false) => "preparing",
        (false, _) => "unreachable",
    };
    let status = if database == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "database": database })))
}

/// `GET /`: what this service is and what it serves.
pub async fn index() -> Json<Value> {
    Json(json!({
        "service": "die-service",
        "stage": 5,
        "endpoints": {
            "/dice": "the identifiers of every die: {\"identifiers\": [...]}",
            "/dice?identifier=X": "die X: {\"identifier\", \"faces\", \"error_rate\"}, or 404",
            "/ready": "200 when the database is usable, 503 before",
            "/metrics": "Prometheus metrics",
        },
    }))
}
