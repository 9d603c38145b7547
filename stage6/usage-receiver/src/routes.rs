use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use telemetry::OpenTelemetrySpanExt;
use tracing::{Span, info, warn};

use crate::auth;
use crate::error::ApiError;
use crate::events::{self, Line, Rejection};
use crate::push::{self, BodyError};
use crate::store;
use crate::{AppState, PUSH_WAIT};

/// `POST /loki/api/v1/push`: keeps the usage events of a push, once each.
/// Answers 204 only after they are committed, so a sender that got 204 can
/// forget the batch; anything else, it keeps and retries (on 5xx) or drops
/// (on 4xx, a body that can never be stored). A line that can never be
/// stored is set aside and counted: the rest of its batch is stored and the
/// answer is still 204, or the sender would retry the batch for ever.
pub async fn push(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    // Stage 6: first, who is pushing. Nothing of an unauthorized push is
    // read, and its token is never logged.
    if let Err(refusal) = auth::authorize(state.push_token.as_ref(), &headers, uri.query()) {
        state.metrics.record_unauthorized(refusal);
        warn!(reason = refusal.label(), "push refused: not authorized");
        return Err(ApiError::Unauthorized(refusal));
    }
    // Pushes are decoded and stored a few at a time: each may hold a body
    // and its decompressed lines in memory, and a database connection. The
    // others wait here, before reading their bodies, for a while.
    let Ok(Ok(_pushing)) = tokio::time::timeout(PUSH_WAIT, state.pushes.acquire()).await else {
        return Err(ApiError::Busy);
    };
    if !state.prepared.is_done() {
        // Not migrated yet: storing would fail for a reason a retry fixes.
        return Err(ApiError::DatabaseUnavailable);
    }
    let body = read_body(body, state.max_push_bytes).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let lines = match content_type.as_str() {
        "application/x-protobuf" => push::decode_protobuf(&body, state.max_decompressed_bytes)?,
        "application/json" => push::decode_json(&body)?,
        other => return Err(BodyError::ContentType(other.chars().take(64).collect()).into()),
    };

    let (mut usage, mut not_usage, mut rejected) = (Vec::new(), 0, Vec::new());
    for pushed in &lines {
        match events::classify(&pushed.line) {
            Line::Usage(event) => usage.push(event),
            Line::NotUsage => not_usage += 1,
            Line::Rejected(reason) => rejected.push(reason),
        }
    }
    let events = usage.len();
    state.metrics.record_received(events, not_usage);
    for reason in Rejection::ALL {
        let count = rejected.iter().filter(|r| **r == reason).count();
        if count > 0 {
            state.metrics.record_rejected(reason, count as u64);
            // The reason and the count, never the line: it may be anything.
            warn!(reason = reason.label(), count, "usage lines set aside");
        }
    }
    let span = Span::current();
    span.set_attribute("usage.lines", lines.len() as i64);
    span.set_attribute("usage.events", events as i64);

    let stored = store::store(&state.db, usage).await?;
    state
        .metrics
        .record_stored(stored.stored, stored.duplicates);
    if stored.unstorable > 0 {
        state
            .metrics
            .record_rejected(Rejection::Unstorable, stored.unstorable);
    }
    span.set_attribute("usage.stored", stored.stored as i64);
    // Counts only: the receiver never repeats a line it was sent, so none of
    // its own log lines can look like a usage event and loop back to it.
    info!(
        lines = lines.len(),
        events,
        stored = stored.stored,
        duplicates = stored.duplicates,
        ignored = not_usage,
        rejected = rejected.len() as u64 + stored.unstorable,
        "push stored"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Reads at most `limit` bytes of body. An oversized body is still read to
/// its end (up to a few times the limit) before the 413 goes out: closing a
/// connection with unread data resets it, and the sender might never see why.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = body;
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map(|frame| frame.into_data()) else {
            // The sender went away mid-body: nothing to answer.
            return Err(ApiError::Internal);
        };
        let Ok(data) = data else { continue };
        total += data.len();
        if total <= limit {
            kept.extend_from_slice(&data);
        } else if total > 4 * limit {
            break;
        }
    }
    if total > limit {
        return Err(ApiError::TooLarge { limit });
    }
    Ok(Bytes::from(kept))
}

/// `GET /ready`: 200 once the database answers and is migrated.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ready = state.prepared.is_done() && state.db.is_reachable().await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let database = if ready { "ready" } else { "unavailable" };
    (status, Json(json!({ "database": database })))
}

/// `GET /`: what this service is and what it serves.
pub async fn index() -> Json<Value> {
    Json(json!({
        "service": "usage-receiver",
        "stage": 6,
        "endpoints": {
            "POST /loki/api/v1/push": "Loki push API (snappy protobuf or JSON): usage events are stored in usage_stats",
            "/ready": "200 when the database is usable, 503 before",
            "/metrics": "Prometheus metrics",
        },
    }))
}
