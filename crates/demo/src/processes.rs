//! The services of a demo run as child processes: started with their
//! telemetry pointed at the embedded receiver, their stdout (the JSON log
//! lines) and stderr captured, and stopped the way `docker stop` would.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::DemoError;
use crate::correlation::LogLine;

/// How many stderr lines are kept to explain a service that died.
const STDERR_KEPT: usize = 20;
/// How often readiness is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long the readers get to drain the pipes once a service has exited.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A running service. Dropping it kills the process (`kill_on_drop`), so a
/// panic or an early return never leaves a service behind.
pub struct ServiceProcess {
    pub name: &'static str,
    pub port: u16,
    child: Child,
    stdout: Arc<Mutex<Vec<LogLine>>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl ServiceProcess {
    /// Starts `binary` with exactly the variables in `env` added to the
    /// demo's own environment.
    pub fn spawn(
        name: &'static str,
        binary: &Path,
        port: u16,
        env: &[(String, String)],
    ) -> Result<Self, DemoError> {
        let mut child = Command::new(binary)
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| DemoError::Spawn {
                binary: binary.to_owned(),
                source,
            })?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            let lines = stdout.clone();
            readers.push(tokio::spawn(read_lines(pipe, move |text| {
                let line = LogLine {
                    text,
                    read_at: SystemTime::now(),
                };
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            })));
        }
        if let Some(pipe) = child.stderr.take() {
            let lines = stderr.clone();
            readers.push(tokio::spawn(read_lines(pipe, move |text| {
                let mut lines = lines.lock().unwrap_or_else(|e| e.into_inner());
                if lines.len() == STDERR_KEPT {
                    lines.pop_front();
                }
                lines.push_back(text);
            })));
        }
        Ok(Self {
            name,
            port,
            child,
            stdout,
            stderr,
            readers,
            exit: None,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls `GET /metrics` until it answers 200, the process exits, or
    /// `timeout` passes; returns how long it took, or why it never answered.
    pub async fn wait_until_answering(
        &mut self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Duration, String> {
        let started = Instant::now();
        let url = format!("{}/metrics", self.base_url());
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                return Err(format!("exited ({status}) before answering"));
            }
            let answer = http.get(&url).timeout(Duration::from_secs(1)).send().await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= timeout {
                return Err(format!("did not answer {url} within {timeout:?}"));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// SIGTERM, so the service drains and flushes its spans as it would under
    /// `docker stop`; SIGKILL if it is still running after `grace`. Then
    /// waits (bounded) until its output has been read to the end.
    pub async fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.terminate(grace).await;
        }
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, reader).await;
        }
        self.exit
    }

    async fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                let _ = self.child.kill().await;
                self.child.wait().await.ok()
            }
        }
    }

    /// Every stdout line read so far.
    pub fn log_lines(&self) -> Vec<LogLine> {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The last lines of stderr, to explain a failure.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

async fn read_lines(pipe: impl AsyncRead + Unpin, mut keep: impl FnMut(String)) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        keep(line);
    }
}
