//! Loki's `/loki/api/v1/query_range` answers for log queries.
//!
//! `{"status":"success","data":{"resultType":"streams","result":[{"stream":
//! {labels},"values":[["<ns>","<raw line>"],...]}]}}`. Streams come in no
//! useful order, and after `| json` every field becomes a label, so each
//! line tends to be a stream of its own: merge, then sort by time. The line
//! is the service's raw JSON and is parsed again. A LogQL syntax error is a
//! 400 with a text/plain body.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, Recorded};

/// One log line as Loki stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct LokiLine {
    pub unix_nanos: u128,
    pub labels: BTreeMap<String, String>,
    pub line: String,
}

impl LokiLine {
    /// A field of the line's own JSON (`trace_id`, `service`, ...).
    pub fn field(&self, key: &str) -> Option<String> {
        let parsed: Value = serde_json::from_str(&self.line).ok()?;
        parsed.get(key)?.as_str().map(str::to_owned)
    }
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Stream>,
}

#[derive(Deserialize)]
struct Stream {
    stream: BTreeMap<String, String>,
    values: Vec<(String, String)>,
}

/// Either kind of `query_range` answer: streams of lines, or (for a metric
/// query such as `count_over_time`) a matrix as Prometheus gives it.
#[derive(Deserialize)]
struct AnyEnvelope {
    status: String,
    data: AnyData,
}

#[derive(Deserialize)]
struct AnyData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Value>,
}

/// How much a `query_range` answer holds: lines for a log query, series
/// with at least one value for a metric query. What a dashboard panel
/// shows, counted.
pub fn parse_amount(response: &Recorded) -> Result<usize, ApiError> {
    if response.status != 200 {
        return Err(response.status_error());
    }
    let envelope: AnyEnvelope =
        serde_json::from_str(&response.body).map_err(|error| response.format_error(error))?;
    if envelope.status != "success" {
        return Err(response.format_error(format!("status {}", envelope.status)));
    }
    let count = |key: &str| -> usize {
        envelope
            .data
            .result
            .iter()
            .map(|item| item[key].as_array().map_or(0, Vec::len))
            .sum()
    };
    match envelope.data.result_type.as_str() {
        "streams" => Ok(count("values")),
        "matrix" => Ok(envelope
            .data
            .result
            .iter()
            .filter(|series| series["values"].as_array().is_some_and(|v| !v.is_empty()))
            .count()),
        "vector" => Ok(envelope.data.result.len()),
        other => Err(response.format_error(format!("result type {other}"))),
    }
}

/// Every line of every stream, oldest first.
pub fn parse_streams(response: &Recorded) -> Result<Vec<LokiLine>, ApiError> {
    if response.status != 200 {
        return Err(response.status_error());
    }
    let envelope: Envelope =
        serde_json::from_str(&response.body).map_err(|error| response.format_error(error))?;
    if envelope.status != "success" || envelope.data.result_type != "streams" {
        return Err(response.format_error(format!(
            "status {}, result type {} (a log query gives streams)",
            envelope.status, envelope.data.result_type
        )));
    }
    let mut lines: Vec<LokiLine> = envelope
        .data
        .result
        .into_iter()
        .flat_map(|stream| {
            let labels = stream.stream;
            stream
                .values
                .into_iter()
                .map(move |(nanos, line)| LokiLine {
                    unix_nanos: nanos.parse().unwrap_or(0),
                    labels: labels.clone(),
                    line,
                })
        })
        .collect();
    lines.sort_by_key(|line| line.unix_nanos);
    Ok(lines)
}
