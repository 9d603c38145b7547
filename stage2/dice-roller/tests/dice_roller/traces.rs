//! Spans: names, kinds, parents, attributes, status; W3C propagation in.

use testkit::{AttributeValue, Kind, ReceivedSpan, Status};

use crate::helpers::{SPAN_TIMEOUT, config, spawn_app};

fn only<'a>(
    spans: &'a [ReceivedSpan],
    what: &str,
    keep: impl Fn(&ReceivedSpan) -> bool,
) -> &'a ReceivedSpan {
    let found: Vec<_> = spans.iter().filter(|span| keep(span)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {what} span in {spans:#?}"
    );
    found[0]
}

#[tokio::test]
async fn a_roll_exports_a_server_span_with_a_roll_span_below_it() {
    let app = spawn_app(config(0.0));
    assert_eq!(app.get("/roll?die=fair").await.status(), 200);

    let spans = app.receiver.wait_for_spans(2, SPAN_TIMEOUT).await.unwrap();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let server = only(&spans, "server", |span| span.kind == Kind::Server);
    assert_eq!(server.name, "GET /roll");
    assert_eq!(server.service_name, "dice-roller");
    assert_eq!(server.parent_span_id, None);
    assert_eq!(server.status, Status::Unset);
    assert_eq!(server.attr_str("http.request.method"), Some("GET"));
    assert_eq!(server.attr_str("http.route"), Some("/roll"));
    assert_eq!(server.attr_str("url.path"), Some("/roll"));
    assert_eq!(server.attr_i64("http.response.status_code"), Some(200));

    let roll = only(&spans, "roll_die", |span| span.name == "roll_die");
    assert_eq!(roll.kind, Kind::Internal);
    assert_eq!(roll.trace_id, server.trace_id);
    assert_eq!(
        roll.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    assert_eq!(roll.attr_str("die.type"), Some("fair"));
    let value = roll.attr_i64("die.result").expect("die.result");
    assert!((1..=6).contains(&value));
    assert_eq!(roll.attr("die.error"), None);
    assert_eq!(roll.status, Status::Unset);
}

#[tokio::test]
async fn a_risky_failure_marks_both_spans_as_errors() {
    let app = spawn_app(config(1.0));
    assert_eq!(app.get("/roll?die=risky").await.status(), 500);

    let spans = app.receiver.wait_for_spans(2, SPAN_TIMEOUT).await.unwrap();
    let server = only(&spans, "server", |span| span.kind == Kind::Server);
    assert_eq!(server.status, Status::Error);
    assert_eq!(server.attr_i64("http.response.status_code"), Some(500));
    assert_eq!(server.attr_str("error.type"), Some("500"));

    let roll = only(&spans, "roll_die", |span| span.name == "roll_die");
    assert_eq!(roll.status, Status::Error);
    assert_eq!(roll.attr_str("die.type"), Some("risky"));
    assert_eq!(roll.attr_str("die.error"), Some("risky die failed"));
    assert_eq!(roll.attr("die.result"), None);
    assert!(
        roll.event_names.iter().any(|name| name == "roll failed"),
        "{roll:#?}"
    );
}

#[tokio::test]
async fn client_mistakes_are_not_server_errors_and_unknown_paths_keep_a_fixed_name() {
    let app = spawn_app(config(0.0));
    assert_eq!(app.get("/roll?die=loaded").await.status(), 400);
    assert_eq!(app.get("/no/such/path/42").await.status(), 404);

    let spans = app.receiver.wait_for_spans(2, SPAN_TIMEOUT).await.unwrap();
    let invalid = only(&spans, "400", |span| {
        span.attr_i64("http.response.status_code") == Some(400)
    });
    assert_eq!(invalid.name, "GET /roll");
    assert_eq!(invalid.status, Status::Unset);

    let unmatched = only(&spans, "404", |span| {
        span.attr_i64("http.response.status_code") == Some(404)
    });
    // No route matched: the name is the method alone, never the raw path.
    assert_eq!(unmatched.name, "GET");
    assert_eq!(unmatched.attr("http.route"), None);
    assert!(spans.iter().all(|span| span.name != "roll_die"));
}

#[tokio::test]
async fn an_incoming_traceparent_is_continued() {
    let app = spawn_app(config(0.0));
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let response = app
        .http
        .get(app.service.url("/roll?die=fair"))
        .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
        .header("baggage", "session.key=abc123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let spans = app
        .receiver
        .wait_for_trace(trace_id, 2, SPAN_TIMEOUT)
        .await
        .unwrap();
    let server = only(&spans, "server", |span| span.kind == Kind::Server);
    assert_eq!(server.parent_span_id.as_deref(), Some(parent_id));
    assert_eq!(
        server.attr("baggage.session.key"),
        Some(&AttributeValue::String("abc123".into()))
    );
    let roll = only(&spans, "roll_die", |span| span.name == "roll_die");
    assert_eq!(
        roll.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
}

#[tokio::test]
async fn a_malformed_traceparent_is_ignored_and_a_new_trace_starts() {
    let app = spawn_app(config(0.0));
    let malformed = [
        "garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", // 31 hex digits
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
    ];
    for header in malformed {
        let response = app
            .http
            .get(app.service.url("/roll?die=fair"))
            .header("traceparent", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{header}");
    }
    let spans = app
        .receiver
        .wait_for(SPAN_TIMEOUT, |spans| {
            spans
                .iter()
                .filter(|span| span.kind == Kind::Server)
                .count()
                == malformed.len()
        })
        .await
        .unwrap();
    for server in spans.iter().filter(|span| span.kind == Kind::Server) {
        assert_eq!(server.parent_span_id, None, "{server:#?}");
        assert_ne!(server.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(server.trace_id.len(), 32);
    }
    let traces: std::collections::HashSet<_> = spans.iter().map(|span| &span.trace_id).collect();
    assert_eq!(
        traces.len(),
        malformed.len(),
        "each request starts its own trace"
    );
}
