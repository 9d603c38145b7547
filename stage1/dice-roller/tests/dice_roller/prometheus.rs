//! The original workshop's PromQL against a real Prometheus scraping the dice-roller.

use std::time::Duration;

use testkit::{PrometheusServer, ScrapeTarget, value_of};

use crate::helpers::{config, spawn_app};

#[tokio::test]
async fn the_seeds_queries_return_data() {
    // Fair always succeeds and risky always fails, so every query has data.
    let app = spawn_app(config(1.0));
    let prometheus =
        PrometheusServer::start(&[
            ScrapeTarget::new("dice-roller", app.service.address()).label("stage", "1")
        ])
        .await;

    // One risky roll in three.
    let traffic = app.start_traffic(&["risky", "fair", "fair"]);

    let timeout = Duration::from_secs(60);
    let rate = prometheus
        .wait_for_data(
            r#"rate(http_requests_total{job="dice-roller"}[1m])"#,
            timeout,
        )
        .await
        .unwrap();
    assert!(
        rate.iter().all(|series| series["metric"]["stage"] == "1"),
        "{rate:?}"
    );

    let success = prometheus
        .wait_for_data(
            r#"sum(rate(http_requests_total{job="dice-roller",status!~"5.."}[1m])) / sum(rate(http_requests_total{job="dice-roller"}[1m])) * 100"#,
            timeout,
        )
        .await
        .unwrap();
    let percent = value_of(&success[0]);
    assert!(
        (40.0..=90.0).contains(&percent),
        "two in three requests succeed: {percent}"
    );

    let p95 = prometheus
        .wait_for_data(
            r#"histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{job="dice-roller"}[5m]))"#,
            timeout,
        )
        .await
        .unwrap();
    assert!(p95.iter().all(|series| value_of(series) >= 0.0), "{p95:?}");

    let errors = prometheus
        .wait_for_data(
            r#"sum by (die_type) (rate(dice_rolls_total{result="error"}[1m]))"#,
            timeout,
        )
        .await
        .unwrap();
    // Both dice have an error series (at 0 from the start); only risky fails.
    let rate_of = |die: &str| {
        errors
            .iter()
            .find(|series| series["metric"]["die_type"] == die)
            .map(value_of)
    };
    assert_eq!(rate_of("fair"), Some(0.0), "{errors:?}");
    assert!(
        rate_of("risky").is_some_and(|rate| rate > 0.0),
        "{errors:?}"
    );

    traffic.stop().await;
}
