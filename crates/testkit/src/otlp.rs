//! An OTLP/HTTP trace receiver that decodes the real protobuf a service sends.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;
use prost::Message;
use tokio::sync::watch;

use crate::background::BackgroundRuntime;

/// How the receiver answers export requests; lets tests and benchmarks play
/// a healthy, a slow or a failing collector.
#[derive(Debug, Clone, Copy, Default)]
pub enum CollectorBehaviour {
    /// Decode, keep every span, answer 200 at once.
    #[default]
    Accept,
    /// Decode and count, keep no spans: a sink for load that would otherwise
    /// fill memory.
    CountOnly,
    /// Answer 200 only after this long (spans are kept once answered).
    Slow(Duration),
    /// Answer 503 to everything, keeping nothing.
    Fail,
}

/// A span as the collector received it, ids as lower-case hex.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    pub service_name: String,
    pub trace_id: String,
    pub span_id: String,
    /// `None` for a root span.
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: Kind,
    pub status: Status,
    pub status_message: String,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Names of the span's events (warnings and errors logged inside it).
    pub event_names: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
    Unspecified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Unset,
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    String(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Arrays, maps and bytes, in their debug form (the services send none).
    Other(String),
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(value) | Self::Other(value) => f.write_str(value),
            Self::Int(value) => write!(f, "{value}"),
            Self::Double(value) => write!(f, "{value}"),
            Self::Bool(value) => write!(f, "{value}"),
        }
    }
}

impl ReceivedSpan {
    /// The attribute `key`, if present.
    pub fn attr(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes.get(key)
    }

    /// The attribute `key` as a string, if it is one.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        match self.attributes.get(key) {
            Some(AttributeValue::String(value)) => Some(value),
            _ => None,
        }
    }

    /// The attribute `key` as an integer, if it is one.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        match self.attributes.get(key) {
            Some(AttributeValue::Int(value)) => Some(*value),
            _ => None,
        }
    }

    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_unix_nanos.saturating_sub(self.start_unix_nanos))
    }
}

#[derive(Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    /// Export requests that arrived, answered or not.
    arrived: u64,
    /// Export requests answered with success.
    requests: u64,
    span_count: u64,
}

#[derive(Clone)]
struct ReceiverState {
    received: Arc<Mutex<Received>>,
    /// Bumped after every export request, to wake waiters.
    changed: Arc<watch::Sender<u64>>,
    behaviour: CollectorBehaviour,
}

/// An in-process OTLP/HTTP collector on 127.0.0.1 that decodes
/// `ExportTraceServiceRequest` protobuf, as the OpenTelemetry Collector does.
/// It runs on a runtime of its own, so it keeps answering whatever the test's
/// runtime is doing.
pub struct OtlpReceiver {
    address: SocketAddr,
    state: ReceiverState,
    _runtime: BackgroundRuntime,
}

impl OtlpReceiver {
    /// A receiver that accepts everything.
    pub fn start() -> Self {
        Self::start_with(CollectorBehaviour::Accept)
    }

    pub fn start_with(behaviour: CollectorBehaviour) -> Self {
        let state = ReceiverState {
            received: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
            behaviour,
        };
        let app = Router::new()
            .route("/v1/traces", post(receive_traces))
            .with_state(state.clone());
        let (runtime, address) = BackgroundRuntime::serve("otlp-receiver", app);
        Self {
            address,
            state,
            _runtime: runtime,
        }
    }

