use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::dice::Die;

/// Everything a request can fail with, and what the client is told.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The client asked for a die we do not have, or for none: 400, naming
    /// the dice that exist so the client knows what to fix.
    #[error("unknown die")]
    UnknownDie,
    /// The risky die failed, as it is designed to: 500.
    #[error("the risky die failed")]
    RollFailed,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::UnknownDie => (
                StatusCode::BAD_REQUEST,
                format!("unknown die; choose one of: {}", Die::NAMES.join(", ")),
            ),
            Self::RollFailed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the die roll failed; try again".to_owned(),
            ),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
