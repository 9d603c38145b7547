use std::collections::BTreeMap;

use serde_yaml_ng::Value;
use stack_checks::alloy;
use stack_checks::backends::{
    collector_metrics_port, collector_otlp_port, loki_http_port, tempo_http_port,
};
use stack_checks::compose::{ComposeFile, Service};
use stack_checks::prometheus::PrometheusConfig;
use stack_checks::{Repo, host_and_port};

/// Every file of the stack, parsed.
pub struct Stack {
    pub repo: Repo,
    pub compose: ComposeFile,
    /// The stages that have a compose file, with it.
    pub stages: Vec<(u8, ComposeFile)>,
    pub prometheus: PrometheusConfig,
    pub tempo: Value,
    pub loki: Value,
    pub collector: Value,
    pub alloy: alloy::Config,
    pub datasources: Value,
    pub dashboard_providers: Value,
}

pub const STACK_COMPOSE: &str = "stack/docker-compose.yml";

impl Stack {
    /// Loads everything, panicking with the file and the reason on the
    /// first that does not read or parse: that is the first failure a test
    /// should report.
    pub fn load() -> Self {
        let repo = Repo::current();
        let yaml = |path: &str| repo.yaml(path).unwrap_or_else(|error| panic!("{error:?}"));
        let compose =
            ComposeFile::load(&repo.path(STACK_COMPOSE)).unwrap_or_else(|e| panic!("{e:?}"));
        let stages = repo
            .stage_compose_files()
            .into_iter()
            .map(|(stage, path)| {
                (
                    stage,
                    ComposeFile::load(&path).unwrap_or_else(|e| panic!("{e:?}")),
                )
            })
            .collect();
        let prometheus = PrometheusConfig::load(&repo.path("stack/prometheus/prometheus.yml"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let alloy_text = repo
            .read("alloy/config.alloy")
            .unwrap_or_else(|e| panic!("{e:?}"));
        let alloy = alloy::parse(&alloy_text).unwrap_or_else(|e| panic!("{e}"));
        Self {
            tempo: yaml("stack/tempo/tempo.yml"),
            loki: yaml("stack/loki/loki.yml"),
            collector: yaml("stack/otel-collector/config.yaml"),
            datasources: yaml("stack/grafana/provisioning/datasources/datasources.yml"),
            dashboard_providers: yaml("stack/grafana/provisioning/dashboards/dashboards.yml"),
            repo,
            compose,
            stages,
            prometheus,
            alloy,
        }
    }

    /// A stack service, which must exist.
    pub fn service(&self, name: &str) -> Service<'_> {
        self.compose
            .service(name)
            .unwrap_or_else(|| panic!("{STACK_COMPOSE} has no service {name}"))
    }

    /// The value of a `--flag=value` (or `-flag=value`) in a service's command.
    pub fn flag(&self, service: &str, flag: &str) -> Option<String> {
        self.service(service).command().iter().find_map(|arg| {
            arg.strip_prefix(flag)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_owned)
        })
    }

    /// The port each stack service serves HTTP on (its API, UI or own
    /// metrics), read from its own config or command line: what scrape
    /// targets, datasource URLs and push URLs must use.
    pub fn service_ports(&self) -> BTreeMap<String, u16> {
        let port_of = |address: Option<String>| {
            address
                .as_deref()
                .and_then(host_and_port)
                .map(|(_, port)| port)
        };
        let mut ports = BTreeMap::from([
            ("loki".to_owned(), loki_http_port(&self.loki)),
            ("tempo".to_owned(), tempo_http_port(&self.tempo)),
            // Prometheus and Grafana keep their default ports unless told.
            (
                "prometheus".to_owned(),
                port_of(self.flag("prometheus", "--web.listen-address")).unwrap_or(9090),
            ),
            ("grafana".to_owned(), 3000),
        ]);
        if let Some(port) = collector_metrics_port(&self.collector) {
            ports.insert("otel-collector".to_owned(), port);
        }
        if let Some(port) = port_of(self.flag("alloy", "--server.http.listen-addr")) {
            ports.insert("alloy".to_owned(), port);
        }
        ports
    }

    /// Where the services send spans: the collector's service name and the
    /// port of its OTLP/HTTP receiver.
    pub fn otlp_endpoint(&self) -> String {
        let port =
            collector_otlp_port(&self.collector, "http").expect("the collector receives OTLP/HTTP");
        format!("http://otel-collector:{port}")
    }
}
