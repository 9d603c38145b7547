//! Prometheus, Tempo, Loki and the collector, each against the others.

use std::process::Command;

use stack_checks::backends::{check_collector, check_loki, check_tempo, collector_otlp_port};
use stack_checks::prometheus::{check_flags, check_stage_targets, check_targets_exist};
use stack_checks::{alloy, assert_no_problems};

use crate::files::Stack;

#[test]
fn prometheus_scrapes_every_service_of_every_stage_with_job_and_stage() {
    let stack = Stack::load();
    assert_no_problems("prometheus.yml", &check_stage_targets(&stack.prometheus));
    let jobs: Vec<_> = stack
        .prometheus
        .scrape_configs
        .iter()
        .map(|job| job.job_name.as_str())
        .collect();
    for job in [
        "otel-collector",
        "tempo",
        "alloy",
        "loki",
        "prometheus",
        "postgres-exporter",
    ] {
        assert!(jobs.contains(&job), "no {job} job in {jobs:?}");
    }
}

#[test]
fn every_scrape_target_is_a_compose_service_on_the_port_it_serves() {
    let stack = Stack::load();
    assert_no_problems(
        "prometheus.yml targets",
        &check_targets_exist(
            &stack.prometheus,
            &stack.stages,
            &stack.compose,
            &stack.service_ports(),
        ),
    );
}

#[test]
fn promtool_accepts_the_prometheus_config() {
    // Debian's Prometheus package ships promtool; the same one that checks
    // what Prometheus itself would load.
    let promtool = std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "/usr/bin/promtool".into());
    assert!(
        std::path::Path::new(&promtool).exists(),
        "{promtool} not found: install Debian's `prometheus` package (bash .ci/run does)"
    );
    let stack = Stack::load();
    let output = Command::new(&promtool)
        .args(["check", "config", "--syntax-only"])
        .arg(stack.repo.path("stack/prometheus/prometheus.yml"))
        .output()
        .expect("run promtool");
    assert!(
        output.status.success(),
        "promtool rejects prometheus.yml:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn prometheus_accepts_tempos_remote_writes_and_exemplars() {
    let stack = Stack::load();
    assert_no_problems(
        "prometheus command",
        &check_flags(&stack.service("prometheus")),
    );
}

#[test]
fn tempo_writes_the_service_graph_to_prometheus() {
    let stack = Stack::load();
    let url = format!(
        "http://prometheus:{}/api/v1/write",
        stack.service_ports()["prometheus"]
    );
    assert_no_problems("tempo.yml", &check_tempo(&stack.tempo, &url));
}

#[test]
fn loki_stores_what_alloy_sends() {
    let stack = Stack::load();
    assert_no_problems(
        "loki.yml",
        &check_loki(&stack.loki, alloy::sends_structured_metadata(&stack.alloy)),
    );
}

#[test]
fn the_collector_forwards_spans_to_tempo_and_publishes_its_receivers() {
    let stack = Stack::load();
    assert_no_problems(
        "otel-collector/config.yaml",
        &check_collector(&stack.collector, &stack.tempo, "tempo"),
    );
    // The host ports the services use natively are the receivers' ports.
    let published: Vec<u16> = stack
        .service("otel-collector")
        .ports()
        .into_iter()
        .flatten()
        .map(|port| port.container)
        .collect();
    for protocol in ["grpc", "http"] {
        let port = collector_otlp_port(&stack.collector, protocol).unwrap();
        assert!(
            published.contains(&port),
            "OTLP/{protocol} port {port} is not published: {published:?}"
        );
    }
    assert_eq!(stack.otlp_endpoint(), "http://otel-collector:4318");
}
