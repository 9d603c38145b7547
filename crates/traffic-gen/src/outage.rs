//! Stage 5's outage drill: steady requests that need the database, the
//! database stopped under them and started again, and the timeline of what
//! the requests saw.
//!
//! Whoever runs the drill says how to stop and start the database
//! ([`DatabaseSwitch`]): `make stage5 outage` with `docker stop` and `docker
//! start`, `make demo STAGE=5` with its throwaway cluster's `pg_ctl`.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use telemetry::HttpClient;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::open_loop::{self, Sample, quantile};
use crate::summary::{RequestStatus, describe_statuses, millis};

/// How the service under test must fail while its database is down: fast
/// (bounded acquire and statement timeouts, issue 9) and with a 503.
pub const FAILURE_DEADLINE: Duration = Duration::from_secs(2);

/// Stops and starts the database under the drill.
pub trait DatabaseSwitch {
    /// Stops the database; returns once it is down.
    fn stop(&mut self) -> impl Future<Output = Result<(), String>> + Send;
    /// Starts it again; returns once the start command has done its part.
    fn start(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

/// The drill's timing.
#[derive(Debug, Clone)]
pub struct OutagePlan {
    /// The requests, e.g. `http://127.0.0.1:8500/roll?die=fair`.
    pub url: reqwest::Url,
    /// Requests per second, throughout.
    pub rate: f64,
    /// Healthy traffic before the stop.
    pub before: Duration,
    /// How long the database stays down.
    pub down_for: Duration,
    /// How long after the start a success may take to come back before the
    /// drill gives up.
    pub recovery_deadline: Duration,
    /// Traffic kept up after the first success, to see that it holds.
    pub after: Duration,
}

impl OutagePlan {
    /// 10 requests a second: 2 s before, `down_for` down, up to 60 s to
    /// recover, 2 s after.
    pub fn new(url: reqwest::Url, down_for: Duration) -> Self {
        Self {
            url,
            rate: 10.0,
            before: Duration::from_secs(2),
            down_for,
            recovery_deadline: Duration::from_secs(60),
            after: Duration::from_secs(2),
        }
    }
}

/// What the drill measured. Times are from the moment the stop (or start)
/// was issued.
#[derive(Debug, Clone)]
pub struct OutageReport {
    /// Requests before the stop, and how many of them failed.
    pub before: (usize, usize),
    /// How long the stop command took (the database shutting down).
    pub stop_took: Duration,
    /// From the stop to the first failed answer.
    pub first_failure_after: Option<Duration>,
    /// Failed answers from the stop until service came back, by status.
    pub failures: BTreeMap<RequestStatus, u64>,
    /// What the failed answers said, with how often.
    pub messages: Vec<(String, u64)>,
    /// Latency of those failed answers, from their scheduled send.
    pub failure_p50: Duration,
    pub failure_max: Duration,
    /// How long the start command took (the database starting up).
    pub start_took: Duration,
    /// From the start to the first successful answer; `None`: none came
    /// within the recovery deadline.
    pub recovered_after: Option<Duration>,
    /// Requests sent after the first success, and how many of them failed.
    pub after: (usize, usize),
}

impl OutageReport {
    /// Whether the drill went as stage 5 promises: healthy before, only
    /// 503s within [`FAILURE_DEADLINE`] while down, healthy again after.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.before.0 == 0 || self.before.1 > 0 {
            problems.push(format!(
                "before the stop {} of {} requests failed: the stage was not healthy to begin with",
                self.before.1, self.before.0
            ));
        }
        if self.first_failure_after.is_none() {
            problems.push("no request failed while the database was down".to_owned());
        }
        let not_503: u64 = self
            .failures
            .iter()
            .filter(|(status, _)| **status != RequestStatus::Http(503))
            .map(|(_, count)| count)
            .sum();
        if not_503 > 0 {
            problems.push(format!(
                "{not_503} failures were not 503 ({})",
                describe_statuses(&self.failures)
            ));
        }
        if self.failure_max > FAILURE_DEADLINE {
            problems.push(format!(
                "the slowest failure took {}, over the {} deadline",
                millis(self.failure_max),
                millis(FAILURE_DEADLINE)
            ));
        }
        match self.recovered_after {
            None => problems.push("no request succeeded after the database was started".into()),
            Some(_) if self.after.1 > 0 => problems.push(format!(
                "after recovering, {} of {} requests still failed",
                self.after.1, self.after.0
            )),
            Some(_) => {}
        }
        problems
    }
}

