//! The stage 1 Grafana dashboard against a real Prometheus: after some
//! traffic, every PromQL query of every panel returns a number.
//!
//! Prometheus scrapes the dice-roller with the job and labels that the
//! stack's own `stack/prometheus/prometheus.yml` gives `dice-roller-stage1`,
//! so a dashboard filtering on a label the stack does not set (or a stack
//! that stops setting it) fails here, not in front of a workshop.

use std::collections::BTreeSet;
use std::time::Duration;

use dashboards::{Dashboard, Language, promql_metric_names};
use stack_checks::dashboard::{check_logql, check_traceql, is_generated_by_tempo};
use stack_checks::prometheus::PrometheusConfig;
use stack_checks::{Repo, design};
use testkit::{PrometheusServer, ScrapeTarget};

use crate::helpers::{config, spawn_app};

const STAGE: u8 = 1;

/// Panels this test cannot run for data: their queries go to Loki or Tempo,
/// or read metrics only Tempo's metrics-generator writes (`traces_*`). They
/// are parsed here (and checked further by the stack-checks crate). Keep the
/// list exact: a panel missing from it, or listed but gone, fails the test.
const PARSED_ONLY: [&str; 4] = [
    "Recent logs",
    "Error logs",
    "Traces",
    "Failed rolls (traces)",
];

/// The dice-roller's scrape target as the stack configures it.
fn stack_scrape_target(address: impl ToString) -> ScrapeTarget {
    let repo = Repo::current();
    let config = PrometheusConfig::load(&repo.path("stack/prometheus/prometheus.yml"))
        .expect("the stack's prometheus.yml");
    let service = design::stage_services(STAGE)
        .into_iter()
        .find(|service| service.name == "dice-roller")
        .expect("stage 1 has a dice-roller");
    let in_stack = design::scrape_address(&service, STAGE);
    let target = config
        .target(&in_stack)
        .unwrap_or_else(|| panic!("the stack does not scrape {in_stack}"));
    target.labels.iter().fold(
        ScrapeTarget::new(&target.job, address),
        |scrape, (name, value)| scrape.label(name, value),
    )
}

#[tokio::test]
async fn every_promql_panel_of_the_dashboard_returns_data() {
    let dashboard = Dashboard::load(&Repo::current().path("grafana-dashboards/stage1.json"))
        .expect("grafana-dashboards/stage1.json");
    let stage = STAGE.to_string();

    // Sort the queries: those this test runs, and those it only parses.
    let mut runnable = Vec::new();
    let mut parsed_only = BTreeSet::new();
    for query in dashboard.queries() {
        let expression = query.expanded(&stage);
        let title = query.panel.title.as_str();
        let problems = match query.language {
            Language::PromQL => {
                let names = promql_metric_names(&expression)
                    .unwrap_or_else(|error| panic!("{title}: {error}: {expression}"));
                if !names.iter().all(|name| is_generated_by_tempo(name)) {
                    runnable.push((title.to_owned(), expression));
                    continue;
                }
                Vec::new()
            }
            Language::LogQL => check_logql(&expression),
            Language::TraceQL => check_traceql(&expression),
            other => vec![format!("unexpected {other:?} query")],
        };
        assert!(problems.is_empty(), "{title}: {problems:?}");
        parsed_only.insert(title.to_owned());
    }
    assert_eq!(
        parsed_only,
        PARSED_ONLY.map(String::from).into(),
        "the panels that are only parsed"
    );
    assert!(runnable.len() >= 10, "{runnable:?}");

    // Risky rolls fail half the time, so both outcomes have series.
    let app = spawn_app(config(0.5));
    let prometheus = PrometheusServer::start(&[stack_scrape_target(app.service.address())]).await;

    let traffic = app.start_traffic(&["risky", "fair"]);

    // One deadline for all queries: once the first has data, the others
    // follow within a scrape or two.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut failures = Vec::new();
    for (title, expression) in &runnable {
        let left = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_secs(1));
        if let Err(error) = prometheus.wait_for_data(expression, left).await {
            failures.push(format!("{title}: {error}"));
        }
    }
    traffic.stop().await;
    assert!(
        failures.is_empty(),
        "panels without data:\n{}\nprometheus log:\n{}",
        failures.join("\n"),
        prometheus.log()
    );
}
