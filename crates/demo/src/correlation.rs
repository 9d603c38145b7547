//! Do a service's log lines carry the ids of spans that were exported?
//!
//! A line written inside a request must carry `trace_id`/`span_id`, and they
//! must be the ids of a span the collector received: that is what lets
//! Grafana jump from a span to its logs and back. Which lines are "inside a
//! request" is decided without knowing the service's messages:
//!
//! * a line with ids was written inside a span, so it counts;
//! * a line without ids counts when it was written while traffic was
//!   running: a request-scoped line that lost its ids is the failure this
//!   check exists for;
//! * a line without ids written before the traffic (startup, "listening") or
//!   after it (shutdown, flush) is outside any request and does not count.
//!
//! The share is matched lines / counted lines; the goal is 100%.

use std::collections::HashSet;
use std::time::SystemTime;

use serde_json::Value;

/// A line a service wrote on stdout, and when the demo read it.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub text: String,
    pub read_at: SystemTime,
}

/// When the traffic ran: lines without ids written in between count as
/// request lines.
#[derive(Debug, Clone, Copy)]
pub struct TrafficWindow {
    pub start: SystemTime,
    pub end: SystemTime,
}

/// What one service's lines showed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Correlation {
    /// Lines that count: with ids, or without ids during traffic.
    pub in_request: usize,
    /// Of those, lines whose (trace_id, span_id) is a received span of the
    /// service.
    pub matched: usize,
    /// Lines written during traffic without ids (a few, as examples).
    pub missing_ids: Vec<String>,
    pub missing_ids_count: usize,
    /// Lines with ids of no received span (a few, as examples).
    pub unknown_ids: Vec<String>,
    pub unknown_ids_count: usize,
    /// Lines outside requests (startup, shutdown).
    pub outside: usize,
    /// Lines that are not a JSON object.
    pub not_json: usize,
}

/// How many offending lines a report quotes.
const EXAMPLES: usize = 2;

impl Correlation {
    /// matched / in_request, in percent; 0 when nothing counted.
    pub fn share(&self) -> f64 {
        if self.in_request == 0 {
            0.0
        } else {
            100.0 * self.matched as f64 / self.in_request as f64
        }
    }

    pub fn complete(&self) -> bool {
        self.in_request > 0 && self.matched == self.in_request && self.not_json == 0
    }
}

/// Sorts `lines` into the buckets above against `spans`, the (trace id, span
/// id) pairs received from the service.
pub fn correlate(
    lines: &[LogLine],
    spans: &HashSet<(String, String)>,
    window: TrafficWindow,
) -> Correlation {
    let mut result = Correlation::default();
    for line in lines {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&line.text) else {
            result.not_json += 1;
            continue;
        };
        let id = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_owned);
        match (id("trace_id"), id("span_id")) {
            (Some(trace_id), Some(span_id)) => {
                result.in_request += 1;
                if spans.contains(&(trace_id, span_id)) {
                    result.matched += 1;
                } else {
                    result.unknown_ids_count += 1;
                    keep_example(&mut result.unknown_ids, &line.text);
                }
            }
            _ if written_during(&fields, line.read_at, window) => {
                result.in_request += 1;
                result.missing_ids_count += 1;
                keep_example(&mut result.missing_ids, &line.text);
            }
            _ => result.outside += 1,
        }
    }
    result
}

/// The line's own `timestamp` (RFC 3339) or, failing that, when it was read.
fn written_during(
    fields: &serde_json::Map<String, Value>,
    read_at: SystemTime,
    window: TrafficWindow,
) -> bool {
    let at = fields
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|text| humantime::parse_rfc3339_weak(text).ok())
        .unwrap_or(read_at);
    window.start <= at && at <= window.end
}

fn keep_example(examples: &mut Vec<String>, line: &str) {
    if examples.len() < EXAMPLES {
        let shown: String = line.chars().take(200).collect();
        examples.push(shown);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn line(seconds: u64, ids: Option<(&str, &str)>) -> LogLine {
        let timestamp = humantime::format_rfc3339_micros(at(seconds));
        let ids = ids
            .map(|(trace, span)| format!(r#","trace_id":"{trace}","span_id":"{span}""#))
            .unwrap_or_default();
        LogLine {
            text: format!(r#"{{"timestamp":"{timestamp}","level":"INFO","message":"m"{ids}}}"#),
            read_at: at(seconds),
        }
    }

    fn received() -> HashSet<(String, String)> {
        [("t1".to_owned(), "s1".to_owned())].into_iter().collect()
    }

    const WINDOW: TrafficWindow = TrafficWindow {
        start: SystemTime::UNIX_EPOCH,
        end: SystemTime::UNIX_EPOCH,
    };

    fn window() -> TrafficWindow {
        TrafficWindow {
            start: at(10),
            end: at(20),
        }
    }

    #[test]
    fn startup_and_shutdown_lines_do_not_count_but_request_lines_do() {
        let lines = [
            line(1, None),                // startup
            line(12, Some(("t1", "s1"))), // in a received span
            line(15, Some(("t1", "s1"))),
            line(30, None), // shutdown
        ];
        let result = correlate(&lines, &received(), window());
        assert_eq!(
            (result.in_request, result.matched, result.outside),
            (2, 2, 2)
        );
        assert!(result.complete());
        assert_eq!(result.share(), 100.0);
    }

    #[test]
    fn a_line_without_ids_during_traffic_is_a_request_line_that_lost_them() {
        let lines = [line(12, Some(("t1", "s1"))), line(13, None)];
        let result = correlate(&lines, &received(), window());
        assert_eq!(result.missing_ids_count, 1);
        assert!(!result.complete());
        assert_eq!(result.share(), 50.0);
    }

    #[test]
    fn ids_of_a_span_never_received_do_not_match() {
        let lines = [line(12, Some(("t1", "other")))];
        let result = correlate(&lines, &received(), window());
        assert_eq!(result.unknown_ids_count, 1);
        assert!(!result.complete());
    }

    #[test]
    fn no_request_lines_at_all_is_not_complete() {
        let result = correlate(&[line(1, None)], &received(), WINDOW);
        assert!(!result.complete());
        let garbage = LogLine {
            text: "panicked at src/main.rs".into(),
            read_at: at(12),
        };
        assert_eq!(correlate(&[garbage], &received(), window()).not_json, 1);
    }
}
