//! A service under test as a child process, pinned to a core.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::BenchError;

/// How often readiness is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A running service. Dropping it kills the process, so an error half-way
/// through a benchmark never leaves a server holding a core.
pub struct ServerProcess {
    child: Child,
    pid: i32,
    port: u16,
}

impl ServerProcess {
    /// Runs `command` (the program, then its arguments; a `taskset` or
    /// `valgrind` prefix execs the real program, so the pid is the server's)
    /// with `env` added to a copy of this process's environment from which
    /// every `OTEL_*` variable and `RUST_LOG` are removed, so the caller's
    /// shell cannot change what is measured.
    pub fn spawn(
        command: &[String],
        port: u16,
        env: &[(&str, String)],
        stdout: Stdio,
    ) -> Result<Self, BenchError> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| BenchError::Failed("empty command".to_owned()))?;
        let mut builder = Command::new(program);
        builder.args(args);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("OTEL_") || key == "RUST_LOG" {
                builder.env_remove(key.as_ref());
            }
        }
        let child = builder
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BenchError::Spawn {
                program: program.clone(),
                source,
            })?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| BenchError::Failed(format!("{program} exited at once")))?;
        Ok(Self { child, pid, port })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path_and_query)
    }

    /// Polls `GET path` until it answers 200, failing if the process exits
    /// or `timeout` passes first.
    pub async fn wait_until_answering(
        &mut self,
        http: &reqwest::Client,
        path: &str,
        timeout: Duration,
    ) -> Result<(), BenchError> {
        let deadline = Instant::now() + timeout;
        let url = self.url(path);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(BenchError::Failed(format!(
                    "the server exited ({status}) before answering"
                )));
            }
            let answer = http.get(&url).timeout(timeout).send().await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(BenchError::Failed(format!(
                    "{url} did not answer within {timeout:?}"
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The body of `GET /metrics`.
    pub async fn metrics(&self, http: &reqwest::Client) -> Result<String, BenchError> {
        Ok(http
            .get(self.url("/metrics"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    /// The most memory the process has had resident so far, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        read_vm_hwm_kib(self.pid)
    }

    /// Sends SIGTERM and waits for the process to exit; returns how long that
    /// took. After `timeout` it is killed and that is an error: a service
    /// that ignores SIGTERM is a finding, not a figure.
    pub async fn terminate(mut self, timeout: Duration) -> Result<Duration, BenchError> {
        let signalled = Instant::now();
        kill(Pid::from_raw(self.pid), Signal::SIGTERM)
            .map_err(|error| BenchError::Failed(format!("SIGTERM: {error}")))?;
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if status.success() {
                    Ok(signalled.elapsed())
                } else {
                    Err(BenchError::Failed(format!(
                        "the server exited with {status} after SIGTERM"
                    )))
                }
            }
            Err(_) => {
                let _ = self.child.kill().await;
                Err(BenchError::Failed(format!(
                    "the server was still running {timeout:?} after SIGTERM"
                )))
            }
        }
    }
}

/// `VmHWM` of `/proc/<pid>/status`: the peak resident set size, in KiB.
pub fn read_vm_hwm_kib(pid: i32) -> Option<u64> {
    read_status_kib(pid, "VmHWM:")
}

/// `VmRSS` of `/proc/<pid>/status`: the resident set size now, in KiB.
pub fn read_vm_rss_kib(pid: i32) -> Option<u64> {
    read_status_kib(pid, "VmRSS:")
}

fn read_status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Pins this process (and the children it starts afterwards, which inherit
/// it) to one core, so load generation never competes with the server.
pub fn pin_current_process(core: usize) -> Result<(), BenchError> {
    // SAFETY: `cpu_set_t` is plain data that CPU_ZERO/CPU_SET initialise, and
    // sched_setaffinity only reads it.
    let result = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if result == 0 {
        Ok(())
    } else {
        Err(BenchError::Failed(format!(
            "cannot pin to core {core}: {}",
            std::io::Error::last_os_error()
        )))
    }
}

/// `taskset -c <core> <command...>`: the command, pinned to one core.
pub fn pinned(core: usize, command: Vec<String>) -> Vec<String> {
    let mut pinned = vec!["taskset".to_owned(), "-c".to_owned(), core.to_string()];
    pinned.extend(command);
    pinned
}
