//! Which lines are usage events, and what is stored of each.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A usage event, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    /// SHA-256 of the whole line: the same line sent twice is one event.
    pub key: String,
    pub event: Value,
}

/// What a line turned out to be.
#[derive(Debug, PartialEq)]
pub enum Line {
    Usage(UsageEvent),
    /// An operational log line: not ours to store.
    NotUsage,
    /// Says `"usage": true` but lacks an `event` name or a valid `timestamp`.
    Invalid,
}

/// Sorts a line: a JSON object with `"usage": true` (the boolean, as the
/// frontend writes it), an `event` name and an RFC 3339 `timestamp` is a usage
/// event; anything else is not.
pub fn classify(line: &str) -> Line {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) else {
        return Line::NotUsage;
    };
    if object.get("usage") != Some(&Value::Bool(true)) {
        return Line::NotUsage;
    }
    let named = object
        .get("event")
        .and_then(Value::as_str)
        .is_some_and(|event| !event.is_empty() && event.len() <= 64);
    let timed = object
        .get("timestamp")
        .and_then(Value::as_str)
        .is_some_and(|timestamp| humantime::parse_rfc3339(timestamp).is_ok());
    if !(named && timed) {
        return Line::Invalid;
    }
    let key = Sha256::digest(line.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Line::Usage(UsageEvent {
        key,
        event: Value::Object(object),
    })
}

/// The batch as one JSON array, `[{"key": ..., "event": {...}}, ...]`, bound
/// as a single parameter of the INSERT.
pub fn as_rows(events: &[UsageEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|event| json!({ "key": event.key, "event": event.event }))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGN_IN: &str = r#"{"timestamp":"2026-11-25T03:17:21.953412Z","level":"INFO","service":"frontend","message":"usage event","usage":true,"event":"sign_in","user":"alice","session":"5f2c"}"#;

    #[test]
    fn only_usage_true_lines_with_an_event_and_a_time_are_events() {
        assert!(matches!(classify(SIGN_IN), Line::Usage(_)));
        assert_eq!(
            classify(r#"{"message":"roll result","usage":false}"#),
            Line::NotUsage
        );
        assert_eq!(
            classify(r#"{"message":"x","usage":"true"}"#),
            Line::NotUsage
        );
        assert_eq!(classify("not json"), Line::NotUsage);
        assert_eq!(
            classify(r#"{"usage":true,"timestamp":"2026-11-25T03:17:21Z"}"#),
            Line::Invalid
        );
        assert_eq!(
            classify(r#"{"usage":true,"event":"x","timestamp":"yesterday"}"#),
            Line::Invalid
        );
    }

    #[test]
    fn the_same_line_has_the_same_key() {
        let (Line::Usage(a), Line::Usage(b)) = (classify(SIGN_IN), classify(SIGN_IN)) else {
            panic!("not events")
        };
        assert_eq!(a.key, b.key);
        assert_eq!(a.key.len(), 64);
    }
}
