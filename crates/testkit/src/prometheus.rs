//! A real Prometheus (Debian's `prometheus` package) scraping services under
//! test, queried through its HTTP API.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::free_port;
use crate::programs::PROMETHEUS;

/// A job for Prometheus to scrape every second.
#[derive(Debug, Clone)]
pub struct ScrapeTarget {
    /// The `job` label, e.g. `dice-roller`, as the stack's config names it.
    pub job: String,
    /// `host:port` serving `/metrics`.
    pub address: String,
    /// Extra target labels, e.g. `stage="1"` as the stack adds.
    pub labels: Vec<(String, String)>,
}

impl ScrapeTarget {
    pub fn new(job: &str, address: impl ToString) -> Self {
        Self {
            job: job.to_owned(),
            address: address.to_string(),
            labels: Vec::new(),
        }
    }

    pub fn label(mut self, name: &str, value: &str) -> Self {
        self.labels.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A Prometheus server on a free loopback port with its own throwaway data
/// directory; killed when dropped.
pub struct PrometheusServer {
    child: Child,
    base_url: String,
    directory: tempfile::TempDir,
    http: reqwest::Client,
}

impl PrometheusServer {
    /// Starts Prometheus scraping `targets` every second and waits until it
    /// is ready. Panics with the one line saying what to install if the
    /// binary is missing.
    pub async fn start(targets: &[ScrapeTarget]) -> Self {
        let binary = PROMETHEUS.require();
        let directory = tempfile::tempdir().expect("temporary directory");
        let config_path = directory.path().join("prometheus.yml");
        std::fs::write(&config_path, scrape_config(targets)).expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(directory.path().join("prometheus.log")).expect("log file");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                directory.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            directory,
            http: reqwest::Client::new(),
        };
        server.wait_until_ready(Duration::from_secs(30)).await;
        server
    }

    async fn wait_until_ready(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let url = format!("{}/-/ready", self.base_url);
        loop {
            if let Ok(response) = self.http.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "prometheus not ready within {timeout:?}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Prometheus' own log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.directory.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Runs an instant query; `Ok` holds `data.result` (for a vector, one
    /// entry per series), `Err` the API's error (a PromQL syntax error, say).
    pub async fn query(&self, expression: &str) -> Result<Vec<Value>, String> {
        let response = self
            .http
            .get(format!("{}/api/v1/query", self.base_url))
            .query(&[("query", expression)])
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let body: Value = response.json().await.map_err(|error| error.to_string())?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        match &body["data"]["result"] {
            Value::Array(result) => Ok(result.clone()),
            // A scalar or string result: one value.
            other => Ok(vec![other.clone()]),
        }
    }

    /// Polls `expression` until it returns at least one series whose value is
    /// a number (not NaN), and returns the result; fails with the last answer
    /// after `timeout`.
    pub async fn wait_for_data(
        &self,
        expression: &str,
        timeout: Duration,
    ) -> Result<Vec<Value>, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let last = self.query(expression).await;
            if let Ok(result) = &last
                && result.iter().any(has_number)
            {
                return Ok(result.clone());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "no data for `{expression}` within {timeout:?}; last answer: {last:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until every target reports `up == 1`.
    pub async fn wait_for_targets_up(&self, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let up = self.query("up").await?;
            if !up.is_empty() && up.iter().all(|series| series["value"][1] == "1") {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("targets not up within {timeout:?}: {up:?}"));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Whether a result entry (`{"metric":..,"value":[t,"v"]}`) holds a number.
pub fn has_number(series: &Value) -> bool {
    series["value"][1]
        .as_str()
        .and_then(|value| value.parse::<f64>().ok())
        .is_some_and(|value| !value.is_nan())
}

/// The value of a result entry as a number (NaN if it is not one).
pub fn value_of(series: &Value) -> f64 {
    series["value"][1]
        .as_str()
        .and_then(|value| value.parse().ok())
        .unwrap_or(f64::NAN)
}

fn scrape_config(targets: &[ScrapeTarget]) -> String {
    let mut config = String::from(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    for target in targets {
        let _ = write!(
            config,
            "  - job_name: {job:?}\n    static_configs:\n      - targets: [{address:?}]\n",
            job = target.job,
            address = target.address
        );
        if !target.labels.is_empty() {
            config.push_str("        labels:\n");
            for (name, value) in &target.labels {
                let _ = writeln!(config, "          {name}: {value:?}");
            }
        }
    }
    config
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
