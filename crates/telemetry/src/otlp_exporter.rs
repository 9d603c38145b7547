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
        let body = Arc::new(Mutex::new(None));
        let client = EncodedBodyClient {
            client: blocking_client(timeout)?,
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
    client: reqwest::blocking::Client,
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
