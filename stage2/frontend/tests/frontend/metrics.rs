//! The frontend's own metrics count clicks and the dice-roller's answers.

use testkit::metric_value;

use crate::helpers::{spawn_stage, submit};

#[tokio::test]
async fn clicks_and_answers_are_counted_exactly() {
    let stage = spawn_stage(1.0);
    for _ in 0..7 {
        assert_eq!(
            submit(&stage.http, &stage.frontend, "fair").await.status,
            200
        );
    }
    for _ in 0..3 {
        assert_eq!(
            submit(&stage.http, &stage.frontend, "risky").await.status,
            502
        );
    }
    let text = stage
        .http
        .get(stage.frontend.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| metric_value(&text, name, labels);
    assert_eq!(
        value("frontend_button_clicks_total", &[("die_type", "fair")]),
        7.0
    );
    assert_eq!(
        value("frontend_button_clicks_total", &[("die_type", "risky")]),
        3.0
    );
    assert_eq!(
        value(
            "frontend_requests_total",
            &[("die_type", "fair"), ("status_code", "200")]
        ),
        7.0
    );
    assert_eq!(
        value(
            "frontend_requests_total",
            &[("die_type", "risky"), ("status_code", "500")]
        ),
        3.0
    );
    assert_eq!(
        value(
            "frontend_request_duration_seconds_count",
            &[("die_type", "fair")]
        ),
        7.0
    );
    assert_eq!(
        value(
            "http_requests_total",
            &[("handler", "/roll"), ("method", "POST"), ("status", "502")]
        ),
        3.0
    );
    assert_eq!(
        value(
            "http_client_requests_total",
            &[("peer", "dice-roller"), ("status", "200")]
        ),
        7.0
    );
}
