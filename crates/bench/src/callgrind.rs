//! User-space instructions per request, counted by callgrind.
//!
//! Requests per second on a shared two-core machine drift by a fifth between
//! identical runs; instructions executed do not. callgrind counts every
//! instruction the server's threads execute in user space (the kernel's work
//! for a request, its socket calls, is not in the count). One run includes
//! start-up and shutdown, so the server runs twice, serving `short` and then
//! `long` requests, and the difference divided by `long - short` is the cost
//! of one request alone, export of its spans included: the exporter thread is
//! counted too, and shutdown flushes whatever is still queued.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::{BenchError, ServerProcess};

/// Start-up under valgrind takes seconds; it is slower still on a busy core.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// One server run under callgrind.
#[derive(Debug, Clone)]
pub struct CallgrindRun {
    pub requests: u64,
    pub instructions: u64,
    pub out_file: PathBuf,
}

impl CallgrindRun {
    /// Runs `command` under `valgrind --tool=callgrind`, sends it `requests`
    /// sequential `GET path` on one kept-alive connection (after the one
    /// readiness request, which both runs of a pair make alike), stops it
    /// with SIGTERM and reads the total from `out_file`.
    pub async fn measure(
        command: &[String],
        port: u16,
        env: &[(&str, String)],
        stdout: Stdio,
        path: &str,
        requests: u64,
        out_file: &Path,
    ) -> Result<Self, BenchError> {
        let mut full = vec![
            "valgrind".to_owned(),
            "--tool=callgrind".to_owned(),
            "--quiet".to_owned(),
            format!("--callgrind-out-file={}", out_file.display()),
        ];
        full.extend_from_slice(command);
        let mut server = ServerProcess::spawn(&full, port, env, stdout)?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        server
            .wait_until_answering(&http, "/", START_TIMEOUT)
            .await?;
        let url = server.url(path);
        for _ in 0..requests {
            let response = http.get(&url).send().await?;
            if !response.status().is_success() {
                return Err(BenchError::Failed(format!(
                    "{url} answered {} under callgrind",
                    response.status()
                )));
            }
            response.bytes().await?;
        }
        server.terminate(START_TIMEOUT).await?;
        Ok(Self {
            requests,
            instructions: read_total_instructions(out_file)?,
            out_file: out_file.to_owned(),
        })
    }
}

/// Instructions per request: the difference between a long and a short run,
/// so that start-up and shutdown cancel out.
pub fn instructions_per_request(short: &CallgrindRun, long: &CallgrindRun) -> f64 {
    (long.instructions as f64 - short.instructions as f64)
        / (long.requests as f64 - short.requests as f64)
}

/// The `totals:` line of a callgrind output file (`summary:` in older
/// formats): instructions executed by every thread of the process.
fn read_total_instructions(path: &Path) -> Result<u64, BenchError> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .max()
        .ok_or_else(|| BenchError::Failed(format!("no totals line in {}", path.display())))
}
