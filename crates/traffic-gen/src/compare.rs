//! Stage 4's comparison: N dice rolled one at a time (N sequential `GET
//! /roll`) against the same N rolled at once (one `GET /roll-async?times=N`),
//! measured on the dice-roller itself.
//!
//! Each roll waits a random 0..=`ROLL_MAX_DELAY_MS`, so N sequential rolls
//! take about N times the mean delay, while a batch takes about the longest
//! of N delays: the speed-up grows with N for as long as the delays dominate
//! the round trips. Every measurement is a trace of its own (`compare_sync`,
//! `compare_async`) to open in Tempo next to the numbers.

use std::fmt;
use std::time::Duration;

use telemetry::HttpClient;
use tokio::time::Instant;
use tracing::Instrument;

use crate::summary::millis;

/// What to compare: batch sizes, repetitions per size and mode, and the die.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// The dice-roller, e.g. `http://127.0.0.1:8400`.
    pub base_url: reqwest::Url,
    pub die: String,
    pub sizes: Vec<u32>,
    /// Measurements per size and mode; the run is bounded by
    /// `repetitions * sizes.len() * 2` measurements.
    pub repetitions: u32,
}

/// One mode's measurements for one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    pub median: Duration,
    pub p95: Duration,
    /// Measurements that failed (an error status or no answer); not in the
    /// percentiles.
    pub failures: u32,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonRow {
    pub size: u32,
    pub sequential: Timings,
    pub concurrent: Timings,
}

impl ComparisonRow {
    /// Median one-at-a-time time over median batch time.
    pub fn speed_up(&self) -> f64 {
        let batch = self.concurrent.median.as_secs_f64();
        if batch > 0.0 {
            self.sequential.median.as_secs_f64() / batch
        } else {
            0.0
        }
    }
}

/// The whole table.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub target: String,
    pub die: String,
    pub repetitions: u32,
    pub rows: Vec<ComparisonRow>,
}

/// Runs the comparison: for each size, `repetitions` times, N sequential
/// rolls then one batch of N (interleaved, so both modes see the same
/// conditions).
pub async fn compare(config: &CompareConfig, client: &HttpClient) -> Comparison {
    let mut rows = Vec::new();
    for &size in &config.sizes {
        let (mut sequential, mut concurrent) = (Vec::new(), Vec::new());
        for _ in 0..config.repetitions {
            sequential.push(one_at_a_time(config, client, size).await);
            concurrent.push(at_once(config, client, size).await);
        }
        rows.push(ComparisonRow {
            size,
            sequential: timings(&sequential),
            concurrent: timings(&concurrent),
        });
    }
    Comparison {
        target: config.base_url.as_str().trim_end_matches('/').to_owned(),
        die: config.die.clone(),
        repetitions: config.repetitions,
        rows,
    }
}

/// `size` sequential `/roll` calls, each waiting for the last; `None` if
/// one failed.
async fn one_at_a_time(config: &CompareConfig, client: &HttpClient, size: u32) -> Option<Duration> {
    let span =
        tracing::info_span!(parent: None, "compare_sync", "async.batch_size" = i64::from(size));
    async {
        let started = Instant::now();
        for _ in 0..size {
            let mut url = config.base_url.clone();
            url.set_path("/roll");
            url.query_pairs_mut().append_pair("die", &config.die);
            get(client, url).await?;
        }
        Some(started.elapsed())
    }
    .instrument(span)
    .await
}

/// One `/roll-async?times=size` call.
async fn at_once(config: &CompareConfig, client: &HttpClient, size: u32) -> Option<Duration> {
    let span =
        tracing::info_span!(parent: None, "compare_async", "async.batch_size" = i64::from(size));
    async {
        let started = Instant::now();
        let mut url = config.base_url.clone();
        url.set_path("/roll-async");
        url.query_pairs_mut()
            .append_pair("die", &config.die)
            .append_pair("times", &size.to_string());
        get(client, url).await?;
        Some(started.elapsed())
    }
    .instrument(span)
    .await
}

/// A GET whose whole body arrived with a 2xx.
async fn get(client: &HttpClient, url: reqwest::Url) -> Option<()> {
    let request = client.request_builder().get(url).build().ok()?;
    let response = client.send(request).await.ok()?;
    let ok = response.status().is_success();
    response.bytes().await.ok()?;
    ok.then_some(())
}

/// Median and p95 (nearest rank) of the successful measurements.
pub fn timings(measured: &[Option<Duration>]) -> Timings {
    let mut ok: Vec<Duration> = measured.iter().flatten().copied().collect();
    ok.sort_unstable();
    let rank = |q: f64| {
        if ok.is_empty() {
            return Duration::ZERO;
        }
        let index = ((q * ok.len() as f64).ceil() as usize).clamp(1, ok.len()) - 1;
        ok[index]
    };
    Timings {
        median: rank(0.5),
        p95: rank(0.95),
        failures: (measured.len() - ok.len()) as u32,
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "die {:?} on {}, {} runs per size and mode",
            self.die, self.target, self.repetitions
        )?;
        writeln!(
            f,
            "| N | one at a time (N x /roll): median | p95 | at once (/roll-async?times=N): median | p95 | speed-up (medians) |"
        )?;
        writeln!(f, "|---:|---:|---:|---:|---:|---:|")?;
        for row in &self.rows {
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {:.1}x |",
                row.size,
                millis(row.sequential.median),
                millis(row.sequential.p95),
                millis(row.concurrent.median),
                millis(row.concurrent.p95),
                row.speed_up()
            )?;
        }
        let failures: u32 = self
            .rows
            .iter()
            .map(|row| row.sequential.failures + row.concurrent.failures)
            .sum();
        if failures > 0 {
            writeln!(f, "failed measurements (left out): {failures}")?;
        }
        if let Some(ten) = self.rows.iter().find(|row| row.size == 10) {
            writeln!(
                f,
                "10 sequential /roll: {}; one /roll-async?times=10: {}; {:.1}x faster",
                millis(ten.sequential.median),
                millis(ten.concurrent.median),
                ten.speed_up()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p95_leave_failures_out() {
        let ms = |n| Some(Duration::from_millis(n));
        let measured = [ms(30), None, ms(10), ms(20), ms(40), ms(50)];
        let t = timings(&measured);
        assert_eq!(t.median, Duration::from_millis(30));
        assert_eq!(t.p95, Duration::from_millis(50));
        assert_eq!(t.failures, 1);
        assert_eq!(timings(&[None]).median, Duration::ZERO);
    }

    #[test]
    fn the_table_shows_the_speed_up_of_each_size() {
        let timing = |ms| Timings {
            median: Duration::from_millis(ms),
            p95: Duration::from_millis(ms + 100),
            failures: 0,
        };
        let comparison = Comparison {
            target: "http://127.0.0.1:8400".into(),
            die: "fair".into(),
            repetitions: 3,
            rows: vec![ComparisonRow {
                size: 10,
                sequential: timing(5000),
                concurrent: timing(900),
            }],
        };
        let text = comparison.to_string();
        assert!(
            text.contains("| 10 | 5000 ms | 5100 ms | 900 ms | 1000 ms | 5.6x |"),
            "{text}"
        );
        assert!(text.contains("5.6x faster"), "{text}");
    }
}
