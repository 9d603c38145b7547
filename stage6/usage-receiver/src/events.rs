//! Which lines are usage events, and what is stored of each.
//!
//! A line is checked before it goes near the database: a line PostgreSQL
//! would refuse (a NUL character, a user name too long for its index) must
//! be set aside on its own, never fail the batch it came in. Alloy retries a
//! failed batch for ever, so one such line would stop every line behind it.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The longest line read as a possible event. The frontend's usage lines
/// are about 350 bytes; a longer line is not even parsed.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// The longest key or string value inside an event. The columns pulled out
/// of it (`user_name`, `session_key`, ...) are indexed, and a PostgreSQL
/// index entry holds at most about 2.7 kB.
pub const MAX_FIELD_BYTES: usize = 256;
/// The longest event name (`sign_in`, `roll`, ...).
const MAX_EVENT_NAME_BYTES: usize = 64;

/// What Alloy's usage branch keeps (compact JSON, as serde writes it).
const USAGE_MARKER: &str = "\"usage\":true";

/// A usage event, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    /// SHA-256 of the whole line: the same line sent twice is one event.
    pub key: String,
    pub event: Value,
    /// The event's `timestamp`, re-written in one canonical RFC 3339 form, so
    /// what PostgreSQL parses is what was checked here.
    pub occurred_at: String,
}

/// What a line turned out to be.
#[derive(Debug, PartialEq)]
pub enum Line {
    Usage(UsageEvent),
    /// An operational log line: not ours to store.
    NotUsage,
    /// A usage event that can never be stored, and why.
    Rejected(Rejection),
}

/// Why a usage line is set aside: the `reason` label of
/// `usage_events_rejected_total`, a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No `event` name, or no valid RFC 3339 `timestamp`.
    Invalid,
    /// A NUL character (`\u0000`) in a key or a value: PostgreSQL's JSONB
    /// cannot hold one.
    NulCharacter,
    /// The line is longer than [`MAX_LINE_BYTES`].
    TooLong,
    /// A key or string value is longer than [`MAX_FIELD_BYTES`].
    FieldTooLong,
    /// The database refused the event on its own (a data error no check
    /// above foresaw).
    Unstorable,
}

impl Rejection {
    pub const ALL: [Self; 5] = [
        Self::Invalid,
        Self::NulCharacter,
        Self::TooLong,
        Self::FieldTooLong,
        Self::Unstorable,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::NulCharacter => "nul_character",
            Self::TooLong => "too_long",
            Self::FieldTooLong => "field_too_long",
            Self::Unstorable => "unstorable",
        }
    }
}

/// Sorts a line: a JSON object with `"usage": true` (the boolean, as the
/// frontend writes it), an `event` name and an RFC 3339 `timestamp`, within
/// the size limits and without NUL characters, is a usage event.
pub fn classify(line: &str) -> Line {
    if line.len() > MAX_LINE_BYTES {
        return if line.contains(USAGE_MARKER) {
            Line::Rejected(Rejection::TooLong)
        } else {
            Line::NotUsage
        };
    }
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) else {
        return Line::NotUsage;
    };
    if object.get("usage") != Some(&Value::Bool(true)) {
        return Line::NotUsage;
    }
    let object = Value::Object(object);
    if let Some(rejection) = unstorable_text(&object) {
        return Line::Rejected(rejection);
    }
    let named = object
        .get("event")
        .and_then(Value::as_str)
        .is_some_and(|event| !event.is_empty() && event.len() <= MAX_EVENT_NAME_BYTES);
    let occurred_at = object
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|timestamp| humantime::parse_rfc3339(timestamp).ok());
    let (true, Some(occurred_at)) = (named, occurred_at) else {
        return Line::Rejected(Rejection::Invalid);
    };
    let key = Sha256::digest(line.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Line::Usage(UsageEvent {
        key,
        event: object,
        occurred_at: humantime::format_rfc3339_micros(occurred_at).to_string(),
    })
}

