//! The stage 1 Grafana dashboard against a real Prometheus: after some
//! traffic, every PromQL query of every panel returns a number.
//!
//! Prometheus scrapes the dice-roller with the job and labels that the
//! stack's own `stack/prometheus/prometheus.yml` gives `dice-roller-stage1`,
//! so a dashboard filtering on a label the stack does not set (or a stack
//! that stops setting it) fails here, not in front of a workshop.

use std::collections::BTreeSet;
use std::time::Duration;

use dashboards::Dashboard;
use stack_checks::Repo;
use stack_checks::dashboard::check_parsed_only;
use stack_checks::prometheus::PrometheusConfig;
use testkit::{DashboardQueries, PrometheusServer, ScrapeTarget};

use crate::helpers::{config, spawn_app};

const STAGE: u8 = 1;

/// Panels this test cannot run for data: their queries go to Loki or Tempo,
/// or read metrics only Tempo's metrics-generator writes (`traces_*`). They
/// are parsed here (and checked further by the stack-checks crate). Keep the
/// list exact: a panel missing from it, or listed but gone, fails the test.
const PARSED_ONLY: [&str; 5] = [
    "Span latency p50 / p95 / p99, with exemplars",
    "Recent logs",
    "Error logs",
    "Traces",
    "Failed rolls (traces)",
];

/// The dice-roller's scrape target as the stack configures it.
fn stack_scrape_target(address: impl ToString) -> ScrapeTarget {
    let config = PrometheusConfig::load(&Repo::current().path("stack/prometheus/prometheus.yml"))
        .expect("the stack's prometheus.yml");
    let target = config
        .stage_target(STAGE, "dice-roller")
        .expect("the stack scrapes stage 1's dice-roller");
    target.labels.iter().fold(
        ScrapeTarget::new(&target.job, address),
        |scrape, (name, value)| scrape.label(name, value),
    )
}

#[tokio::test]
async fn every_promql_panel_of_the_dashboard_returns_data() {
    let dashboard = Dashboard::load(&Repo::current().path("grafana-dashboards/stage1.json"))
        .expect("grafana-dashboards/stage1.json");
    let queries = DashboardQueries::sort(&dashboard, STAGE, check_parsed_only);
    assert!(queries.problems.is_empty(), "{:?}", queries.problems);
    assert_eq!(
        queries.parsed_only,
        PARSED_ONLY
            .map(String::from)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        "the panels that are only parsed"
    );
    assert!(queries.runnable.len() >= 10, "{:?}", queries.runnable);

    // Risky rolls fail half the time, so both outcomes have series.
    let app = spawn_app(config(0.5));
    let prometheus = PrometheusServer::start(&[stack_scrape_target(app.service.address())]).await;

    let traffic = app.start_traffic(&["risky", "fair"]);
    let failures = queries
        .without_data(&prometheus, Duration::from_secs(90))
        .await;
    traffic.stop().await;
    assert!(
        failures.is_empty(),
        "panels without data:\n{}\nprometheus log:\n{}",
        failures.join("\n"),
        prometheus.log()
    );
}
