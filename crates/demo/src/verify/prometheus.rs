//! Prometheus' `/api/v1/query` answers.
//!
//! Success: `{"status":"success","data":{"resultType":"vector","result":
//! [{"metric":{labels},"value":[<seconds>,"<value>"]}]}}` (`"matrix"` with
//! `"values"` for ranges). No match: `"result":[]`. A bad query: 400 with
//! JSON `{"status":"error","errorType":"bad_data","error":"..."}`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ApiError, Recorded};

/// One series of a query result and its (latest) value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// Instant vectors: `[seconds, "value"]`.
    #[serde(default)]
    value: Option<(f64, String)>,
    /// Range matrices: a list of those.
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// The samples of a query answer. A matrix (a range query, as a dashboard
/// panel draws it) gives each series' last value that is a number; a series
/// with none (`histogram_quantile` over no requests is NaN throughout)
/// draws nothing and is left out.
pub fn parse_query(response: &Recorded) -> Result<Vec<Sample>, ApiError> {
    let envelope: Envelope = match serde_json::from_str(&response.body) {
        Ok(envelope) => envelope,
        Err(error) if response.status == 200 => return Err(response.format_error(error)),
        Err(_) => return Err(response.status_error()),
    };
    if envelope.status != "success" {
        return Err(ApiError::Rejected {
            url: response.url.clone(),
            reason: envelope.error.unwrap_or(envelope.status),
        });
    }
    let data = envelope
        .data
        .ok_or_else(|| response.format_error("no data"))?;
    if !matches!(data.result_type.as_str(), "vector" | "matrix") {
        return Err(response.format_error(format!("result type {}", data.result_type)));
    }
    Ok(data
        .result
        .into_iter()
        .filter_map(|series| {
            let value = match series.value {
                Some((_, value)) => value.parse().unwrap_or(f64::NAN),
                None => series
                    .values
                    .iter()
                    .rev()
                    .filter_map(|(_, value)| value.parse::<f64>().ok())
                    .find(|value| value.is_finite())?,
            };
            Some(Sample {
                labels: series.metric,
                value,
            })
        })
        .collect())
}
