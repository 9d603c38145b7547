//! The stage 3 Grafana dashboard against a real Prometheus: after some
//! clicks, every PromQL query of every panel returns a number.
//!
//! Prometheus scrapes the three services with the job and labels that the
//! stack's own `stack/prometheus/prometheus.yml` gives them
//! (`frontend-stage3`, ...), so a panel filtering on a label the stack does
//! not set fails here, not in front of a workshop.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use dashboards::Dashboard;
use stack_checks::Repo;
use stack_checks::dashboard::check_parsed_only;
use stack_checks::prometheus::PrometheusConfig;
use testkit::{DashboardQueries, PrometheusServer, RequestLoop, ScrapeTarget};

use crate::helpers::{load, spawn_stage};

/// The shipped dice, with a risky die that fails half the time so that
/// both outcomes have series.
const DICE: &str = r#"{
  "fair": {"faces": [1, 2, 3, 4, 5, 6], "error_rate": 0.0},
  "risky": {"faces": [2, 3, 4, 5, 6, 7], "error_rate": 0.5}
}"#;

const STAGE: u8 = 3;

/// Panels whose queries go to Loki or Tempo, or read the `traces_*` series
/// only Tempo's metrics-generator writes: parsed, not run. Keep the list
/// exact: a panel missing from it, or listed but gone, fails the test.
const PARSED_ONLY: [&str; 11] = [
    "Span latency p50 / p95 / p99, with exemplars",
    "Frontend logs",
    "Die-service logs",
    "Service graph",
    "Edges: requests per second",
    "Edges: failed requests per second",
    "Edges: p95 latency (server side)",
    "Dice-roller logs",
    "Error logs",
    "Traces",
    "Failed rolls (traces)",
];

/// `service`'s scrape target as the stack configures it, at `address`.
fn stack_scrape_target(service: &str, address: SocketAddr) -> ScrapeTarget {
    let config = PrometheusConfig::load(&Repo::current().path("stack/prometheus/prometheus.yml"))
        .expect("the stack's prometheus.yml");
    let target = config
        .stage_target(STAGE, service)
        .unwrap_or_else(|| panic!("the stack does not scrape stage {STAGE}'s {service}"));
    target.labels.iter().fold(
        ScrapeTarget::new(&target.job, address),
        |scrape, (name, value)| scrape.label(name, value),
    )
}

#[tokio::test]
async fn every_promql_panel_of_the_dashboard_returns_data() {
    let path = Repo::current().path(&format!("grafana-dashboards/stage{STAGE}.json"));
    let dashboard = Dashboard::load(&path).expect("the stage's dashboard");
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

    let stage = spawn_stage();
    stage.edit_specs(DICE);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !load(&stage.http, &stage.frontend)
        .await
        .options()
        .contains(&"risky")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the risky die never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let prometheus = PrometheusServer::start(&[
        stack_scrape_target("frontend", stage.frontend.address()),
        stack_scrape_target("dice-roller", stage.dice_roller.address()),
        stack_scrape_target("die-service", stage.die_service.address()),
    ])
    .await;

    // A person at the page: a page load now and then, clicks on both dice.
    let (http, frontend) = (stage.http.clone(), stage.frontend.base_url());
    let traffic = RequestLoop::start(20_000, Duration::from_millis(5), move |i| match i % 5 {
        0 => http.get(&frontend),
        odd if odd % 2 == 1 => http
            .post(format!("{frontend}/roll"))
            .form(&[("die", "risky")]),
        _ => http
            .post(format!("{frontend}/roll"))
            .form(&[("die", "fair")]),
    });
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
