//! The Loki push API's two bodies, decoded into log lines.
//!
//! Grafana Alloy's `loki.write` sends a protobuf `PushRequest` compressed with
//! raw (block, not framed) snappy, as `application/x-protobuf` (docs/pitfalls.md#loki-push);
//! people with curl send the JSON form. Both become a list of [`PushedLine`].

use prost::Message;
use serde::Deserialize;

/// Loki's `logproto.PushRequest`, as far as a receiver of lines needs it:
/// these three messages, not a crate that pulls in a second prost.
#[derive(Clone, PartialEq, Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StreamAdapter {
    /// The stream's labels in Prometheus syntax: `{service_name="frontend"}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<prost_types::Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
}

/// One log line of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedLine {
    pub line: String,
}

/// Why a body can never be stored; the sender is told with a 400 (or 413),
/// and Alloy drops such a batch rather than retrying it forever.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is not snappy-compressed protobuf: {0}")]
    Snappy(#[from] snap::Error),
    #[error("the body is not a Loki PushRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("the body is not Loki's JSON push format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the body decompresses to more than {limit} bytes")]
    TooLarge { limit: usize },
    #[error(
        "unsupported content type {0:?}: send application/x-protobuf (snappy) or application/json"
    )]
    ContentType(String),
}

/// Decodes a snappy-compressed protobuf push, refusing to inflate beyond
/// `max_decompressed` bytes (a small body can claim a huge size).
pub fn decode_protobuf(body: &[u8], max_decompressed: usize) -> Result<Vec<PushedLine>, BodyError> {
    let size = snap::raw::decompress_len(body)?;
    if size > max_decompressed {
        return Err(BodyError::TooLarge {
            limit: max_decompressed,
        });
    }
    let bytes = snap::raw::Decoder::new().decompress_vec(body)?;
    let request = PushRequest::decode(bytes.as_slice())?;
    Ok(request
        .streams
        .into_iter()
        .flat_map(|stream| stream.entries)
        .map(|entry| PushedLine { line: entry.line })
        .collect())
}

#[derive(Deserialize)]
struct JsonPush {
    streams: Vec<JsonStream>,
}

#[derive(Deserialize)]
struct JsonStream {
    /// `[["<unix ns as a string>", "<line>"], ...]`; a third element
    /// (structured metadata) may follow and is ignored.
    values: Vec<Vec<serde_json::Value>>,
}

/// Decodes Loki's JSON push form:
/// `{"streams":[{"stream":{...},"values":[["<ns>","<line>"]]}]}`.
pub fn decode_json(body: &[u8]) -> Result<Vec<PushedLine>, BodyError> {
    let push: JsonPush = serde_json::from_slice(body)?;
    let mut lines = Vec::new();
    for value in push.streams.into_iter().flat_map(|stream| stream.values) {
        match value.as_slice() {
            [
                serde_json::Value::String(_),
                serde_json::Value::String(line),
                ..,
            ] => {
                lines.push(PushedLine { line: line.clone() });
            }
            _ => {
                return Err(BodyError::Json(serde::de::Error::custom(
                    "each value must be [\"<unix ns>\", \"<line>\"]",
                )));
            }
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protobuf(lines: &[&str]) -> Vec<u8> {
        let request = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{service_name="frontend"}"#.into(),
                entries: lines
                    .iter()
                    .map(|line| EntryAdapter {
                        timestamp: Some(prost_types::Timestamp {
                            seconds: 1,
                            nanos: 2,
                        }),
                        line: (*line).into(),
                    })
                    .collect(),
                hash: 0,
            }],
        };
        snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .unwrap()
    }

    #[test]
    fn protobuf_and_json_give_the_same_lines() {
        let from_protobuf = decode_protobuf(&protobuf(&["a", "b"]), 1 << 20).unwrap();
        let json = br#"{"streams":[{"stream":{"service_name":"frontend"},"values":[["1","a"],["2","b"]]}]}"#;
        assert_eq!(from_protobuf, decode_json(json).unwrap());
    }

    #[test]
    fn garbage_and_bombs_are_refused() {
        assert!(matches!(
            decode_protobuf(b"not snappy at all", 1 << 20),
            Err(BodyError::Snappy(_)) | Err(BodyError::Protobuf(_))
        ));
        let big = protobuf(&[&"x".repeat(10_000)]);
        assert!(matches!(
            decode_protobuf(&big, 1_000),
            Err(BodyError::TooLarge { .. })
        ));
        assert!(decode_json(b"{\"streams\": 7}").is_err());
        assert!(decode_json(br#"{"streams":[{"values":[[1,2]]}]}"#).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(testkit::proptest_config(256))]

            /// Whatever arrives, the decoders answer Ok or an error: never a
            /// panic, never more than the limit inflated.
            #[test]
            fn arbitrary_bodies_are_decoded_or_refused(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let _ = decode_protobuf(&body, 64 * 1024);
                let _ = decode_json(&body);
                // Valid snappy around garbage: the protobuf decoder's turn.
                let wrapped = snap::raw::Encoder::new().compress_vec(&body).unwrap();
                let _ = decode_protobuf(&wrapped, 64 * 1024);
            }

            /// Lines encoded the way Alloy encodes them (prost, raw snappy)
            /// and the way curl users do (serde_json) decode to themselves.
            #[test]
            fn lines_round_trip_through_both_forms(lines in proptest::collection::vec(testkit::hostile_text(), 0..20)) {
                let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                let expected: Vec<PushedLine> = lines
                    .iter()
                    .map(|line| PushedLine { line: (*line).to_owned() })
                    .collect();
                prop_assert_eq!(&decode_protobuf(&protobuf(&lines), 1 << 30).unwrap(), &expected);
                let values: Vec<_> = lines.iter().map(|line| serde_json::json!(["1", line])).collect();
                let json = serde_json::to_vec(&serde_json::json!({"streams": [{"stream": {}, "values": values}]})).unwrap();
                prop_assert_eq!(&decode_json(&json).unwrap(), &expected);
            }
        }
    }
}
