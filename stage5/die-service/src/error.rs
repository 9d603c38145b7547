use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use database::QueryError;
use serde_json::json;

/// The longest identifier (the table's column is `VARCHAR(50)`).
pub const MAX_IDENTIFIER_CHARS: usize = 50;

/// What a request can fail with, and what the client is told.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No die has this identifier: 404, naming the dice that exist.
    #[error("unknown die")]
    UnknownDie { known: Vec<String> },
    /// The identifier cannot name any die (too long, or a control character
    /// such as NUL): 400, saying what an identifier is.
    #[error("malformed identifier")]
    MalformedIdentifier,
    /// The database is down or saturated: 503, try again shortly. The cause
    /// was logged in the query's span; the client is not told internals.
    #[error("the database is unavailable")]
    DatabaseUnavailable,
    /// Anything else (a failed query is a bug): 500.
    #[error("internal error")]
    Internal,
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        if error.is_unavailable() {
            Self::DatabaseUnavailable
        } else {
            Self::Internal
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Self::UnknownDie { known } => (
                StatusCode::NOT_FOUND,
                json!({
                    "error": format!("no such die; known dice: {}", known.join(", ")),
                    "identifiers": known,
                }),
            ),
            Self::MalformedIdentifier => (
                StatusCode::BAD_REQUEST,
                json!({
                    "error": format!(
                        "an identifier is 1 to {MAX_IDENTIFIER_CHARS} characters, none of them a control character"
                    ),
                }),
            ),
            Self::DatabaseUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "the database is unavailable; try again shortly" }),
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": "something went wrong" }),
            ),
        };
        (status, Json(body)).into_response()
    }
}
