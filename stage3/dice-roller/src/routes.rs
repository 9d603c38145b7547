use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::AppState;
use crate::dice;
use crate::die_service::Lookup;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct RollParams {
    die: Option<String>,
}

/// `GET /roll?die=<identifier>` -> `{"roll": N}`, rolled by the die-service's
/// specification of that die.
pub async fn roll(
    State(state): State<AppState>,
    params: Result<Query<RollParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let requested = params.ok().and_then(|Query(params)| params.die);
    let Some(die) = requested.filter(|die| !die.is_empty() && die.len() <= 50) else {
        warn!("roll requested without a usable die");
        return Err(ApiError::UnknownDie { known: Vec::new() });
    };
    info!(die = %die, "request received");
    let spec = match state.die_service.spec(&die).await {
        Ok(Lookup::Found(spec)) => spec,
        Ok(Lookup::Unknown { known }) => {
            warn!(die = %die, "unknown die requested");
            return Err(ApiError::UnknownDie { known });
        }
        Err(error) => {
            warn!(
                error = &error as &dyn std::error::Error,
                "die-service request failed"
            );
            return Err(ApiError::DieServiceUnavailable);
        }
    };
    if spec.faces.is_empty() {
        warn!(die = %die, "the die-service sent a die without faces");
        return Err(ApiError::DieServiceUnavailable);
    }
    let value = dice::roll(&die, &spec, state.roll_max_delay, &state.metrics).await?;
    Ok(Json(json!({ "roll": value })))
}

/// `GET /`: what this service is and what it serves.
pub async fn index() -> Json<Value> {
    Json(json!({
        "service": "dice-roller",
        "stage": 3,
        "endpoints": {
            "/roll?die=<identifier>": "roll a die the die-service knows: {\"roll\": N}",
            "/metrics": "Prometheus metrics",
        },
    }))
}