/// Runs the drill of `plan` through `client`, stopping and starting the
/// database with `switch`. An error means the switch failed (the database
/// could not be stopped or started); the traffic is stopped either way.
pub async fn outage_drill(
    plan: &OutagePlan,
    client: &HttpClient,
    switch: &mut impl DatabaseSwitch,
) -> Result<OutageReport, String> {
    let (samples_in, mut samples) = mpsc::unbounded_channel();
    let (stop_traffic, traffic_stopped) = oneshot::channel::<()>();
    let url = plan.url.clone();
    let traffic = {
        let client = client.clone();
        let rate = plan.rate;
        let stop = async move {
            let _ = traffic_stopped.await;
        };
        tokio::spawn(async move {
            let next = |_| ("roll", client.request_builder().get(url.clone()));
            open_loop::run(&client, rate, stop, next, samples_in).await;
        })
    };

    let mut seen = Vec::new();
    let outcome = drive(plan, switch, &mut samples, &mut seen).await;
    let _ = stop_traffic.send(());
    let _ = traffic.await;
    while let Some(sample) = samples.recv().await {
        seen.push(sample);
    }
    let timeline = outcome?;
    Ok(report(&seen, &timeline))
}

/// When things were done to the database.
struct Timeline {
    stop_issued: Instant,
    stopped: Instant,
    start_issued: Instant,
    started: Instant,
}

async fn drive(
    plan: &OutagePlan,
    switch: &mut impl DatabaseSwitch,
    samples: &mut mpsc::UnboundedReceiver<Sample>,
    seen: &mut Vec<Sample>,
) -> Result<Timeline, String> {
    collect_for(plan.before, samples, seen).await;
    let stop_issued = Instant::now();
    switch.stop().await?;
    let stopped = Instant::now();
    collect_for(plan.down_for, samples, seen).await;
    let start_issued = Instant::now();
    switch.start().await?;
    let started = Instant::now();
    // Until the first success sent after the start, or the deadline.
    let deadline = start_issued + plan.recovery_deadline;
    let recovered = seen.iter().any(|s| s.succeeded() && s.sent >= start_issued);
    if !recovered {
        while let Ok(Some(sample)) = tokio::time::timeout_at(deadline, samples.recv()).await {
            let back = sample.succeeded() && sample.sent >= start_issued;
            seen.push(sample);
            if back {
                break;
            }
        }
    }
    collect_for(plan.after, samples, seen).await;
    Ok(Timeline {
        stop_issued,
        stopped,
        start_issued,
        started,
    })
}

/// Keeps the samples that arrive during `duration`.
async fn collect_for(
    duration: Duration,
    samples: &mut mpsc::UnboundedReceiver<Sample>,
    seen: &mut Vec<Sample>,
) {
    let until = Instant::now() + duration;
    while let Ok(Some(sample)) = tokio::time::timeout_at(until, samples.recv()).await {
        seen.push(sample);
    }
}

fn report(samples: &[Sample], timeline: &Timeline) -> OutageReport {
    let before: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.answered < timeline.stop_issued)
        .collect();
    let recovery = samples
        .iter()
        .filter(|s| s.succeeded() && s.sent >= timeline.start_issued)
        .min_by_key(|s| s.answered);
    let outage_end = recovery.map(|s| s.answered);
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.answered >= timeline.stop_issued)
        .filter(|s| outage_end.is_none_or(|end| s.answered <= end))
        .filter(|s| !s.succeeded())
        .collect();
    let after: Vec<&Sample> = match outage_end {
        Some(end) => samples.iter().filter(|s| s.answered > end).collect(),
        None => Vec::new(),
    };

    let mut failures = BTreeMap::new();
    let mut messages: BTreeMap<String, u64> = BTreeMap::new();
    for sample in &during {
        *failures.entry(sample.status).or_default() += 1;
        let message = sample
            .message
            .clone()
            .unwrap_or_else(|| format!("{} without a JSON error", sample.status));
        *messages.entry(message).or_default() += 1;
    }
    let mut messages: Vec<(String, u64)> = messages.into_iter().collect();
    messages.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let mut latencies: Vec<Duration> = during.iter().map(|s| s.latency()).collect();
    latencies.sort();

    OutageReport {
        before: (
            before.len(),
            before.iter().filter(|s| !s.succeeded()).count(),
        ),
        stop_took: timeline.stopped - timeline.stop_issued,
        first_failure_after: during
            .iter()
            .map(|s| s.answered)
            .min()
            .map(|at| at.saturating_duration_since(timeline.stop_issued)),
        failures,
        messages,
        failure_p50: quantile(&latencies, 0.5),
        failure_max: latencies.last().copied().unwrap_or_default(),
        start_took: timeline.started - timeline.start_issued,
        recovered_after: recovery.map(|s| s.answered - timeline.start_issued),
        after: (after.len(), after.iter().filter(|s| !s.succeeded()).count()),
    }
}

