//! One wrk run.
//!
//! wrk is closed-loop: each of its connections sends the next request when
//! the last answer arrives, so at saturation it measures the most the server
//! can do and the latency a request sees at that load. That is what a cost
//! comparison needs; the soak, which must hold a rate, is open-loop instead.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use crate::BenchError;

/// Printed by wrk at the end of a run, through the `done` hook, as one JSON
/// line; wrk's own summary rounds and changes units.
pub const REPORT_SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    /// Answers that were not 2xx or 3xx.
    pub status_errors: u64,
    pub timeouts: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl WrkResult {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }

    pub fn errors(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.status_errors
            + self.timeouts
    }
}

/// `taskset -c <core> wrk -t1 -c<connections> -d<duration> -s <script> <url>`.
/// One wrk thread is plenty: it needs far fewer cycles per request than the
/// server does.
pub async fn run_wrk(
    url: &str,
    connections: u32,
    duration: Duration,
    core: usize,
    script: &Path,
) -> Result<WrkResult, BenchError> {
    let output = Command::new("taskset")
        .args(["-c", &core.to_string(), "wrk", "-t1"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--timeout=10s")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .await
        .map_err(|source| BenchError::Spawn {
            program: "taskset/wrk".to_owned(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(BenchError::Failed(format!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let line = stdout
        .lines()
        .find(|line| line.starts_with("{\"requests\""))
        .ok_or_else(|| BenchError::Failed(format!("no report line in wrk's output: {stdout}")))?;
    serde_json::from_str(line)
        .map_err(|error| BenchError::Failed(format!("wrk's report line {line:?}: {error}")))
}
