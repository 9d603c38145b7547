//! The stage 5 Grafana dashboard against a real Prometheus: after some
//! traffic, every PromQL query of every panel returns a number. Prometheus
//! scrapes the three services and Debian's postgres_exporter (watching the
//! test's own cluster) with the jobs and labels the stack's
//! `stack/prometheus/prometheus.yml` gives them in stage 5.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dashboards::{Dashboard, Language, promql_metric_names};
use stack_checks::dashboard::{check_logql, check_traceql, is_generated_by_tempo};
use stack_checks::prometheus::PrometheusConfig;
use stack_checks::{Repo, design};
use testkit::{PostgresExporter, PrometheusServer, ScrapeTarget};

use crate::helpers::{spawn_stage, submit};

const STAGE: u8 = 5;

/// Panels whose queries go to Loki or Tempo, or read the series Tempo's
/// metrics-generator writes (`traces_*`): parsed only. Keep the list exact:
/// a panel missing from it, or listed but gone, fails the test.
const PARSED_ONLY: [&str; 3] = [
    "Span latency p50 / p95 / p99, with exemplars",
    "Database logs",
    "Traces with a database query",
];

/// The scrape target of `service` (as the stack names it) at `address`,
/// with the job and labels the stack's Prometheus gives it.
fn stack_scrape_target(
    config: &PrometheusConfig,
    service: &str,
    address: impl ToString,
) -> ScrapeTarget {
    let service = design::stage_services(STAGE)
        .into_iter()
        .find(|candidate| candidate.name == service)
        .unwrap_or_else(|| panic!("stage {STAGE} has no {service}"));
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
    let repo = Repo::current();
    let dashboard =
        Dashboard::load(&repo.path("grafana-dashboards/stage5.json")).expect("stage5.json");
    let stage = STAGE.to_string();
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
    assert_eq!(parsed_only, PARSED_ONLY.map(String::from).into());
    assert!(runnable.len() >= 14, "{runnable:?}");

    let stage5 = spawn_stage().await;
    let exporter = PostgresExporter::start(&stage5.database, "dicedb");
    let config = PrometheusConfig::load(&repo.path("stack/prometheus/prometheus.yml"))
        .expect("prometheus.yml");
    let prometheus = PrometheusServer::start(&[
        stack_scrape_target(&config, "frontend", stage5.frontend.address()),
        stack_scrape_target(&config, "dice-roller", stage5.dice_roller.address()),
        stack_scrape_target(&config, "die-service", stage5.die_service.address()),
        stack_scrape_target(&config, "postgres-exporter", exporter.address()),
    ])
    .await;

    // Rolls through all three services while Prometheus scrapes; bounded.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn({
        let (stop, http) = (stop.clone(), stage5.http.clone());
        let url = stage5.frontend.base_url();
        async move {
            for i in 0..5_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let die = if i % 4 == 0 { "doomed" } else { "fair" };
                let _ = http
                    .post(format!("{url}/roll"))
                    .form(&[("die", die)])
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });
    // The first roll has been answered: the services are warm.
    let _ = submit(&stage5.http, &stage5.frontend, "fair").await;

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
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
    assert!(
        failures.is_empty(),
        "panels without data:\n{}\nprometheus log:\n{}",
        failures.join("\n"),
        prometheus.log()
    );
}
