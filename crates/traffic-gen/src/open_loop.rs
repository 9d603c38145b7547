//! Requests on a schedule: the open loop behind stage 5's database load test
//! and outage drill.
//!
//! The users of `users` are a closed loop: each waits for an answer before
//! sending again, so when the server stalls they stall with it and send
//! less, exactly when more requests would be queueing in real life. Here the
//! n-th request leaves at `start + n / rate` whether or not the earlier ones
//! have answered, and its latency runs from that *scheduled* instant: a
//! one-second stall costs every request that should have left during it,
//! not just the one that was in flight (docs/pitfalls.md#coordinated-omission).

use std::future::Future;
use std::time::Duration;

use telemetry::HttpClient;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;
use tracing::field::Empty;
use tracing::instrument::WithSubscriber;

use crate::summary::{RequestStatus, send_and_read_body};

/// One scheduled request and how it ended.
#[derive(Debug, Clone)]
pub struct Sample {
    /// What it was (`list`, `get`, `roll`), for the report.
    pub kind: &'static str,
    /// When the schedule said it should leave.
    pub scheduled: Instant,
    /// When it left: later than `scheduled` only if the generator fell
    /// behind.
    pub sent: Instant,
    /// When its answer (or its failure) was complete.
    pub answered: Instant,
    pub status: RequestStatus,
    /// The `error` of a JSON error answer: what the service said went wrong.
    pub message: Option<String>,
}

impl Sample {
    /// Latency as a user on the schedule sees it: from the scheduled send.
    pub fn latency(&self) -> Duration {
        self.answered.saturating_duration_since(self.scheduled)
    }

    pub fn succeeded(&self) -> bool {
        !self.status.is_error()
    }
}

/// Sends `next(n)` for n = 0, 1, 2, ... at `rate` per second until `stop`
/// completes, each in a trace of its own, and passes every [`Sample`] to
/// `samples` as it completes. Returns when `stop` has completed and every
/// request sent has ended (each is bounded by the client's timeout).
///
/// If the generator itself falls behind (a busy machine), the missed sends
/// leave at once, in a burst, so the schedule and the request count are
/// kept; `sent - scheduled` shows by how much.
pub async fn run(
    client: &HttpClient,
    rate: f64,
    stop: impl Future<Output = ()>,
    mut next: impl FnMut(u64) -> (&'static str, reqwest::RequestBuilder),
    samples: mpsc::UnboundedSender<Sample>,
) {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut in_flight = JoinSet::new();
    tokio::pin!(stop);
    let mut n = 0;
    loop {
        tokio::select! {
            () = &mut stop => break,
            scheduled = ticks.tick() => {
                let (kind, request) = next(n);
                n += 1;
                let request = send(client.clone(), kind, scheduled, request, samples.clone());
                in_flight.spawn(request.with_current_subscriber());
            }
            // Reap finished requests as we go, so the set stays small.
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
    }
    while in_flight.join_next().await.is_some() {}
}

async fn send(
    client: HttpClient,
    kind: &'static str,
    scheduled: Instant,
    request: reqwest::RequestBuilder,
    samples: mpsc::UnboundedSender<Sample>,
) {
    let span = tracing::info_span!(
        parent: None,
        "scheduled_request",
        "traffic.action" = kind,
        "http.response.status_code" = Empty,
        "otel.status_code" = Empty,
    );
    let sent = Instant::now();
    let (status, body) = send_and_read_body(&client, request.build())
        .instrument(span.clone())
        .await;
    let message = match (status, body) {
        (RequestStatus::Http(code), Some(body)) => error_message(code, &body),
        _ => None,
    };
    status.record_on(&span);
    let _ = samples.send(Sample {
        kind,
        scheduled,
        sent,
        answered: Instant::now(),
        status,
        message,
    });
}

/// The `"error"` of a failed answer's JSON body, as the services write it.
fn error_message(code: u16, body: &[u8]) -> Option<String> {
    if code < 400 {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("error")?.as_str().map(str::to_owned)
}

/// `n` latencies' quantile `q` (0 to 1), nearest rank; zero for none.
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&sorted, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&sorted, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn the_error_of_a_json_answer_is_its_message() {
        assert_eq!(
            error_message(503, br#"{"error":"the database is unavailable"}"#).as_deref(),
            Some("the database is unavailable")
        );
        assert_eq!(error_message(200, br#"{"error":"x"}"#), None);
        assert_eq!(error_message(500, b"<html>"), None);
    }
}
