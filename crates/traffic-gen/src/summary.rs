//! What a run did: counts, errors by status, latency percentiles, and the
//! trace ids of the requests worth a look in Grafana.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

/// How many slow and failed requests the summary names.
const TRACES_KEPT: usize = 3;
/// How many secrets a run remembers (a bound on memory, never reached by
/// the workshop's runs: one password and one cookie per sign-in).
const SECRETS_KEPT: usize = 100_000;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestStatus {
    /// An HTTP response with this status code.
    Http(u16),
    /// No response within the request timeout.
    Timeout,
    /// No response at all: refused connection, reset, ...
    Transport,
}

impl RequestStatus {
    /// A 4xx or 5xx, or no response: what the summary counts as an error.
    pub fn is_error(self) -> bool {
        !matches!(self, Self::Http(code) if code < 400)
    }

    /// Writes the outcome on the request's span (declared with these
    /// fields `Empty`): the status code, and error status for an error.
    pub(crate) fn record_on(self, span: &tracing::Span) {
        if let Self::Http(code) = self {
            span.record("http.response.status_code", i64::from(code));
        }
        if self.is_error() {
            span.record("otel.status_code", "error");
        }
    }
}

/// Sends `request` and reads the whole answer, as a user waits for the
/// whole page: how it ended, and the body when there was one.
pub(crate) async fn send_and_read_body(
    client: &telemetry::HttpClient,
    request: reqwest::Result<reqwest::Request>,
) -> (RequestStatus, Option<bytes::Bytes>) {
    let Ok(request) = request else {
        return (RequestStatus::Transport, None);
    };
    let failed = |error: reqwest::Error| {
        let status = if error.is_timeout() {
            RequestStatus::Timeout
        } else {
            RequestStatus::Transport
        };
        (status, None)
    };
    match client.send(request).await {
        Ok(response) => {
            let code = response.status().as_u16();
            match response.bytes().await {
                Ok(body) => (RequestStatus::Http(code), Some(body)),
                Err(error) => failed(error),
            }
        }
        Err(error) => failed(error),
    }
}

/// `503: 21, timeout: 2`: how many requests ended each way.
pub(crate) fn describe_statuses(statuses: &BTreeMap<RequestStatus, u64>) -> String {
    statuses
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(code) => write!(f, "{code}"),
            Self::Timeout => f.write_str("timeout"),
            Self::Transport => f.write_str("connection error"),
        }
    }
}

/// One finished request.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: RequestStatus,
    pub latency: Duration,
    /// The request's trace (32 hex), `None` when no OpenTelemetry layer made
    /// its spans (a subscriber without one).
    pub trace_id: Option<String>,
}

/// A request to look up in Tempo.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRef {
    pub trace_id: String,
    pub status: RequestStatus,
    pub latency: Duration,
}

/// The end-of-run report.
#[derive(Debug, Clone)]
pub struct Summary {
    pub target: String,
    pub users: usize,
    pub elapsed: Duration,
    pub requests: u64,
    /// Errors by status (`500`, `timeout`, ...).
    pub errors: BTreeMap<RequestStatus, u64>,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// The slowest requests, slowest first.
    pub slowest: Vec<TraceRef>,
    /// The first failed requests.
    pub failed: Vec<TraceRef>,
    /// The trace id of every request, in completion order.
    pub trace_ids: Vec<String>,
    /// Stage 6: every password the users typed and session cookie they were
    /// given, for a check that none of them shows up in the services'
    /// output. Never displayed.
    pub secrets: Vec<String>,
}

impl Summary {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Requests that got no HTTP response at all.
    pub fn unanswered(&self) -> u64 {
        self.errors
            .iter()
            .filter(|(status, _)| !matches!(status, RequestStatus::Http(_)))
            .map(|(_, count)| count)
            .sum()
    }
}

