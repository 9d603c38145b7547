//! Back-pressure and loss: a collector that is slow, failing or swamped may
//! cost spans, never requests. The queue between the request path and the
//! exporter is bounded, a span that does not fit is dropped at once and
//! counted, and every span ends up in exactly one of the counters on
//! `/metrics`.
//!
//! The router is a single route with no spans of its own, so each request
//! ends exactly one span (the layer's SERVER span) and the counts are exact.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use telemetry::TelemetryConfig;
use testkit::{CollectorBehaviour, OtlpReceiver, TestService, metric_value};

/// Bounds every wait; none of these tests should come near it.
const DEADLINE: Duration = Duration::from_secs(20);
/// A queue small enough that a burst overflows it many times over.
const QUEUE: usize = 32;
const BURST: usize = 400;

/// A collector that holds every export for ten minutes: from the test's point
/// of view, one that never answers.
fn stuck_collector() -> OtlpReceiver {
    OtlpReceiver::start_with(CollectorBehaviour::Slow(Duration::from_secs(600)))
}

fn tiny_service(config: TelemetryConfig) -> TestService {
    TestService::spawn(config, async |_| {
        Ok(Router::new().route("/work", get(|| async { "done" })))
    })
}

/// Settings with a small queue and an export timeout longer than any test,
/// so that a stuck export stays stuck (and no span is settled) until the
/// test ends.
fn small_queue_config(receiver: &OtlpReceiver) -> TelemetryConfig {
    let mut config = testkit::telemetry_config("backpressure", receiver);
    config.batch.max_queue_size = QUEUE;
    config.batch.max_export_batch_size = 8;
    config.export_timeout = Duration::from_secs(600);
    config
}

/// Sends `count` requests at once and asserts every one was answered 200.
/// The client's timeout is a deadline, not a measurement: a request path
/// that waited on the collector would hit it (the collector holds exports
/// for ten minutes), and the test would fail instead of hanging.
async fn burst(service: &TestService, count: usize) {
    let http = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..count {
        let (http, url) = (http.clone(), service.url("/work"));
        requests.spawn(async move { http.get(url).send().await.map(|r| r.status()) });
    }
    while let Some(answer) = requests.join_next().await {
        let status = answer.unwrap().expect("answered despite the collector");
        assert_eq!(status, 200);
    }
}

async fn metrics(service: &TestService) -> String {
    reqwest::get(service.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

struct SpanCounts {
    exported: f64,
    queue_full: f64,
    export_failed: f64,
    queued: f64,
}

impl SpanCounts {
    fn read(text: &str) -> Self {
        Self {
            exported: metric_value(text, "otel_spans_exported_total", &[]),
            queue_full: metric_value(
                text,
                "otel_spans_dropped_total",
                &[("reason", "queue_full")],
            ),
            export_failed: metric_value(
                text,
                "otel_spans_dropped_total",
                &[("reason", "export_failed")],
            ),
            queued: metric_value(text, "otel_spans_queued", &[]),
        }
    }

    fn total(&self) -> f64 {
        self.exported + self.queue_full + self.export_failed + self.queued
    }
}

#[tokio::test]
async fn a_burst_larger_than_the_queue_is_answered_and_the_excess_spans_are_dropped_and_counted() {
    let receiver = stuck_collector();
    let service = tiny_service(small_queue_config(&receiver));

    // Jam the exporter first: one span, one export, held by the collector.
    burst(&service, 1).await;
    receiver.wait_for_arrivals(1, DEADLINE).await.unwrap();

    burst(&service, BURST).await;

    let text = metrics(&service).await;
    let counts = SpanCounts::read(&text);
    // The queue (the batch being exported included) never holds more than
    // its bound, however many spans arrive: memory stays bounded.
    assert!(counts.queued <= QUEUE as f64, "{text}");
    assert!(
        counts.queued >= 1.0,
        "the jammed batch is still waiting: {text}"
    );
    // Everything beyond the bound was dropped at once, and said so.
    assert!(
        counts.queue_full >= (BURST + 1 - QUEUE) as f64,
        "at least {} spans dropped: {text}",
        BURST + 1 - QUEUE
    );
    // No export has finished, so nothing is exported or failed yet, and
    // every span is accounted for exactly once.
    assert_eq!(counts.exported, 0.0, "{text}");
    assert_eq!(counts.export_failed, 0.0, "{text}");
    assert_eq!(counts.total(), (BURST + 1) as f64, "{text}");
    assert_eq!(
        receiver.request_count(),
        0,
        "the collector answered nothing"
    );
    release(receiver, service);
}

#[tokio::test]
async fn with_a_failing_collector_requests_succeed_and_every_lost_span_is_counted() {
    // Answers 503 to every export, at once.
    let receiver = OtlpReceiver::start_with(CollectorBehaviour::Fail);
    let service = tiny_service(testkit::telemetry_config("backpressure", &receiver));

    burst(&service, 100).await;

    // Batches leave every 50 ms; wait until the queue has drained and all
    // 100 spans have been through an export attempt.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let text = loop {
        let text = metrics(&service).await;
        let counts = SpanCounts::read(&text);
        if counts.queued == 0.0 && counts.total() == 100.0 {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue did not drain: {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let counts = SpanCounts::read(&text);
    assert_eq!(counts.exported, 0.0, "{text}");
    assert_eq!(counts.export_failed + counts.queue_full, 100.0, "{text}");
    assert!(counts.export_failed > 0.0, "{text}");
    assert!(receiver.arrived_count() > 0, "the exporter did try");
    // The queue is free again: the failing collector holds nothing up.
    assert_eq!(
        metric_value(
            &text,
            "http_requests_total",
            &[("handler", "/work"), ("status", "200")]
        ),
        100.0
    );
}

#[tokio::test]
async fn a_stuck_collector_keeps_the_queue_at_its_bound_through_repeated_bursts() {
    let receiver = stuck_collector();
    let service = tiny_service(small_queue_config(&receiver));
    burst(&service, 1).await;
    receiver.wait_for_arrivals(1, DEADLINE).await.unwrap();

    // Memory does not grow with traffic: after each burst the queue is at
    // most its bound, and only the drop counter moves.
    let mut dropped_before = 0.0;
    for round in 1..=3 {
        burst(&service, 100).await;
        let text = metrics(&service).await;
        let counts = SpanCounts::read(&text);
        assert!(counts.queued <= QUEUE as f64, "round {round}: {text}");
        assert!(
            counts.queue_full >= dropped_before + (100 - QUEUE) as f64,
            "round {round}: {text}"
        );
        assert_eq!(
            counts.total(),
            (1 + 100 * round) as f64,
            "round {round}: {text}"
        );
        dropped_before = counts.queue_full;
    }
    release(receiver, service);
}

/// Stops the stuck collector before the service, so the export it holds
/// fails at once and the service's shutdown flush has nothing to wait for.
fn release(receiver: OtlpReceiver, service: TestService) {
    drop(receiver);
    drop(service);
}
