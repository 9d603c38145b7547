//! The stack's Prometheus scrape config: its targets and their labels.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::compose::ComposeFile;
use crate::design;
use crate::{LoadError, Problems};

/// The label that tells stages apart; every stage target carries it.
pub const STAGE: &str = "stage";

#[derive(Debug, Clone, Deserialize)]
pub struct PrometheusConfig {
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScrapeConfig {
    pub job_name: String,
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// Kept only to refuse it: the checks (and the stage tests that copy a
    /// target's labels) read static labels, which relabelling would change.
    #[serde(default)]
    pub relabel_configs: Vec<serde_yaml_ng::Value>,
    pub metrics_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StaticConfig {
    pub targets: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One scrape target with the labels its series get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub job: String,
    /// `host:port`.
    pub address: String,
    /// Static labels other than `job` (e.g. `stage`).
    pub labels: BTreeMap<String, String>,
}

impl Target {
    pub fn host(&self) -> &str {
        self.address.rsplit_once(':').map_or("", |(host, _)| host)
    }

    pub fn port(&self) -> Option<u16> {
        self.address.rsplit_once(':')?.1.parse().ok()
    }
}

impl PrometheusConfig {
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        Self::from_str(path, &crate::read(path)?)
    }

    pub fn from_str(path: &Path, text: &str) -> Result<Self, LoadError> {
        serde_yaml_ng::from_str(text).map_err(|source| LoadError::Yaml {
            path: path.to_owned(),
            source,
        })
    }

    pub fn targets(&self) -> Vec<Target> {
        self.scrape_configs
            .iter()
            .flat_map(|job| {
                job.static_configs.iter().flat_map(move |group| {
                    group.targets.iter().map(move |address| Target {
                        job: job.job_name.clone(),
                        address: address.clone(),
                        labels: group.labels.clone(),
                    })
                })
            })
            .collect()
    }

    /// The target of stage `stage`'s `service`, as docs/design.md#services-and-ports places it
    /// (`frontend-stage2:8201`), with the job and labels the stack gives it:
    /// what a test's own Prometheus must scrape the service under test with.
    pub fn stage_target(&self, stage: u8, service: &str) -> Option<Target> {
        let planned = design::stage_services(stage)
            .into_iter()
            .find(|planned| planned.name == service)?;
        self.target(&design::scrape_address(&planned, stage))
    }

    /// The target scraped at `address` (e.g. `dice-roller-stage1:8100`).
    pub fn target(&self, address: &str) -> Option<Target> {
        self.targets()
            .into_iter()
            .find(|target| target.address == address)
    }
}

/// The stage targets must be exactly those docs/design.md#stack-metrics implies: every scraped
/// service of every stage, by container name, job = service name, with its
/// `stage` label, and nothing else with a `stage` label.
pub fn check_stage_targets(config: &PrometheusConfig) -> Problems {
    let mut problems = Vec::new();
    for job in &config.scrape_configs {
        if !job.relabel_configs.is_empty() {
            problems.push(format!(
                "job {}: relabel_configs would change the labels these checks and the stage tests read",
                job.job_name
            ));
        }
        if job.metrics_path.as_deref().is_some_and(|p| p != "/metrics") {
            problems.push(format!(
                "job {}: every service serves /metrics, not {:?}",
                job.job_name, job.metrics_path
            ));
        }
    }
    let expected: BTreeSet<(String, String, String)> = design::STAGES
        .flat_map(|stage| {
            design::stage_services(stage)
                .into_iter()
                .filter(|service| service.scraped)
                .map(move |service| {
                    (
                        service.name.to_owned(),
                        design::scrape_address(&service, stage),
                        stage.to_string(),
                    )
                })
        })
        .collect();
    let actual: BTreeSet<(String, String, String)> = config
        .targets()
        .into_iter()
        .filter_map(|target| {
            let stage = target.labels.get(STAGE)?.clone();
            Some((target.job, target.address, stage))
        })
        .collect();
    for missing in expected.difference(&actual) {
        problems.push(format!(
            "no target {} in job {} with stage=\"{}\"",
            missing.1, missing.0, missing.2
        ));
    }
    for extra in actual.difference(&expected) {
        problems.push(format!(
            "target {} (job {}, stage=\"{}\") is not a scraped stage service of the design (docs/design.md#services-and-ports)",
            extra.1, extra.0, extra.2
        ));
    }
    problems
}

/// Every target is a service some compose file defines, on the port it
/// listens on: a stage target is a container of that stage's compose file
/// (when the stage has one yet; otherwise `check_stage_targets` holds it to
/// the design), a target without a stage is a service of the stack.
/// `stack_ports` maps each stack service to the port its own config says it
/// serves metrics on.
pub fn check_targets_exist(
    config: &PrometheusConfig,
    stages: &[(u8, ComposeFile)],
    stack: &ComposeFile,
    stack_ports: &BTreeMap<String, u16>,
) -> Problems {
    let mut problems = Vec::new();
    for target in config.targets() {
        let address = &target.address;
        match target.labels.get(STAGE) {
            Some(stage) => {
                let Some((_, compose)) = stages.iter().find(|(n, _)| n.to_string() == *stage)
                else {
                    continue;
                };
                let file = compose.path.display();
                let Some(service) = compose.service_by_container(target.host()) else {
                    problems.push(format!(
                        "target {address}: {file} has no container named {}",
                        target.host()
                    ));
                    continue;
                };
                if service.name != target.job {
                    problems.push(format!(
                        "target {address}: job {} but the compose service is {}",
                        target.job, service.name
                    ));
                }
                let listens = service
                    .environment()
                    .get("PORT")
                    .and_then(|port| port.parse().ok())
                    .or_else(|| {
                        design::stage_services(stage.parse().unwrap_or(0))
                            .into_iter()
                            .find(|s| s.name == service.name)
                            .map(|s| s.port)
                    });
                if listens != target.port() {
                    problems.push(format!(
                        "target {address}: the service listens on {listens:?}"
                    ));
                }
            }
            None if target.job == "prometheus" && target.host() == "localhost" => {}
            None => {
                if stack.service(target.host()).is_none() {
                    problems.push(format!(
                        "target {address}: the stack has no service {}",
                        target.host()
                    ));
                    continue;
                }
                match stack_ports.get(target.host()) {
                    Some(&port) if Some(port) == target.port() => {}
                    Some(port) => problems.push(format!(
                        "target {address}: {} serves its metrics on port {port}",
                        target.host()
                    )),
                    None => problems.push(format!(
                        "target {address}: no known metrics port for {}",
                        target.host()
                    )),
                }
            }
        }
    }
    problems
}

/// The flags Prometheus needs for Tempo's metrics-generator: the
/// remote-write receiver (else every write is a 404 and the service graph
/// stays empty) and exemplar storage (trace ids on span-metric samples).
pub fn check_flags(prometheus: &crate::compose::Service<'_>) -> Problems {
    let command = prometheus.command();
    [
        "--web.enable-remote-write-receiver",
        "--enable-feature=exemplar-storage",
    ]
    .into_iter()
    .filter(|flag| !command.iter().any(|arg| arg == flag))
    .map(|flag| format!("prometheus runs without {flag}"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
scrape_configs:
  - job_name: dice-roller
    static_configs:
      - targets: ["dice-roller-stage1:8100"]
        labels: {stage: "1"}
      - targets: ["dice-roller-stage2:8200"]
        labels: {stage: "two"}
  - job_name: otel-collector
    static_configs:
      - targets: ["otel-collector:8889"]
"#;

    fn config() -> PrometheusConfig {
        PrometheusConfig::from_str(Path::new("prometheus.yml"), CONFIG).unwrap()
    }

    #[test]
    fn targets_carry_their_job_and_static_labels() {
        let target = config().target("dice-roller-stage1:8100").unwrap();
        assert_eq!(target.job, "dice-roller");
        assert_eq!(target.labels[STAGE], "1");
        assert_eq!(
            (target.host(), target.port()),
            ("dice-roller-stage1", Some(8100))
        );
        assert_eq!(config().stage_target(1, "dice-roller"), Some(target));
        assert_eq!(config().stage_target(1, "frontend"), None);
    }

    #[test]
    fn stage_targets_are_held_to_the_design() {
        let problems = check_stage_targets(&config()).join("\n");
        assert!(
            problems
                .contains("no target dice-roller-stage2:8200 in job dice-roller with stage=\"2\""),
            "{problems}"
        );
        assert!(problems.contains("stage=\"two\""), "{problems}");
        assert!(problems.contains("frontend-stage6:8601"), "{problems}");
    }

    #[test]
    fn targets_must_be_compose_services_on_their_ports() {
        let stage1 = ComposeFile::from_str(
            "stage1/docker-compose.yml",
            "services:\n  dice-roller:\n    image: x:1\n    container_name: dice-roller-stage-one\n",
        )
        .unwrap();
        let stack = ComposeFile::from_str(
            "stack.yml",
            "services:\n  otel-collector:\n    image: x:1\n",
        )
        .unwrap();
        let ports = BTreeMap::from([("otel-collector".to_owned(), 8888)]);
        let problems = check_targets_exist(&config(), &[(1, stage1)], &stack, &ports).join("\n");
        assert!(
            problems.contains("has no container named dice-roller-stage1"),
            "{problems}"
        );
        assert!(problems.contains("port 8888"), "{problems}");
        // Stage 2 has no compose file here: its target is not looked up.
        assert!(!problems.contains("stage2"), "{problems}");
    }
}
