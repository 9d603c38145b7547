//! Tempo's trace-by-id and search answers.
//!
//! * `GET /api/traces/<id>` (v1): `{"batches":[{"resource":{"attributes":
//!   [...]},"scopeSpans":[{"spans":[...]}]}]}`, one batch per service
//!   resource; ids are **base64** of the raw bytes; the root has no
//!   `parentSpanId`; kinds are strings (`SPAN_KIND_SERVER`); times are
//!   strings of nanoseconds. A trace that does not exist is a **404 with an
//!   empty body**.
//! * `GET /api/v2/traces/<id>`: the same batches under
//!   `{"trace":{"resourceSpans":[...]}}`, and a missing trace is a **200
//!   with `"trace":{}`**.
//! * `GET /api/search`: `{"traces":[{"traceID",...}]}`, ids with their
//!   **leading zeros stripped** (31 characters for `0a49...`).
//! * A malformed id or TraceQL: 400, text/plain.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, Recorded};
use crate::trace::{Kind, SpanRecord};

/// A trace id as Loki and the services write it: 32 lower-case hex digits,
/// the leading zeros Tempo's search drops put back.
pub fn normalise_trace_id(id: &str) -> String {
    format!("{:0>32}", id.to_ascii_lowercase())
}

/// The spans of a trace-by-id answer (v1 or v2), or `None` when Tempo has
/// no such trace.
pub fn parse_trace(response: &Recorded) -> Result<Option<Vec<SpanRecord>>, ApiError> {
    if response.status == 404 {
        return Ok(None);
    }
    if response.status != 200 {
        return Err(response.status_error());
    }
    let root: Value =
        serde_json::from_str(&response.body).map_err(|error| response.format_error(error))?;
    let batches = match (root.get("batches"), root.get("trace")) {
        (Some(batches), _) => batches,
        (None, Some(trace)) => match trace.get("resourceSpans") {
            Some(batches) => batches,
            // v2's "not found": 200 with an empty trace object.
            None => return Ok(None),
        },
        (None, None) => return Err(response.format_error("neither batches nor trace")),
    };
    let mut spans = Vec::new();
    for batch in batches.as_array().into_iter().flatten() {
        let service = resource_service(batch);
        for scope in batch["scopeSpans"].as_array().into_iter().flatten() {
            for span in scope["spans"].as_array().into_iter().flatten() {
                spans.push(
                    span_record(&service, span).map_err(|reason| response.format_error(reason))?,
                );
            }
        }
    }
    Ok((!spans.is_empty()).then_some(spans))
}

fn resource_service(batch: &Value) -> String {
    batch["resource"]["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|attribute| attribute["key"] == "service.name")
        .and_then(|attribute| attribute["value"]["stringValue"].as_str())
        .unwrap_or("")
        .to_owned()
}

fn span_record(service: &str, span: &Value) -> Result<SpanRecord, String> {
    let id = |key: &str| -> Result<Option<String>, String> {
        span.get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(|text| {
                hex_id(text).ok_or_else(|| format!("{key} {text:?} is neither hex nor base64"))
            })
            .transpose()
    };
    let nanos = |key: &str| -> u64 {
        match span.get(key) {
            Some(Value::String(text)) => text.parse().unwrap_or(0),
            Some(value) => value.as_u64().unwrap_or(0),
            None => 0,
        }
    };
    Ok(SpanRecord {
        service: service.to_owned(),
        name: span["name"].as_str().unwrap_or("").to_owned(),
        kind: match span["kind"].as_str() {
            Some("SPAN_KIND_SERVER") => Kind::Server,
            Some("SPAN_KIND_CLIENT") => Kind::Client,
            Some("SPAN_KIND_INTERNAL") => Kind::Internal,
            Some("SPAN_KIND_PRODUCER") => Kind::Producer,
            Some("SPAN_KIND_CONSUMER") => Kind::Consumer,
            _ => Kind::Unspecified,
        },
        trace_id: id("traceId")?.ok_or("a span without traceId")?,
        span_id: id("spanId")?.ok_or("a span without spanId")?,
        parent_span_id: id("parentSpanId")?,
        start_unix_nanos: nanos("startTimeUnixNano"),
        end_unix_nanos: nanos("endTimeUnixNano"),
        error: span["status"]["code"] == "STATUS_CODE_ERROR",
    })
}

/// Tempo's JSON ids are base64 of the raw bytes; hex (32 or 16 digits) is
/// accepted too.
fn hex_id(text: &str) -> Option<String> {
    let is_hex = matches!(text.len(), 16 | 32) && text.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex {
        return Some(text.to_ascii_lowercase());
    }
    let bytes = BASE64.decode(text).ok()?;
    matches!(bytes.len(), 8 | 16).then(|| bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// A trace found by a search.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundTrace {
    /// Normalised: 32 hex digits.
    pub trace_id: String,
    pub root_service: String,
    pub root_name: String,
}

#[derive(Deserialize)]
struct SearchAnswer {
    traces: Vec<SearchTrace>,
}

#[derive(Deserialize)]
struct SearchTrace {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "rootServiceName", default)]
    root_service: String,
    #[serde(rename = "rootTraceName", default)]
    root_name: String,
}

pub fn parse_search(response: &Recorded) -> Result<Vec<FoundTrace>, ApiError> {
    if response.status != 200 {
        return Err(response.status_error());
    }
    let answer: SearchAnswer =
        serde_json::from_str(&response.body).map_err(|error| response.format_error(error))?;
    Ok(answer
        .traces
        .into_iter()
        .map(|trace| FoundTrace {
            trace_id: normalise_trace_id(&trace.trace_id),
            root_service: trace.root_service,
            root_name: trace.root_name,
        })
        .collect())
}

/// The TraceQL that finds a trace a stage check can be judged on: for
/// stage 4, one with a `/roll-async` request in the dice-roller; for stage
/// 5, one with a query span in the die-service.
pub fn traces_showing(check: &stages::StageCheck) -> String {
    match check {
        stages::StageCheck::ConcurrentChildren {
            service, parent, ..
        } => format!("{{resource.service.name=\"{service}\" && name=\"{parent}\"}}"),
        stages::StageCheck::QueryUnderRequest { service, query, .. } => {
            format!("{{resource.service.name=\"{service}\" && name=\"{query}\"}}")
        }
    }
}

/// TraceQL for traces with spans from every one of `services`: spansets
/// joined with `&&` must all match within one trace.
pub fn traces_through(services: &[&str]) -> String {
    services
        .iter()
        .map(|service| format!("{{resource.service.name=\"{service}\"}}"))
        .collect::<Vec<_>>()
        .join(" && ")
}
