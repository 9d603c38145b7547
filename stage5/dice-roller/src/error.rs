use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::dice::MAX_BATCH_SIZE;

/// Everything a request can fail with, and what the client is told.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No die was named, or the die-service knows no such die: 400, naming
    /// the dice that exist so the client knows what to fix.
    #[error("unknown die")]
    UnknownDie { known: Vec<String> },
    /// The die-service refused the name as malformed: 400, in its words.
    /// A client's mistake, passed on as one, never as an outage.
    #[error("invalid die name")]
    InvalidDie { reason: Option<String> },
    /// `times` is not a whole number from 1 to `MAX_BATCH_SIZE`: 400.
    #[error("invalid batch size")]
    InvalidBatchSize,
    /// The die failed, as its error rate says it sometimes does: 500.
    #[error("the die failed")]
    RollFailed,
    /// Some dice of a batch failed, so the batch did: 500.
    #[error("{failed} of {count} rolls failed")]
    BatchFailed { failed: usize, count: usize },
    /// The die-service is down, slow or broken: 503, try again later, with
    /// the die-service's own explanation when it gave one (its database is
    /// down, say), so the frontend can tell a person what is going on.
    #[error("the die-service is unavailable")]
    DieServiceUnavailable { reason: Option<String> },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::UnknownDie { known } if known.is_empty() => (
                StatusCode::BAD_REQUEST,
                "unknown die; GET /dice on the die-service lists them".to_owned(),
            ),
            Self::UnknownDie { known } => (
                StatusCode::BAD_REQUEST,
                format!("unknown die; choose one of: {}", known.join(", ")),
            ),
            Self::InvalidDie { reason } => (
                StatusCode::BAD_REQUEST,
                match reason {
                    Some(reason) => format!("invalid die name: {reason}"),
                    None => "invalid die name".to_owned(),
                },
            ),
            Self::InvalidBatchSize => (
                StatusCode::BAD_REQUEST,
                format!("times must be a whole number from 1 to {MAX_BATCH_SIZE}"),
            ),
            Self::BatchFailed { failed, count } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{failed} of {count} rolls failed; a batch is all or nothing, try again"),
            ),
            Self::RollFailed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the die roll failed; try again".to_owned(),
            ),
            Self::DieServiceUnavailable {
                reason: Some(reason),
            } => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the die-service is unavailable ({reason}), so no die can be rolled"),
            ),
            Self::DieServiceUnavailable { reason: None } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the die-service is unavailable, so no die can be rolled; try again shortly"
                    .to_owned(),
            ),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