/// Collects outcomes while a run is going on.
pub(crate) struct Recorder {
    /// Latencies in microseconds, 1 µs to 10 min, 3 significant digits.
    latencies: Histogram<u64>,
    requests: u64,
    errors: BTreeMap<RequestStatus, u64>,
    slowest: Vec<TraceRef>,
    failed: Vec<TraceRef>,
    trace_ids: Vec<String>,
    secrets: std::collections::BTreeSet<String>,
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Self {
            // Constant bounds that hdrhistogram accepts (low >= 1, high >=
            // 2 * low, at most 5 digits): this cannot fail.
            latencies: Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("constant histogram bounds are valid"),
            requests: 0,
            errors: BTreeMap::new(),
            slowest: Vec::new(),
            failed: Vec::new(),
            trace_ids: Vec::new(),
            secrets: std::collections::BTreeSet::new(),
        }
    }

    /// Remembers something the services must never print.
    pub(crate) fn secret(&mut self, secret: &str) {
        if self.secrets.len() < SECRETS_KEPT {
            self.secrets.insert(secret.to_owned());
        }
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests
    }

    pub(crate) fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub(crate) fn record(&mut self, outcome: Outcome) {
        self.requests += 1;
        self.latencies
            .saturating_record(outcome.latency.as_micros().max(1) as u64);
        if outcome.status.is_error() {
            *self.errors.entry(outcome.status).or_default() += 1;
        }
        let Some(trace_id) = outcome.trace_id else {
            return;
        };
        self.trace_ids.push(trace_id.clone());
        let reference = TraceRef {
            trace_id,
            status: outcome.status,
            latency: outcome.latency,
        };
        if outcome.status.is_error() && self.failed.len() < TRACES_KEPT {
            self.failed.push(reference.clone());
        }
        self.keep_if_slow(reference);
    }

    fn keep_if_slow(&mut self, reference: TraceRef) {
        let position = self
            .slowest
            .iter()
            .position(|kept| kept.latency < reference.latency)
            .unwrap_or(self.slowest.len());
        if position < TRACES_KEPT {
            self.slowest.insert(position, reference);
            self.slowest.truncate(TRACES_KEPT);
        }
    }

    pub(crate) fn finish(self, target: String, users: usize, elapsed: Duration) -> Summary {
        let quantile = |q: f64| Duration::from_micros(self.latencies.value_at_quantile(q));
        Summary {
            target,
            users,
            elapsed,
            requests: self.requests,
            p50: quantile(0.50),
            p95: quantile(0.95),
            p99: quantile(0.99),
            max: Duration::from_micros(self.latencies.max()),
            errors: self.errors,
            slowest: self.slowest,
            failed: self.failed,
            trace_ids: self.trace_ids,
            secrets: self.secrets.into_iter().collect(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.requests as f64 / seconds
        } else {
            0.0
        };
        writeln!(
            f,
            "{} requests to {} by {} users in {:.1} s ({:.1}/s)",
            self.requests, self.target, self.users, seconds, rate
        )?;
        if self.errors.is_empty() {
            writeln!(f, "errors: none")?;
        } else {
            writeln!(
                f,
                "errors: {} ({})",
                self.error_count(),
                describe_statuses(&self.errors)
            )?;
        }
        writeln!(
            f,
            "latency: p50 {}  p95 {}  p99 {}  max {}",
            millis(self.p50),
            millis(self.p95),
            millis(self.p99),
            millis(self.max)
        )?;
        if !self.slowest.is_empty() || !self.failed.is_empty() {
            writeln!(
                f,
                "traces to look up in Grafana (Explore > Tempo > TraceQL):"
            )?;
        }
        for reference in &self.slowest {
            writeln!(
                f,
                "  slow    {}  {}",
                reference.trace_id,
                describe(reference)
            )?;
        }
        for reference in &self.failed {
            writeln!(
                f,
                "  failed  {}  {}",
                reference.trace_id,
                describe(reference)
            )?;
        }
        Ok(())
    }
}

fn describe(reference: &TraceRef) -> String {
    format!("{} in {}", reference.status, millis(reference.latency))
}

/// A duration as the reports print it: `231 ms`.
pub(crate) fn millis(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: RequestStatus, ms: u64, trace: &str) -> Outcome {
        Outcome {
            status,
            latency: Duration::from_millis(ms),
            trace_id: Some(trace.to_owned()),
        }
    }

    #[test]
    fn counts_errors_by_status_and_keeps_the_slowest_and_the_failed() {
        let mut recorder = Recorder::new();
        for ms in 1..=100 {
            recorder.record(outcome(RequestStatus::Http(200), ms, &format!("ok{ms}")));
        }
        recorder.record(outcome(RequestStatus::Http(500), 5, "bad1"));
        recorder.record(outcome(RequestStatus::Timeout, 5000, "late"));
        let summary = recorder.finish("t".into(), 1, Duration::from_secs(1));

        assert_eq!(summary.requests, 102);
        assert_eq!(summary.errors[&RequestStatus::Http(500)], 1);
        assert_eq!(summary.errors[&RequestStatus::Timeout], 1);
        assert_eq!(summary.unanswered(), 1);
        let slowest: Vec<&str> = summary
            .slowest
            .iter()
            .map(|r| r.trace_id.as_str())
            .collect();
        assert_eq!(slowest, ["late", "ok100", "ok99"]);
        let failed: Vec<&str> = summary.failed.iter().map(|r| r.trace_id.as_str()).collect();
        assert_eq!(failed, ["bad1", "late"]);
        // 3 significant digits: p50 of 1..=100 ms (plus two) is about 51 ms.
        let p50 = summary.p50.as_secs_f64() * 1000.0;
        assert!((49.0..54.0).contains(&p50), "{p50}");
        assert!(
            summary.max >= Duration::from_millis(4990),
            "{:?}",
            summary.max
        );

        let text = summary.to_string();
        assert!(text.contains("errors: 2 (500: 1, timeout: 1)"), "{text}");
        assert!(text.contains("failed  bad1  500 in 5 ms"), "{text}");
    }
}
