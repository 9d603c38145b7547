use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Everything a request can fail with, and what the client is told.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No die was named, or the die-service knows no such die: 400, naming
    /// the dice that exist so the client knows what to fix.
    #[error("unknown die")]
    UnknownDie { known: Vec<String> },
    /// The die failed, as its error rate says it sometimes does: 500.
    #[error("the die failed")]
    RollFailed,
    /// The die-service is down, slow or broken: 503, try again later.
    #[error("the die-service is unavailable")]
    DieServiceUnavailable,
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
            Self::RollFailed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the die roll failed; try again".to_owned(),
            ),
            Self::DieServiceUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the die-service is unavailable, so no die can be rolled; try again shortly"
                    .to_owned(),
            ),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
