//! The smallest stand-in for Alloy's usage pipeline: pick the usage lines out
//! of a service's stdout and push them to the usage receiver.
//!
//! Alloy (stage 6, `alloy/config.alloy`) keeps a line for the usage branch
//! when it contains `"usage":true`, exactly as serde writes it, and sends it
//! with `loki.write`, with its bearer token, retrying 5xx. This does the
//! same with Loki's JSON push form, so `make demo STAGE=6` and the tests route usage events without
//! Docker.

use std::time::Duration;

use serde_json::json;

/// The filter Alloy's usage branch applies: compact JSON, as the services'
/// log layer writes it.
pub const USAGE_MARKER: &str = "\"usage\":true";

/// Lines per push, well under the receiver's body limit.
const BATCH: usize = 500;

/// Why forwarding stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("the usage receiver refused a batch: {status} {body}")]
    Refused { status: u16, body: String },
    #[error("the usage receiver kept failing until the deadline: {0}")]
    GaveUp(String),
}

/// The usage lines among `lines`.
pub fn usage_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    lines
        .into_iter()
        .filter(|line| line.contains(USAGE_MARKER))
        .collect()
}

/// Pushes the usage lines among `lines` to the receiver at `push_url`
/// (`.../loki/api/v1/push`), with `Authorization: Bearer <token>` as Alloy's
/// `bearer_token` sends it, and returns how many were sent. Like Alloy, a
/// 5xx or a connection error is retried (until `deadline` from now) and any
/// other 4xx ends the run.
pub async fn forward_usage_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    push_url: &str,
    token: &str,
    deadline: Duration,
) -> Result<usize, ForwardError> {
    let http = reqwest::Client::new();
    let usage = usage_lines(lines);
    let give_up_at = tokio::time::Instant::now() + deadline;
    for batch in usage.chunks(BATCH) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        let values: Vec<_> = batch
            .iter()
            .map(|line| json!([now.to_string(), line]))
            .collect();
        let body =
            json!({ "streams": [{ "stream": { "service_name": "frontend" }, "values": values }] });
        let mut backoff = Duration::from_millis(100);
        loop {
            let push = http.post(push_url).bearer_auth(token).json(&body);
            let failure = match push.send().await {
                Ok(response) if response.status().is_success() => break,
                Ok(response) if response.status().is_client_error() => {
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    return Err(ForwardError::Refused { status, body });
                }
                Ok(response) => format!("status {}", response.status()),
                Err(error) => error.to_string(),
            };
            if tokio::time::Instant::now() + backoff > give_up_at {
                return Err(ForwardError::GaveUp(failure));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
    Ok(usage.len())
}
