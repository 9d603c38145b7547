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
//! * `GET /api/search`: `{"traces":[{"traceID","startTimeUnixNano",
//!   "serviceStats":{"<service>":{"spanCount":N}},"spanSet":{"spans":[...]}}]}`,
//!   ids with their **leading zeros stripped** (31 characters for
//!   `0a49...`). Each page is sorted newest first, but without the
//!   `most_recent=true` hint the page is *not* the newest traces: Tempo
//!   stops at whichever job fills the limit first, which was the oldest 15
//!   seconds of the data, or a different slice on each identical call. A
//!   search for the newest traces therefore ends in
//!   `with (most_recent=true)`. A span attribute the query matched on comes
//!   back in `spanSet.spans[].attributes`: that is how a result shows its
//!   stage.
//! * A malformed id or TraceQL: 400, text/plain.

use std::collections::{BTreeMap, BTreeSet};

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

/// A trace as Tempo returned it: its spans, and the stage
/// (`deployment.environment.name`) each service's resource carried.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TempoTrace {
    pub spans: Vec<SpanRecord>,
    /// `(service, environment)` of every resource that carried one. The
    /// traffic generator's carries none: a stage's trace still starts there.
    pub environments: BTreeSet<(String, String)>,
}

impl TempoTrace {
    /// The services whose spans came from another stage than `environment`.
    pub fn foreign(&self, environment: &str) -> Vec<String> {
        self.environments
            .iter()
            .filter(|(_, found)| found != environment)
            .map(|(service, found)| format!("{service} ({found})"))
            .collect()
    }
}

/// The trace of a trace-by-id answer (v1 or v2), or `None` when Tempo has
/// no such trace.
pub fn parse_trace(response: &Recorded) -> Result<Option<TempoTrace>, ApiError> {
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
    let mut trace = TempoTrace::default();
    for batch in batches.as_array().into_iter().flatten() {
        let service = resource_attribute(batch, "service.name").unwrap_or_default();
        if let Some(environment) = resource_attribute(batch, ENVIRONMENT) {
            trace.environments.insert((service.clone(), environment));
        }
        for scope in batch["scopeSpans"].as_array().into_iter().flatten() {
            for span in scope["spans"].as_array().into_iter().flatten() {
                trace.spans.push(
                    span_record(&service, span).map_err(|reason| response.format_error(reason))?,
                );
            }
        }
    }
    Ok((!trace.spans.is_empty()).then_some(trace))
}

/// The resource attribute that names a span's stage.
pub const ENVIRONMENT: &str = "deployment.environment.name";

fn resource_attribute(batch: &Value, key: &str) -> Option<String> {
    string_attribute(&batch["resource"]["attributes"], key)
}

/// The string value of `key` in an OTLP JSON attribute list.
fn string_attribute(attributes: &Value, key: &str) -> Option<String> {
    attributes
        .as_array()
        .into_iter()
        .flatten()
        .find(|attribute| attribute["key"] == key)
        .and_then(|attribute| attribute["value"]["stringValue"].as_str())
        .map(str::to_owned)
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
    /// When its first span began.
    pub start_unix_nanos: u128,
    /// The services with spans in it (`serviceStats`); empty when Tempo
    /// did not say.
    pub services: BTreeSet<String>,
    /// The stages its matched spans came from, when the query matched on
    /// `deployment.environment.name`.
    pub environments: BTreeSet<String>,
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
    #[serde(rename = "startTimeUnixNano", default)]
    start_unix_nanos: String,
    #[serde(rename = "serviceStats", default)]
    service_stats: BTreeMap<String, Value>,
    #[serde(rename = "spanSets", default)]
    span_sets: Vec<Value>,
    #[serde(rename = "spanSet", default)]
    span_set: Option<Value>,
}

/// The traces of a search answer, in the order Tempo gave them.
pub fn parse_search(response: &Recorded) -> Result<Vec<FoundTrace>, ApiError> {
    if response.status != 200 {
        return Err(response.status_error());
    }
    let answer: SearchAnswer =
        serde_json::from_str(&response.body).map_err(|error| response.format_error(error))?;
    answer
        .traces
        .into_iter()
        .map(|trace| {
            let start_unix_nanos = trace.start_unix_nanos.parse().map_err(|_| {
                response.format_error(format!(
                    "trace {} has startTimeUnixNano {:?}",
                    trace.trace_id, trace.start_unix_nanos
                ))
            })?;
            let environments = trace
                .span_sets
                .iter()
                .chain(trace.span_set.as_ref())
                .flat_map(|set| set["spans"].as_array().cloned().unwrap_or_default())
                .filter_map(|span| string_attribute(&span["attributes"], ENVIRONMENT))
                .collect();
            Ok(FoundTrace {
                trace_id: normalise_trace_id(&trace.trace_id),
                root_service: trace.root_service,
                root_name: trace.root_name,
                start_unix_nanos,
                services: trace.service_stats.into_keys().collect(),
                environments,
            })
        })
        .collect()
}

/// `{resource.deployment.environment.name="stage3"}`: any span of the stage.
pub fn stage_spans(environment: &str) -> String {
    format!("{{{}}}", in_stage(environment))
}

/// The condition that keeps a spanset to one stage.
fn in_stage(environment: &str) -> String {
    format!("resource.{ENVIRONMENT}=\"{environment}\"")
}

/// TraceQL for traces with spans from every one of `services`, all of the
/// stage: spansets joined with `&&` must all match within one trace.
pub fn traces_through(environment: &str, services: &[&str]) -> String {
    services
        .iter()
        .map(|service| {
            format!(
                "{{resource.service.name=\"{service}\" && {}}}",
                in_stage(environment)
            )
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// `service`'s own traces in the stage (stage 6's usage receiver, whose
/// requests come from Alloy, not from the traffic).
pub fn traces_of(environment: &str, service: &str) -> String {
    format!(
        "{{resource.service.name=\"{service}\" && {}}}",
        in_stage(environment)
    )
}

/// The TraceQL that finds traces a stage check can be judged on. Stage 4:
/// a `/roll-async` request in the dice-roller with at least two rolls under
/// it (a batch of one cannot show concurrency); stage 5: a query span in the
/// die-service.
pub fn traces_showing(check: &stages::StageCheck, environment: &str) -> String {
    let stage = in_stage(environment);
    match check {
        stages::StageCheck::ConcurrentChildren {
            service,
            parent,
            child,
        } => format!(
            "{{resource.service.name=\"{service}\" && {stage} && name=\"{parent}\"}} \
             > {{name=\"{child}\"}} | count() >= 2"
        ),
        stages::StageCheck::QueryUnderRequest { service, query, .. } => {
            format!("{{resource.service.name=\"{service}\" && {stage} && name=\"{query}\"}}")
        }
    }
}

/// `traceql` asking for the newest traces first: without the hint Tempo
/// returns whichever traces its first job finds, oldest ones included.
pub fn most_recent(traceql: &str) -> String {
    format!("{traceql} with (most_recent=true)")
}
