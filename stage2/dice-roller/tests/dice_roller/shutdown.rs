//! A sick collector costs requests nothing; shutdown loses no span.

use std::time::Duration;

use testkit::{CollectorBehaviour, OtlpReceiver, metric_value};

use crate::helpers::{SPAN_TIMEOUT, config, spawn_app_with};

#[tokio::test]
async fn with_no_collector_requests_still_succeed_and_the_loss_is_counted() {
    // A port nothing listens on: every export fails.
    let mut telemetry = testkit::telemetry_config("dice-roller", &OtlpReceiver::start());
    telemetry.otlp_endpoint = Some(format!("http://127.0.0.1:{}", testkit::free_port()));
    let app = spawn_app_with(config(0.0), telemetry, OtlpReceiver::start());

    let deadline = tokio::time::Instant::now() + SPAN_TIMEOUT;
    loop {
        assert_eq!(app.get("/roll?die=fair").await.status(), 200);
        let text = app.metrics().await;
        // Requests keep succeeding while the exporter is failing.
        if metric_value(
            &text,
            "otel_spans_dropped_total",
            &[("reason", "export_failed")],
        ) > 0.0
        {
            assert_eq!(metric_value(&text, "otel_spans_exported_total", &[]), 0.0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed export counted:\n{text}"
        );
    }
    let warnings = app
        .service
        .logs()
        .with_message("span export failing, dropping spans");
    assert_eq!(warnings.len(), 1, "logged once, not once per batch");
}

#[tokio::test]
async fn requests_do_not_wait_for_a_slow_collector() {
    let receiver = OtlpReceiver::start_with(CollectorBehaviour::Slow(Duration::from_secs(600)));
    let telemetry = testkit::telemetry_config("dice-roller", &receiver);
    let app = spawn_app_with(config(0.0), telemetry, receiver);

    // One request, then wait until its export is stuck in the collector.
    assert_eq!(app.get("/roll?die=fair").await.status(), 200);
    app.receiver
        .wait_for_arrivals(1, SPAN_TIMEOUT)
        .await
        .unwrap();

    // The exporter is blocked for ten minutes; requests carry on regardless.
    for _ in 0..50 {
        assert_eq!(app.get("/roll?die=fair").await.status(), 200);
    }
    assert_eq!(
        app.receiver.request_count(),
        0,
        "no export has been answered"
    );
    let text = app.metrics().await;
    // The 101 new spans wait in the bounded queue.
    assert!(
        metric_value(&text, "otel_spans_queued", &[]) >= 100.0,
        "{text}"
    );
}

#[tokio::test]
async fn shutdown_flushes_spans_still_waiting_for_their_batch() {
    let receiver = OtlpReceiver::start();
    let mut telemetry = testkit::telemetry_config("dice-roller", &receiver);
    // No scheduled export in the test's lifetime: only shutdown can send them.
    telemetry.batch.scheduled_delay = Duration::from_secs(3600);
    let app = spawn_app_with(config(0.0), telemetry, receiver);
    for _ in 0..3 {
        assert_eq!(app.get("/roll?die=fair").await.status(), 200);
    }
    assert!(
        app.receiver.spans().is_empty(),
        "nothing exported before shutdown"
    );

    app.service.shutdown().await;
    // `shutdown` returned after the flush: the spans are already there.
    assert_eq!(app.receiver.spans().len(), 6);
}
