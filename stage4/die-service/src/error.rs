use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What a request can fail with, and what the client is told.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No die has this identifier: 404, naming the dice that exist.
    #[error("unknown die")]
    UnknownDie { known: Vec<String> },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::UnknownDie { known } => (
                StatusCode::NOT_FOUND,
                Json(json!({
                    "error": format!("no such die; known dice: {}", known.join(", ")),
                    "identifiers": known,
                })),
            )
                .into_response(),
        }
    }
}