    /// The base URL to give a service as its OTLP endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Everything received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.lock().spans.clone()
    }

    /// Spans received, counted also in `CountOnly` mode.
    pub fn span_count(&self) -> u64 {
        self.lock().span_count
    }

    /// Export requests answered with success.
    pub fn request_count(&self) -> u64 {
        self.lock().requests
    }

    /// Export requests that arrived, including those still being answered
    /// (a `Slow` receiver holds them) and those refused.
    pub fn arrived_count(&self) -> u64 {
        self.lock().arrived
    }

    /// Waits until at least `count` export requests have arrived.
    pub async fn wait_for_arrivals(&self, count: u64, timeout: Duration) -> Result<(), WaitError> {
        let mut changes = self.state.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        while self.arrived_count() < count {
            if !matches!(
                tokio::time::timeout_at(deadline, changes.changed()).await,
                Ok(Ok(()))
            ) {
                return Err(WaitError {
                    timeout,
                    received: self.spans(),
                });
            }
        }
        Ok(())
    }

    /// Waits until `done` holds for the spans received, and returns them.
    /// Fails, listing what did arrive, if that takes longer than `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[ReceivedSpan]) -> bool,
    ) -> Result<Vec<ReceivedSpan>, WaitError> {
        let mut changes = self.state.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let received = self.lock();
                if done(&received.spans) {
                    return Ok(received.spans.clone());
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    return Err(WaitError {
                        timeout,
                        received: self.spans(),
                    });
                }
            }
        }
    }

    /// Waits for at least `count` spans in total.
    pub async fn wait_for_spans(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, WaitError> {
        self.wait_for(timeout, |spans| spans.len() >= count).await
    }

    /// Waits until the trace `trace_id` has at least `count` spans, and
    /// returns that trace's spans.
    pub async fn wait_for_trace(
        &self,
        trace_id: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, WaitError> {
        let spans = self
            .wait_for(timeout, |spans| {
                spans
                    .iter()
                    .filter(|span| span.trace_id == trace_id)
                    .count()
                    >= count
            })
            .await?;
        Ok(spans
            .into_iter()
            .filter(|span| span.trace_id == trace_id)
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Received> {
        self.state
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// The receiver did not see what a test waited for.
#[derive(Debug)]
pub struct WaitError {
    pub timeout: Duration,
    pub received: Vec<ReceivedSpan>,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the expected spans did not arrive within {:?}; {} span(s) arrived:",
            self.timeout,
            self.received.len()
        )?;
        for span in &self.received {
            writeln!(
                f,
                "  {} {:?} {:?} trace={} span={} parent={:?}",
                span.service_name,
                span.kind,
                span.name,
                span.trace_id,
                span.span_id,
                span.parent_span_id
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for WaitError {}

async fn receive_traces(State(state): State<ReceiverState>, body: Bytes) -> (StatusCode, Vec<u8>) {
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(_) => return (StatusCode::BAD_REQUEST, Vec::new()),
    };
    state
        .received
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .arrived += 1;
    state.changed.send_modify(|version| *version += 1);
    match state.behaviour {
        CollectorBehaviour::Fail => return (StatusCode::SERVICE_UNAVAILABLE, Vec::new()),
        CollectorBehaviour::Slow(delay) => tokio::time::sleep(delay).await,
        CollectorBehaviour::Accept | CollectorBehaviour::CountOnly => {}
    }
    let spans = flatten(request);
    {
        let mut received = state.received.lock().unwrap_or_else(|e| e.into_inner());
        received.requests += 1;
        received.span_count += spans.len() as u64;
        if !matches!(state.behaviour, CollectorBehaviour::CountOnly) {
            received.spans.extend(spans);
        }
    }
    state.changed.send_modify(|version| *version += 1);
    (
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let resource_attributes = resource_spans
            .resource
            .map(|resource| attributes(resource.attributes))
            .unwrap_or_default();
        let service_name = match resource_attributes.get("service.name") {
            Some(AttributeValue::String(name)) => name.clone(),
            _ => String::new(),
        };
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                let status = span.status.unwrap_or_default();
                out.push(ReceivedSpan {
                    service_name: service_name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: (!span.parent_span_id.is_empty())
                        .then(|| hex(&span.parent_span_id)),
                    name: span.name,
                    kind: match SpanKind::try_from(span.kind) {
                        Ok(SpanKind::Internal) => Kind::Internal,
                        Ok(SpanKind::Server) => Kind::Server,
                        Ok(SpanKind::Client) => Kind::Client,
                        Ok(SpanKind::Producer) => Kind::Producer,
                        Ok(SpanKind::Consumer) => Kind::Consumer,
                        _ => Kind::Unspecified,
                    },
                    status: match OtlpStatusCode::try_from(status.code) {
                        Ok(OtlpStatusCode::Ok) => Status::Ok,
                        Ok(OtlpStatusCode::Error) => Status::Error,
                        _ => Status::Unset,
                    },
                    status_message: status.message,
                    start_unix_nanos: span.start_time_unix_nano,
                    end_unix_nanos: span.end_time_unix_nano,
                    attributes: attributes(span.attributes),
                    event_names: span.events.into_iter().map(|event| event.name).collect(),
                });
            }
        }
    }
    out
}

fn attributes(key_values: Vec<KeyValue>) -> BTreeMap<String, AttributeValue> {
    key_values
        .into_iter()
        .map(|kv| (kv.key, value(kv.value)))
        .collect()
}

fn value(value: Option<AnyValue>) -> AttributeValue {
    match value.and_then(|v| v.value) {
        Some(any_value::Value::StringValue(s)) => AttributeValue::String(s),
        Some(any_value::Value::IntValue(i)) => AttributeValue::Int(i),
        Some(any_value::Value::DoubleValue(d)) => AttributeValue::Double(d),
        Some(any_value::Value::BoolValue(b)) => AttributeValue::Bool(b),
        other => AttributeValue::Other(format!("{other:?}")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
