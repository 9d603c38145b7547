//! The span exporter: opentelemetry-otlp's OTLP/HTTP transport, carrying a
//! request body encoded by [`TraceRequestEncoder`].
//!
//! opentelemetry-otlp's `SpanExporter` does two jobs: it turns a batch into
//! protobuf, and it posts that to the collector (endpoint, headers from
//! `OTEL_EXPORTER_OTLP_HEADERS`, timeout, retries with backoff on 429, 502,
//! 503, 504 and network errors, partial-success handling). The first job
//! is most of a span's export cost and is done here instead, straight from
//! `SpanData` into a reused buffer; the second stays opentelemetry-otlp's.
//! The two meet in [`EncodedBodyClient`], the HTTP client the stock
//! exporter is built with: the stock exporter is handed an empty batch, and
//! its client sends the body encoded here in place of the empty one. Every
//! retry of one export sends the same body.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{ExporterBuildError, Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::otlp_encoding::TraceRequestEncoder;

/// Exports spans over OTLP/HTTP protobuf to `url`, giving up on a batch
/// after `timeout` (retries included).
#[derive(Debug)]
pub(crate) struct OtlpExporter {
    transport: opentelemetry_otlp::SpanExporter,
    encoder: Mutex<TraceRequestEncoder>,
    /// The body of the export in progress, shared with the transport's
    /// client; `None` between exports.
    body: Arc<Mutex<Option<Bytes>>>,
}

impl OtlpExporter {
    pub(crate) fn new(url: String, timeout: Duration) -> Result<Self, ExporterBuildError> {
        Self::with_http_client(url, timeout, blocking_client(timeout)?)
    }

    /// The exporter, posting through `client` (tests capture the bodies).
    pub(crate) fn with_http_client(
        url: String,
        timeout: Duration,
        client: impl HttpClient + 'static,
    ) -> Result<Self, ExporterBuildError> {
        let body = Arc::new(Mutex::new(None));
        let client = EncodedBodyClient {
            client: Box::new(client),
            body: body.clone(),
        };
        let transport = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(timeout)
            .build()?;
        Ok(Self {
            transport,
            encoder: Mutex::default(),
            body,
        })
    }
}

/// The client opentelemetry-otlp would build for itself: reqwest's blocking
/// client, made on a thread of its own because building one inside an async
/// runtime panics.
fn blocking_client(timeout: Duration) -> Result<reqwest::blocking::Client, ExporterBuildError> {
    std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
    })
    .join()
    .map_err(|_| ExporterBuildError::InternalFailure("building the HTTP client panicked".into()))?
    .map_err(|error| ExporterBuildError::InternalFailure(error.to_string()))
}

impl SpanExporter for OtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let body = {
            let mut encoder = self.encoder.lock().unwrap_or_else(PoisonError::into_inner);
            Bytes::copy_from_slice(encoder.encode(&batch))
        };
        drop(batch);
        if lock(&self.body).replace(body).is_some() {
            // The batch processor exports one batch at a time; a second
            // exporter call meanwhile would swap bodies.
            return Err(OTelSdkError::InternalFailure(
                "concurrent exports are not supported".to_owned(),
            ));
        }
        let result = self.transport.export(Vec::new()).await;
        lock(&self.body).take();
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.transport.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.transport.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .set_resource(resource);
        self.transport.set_resource(resource);
    }
}

fn lock(body: &Mutex<Option<Bytes>>) -> std::sync::MutexGuard<'_, Option<Bytes>> {
    body.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sends each request opentelemetry-otlp makes with the body of the export in
/// progress.
#[derive(Debug)]
struct EncodedBodyClient {
    client: Box<dyn HttpClient>,
    body: Arc<Mutex<Option<Bytes>>>,
}

#[async_trait::async_trait]
impl HttpClient for EncodedBodyClient {
    async fn send_bytes(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        if let Some(body) = lock(&self.body).clone() {
            *request.body_mut() = body;
        }
        self.client.send_bytes(request).await
    }
}

