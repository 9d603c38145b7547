use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::AppState;
use crate::dice::{self, MAX_BATCH_SIZE};
use crate::die_service::{DieSpec, Lookup};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct RollParams {
    die: Option<String>,
    times: Option<String>,
}

/// `GET /roll?die=<identifier>` -> `{"roll": N}`, rolled by the die-service's
/// specification of that die.
pub async fn roll(
    State(state): State<AppState>,
    params: Result<Query<RollParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = params.ok().map(|Query(params)| params);
    let die = requested_die(params.as_ref())?;
    info!(die = %die, "request received");
    let spec = spec_of(&state, &die).await?;
    let value = dice::roll(&die, &spec, state.roll_max_delay, &state.metrics).await?;
    Ok(Json(json!({ "roll": value })))
}

/// `GET /roll-async?die=<identifier>&times=N` ->
/// `{"total": T, "rolls": [...], "count": N}`: N dice rolled concurrently.
pub async fn roll_async(
    State(state): State<AppState>,
    params: Result<Query<RollParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = params.ok().map(|Query(params)| params);
    let die = requested_die(params.as_ref())?;
    let times = batch_size(params.as_ref().and_then(|params| params.times.as_deref()))?;
    info!(die = %die, times, "batch requested");
    let spec = spec_of(&state, &die).await?;
    let batch = dice::roll_batch(&die, spec, times, state.roll_max_delay, &state.metrics).await?;
    Ok(Json(json!({
        "total": batch.total,
        "count": batch.rolls.len(),
        "rolls": batch.rolls,
    })))
}

/// The die a request names, if it names one that could exist.
fn requested_die(params: Option<&RollParams>) -> Result<String, ApiError> {
    match params.and_then(|params| params.die.clone()) {
        Some(die) if !die.is_empty() && die.len() <= 50 => Ok(die),
        _ => {
            warn!("roll requested without a usable die");
            Err(ApiError::UnknownDie { known: Vec::new() })
        }
    }
}

/// `times` as a batch size: a whole number from 1 to `MAX_BATCH_SIZE`.
fn batch_size(times: Option<&str>) -> Result<usize, ApiError> {
    match times.map(|times| times.trim().parse::<usize>()) {
        Some(Ok(times)) if (1..=MAX_BATCH_SIZE).contains(&times) => Ok(times),
        _ => {
            let shown: String = times.unwrap_or("").chars().take(16).collect();
            warn!(times = %shown, "invalid batch size requested");
            Err(ApiError::InvalidBatchSize)
        }
    }
}

/// Asks the die-service how `die` rolls.
async fn spec_of(state: &AppState, die: &str) -> Result<DieSpec, ApiError> {
    match state.die_service.spec(die).await {
        Ok(Lookup::Found(spec)) if !spec.faces.is_empty() => Ok(spec),
        Ok(Lookup::Found(_)) => {
            warn!(die = %die, "the die-service sent a die without faces");
            Err(ApiError::DieServiceUnavailable { reason: None })
        }
        Ok(Lookup::Unknown { known }) => {
            warn!(die = %die, "unknown die requested");
            Err(ApiError::UnknownDie { known })
        }
        Ok(Lookup::Refused { reason, .. }) => {
            warn!(die = %die.escape_debug(), "the die-service refused the die's name");
            Err(ApiError::InvalidDie { reason })
        }
        Err(error) => {
            warn!(
                error = &error as &dyn std::error::Error,
                reason = error.reason(),
                "die-service request failed"
            );
            Err(ApiError::DieServiceUnavailable {
                reason: error.reason().map(str::to_owned),
            })
        }
    }
}

/// `GET /`: what this service is and what it serves.
pub async fn index() -> Json<Value> {
    Json(json!({
        "service": "dice-roller",
        "stage": 6,
        "endpoints": {
            "/roll?die=<identifier>": "roll a die the die-service knows: {\"roll\": N}",
            "/roll-async?die=<identifier>&times=N": format!(
                "roll N dice at once (1 to {MAX_BATCH_SIZE}): {{\"total\": T, \"rolls\": [...], \"count\": N}}"
            ),
            "/metrics": "Prometheus metrics",
        },
    }))
}
