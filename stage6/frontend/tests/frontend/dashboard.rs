//! The stage 6 dashboard's PromQL panels against a real Prometheus scraping
//! the frontend and the usage receiver with the stack's jobs and labels.
//! (Its SQL panels run against real rows in `forwarding.rs`; its panel of
//! Tempo's span metrics, which only Tempo's metrics-generator writes, is
//! parsed.)

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dashboards::{Dashboard, Language, promql_metric_names};
use stack_checks::dashboard::{check_logql, is_generated_by_tempo};
use stack_checks::prometheus::PrometheusConfig;
use stack_checks::{Repo, design};
use testkit::{PrometheusServer, ScrapeTarget};

use crate::forwarding::spawn_usage_receiver;
use crate::helpers::{PUSH_TOKEN, TIMEOUT, browser_like_client, sign_in, spawn_stage};

const STAGE: u8 = 6;

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
async fn every_promql_panel_of_the_usage_dashboard_returns_data() {
    let repo = Repo::current();
    let dashboard =
        Dashboard::load(&repo.path("grafana-dashboards/stage6.json")).expect("stage6.json");
    let mut runnable = Vec::new();
    let mut tempo_generated = BTreeSet::new();
    let mut languages = BTreeSet::new();
    for query in dashboard.queries() {
        let expression = query.expanded(&STAGE.to_string());
        languages.insert(format!("{:?}", query.language));
        match query.language {
            Language::PromQL => {
                let names = promql_metric_names(&expression)
                    .unwrap_or_else(|error| panic!("{error}: {expression}"));
                if names.iter().all(|name| is_generated_by_tempo(name)) {
                    tempo_generated.insert(query.panel.title.clone());
                } else {
                    runnable.push((query.panel.title.clone(), expression));
                }
            }
            Language::LogQL => assert!(check_logql(&expression).is_empty(), "{expression}"),
            Language::Sql => {}
            other => panic!("unexpected {other:?} query"),
        }
    }
    assert_eq!(
        languages,
        BTreeSet::from(["LogQL".into(), "PromQL".into(), "Sql".into()])
    );
    assert_eq!(runnable.len(), 5, "{runnable:?}");
    assert_eq!(
        tempo_generated,
        BTreeSet::from(["Span latency p50 / p95 / p99, with exemplars".to_owned()])
    );

    let stage = spawn_stage().await;
    let receiver = spawn_usage_receiver(&stage).await;
    let config = PrometheusConfig::load(&repo.path("stack/prometheus/prometheus.yml"))
        .expect("prometheus.yml");
    let prometheus = PrometheusServer::start(&[
        stack_scrape_target(&config, "frontend", stage.frontend.address()),
        stack_scrape_target(&config, "usage-receiver", receiver.address()),
    ])
    .await;

    // Sign-ins (some failing) and their usage events pushed, again and
    // again, while Prometheus scrapes: bounded.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn({
        let stop = stop.clone();
        let (frontend, push) = (stage.frontend.base_url(), receiver.url("/loki/api/v1/push"));
        let logs = stage.frontend.logs().clone();
        async move {
            for i in 0..2_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let password = if i % 3 == 0 { "wrong" } else { "builder" };
                let http = browser_like_client();
                let _ = http
                    .post(format!("{frontend}/sign-in"))
                    .form(&[("user", "bob"), ("password", password)])
                    .send()
                    .await;
                let text = logs.text();
                let _ =
                    testkit::forward_usage_lines(text.lines(), &push, PUSH_TOKEN, TIMEOUT).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let _ = sign_in(
        &browser_like_client(),
        &stage.frontend,
        "alice",
        "wonderland",
    )
    .await;

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
        "panels without data:\n{}",
        failures.join("\n")
    );
}
