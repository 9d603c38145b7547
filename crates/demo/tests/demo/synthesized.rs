//! Answers in the exact shape the recorded ones have, for what no
//! recording holds (a stage 1 trace by id, stage 4 batches, stage 6's
//! usage receiver): Tempo's v1 trace (`batches`, base64 ids, nanosecond
//! strings, OTLP JSON attributes), Tempo's search answer (`traceID` without
//! leading zeros, `serviceStats`, the matched attribute in `spanSet`),
//! Loki's streams and Prometheus' vectors. Every field is one the parsers
//! read in the recordings; nothing here is a shape of its own.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

/// One span of a synthesized trace.
#[derive(Debug, Clone)]
pub struct Span {
    pub service: &'static str,
    /// `deployment.environment.name` of its resource, if any.
    pub environment: Option<&'static str>,
    pub name: &'static str,
    pub kind: &'static str,
    pub id: &'static str,
    pub parent: Option<&'static str>,
    pub start_unix_nanos: u128,
    pub end_unix_nanos: u128,
}

fn base64_of_hex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    BASE64.encode(bytes)
}

fn string_attribute(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

/// `GET /api/traces/<id>` (v1): one batch per service resource.
pub fn trace_v1(trace_id: &str, spans: &[Span]) -> String {
    let mut batches: Vec<Value> = Vec::new();
    let mut resources: Vec<(&str, Option<&str>)> = Vec::new();
    for span in spans {
        if !resources.contains(&(span.service, span.environment)) {
            resources.push((span.service, span.environment));
        }
    }
    for (service, environment) in resources {
        let mut attributes = vec![string_attribute("service.name", service)];
        if let Some(environment) = environment {
            attributes.push(string_attribute("deployment.environment.name", environment));
        }
        let spans: Vec<Value> = spans
            .iter()
            .filter(|span| span.service == service && span.environment == environment)
            .map(|span| {
                let mut value = json!({
                    "traceId": base64_of_hex(trace_id),
                    "spanId": base64_of_hex(span.id),
                    "name": span.name,
                    "kind": span.kind,
                    "startTimeUnixNano": span.start_unix_nanos.to_string(),
                    "endTimeUnixNano": span.end_unix_nanos.to_string(),
                    "status": {},
                });
                if let Some(parent) = span.parent {
                    value["parentSpanId"] = json!(base64_of_hex(parent));
                }
                value
            })
            .collect();
        batches.push(json!({
            "resource": {"attributes": attributes},
            "scopeSpans": [{"scope": {"name": "synthesized"}, "spans": spans}],
        }));
    }
    json!({"batches": batches}).to_string()
}

/// One trace of a search answer.
pub struct Found<'a> {
    pub trace_id: &'a str,
    pub spans: &'a [Span],
    /// The stage the query matched on, shown in `spanSet` as Tempo shows a
    /// matched attribute.
    pub environment: &'a str,
}

/// `GET /api/search`: the traces as given (newest first, as Tempo sorts).
pub fn search(found: &[Found<'_>]) -> String {
    let traces: Vec<Value> = found
        .iter()
        .map(|found| {
            let root = found
                .spans
                .iter()
                .find(|span| span.parent.is_none())
                .expect("a root span");
            let mut stats = serde_json::Map::new();
            for span in found.spans {
                let entry = stats
                    .entry(span.service.to_owned())
                    .or_insert_with(|| json!({"spanCount": 0}));
                entry["spanCount"] = json!(entry["spanCount"].as_u64().unwrap() + 1);
            }
            let matched: Vec<Value> = found
                .spans
                .iter()
                .filter(|span| span.environment == Some(found.environment))
                .take(3)
                .map(|span| {
                    json!({
                        "spanID": span.id,
                        "startTimeUnixNano": span.start_unix_nanos.to_string(),
                        "durationNanos": (span.end_unix_nanos - span.start_unix_nanos).to_string(),
                        "attributes": [string_attribute("deployment.environment.name", found.environment)],
                    })
                })
                .collect();
            let span_set = json!({"spans": matched, "matched": matched.len()});
            json!({
                "traceID": found.trace_id.trim_start_matches('0'),
                "rootServiceName": root.service,
                "rootTraceName": root.name,
                "startTimeUnixNano": root.start_unix_nanos.to_string(),
                "durationMs": ((root.end_unix_nanos - root.start_unix_nanos) / 1_000_000) as u64,
                "spanSet": span_set.clone(),
                "spanSets": [span_set],
                "serviceStats": stats,
            })
        })
        .collect();
    json!({"traces": traces, "metrics": {"inspectedBytes": "1", "completedJobs": 3, "totalJobs": 3}})
        .to_string()
}

/// A log line as a service writes it, in the stream Alloy gives it.
pub struct Line<'a> {
    pub service: &'a str,
    pub stage: u8,
    pub unix_nanos: u128,
    pub message: &'a str,
    pub trace_id: &'a str,
}

/// `GET /loki/api/v1/query_range` of a log query: one stream per service.
pub fn loki_streams(lines: &[Line<'_>]) -> String {
    let mut services: Vec<(&str, u8)> = Vec::new();
    for line in lines {
        if !services.contains(&(line.service, line.stage)) {
            services.push((line.service, line.stage));
        }
    }
    let result: Vec<Value> = services
        .iter()
        .map(|(service, stage)| {
            let values: Vec<Value> = lines
                .iter()
                .filter(|line| line.service == *service && line.stage == *stage)
                .map(|line| {
                    let text = json!({
                        "timestamp": "2026-12-04T14:26:38Z",
                        "level": "INFO",
                        "message": line.message,
                        "service": line.service,
                        "trace_id": line.trace_id,
                        "span_id": "0000000000000001",
                    })
                    .to_string();
                    json!([line.unix_nanos.to_string(), text])
                })
                .collect();
            json!({
                "stream": {
                    "container_name": format!("{service}-stage{stage}"),
                    "service_name": service,
                    "stage": stage.to_string(),
                    "level": "INFO",
                },
                "values": values,
            })
        })
        .collect();
    json!({"status": "success", "data": {"resultType": "streams", "result": result, "stats": {}}})
        .to_string()
}

/// `GET /api/v1/query`: a vector of `(labels, value)`.
pub fn vector(series: &[(&[(&str, &str)], f64)]) -> String {
    let result: Vec<Value> = series
        .iter()
        .map(|(labels, value)| {
            let metric: serde_json::Map<String, Value> = labels
                .iter()
                .map(|(name, value)| ((*name).to_owned(), json!(value)))
                .collect();
            json!({"metric": metric, "value": [1_796_394_468.0, value.to_string()]})
        })
        .collect();
    json!({"status": "success", "data": {"resultType": "vector", "result": result}}).to_string()
}

/// The recorded `sum by (client, server, deployment_environment_name)`
/// answer of the two stages, keeping only `environment`'s series: what
/// Prometheus answers when the query selects that stage.
pub fn edges_of(environment: &str) -> String {
    let mut answer: Value = serde_json::from_str(&super::fake_stack::recorded(
        "multi-stage/prom-service-graph-rate-by-stage.json",
    ))
    .unwrap();
    let result = answer["data"]["result"].as_array_mut().unwrap();
    result.retain(|series| series["metric"]["deployment_environment_name"] == environment);
    answer.to_string()
}
