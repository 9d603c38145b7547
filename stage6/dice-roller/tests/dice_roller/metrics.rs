//! Caller-side metrics of the die-service calls, with closed label sets.

use testkit::metric_value;

use crate::helpers::{spawn_app, spawn_without_die_service};

#[tokio::test]
async fn die_service_calls_are_counted_by_known_die_and_status() {
    let app = spawn_app().await;
    for _ in 0..6 {
        assert_eq!(app.get("/roll?die=fair").await.status(), 200);
    }
    for _ in 0..2 {
        assert_eq!(app.get("/roll?die=doomed").await.status(), 500);
    }
    for i in 0..5 {
        assert_eq!(app.get(&format!("/roll?die=nope-{i}")).await.status(), 400);
    }
    let text = app.metrics().await;
    let value = |name: &str, labels: &[(&str, &str)]| metric_value(&text, name, labels);
    assert_eq!(
        value(
            "die_service_requests_total",
            &[("identifier", "fair"), ("status", "200")]
        ),
        6.0
    );
    assert_eq!(
        value(
            "die_service_requests_total",
            &[("identifier", "doomed"), ("status", "200")]
        ),
        2.0
    );
    assert_eq!(
        value(
            "die_service_requests_total",
            &[("identifier", "unknown"), ("status", "404")]
        ),
        5.0
    );
    assert_eq!(
        value("die_service_request_duration_seconds_count", &[]),
        13.0
    );
    assert_eq!(
        value(
            "http_client_requests_total",
            &[("peer", "die-service"), ("status", "200")]
        ),
        8.0
    );
    assert_eq!(
        value(
            "dice_rolls_total",
            &[("die_type", "fair"), ("result", "success")]
        ),
        6.0
    );
    assert_eq!(
        value(
            "dice_rolls_total",
            &[("die_type", "doomed"), ("result", "error")]
        ),
        2.0
    );
    assert!(
        !text.contains("nope-"),
        "user input became a label:\n{text}"
    );
}

#[tokio::test]
async fn an_unreachable_die_service_is_counted_as_an_error() {
    let app = spawn_without_die_service();
    for _ in 0..3 {
        assert_eq!(app.get("/roll?die=fair").await.status(), 503);
    }
    let text = app.metrics().await;
    let labels = [("identifier", "unknown"), ("status", "error")];
    assert_eq!(
        metric_value(&text, "die_service_requests_total", &labels),
        3.0
    );
    assert_eq!(
        metric_value(
            &text,
            "http_requests_total",
            &[("handler", "/roll"), ("status", "503")]
        ),
        3.0
    );
}
