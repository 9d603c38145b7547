use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::AppState;
use crate::dice::{self, Die};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct RollParams {
    die: Option<String>,
}

/// `GET /roll?die=fair|risky` -> `{"roll": N}`.
pub async fn roll(
    State(state): State<AppState>,
    params: Result<Query<RollParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let requested = params.ok().and_then(|Query(params)| params.die);
    let Some(die) = requested.as_deref().and_then(Die::from_name) else {
        // The value is the caller's input: log a bounded prefix, never use it
        // as a label.
        let shown: String = requested.unwrap_or_default().chars().take(32).collect();
        warn!(die = %shown, "unknown die requested");
        return Err(ApiError::UnknownDie);
    };
    info!(die_type = die.name(), "request received");
    let value = dice::roll(die, state.roll_settings, &state.metrics).await?;
    Ok(Json(json!({ "roll": value })))
}

/// `GET /`: what this service is and what it serves.
pub async fn index() -> Json<Value> {
    Json(json!({
        "service": "dice-roller",
        "stage": 2,
        "endpoints": {
            "/roll?die=fair|risky": "roll a die: {\"roll\": N}",
            "/metrics": "Prometheus metrics",
        },
        "dice": Die::NAMES,
    }))
}
