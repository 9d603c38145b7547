use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use database::QueryError;
use serde_json::json;

use crate::auth::Refusal;
use crate::push::BodyError;

/// What a push can fail with. The status is what the sender acts on: Alloy
/// retries 5xx (so nothing is lost while the database is down) and drops a
/// batch at once on any other 4xx (so a body that can never be stored does
/// not block the ones behind it).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no token, or not the receiver's. Alloy drops the batch (a 4xx),
    /// and its logs say why.
    #[error("not authorized")]
    Unauthorized(Refusal),
    /// 400: the body is not a push and never will be.
    #[error("malformed push")]
    Malformed(#[from] BodyError),
    /// 413: the body, or what it decompresses to, is over the limit.
    #[error("push too large")]
    TooLarge { limit: usize },
    /// 503: the database is down; the sender retries the batch later.
    #[error("the database is unavailable")]
    DatabaseUnavailable,
    /// 503 with `Retry-After`: too many pushes are being stored already.
    #[error("too many pushes at once")]
    Busy,
    /// 500: storing failed for another reason (a bug); also retried.
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
        let (status, message) = match &self {
            Self::Unauthorized(refusal) => {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer realm=\"usage-receiver\"")],
                    Json(json!({ "error": refusal.message() })),
                )
                    .into_response();
            }
            Self::Malformed(BodyError::TooLarge { limit }) | Self::TooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the push is larger than {limit} bytes; send smaller batches"),
            ),
            Self::Malformed(BodyError::ContentType(_)) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, self.source_text())
            }
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, self.source_text()),
            Self::DatabaseUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; retry the batch later".to_owned(),
            ),
            Self::Busy => {
                let body =
                    json!({ "error": "too many pushes at once; retry the batch in a second" });
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "1")],
                    Json(body),
                )
                    .into_response();
            }
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong; retry the batch later".to_owned(),
            ),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl ApiError {
    /// The body error's own words: what the sender must fix.
    fn source_text(&self) -> String {
        match self {
            Self::Malformed(error) => error.to_string(),
            other => other.to_string(),
        }
    }
}
