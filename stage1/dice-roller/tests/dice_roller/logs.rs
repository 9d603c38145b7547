//! JSON log lines: the fields of docs/design.md#log-lines, and ids that match exported spans.

use std::collections::HashSet;

use serde_json::Value;
use testkit::Kind;

use crate::helpers::{SPAN_TIMEOUT, config, spawn_app};

fn is_hex(value: &Value, len: usize) -> bool {
    value.as_str().is_some_and(|text| {
        text.len() == len
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[tokio::test]
async fn every_line_written_for_a_request_carries_the_ids_of_an_exported_span() {
    let app = spawn_app(config(1.0));
    assert_eq!(app.get("/roll?die=fair").await.status(), 200);
    assert_eq!(app.get("/roll?die=risky").await.status(), 500);
    assert_eq!(app.get("/roll?die=loaded").await.status(), 400);
    let spans = app.receiver.wait_for_spans(5, SPAN_TIMEOUT).await.unwrap();
    let exported: HashSet<(String, String)> = spans
        .iter()
        .map(|span| (span.trace_id.clone(), span.span_id.clone()))
        .collect();

    let lines = app.service.logs().json_lines();
    // request received x2, roll result, roll failed, unknown die requested.
    assert_eq!(lines.len(), 5, "{lines:#?}");
    for line in &lines {
        let timestamp = line["timestamp"].as_str().expect("timestamp");
        humantime::parse_rfc3339(timestamp).unwrap_or_else(|_| panic!("not RFC 3339: {timestamp}"));
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"]
                .contains(&line["level"].as_str().unwrap()),
            "{line}"
        );
        assert!(!line["message"].as_str().unwrap().is_empty(), "{line}");
        assert!(line["target"].is_string(), "{line}");
        assert_eq!(line["service"], "dice-roller");
        // Only request handling has logged so far, so every line must be
        // inside a span, and that span must be one that was exported.
        assert!(is_hex(&line["trace_id"], 32), "{line}");
        assert!(is_hex(&line["span_id"], 16), "{line}");
        let ids = (
            line["trace_id"].as_str().unwrap().to_owned(),
            line["span_id"].as_str().unwrap().to_owned(),
        );
        assert!(
            exported.contains(&ids),
            "log line with ids of no exported span: {line}"
        );
    }

    // Each event sits in the span it describes.
    let span_of = |line: &Value| {
        spans
            .iter()
            .find(|span| span.span_id == line["span_id"].as_str().unwrap())
            .unwrap()
    };
    let result = &app.service.logs().with_message("roll result")[0];
    assert_eq!(result["die_type"], "fair");
    assert!(
        result["roll_value"].is_u64(),
        "numbers stay numbers: {result}"
    );
    assert_eq!(span_of(result).name, "roll_die");

    let failure = &app.service.logs().with_message("roll failed")[0];
    assert_eq!(failure["level"], "ERROR");
    assert_eq!(span_of(failure).attr_str("die.type"), Some("risky"));

    let received = app.service.logs().with_message("request received");
    assert_eq!(received.len(), 2);
    assert!(
        received
            .iter()
            .all(|line| span_of(line).kind == Kind::Server)
    );

    let invalid = &app.service.logs().with_message("unknown die requested")[0];
    assert_eq!(invalid["level"], "WARNING");
    assert_eq!(invalid["die"], "loaded");
}

#[tokio::test]
async fn hostile_input_cannot_break_or_forge_a_log_line() {
    let app = spawn_app(config(0.0));
    let hostile = "x\"}\n{\"level\":\"ERROR\",\"message\":\"forged";
    let response = app
        .http
        .get(app.service.url("/roll"))
        .query(&[("die", hostile)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    app.receiver.wait_for_spans(1, SPAN_TIMEOUT).await.unwrap();
    // json_lines() panics if any line is not a JSON object.
    let lines = app.service.logs().json_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["level"], "WARNING");
    assert!(lines[0]["die"].as_str().unwrap().starts_with("x\"}\n{"));
}