/// The first problem with any key or string value in `value`, at any depth.
fn unstorable_text(value: &Value) -> Option<Rejection> {
    let check = |text: &str| {
        if text.contains('\0') {
            Some(Rejection::NulCharacter)
        } else if text.len() > MAX_FIELD_BYTES {
            Some(Rejection::FieldTooLong)
        } else {
            None
        }
    };
    match value {
        Value::String(text) => check(text),
        Value::Array(items) => items.iter().find_map(unstorable_text),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(key, value)| check(key).or_else(|| unstorable_text(value))),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// The batch as one JSON array, `[{"key", "occurred_at", "event"}, ...]`,
/// bound as a single parameter of the INSERT.
pub fn as_rows(events: &[UsageEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|event| {
                json!({ "key": event.key, "occurred_at": event.occurred_at, "event": event.event })
            })
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
            Line::Rejected(Rejection::Invalid)
        );
        assert_eq!(
            classify(r#"{"usage":true,"event":"x","timestamp":"yesterday"}"#),
            Line::Rejected(Rejection::Invalid)
        );
    }

    #[test]
    fn the_same_line_has_the_same_key() {
        let (Line::Usage(a), Line::Usage(b)) = (classify(SIGN_IN), classify(SIGN_IN)) else {
            panic!("not events")
        };
        assert_eq!(a.key, b.key);
        assert_eq!(a.key.len(), 64);
        assert_eq!(a.occurred_at, "2026-11-25T03:17:21.953412Z");
    }

    #[test]
    fn lines_postgresql_cannot_store_are_rejected_with_their_reason() {
        let with = |field: &str| SIGN_IN.replace(r#""user":"alice""#, field);
        for (line, reason) in [
            (with(r#""user":"al\u0000ice""#), Rejection::NulCharacter),
            (with(r#""us\u0000er":"alice""#), Rejection::NulCharacter),
            (
                with(r#""nested":{"deep":["\u0000"]}"#),
                Rejection::NulCharacter,
            ),
            (
                with(&format!(r#""user":"{}""#, "a".repeat(MAX_FIELD_BYTES + 1))),
                Rejection::FieldTooLong,
            ),
            (
                with(&format!(r#""note":"{}""#, "a".repeat(MAX_LINE_BYTES))),
                Rejection::TooLong,
            ),
        ] {
            assert_eq!(classify(&line), Line::Rejected(reason), "{line:.120}");
        }
        let long_operational = format!(r#"{{"message":"{}"}}"#, "a".repeat(MAX_LINE_BYTES));
        assert_eq!(classify(&long_operational), Line::NotUsage);
        let just_fits = with(&format!(r#""user":"{}""#, "a".repeat(MAX_FIELD_BYTES)));
        assert!(matches!(classify(&just_fits), Line::Usage(_)));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// A usage line as the frontend writes it, with generated values.
        fn usage_line() -> impl Strategy<Value = (String, String, String)> {
            ("[a-z_]{1,20}", "\\PC{0,40}", "[0-9a-f]{16}").prop_map(|(event, user, session)| {
                let line = serde_json::json!({
                    "timestamp": "2026-11-25T10:00:00.123456Z",
                    "level": "INFO",
                    "usage": true,
                    "event": event,
                    "user": user,
                    "session": session,
                })
                .to_string();
                (line, event, user)
            })
        }

        /// A JSON value of any shape, strings hostile.
        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                testkit::hostile_text().prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::btree_map(testkit::hostile_text(), inner, 0..4)
                        .prop_map(|map| Value::Object(map.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(testkit::proptest_config(256))]

            /// Any line at all is sorted without a panic; what is kept as an
            /// event is always storable: no NUL anywhere, every key and
            /// string within the limits, the line within its limit.
            #[test]
            fn whatever_is_kept_can_be_stored(line in testkit::hostile_text()) {
                if let Line::Usage(event) = classify(&line) {
                    prop_assert!(line.len() <= MAX_LINE_BYTES);
                    prop_assert_eq!(unstorable_text(&event.event), None);
                }
            }

            /// Usage events with any fields: kept exactly when storable,
            /// rejected with the reason otherwise, never a panic.
            #[test]
            fn usage_events_with_any_fields_are_kept_or_rejected_with_a_reason(
                (line, _, _) in usage_line(),
                extra in proptest::collection::btree_map("\\PC{0,8}", json_value(), 0..4),
            ) {
                let mut object: serde_json::Map<String, Value> = serde_json::from_str(&line).unwrap();
                for (key, value) in extra {
                    if !["usage", "event", "timestamp"].contains(&key.as_str()) {
                        object.insert(key, value);
                    }
                }
                let line = Value::Object(object).to_string();
                match classify(&line) {
                    Line::Usage(event) => prop_assert_eq!(unstorable_text(&event.event), None),
                    Line::Rejected(Rejection::NulCharacter | Rejection::FieldTooLong | Rejection::TooLong) => {
                        prop_assert!(line.contains("\\u0000") || line.len() > MAX_FIELD_BYTES);
                    }
                    other => prop_assert!(false, "{:?} for {}", other, line),
                }
            }

            /// A valid usage line is kept whole: its fields come back as written.
            #[test]
            fn a_valid_usage_line_round_trips((line, event, user) in usage_line()) {
                let Line::Usage(kept) = classify(&line) else {
                    return Err(TestCaseError::fail(format!("not kept: {line}")));
                };
                prop_assert_eq!(kept.event["event"].as_str(), Some(event.as_str()));
                prop_assert_eq!(kept.event["user"].as_str(), Some(user.as_str()));
                prop_assert_eq!(kept.occurred_at.as_str(), "2026-11-25T10:00:00.123456Z");
            }
        }
    }
}
