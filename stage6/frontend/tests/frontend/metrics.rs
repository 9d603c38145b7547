//! The frontend's metrics, and the outgoing-call metrics of both callers.

use testkit::metric_value;

use crate::helpers::{spawn_stage, submit};

async fn metrics(http: &reqwest::Client, service: &testkit::TestService) -> String {
    http.get(service.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_call_is_counted_by_peer_and_status() {
    let stage = spawn_stage().await;
    for _ in 0..5 {
        assert_eq!(
            submit(&stage.http, &stage.frontend, "fair").await.status,
            200
        );
    }
    let frontend = metrics(&stage.http, &stage.frontend).await;
    let calls = |text: &str, peer: &str| {
        metric_value(
            text,
            "http_client_requests_total",
            &[("peer", peer), ("status", "200")],
        )
    };
    assert_eq!(calls(&frontend, "die-service"), 5.0);
    assert_eq!(calls(&frontend, "dice-roller"), 5.0);
    assert_eq!(
        metric_value(
            &frontend,
            "frontend_button_clicks_total",
            &[("die_type", "fair")]
        ),
        5.0
    );

    let dice_roller = metrics(&stage.http, &stage.dice_roller).await;
    assert_eq!(calls(&dice_roller, "die-service"), 5.0);
    assert_eq!(
        metric_value(
            &dice_roller,
            "die_service_requests_total",
            &[("identifier", "fair"), ("status", "200")]
        ),
        5.0
    );

    let die_service = metrics(&stage.http, &stage.die_service).await;
    assert_eq!(
        metric_value(&die_service, "die_list_requests_total", &[]),
        5.0
    );
    assert_eq!(
        metric_value(
            &die_service,
            "die_specifications_requested_total",
            &[("identifier", "fair")]
        ),
        5.0
    );
}
