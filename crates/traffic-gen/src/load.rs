//! Stage 5's database load test: list and get queries sent to the
//! die-service at a fixed rate, in an open loop (see `open_loop`), and the
//! report of what the database behind it sustained.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use telemetry::HttpClient;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::open_loop::{self, Sample, quantile};
use crate::summary::{RequestStatus, describe_statuses, millis};

/// The die identifiers the die-service serves: its `GET /dice` answers
/// `{"identifiers": [...]}`.
pub async fn list_dice(
    client: &HttpClient,
    base_url: &reqwest::Url,
) -> anyhow::Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct DieList {
        identifiers: Vec<String>,
    }
    let request = client
        .request_builder()
        .get(base_url.join("/dice")?)
        .build()?;
    let list: DieList = client
        .send(request)
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(list.identifiers)
}

/// What load to send.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The die-service, e.g. `http://127.0.0.1:8502`.
    pub base_url: reqwest::Url,
    /// Target rate (`QUERIES_PER_SECOND`).
    pub queries_per_second: f64,
    /// How long to keep the rate (`DURATION_SECONDS`).
    pub duration: Duration,
    /// Share of queries that list every die (`GET /dice`); the rest get one
    /// (`GET /dice?identifier=...`). `LIST_TO_GET_RATIO`, from 0 to 1.
    pub list_share: f64,
    /// The identifiers to get, from a first `GET /dice`.
    pub identifiers: Vec<String>,
}

/// What the load test measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub target_rate: f64,
    pub duration: Duration,
    /// Requests sent, and of them lists and gets.
    pub sent: u64,
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Requests answered with a success, per second of the run.
    pub achieved_rate: f64,
    /// Latency from the scheduled send to the answer.
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// The most any request left after its scheduled time: near zero
    /// unless the generator itself could not keep up.
    pub worst_send_lag: Duration,
    /// Failures by status.
    pub errors: BTreeMap<RequestStatus, u64>,
}

impl LoadReport {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn error_rate(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.error_count() as f64 / self.sent as f64
        }
    }

    /// The report of `samples`, sent at `target_rate` for `duration`.
    pub fn from_samples(samples: &[Sample], target_rate: f64, duration: Duration) -> Self {
        let mut latencies: Vec<Duration> = samples.iter().map(Sample::latency).collect();
        latencies.sort();
        let mut by_kind = BTreeMap::new();
        let mut errors = BTreeMap::new();
        for sample in samples {
            *by_kind.entry(sample.kind).or_default() += 1;
            if !sample.succeeded() {
                *errors.entry(sample.status).or_default() += 1;
            }
        }
        let succeeded = samples.iter().filter(|s| s.succeeded()).count();
        Self {
            target_rate,
            duration,
            sent: samples.len() as u64,
            by_kind,
            achieved_rate: succeeded as f64 / duration.as_secs_f64().max(f64::EPSILON),
            p50: quantile(&latencies, 0.50),
            p95: quantile(&latencies, 0.95),
            p99: quantile(&latencies, 0.99),
            max: latencies.last().copied().unwrap_or_default(),
            worst_send_lag: samples
                .iter()
                .map(|s| s.sent.saturating_duration_since(s.scheduled))
                .max()
                .unwrap_or_default(),
            errors,
        }
    }
}

/// Sends the load `config` describes through `client` (the die-service's)
/// and reports it.
pub async fn database_load(config: &LoadConfig, client: &HttpClient) -> LoadReport {
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let mut rng = StdRng::from_os_rng();
    let mut url_for = |_n: u64| {
        let mut url = config.base_url.clone();
        url.set_path("/dice");
        url.set_query(None);
        let list =
            config.identifiers.is_empty() || rng.random_bool(config.list_share.clamp(0.0, 1.0));
        if list {
            ("list", client.request_builder().get(url))
        } else {
            let identifier = &config.identifiers[rng.random_range(0..config.identifiers.len())];
            url.query_pairs_mut().append_pair("identifier", identifier);
            ("get", client.request_builder().get(url))
        }
    };
    let started = Instant::now();
    let stop = tokio::time::sleep_until(started + config.duration);
    open_loop::run(
        client,
        config.queries_per_second,
        stop,
        &mut url_for,
        sender,
    )
    .await;
    let mut samples = Vec::new();
    while let Some(sample) = receiver.recv().await {
        samples.push(sample);
    }
    LoadReport::from_samples(&samples, config.queries_per_second, config.duration)
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(kind, count)| format!("{count} {kind}"))
            .collect();
        writeln!(
            f,
            "{} queries in {:.0} s ({}), target {:.1}/s, achieved {:.1}/s answered successfully",
            self.sent,
            self.duration.as_secs_f64(),
            kinds.join(", "),
            self.target_rate,
            self.achieved_rate
        )?;
        writeln!(
            f,
            "latency from the scheduled send: p50 {}  p95 {}  p99 {}  max {}",
            millis(self.p50),
            millis(self.p95),
            millis(self.p99),
            millis(self.max)
        )?;
        writeln!(
            f,
            "errors: {} of {} ({:.2}%){}",
            self.error_count(),
            self.sent,
            self.error_rate() * 100.0,
            if self.errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", describe_statuses(&self.errors))
            }
        )?;
        writeln!(
            f,
            "generator lag: at most {} behind schedule",
            millis(self.worst_send_lag)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(start: Instant, at_ms: u64, latency_ms: u64, status: u16) -> Sample {
        let scheduled = start + Duration::from_millis(at_ms);
        Sample {
            kind: if (at_ms / 10).is_multiple_of(2) {
                "get"
            } else {
                "list"
            },
            scheduled,
            sent: scheduled,
            answered: scheduled + Duration::from_millis(latency_ms),
            status: RequestStatus::Http(status),
            message: None,
        }
    }

    #[test]
    fn the_report_counts_from_the_schedule() {
        let start = Instant::now();
        let mut samples: Vec<Sample> = (0..98).map(|n| sample(start, n * 10, 5, 200)).collect();
        samples.push(sample(start, 980, 900, 503));
        samples.push(sample(start, 990, 1000, 503));
        let report = LoadReport::from_samples(&samples, 100.0, Duration::from_secs(1));
        assert_eq!(report.sent, 100);
        assert_eq!(report.by_kind["get"] + report.by_kind["list"], 100);
        assert_eq!(report.errors[&RequestStatus::Http(503)], 2);
        assert!((report.achieved_rate - 98.0).abs() < 1e-9);
        assert_eq!(report.p50, Duration::from_millis(5));
        assert_eq!(report.p99, Duration::from_millis(900));
        assert_eq!(report.max, Duration::from_millis(1000));
        let text = report.to_string();
        assert!(text.contains("errors: 2 of 100 (2.00%) (503: 2)"), "{text}");
    }
}
