//! The instrumented HTTP client: a CLIENT span per call, trace context and
//! baggage injected from that span, outgoing-call metrics.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use opentelemetry::KeyValue;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt;
use telemetry::HttpClient;
use testkit::{Kind, OtlpReceiver, Status, TestService, metric_value};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A peer that answers with the trace headers it received.
fn echo_service(receiver: &OtlpReceiver) -> TestService {
    TestService::spawn(testkit::telemetry_config("echo", receiver), async |_| {
        Ok(Router::new().route(
            "/echo",
            get(|headers: HeaderMap| async move {
                let header = |name| {
                    headers
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                format!("{}\n{}", header("traceparent"), header("baggage"))
            }),
        ))
    })
}

/// A service whose `/call` calls `peer_url` through an `HttpClient`, with a
/// baggage entry, and returns what the peer said.
fn calling_service(receiver: &OtlpReceiver, peer_url: String) -> TestService {
    TestService::spawn(
        testkit::telemetry_config("caller", receiver),
        async move |telemetry| {
            let client = telemetry.http_client("echo", Duration::from_secs(2))?;
            Ok(Router::new()
                .route(
                    "/call",
                    get(
                        |State((client, url)): State<(HttpClient, String)>| async move {
                            let request = client.request_builder().get(url).build().unwrap();
                            let cx = opentelemetry::Context::current_with_baggage([KeyValue::new(
                                "die.type", "fair",
                            )]);
                            match client.send(request).with_context(cx).await {
                                Ok(response) => response.text().await.unwrap_or_default(),
                                Err(_) => "unreachable".to_owned(),
                            }
                        },
                    ),
                )
                .with_state((client, peer_url)))
        },
    )
}

#[tokio::test]
async fn a_call_is_a_client_span_whose_context_reaches_the_peer() {
    let receiver = OtlpReceiver::start();
    let echo = echo_service(&receiver);
    let caller = calling_service(&receiver, echo.url("/echo"));

    let body = reqwest::get(caller.url("/call"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (traceparent, baggage) = body.split_once('\n').unwrap();

    let spans = receiver.wait_for_spans(3, TIMEOUT).await.unwrap();
    let find = |service: &str, kind: Kind| {
        spans
            .iter()
            .find(|span| span.service_name == service && span.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} span from {service}: {spans:#?}"))
    };
    let caller_server = find("caller", Kind::Server);
    let client = find("caller", Kind::Client);
    let echo_server = find("echo", Kind::Server);

    assert_eq!(client.name, "GET");
    assert_eq!(
        client.parent_span_id.as_deref(),
        Some(caller_server.span_id.as_str())
    );
    assert_eq!(client.attr_str("peer.service"), Some("echo"));
    assert_eq!(client.attr_str("server.address"), Some("127.0.0.1"));
    assert_eq!(
        client.attr_i64("server.port"),
        Some(i64::from(echo.address().port()))
    );
    assert_eq!(client.attr_i64("http.response.status_code"), Some(200));
    assert_eq!(client.status, Status::Unset);

    // The header carried the client span's id: the peer's span is its child.
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", client.trace_id, client.span_id)
    );
    assert_eq!(echo_server.trace_id, caller_server.trace_id);
    assert_eq!(
        echo_server.parent_span_id.as_deref(),
        Some(client.span_id.as_str())
    );
    assert_eq!(baggage, "die.type=fair");
    assert_eq!(echo_server.attr_str("baggage.die.type"), Some("fair"));

    let metrics = reqwest::get(caller.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let labels = [("peer", "echo"), ("method", "GET"), ("status", "200")];
    assert_eq!(
        metric_value(&metrics, "http_client_requests_total", &labels),
        1.0
    );
    assert_eq!(
        metric_value(
            &metrics,
            "http_client_request_duration_seconds_count",
            &labels[..2]
        ),
        1.0
    );
}

#[tokio::test]
async fn a_call_that_gets_no_answer_is_an_error_span_and_counted() {
    let receiver = OtlpReceiver::start();
    let closed = format!("http://127.0.0.1:{}/echo", testkit::free_port());
    let caller = calling_service(&receiver, closed);

    let body = reqwest::get(caller.url("/call"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "unreachable");

    let spans = receiver
        .wait_for(TIMEOUT, |spans| {
            spans.iter().any(|span| span.kind == Kind::Client)
        })
        .await
        .unwrap();
    let client = spans.iter().find(|span| span.kind == Kind::Client).unwrap();
    assert_eq!(client.status, Status::Error);
    assert_eq!(client.attr_str("error.type"), Some("error"));
    assert_eq!(client.attr("http.response.status_code"), None);

    let metrics = reqwest::get(caller.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric_value(
            &metrics,
            "http_client_requests_total",
            &[("peer", "echo"), ("status", "error")]
        ),
        1.0
    );
}
