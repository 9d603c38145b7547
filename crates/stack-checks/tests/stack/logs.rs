//! The link from a log line to its trace, and Alloy's parsing, against a
//! log line written by the real telemetry layer.

use serde_json::Value;
use stack_checks::grafana::trace_id_regex;
use telemetry::TelemetryConfig;
use testkit::LogCapture;

use crate::files::Stack;

/// One line, written inside a span exactly as a service writes it.
fn a_real_log_line() -> (String, Value) {
    let config = TelemetryConfig {
        otlp_endpoint: None,
        ..TelemetryConfig::new("dice-roller")
    };
    let capture = LogCapture::default();
    let telemetry = telemetry::build(&config, capture.clone()).unwrap();
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        let span = tracing::info_span!("roll_die");
        let _entered = span.enter();
        tracing::info!(die_type = "fair", roll_value = 4, "roll result");
    });
    let text = capture.text();
    let line = text.lines().next().expect("one log line").to_owned();
    let json = serde_json::from_str(&line).unwrap();
    (line, json)
}

#[test]
fn the_derived_field_finds_the_trace_id_of_a_real_log_line() {
    let stack = Stack::load();
    let (line, json) = a_real_log_line();
    let trace_id = json["trace_id"].as_str().expect("the line has a trace_id");
    let regex = trace_id_regex(&stack.datasources).expect("a derived field");
    // Grafana runs this regex (Go syntax) on the raw line; for `\w` and
    // quotes Rust's regex reads it the same way.
    let found = regex::Regex::new(&regex)
        .unwrap()
        .captures(&line)
        .map(|captures| captures[1].to_owned());
    assert_eq!(found.as_deref(), Some(trace_id), "{regex} on {line}");
}

#[test]
fn alloy_extracts_fields_that_real_log_lines_have() {
    let stack = Stack::load();
    let (_, json) = a_real_log_line();
    let process = stack
        .alloy
        .components_of("loki.process")
        .next()
        .expect("a loki.process");
    let stage = process
        .blocks_named("stage.json")
        .next()
        .expect("a stage.json");
    let Some(stack_checks::alloy::Expr::Object(expressions)) = stage.attribute("expressions")
    else {
        panic!("stage.json has no expressions");
    };
    for (name, expression) in expressions {
        let key = match expression {
            stack_checks::alloy::Expr::String(path) if !path.is_empty() => path.as_str(),
            _ => name.as_str(),
        };
        assert!(
            json.get(key).is_some(),
            "Alloy extracts {key}, which the line {json} lacks"
        );
    }
    // The dashboards' `level="ERROR"` filters rely on upper-case levels.
    assert_eq!(json["level"], "INFO");
}