impl fmt::Display for OutageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let optional = |value: Option<Duration>| value.map_or("never".to_owned(), millis);
        writeln!(
            f,
            "before the stop: {} requests, {} failed",
            self.before.0, self.before.1
        )?;
        writeln!(
            f,
            "stop: took {}; first failed answer {} after it",
            millis(self.stop_took),
            optional(self.first_failure_after)
        )?;
        let total: u64 = self.failures.values().sum();
        writeln!(
            f,
            "during the outage: {total} failed ({}), latency p50 {} max {} (deadline {})",
            describe_statuses(&self.failures),
            millis(self.failure_p50),
            millis(self.failure_max),
            millis(FAILURE_DEADLINE)
        )?;
        for (message, count) in self.messages.iter().take(3) {
            writeln!(f, "  {count} x {message:?}")?;
        }
        writeln!(
            f,
            "start: took {}; first success {} after it (no service restarted)",
            millis(self.start_took),
            optional(self.recovered_after)
        )?;
        write!(
            f,
            "after recovering: {} requests, {} failed",
            self.after.0, self.after.1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    fn sample(start: Instant, sent_ms: u64, took_ms: u64, status: u16) -> Sample {
        Sample {
            kind: "roll",
            scheduled: at(start, sent_ms),
            sent: at(start, sent_ms),
            answered: at(start, sent_ms + took_ms),
            status: RequestStatus::Http(status),
            message: (status == 503).then(|| "the database is unavailable".to_owned()),
        }
    }

    #[test]
    fn the_timeline_is_read_off_the_samples() {
        let start = Instant::now();
        let timeline = Timeline {
            stop_issued: at(start, 1000),
            stopped: at(start, 1100),
            start_issued: at(start, 3000),
            started: at(start, 3400),
        };
        let mut samples = Vec::new();
        for ms in (0..1000).step_by(100) {
            samples.push(sample(start, ms, 10, 200));
        }
        // In flight when the stop came: still served.
        samples.push(sample(start, 1000, 20, 200));
        for ms in (1100..3500).step_by(100) {
            samples.push(sample(start, ms, 5, 503));
        }
        for ms in (3500..4500).step_by(100) {
            samples.push(sample(start, ms, 10, 200));
        }
        let report = report(&samples, &timeline);
        assert_eq!(report.before, (10, 0));
        assert_eq!(report.first_failure_after, Some(Duration::from_millis(105)));
        assert_eq!(report.failures[&RequestStatus::Http(503)], 24);
        assert_eq!(
            report.messages[0],
            ("the database is unavailable".into(), 24)
        );
        assert_eq!(report.failure_max, Duration::from_millis(5));
        assert_eq!(report.start_took, Duration::from_millis(400));
        assert_eq!(report.recovered_after, Some(Duration::from_millis(510)));
        assert_eq!(report.after, (9, 0));
        assert!(report.problems().is_empty(), "{:?}", report.problems());
        let text = report.to_string();
        assert!(text.contains("first success 510 ms after it"), "{text}");
    }

    #[test]
    fn slow_or_wrong_failures_and_no_recovery_are_problems() {
        let start = Instant::now();
        let timeline = Timeline {
            stop_issued: at(start, 1000),
            stopped: at(start, 1000),
            start_issued: at(start, 2000),
            started: at(start, 2000),
        };
        let samples = vec![
            sample(start, 0, 10, 200),
            sample(start, 1100, 2500, 503),
            sample(start, 1200, 10, 500),
        ];
        let problems = report(&samples, &timeline).problems().join("\n");
        assert!(
            problems.contains("1 failures were not 503 (500: 1, 503: 1)"),
            "{problems}"
        );
        assert!(problems.contains("over the 2000 ms deadline"), "{problems}");
        assert!(
            problems.contains("no request succeeded after"),
            "{problems}"
        );
    }
}