#[cfg(test)]
mod tests {
    //! The same requests, served once with this exporter and once with
    //! opentelemetry-otlp's own, must leave the same spans and the same log
    //! lines, field by field; only ids and times differ, and every log
    //! line's ids point at the same span in both.

    use std::collections::BTreeMap;

    use axum::Router;
    use axum::extract::Query;
    use axum::http::StatusCode;
    use axum::routing::get;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use prost::Message;
    use serde_json::Value;
    use tower::ServiceExt;
    use tracing::field::Empty;
    use tracing::{Instrument, Span, error, info, info_span, warn};

    use super::*;
    use crate::TelemetryConfig;
    use crate::traces::build_tracer_provider_with;

    /// An HTTP client that keeps every body it is asked to send and answers
    /// 200 with no body, as a collector does.
    #[derive(Debug, Clone, Default)]
    struct Capture(Arc<Mutex<Vec<Bytes>>>);

    #[async_trait::async_trait]
    impl HttpClient for Capture {
        async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            self.0.lock().unwrap().push(request.body().clone());
            Ok(Response::builder().status(200).body(Bytes::new())?)
        }
    }

    /// Log lines written into memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// A handler shaped like the dice-roller's: log lines in the SERVER span
    /// and in a child span, fields recorded after creation, an ERROR event
    /// (a span event and an error status) and a 500 for the risky die.
    async fn roll(Query(query): Query<BTreeMap<String, String>>) -> (StatusCode, &'static str) {
        let die = query.get("die").map(String::as_str).unwrap_or("fair");
        info!(die_type = die, "request received");
        let span = info_span!(
            "roll_die",
            "die.type" = die,
            "die.result" = Empty,
            "die.error" = Empty,
        );
        let failed = async {
            if die == "risky" {
                Span::current().record("die.error", "risky die failed");
                error!(die_type = die, "roll failed");
                true
            } else {
                Span::current().record("die.result", 4_i64);
                info!(
                    die_type = die,
                    roll_value = 4_i64,
                    ratio = 0.5,
                    lucky = true,
                    "roll result"
                );
                false
            }
        }
        .instrument(span)
        .await;
        if failed {
            warn!(attempt = 2_u64, "answering with an error");
            (StatusCode::INTERNAL_SERVER_ERROR, "failed")
        } else {
            (StatusCode::OK, "4")
        }
    }

    /// Serves the same three requests through `exporter`; returns the export
    /// requests sent and the log lines written.
    fn serve_requests<E>(
        exporter: E,
        bodies: &Capture,
    ) -> (Vec<ExportTraceServiceRequest>, Vec<Value>)
    where
        E: SpanExporter + 'static,
    {
        let lines = Lines::default();
        let config = TelemetryConfig::new("compared");
        let telemetry = crate::setup::build_with(&config, lines.clone(), |config, registry| {
            build_tracer_provider_with(config, registry, exporter)
        })
        .unwrap();
        let router = Router::new()
            .route("/roll", get(roll))
            .layer(telemetry.http_layer());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&telemetry.dispatch().clone(), || {
            runtime.block_on(async {
                for (uri, traceparent) in [
                    ("/roll?die=fair", None),
                    ("/roll?die=risky", None),
                    (
                        "/roll?die=fair",
                        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                    ),
                ] {
                    let mut request = axum::http::Request::get(uri).header("user-agent", "test/1");
                    if let Some(traceparent) = traceparent {
                        request = request
                            .header("traceparent", traceparent)
                            .header("baggage", "die.type=fair");
                    }
                    let request = request.body(axum::body::Body::empty()).unwrap();
                    router.clone().oneshot(request).await.unwrap();
                }
            });
        });
        telemetry.shutdown();
        let requests = bodies
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|body| ExportTraceServiceRequest::decode(body.clone()).unwrap())
            .collect();
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let lines = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        (requests, lines)
    }

    /// Every span of `requests` with its ids and times replaced by stable
    /// names (`span 0`, `trace 1`...) in order of appearance, attributes
    /// sorted; and the same renaming applied to the log lines' ids, their
    /// timestamps dropped.
    fn normalise(
        requests: &[ExportTraceServiceRequest],
        lines: &[Value],
    ) -> (Vec<String>, Vec<Value>) {
        let mut names: BTreeMap<Vec<u8>, String> = BTreeMap::new();
        let mut name = |kind: &str, id: &[u8]| -> String {
            if id.is_empty() {
                return String::new();
            }
            let next = names.len();
            names
                .entry(id.to_vec())
                .or_insert_with(|| format!("{kind} {next}"))
                .clone()
        };
        let sorted = |attributes: &[KeyValue]| {
            let mut attributes: Vec<String> =
                attributes.iter().map(|kv| format!("{kv:?}")).collect();
            attributes.sort();
            attributes
        };
        let mut spans = Vec::new();
        for request in requests {
            for resource_spans in &request.resource_spans {
                let resource = resource_spans.resource.clone().unwrap();
                for scope_spans in &resource_spans.scope_spans {
                    for span in &scope_spans.spans {
                        let mut span = span.clone();
                        let trace = name("trace", &span.trace_id);
                        let id = name("span", &span.span_id);
                        let parent = name("span", &span.parent_span_id);
                        span.trace_id.clear();
                        span.span_id.clear();
                        span.parent_span_id.clear();
                        span.start_time_unix_nano = 0;
                        span.end_time_unix_nano = 0;
                        let attributes = sorted(&span.attributes);
                        span.attributes.clear();
                        for event in &mut span.events {
                            event.time_unix_nano = 0;
                        }
                        spans.push(format!(
                            "resource {:?} schema {:?} | scope {:?} schema {:?} | {trace} {id} parent {parent} | {attributes:?} | {span:?}",
                            sorted(&resource.attributes),
                            resource_spans.schema_url,
                            scope_spans.scope,
                            scope_spans.schema_url,
                        ));
                    }
                }
            }
        }
        let lines = lines
            .iter()
            .map(|line| {
                let mut line = line.clone();
                let object = line.as_object_mut().unwrap();
                assert!(object.remove("timestamp").is_some());
                for (key, kind) in [("trace_id", "trace"), ("span_id", "span")] {
                    if let Some(Value::String(hex)) = object.get(key) {
                        let bytes: Vec<u8> = (0..hex.len())
                            .step_by(2)
                            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                            .collect();
                        let known = names.get(&bytes).cloned();
                        object.insert(
                            key.to_owned(),
                            Value::from(known.unwrap_or_else(|| format!("unknown {kind}"))),
                        );
                    }
                }
                line
            })
            .collect();
        (spans, lines)
    }

    #[test]
    fn requests_leave_the_same_spans_and_log_lines_as_with_the_stock_exporter() {
        let url = "http://127.0.0.1:4318/v1/traces".to_owned();
        let timeout = Duration::from_secs(5);

        let ours_sent = Capture::default();
        let ours = OtlpExporter::with_http_client(url.clone(), timeout, ours_sent.clone()).unwrap();
        let (ours_requests, ours_lines) = serve_requests(ours, &ours_sent);

        let stock_sent = Capture::default();
        let stock = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(stock_sent.clone())
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(timeout)
            .build()
            .unwrap();
        let (stock_requests, stock_lines) = serve_requests(stock, &stock_sent);

        let (ours_spans, ours_lines) = normalise(&ours_requests, &ours_lines);
        let (stock_spans, stock_lines) = normalise(&stock_requests, &stock_lines);
        // Two spans a request, and every line of a request carries ids.
        assert_eq!(stock_spans.len(), 6, "{stock_spans:#?}");
        let with_ids = stock_lines
            .iter()
            .filter(|line| line.get("span_id").is_some());
        assert_eq!(with_ids.count(), 7, "{stock_lines:#?}");
        assert!(
            !format!("{stock_lines:?}").contains("unknown"),
            "{stock_lines:#?}"
        );
        assert_eq!(ours_spans, stock_spans);
        assert_eq!(ours_lines, stock_lines);
    }
}
