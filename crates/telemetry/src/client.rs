//! Client-side instrumentation: one CLIENT span per outgoing call, and the
//! trace context injected from that span.

use std::time::{Duration, Instant};

use opentelemetry_http::HeaderInjector;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::{HttpClientMetrics, method_label};

/// An HTTP client for calling one peer service, instrumented.
///
/// Each [`send`](Self::send) opens a CLIENT span (`otel.kind = "client"`) as a
/// child of the current span and injects `traceparent`, `tracestate` and
/// `baggage` from *that* span into the request, so the peer's SERVER span
/// becomes its child. Injection happens here and nowhere else: mixing it with
/// a second mechanism gave outgoing calls the wrong parent in the
/// OpenTelemetry demo (docs/pitfalls.md#one-injection-point). Each call is also counted in
/// `http_client_requests_total{peer,method,status}` and timed in
/// `http_client_request_duration_seconds{peer,method}`; a call that got no
/// response has status `timeout` or `error`.
///
/// Built once at startup with [`crate::Telemetry::http_client`] and cloned
/// into handlers (cloning shares the connection pool).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    peer: &'static str,
    timeout: Duration,
    metrics: HttpClientMetrics,
}

impl HttpClient {
    pub(crate) fn new(
        peer: &'static str,
        timeout: Duration,
        metrics: HttpClientMetrics,
    ) -> Result<Self, reqwest::Error> {
        let client = Self::builder(timeout).build()?;
        Ok(Self {
            client,
            peer,
            timeout,
            metrics,
        })
    }

    fn builder(timeout: Duration) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
    }

    /// The same client, instrumented the same way, keeping the cookies its
    /// peer sets in `jar`: one browser's session (a signed-in simulated
    /// user). It has connections of its own, as a browser would.
    pub fn with_cookie_store(
        &self,
        jar: std::sync::Arc<reqwest::cookie::Jar>,
    ) -> Result<Self, reqwest::Error> {
        let client = Self::builder(self.timeout).cookie_provider(jar).build()?;
        Ok(Self {
            client,
            peer: self.peer,
            timeout: self.timeout,
            metrics: self.metrics.clone(),
        })
    }

    /// The underlying reqwest client, to build requests with
    /// (`client.request_builder().get(url).query(...)`), then pass to
    /// [`send`](Self::send).
    pub fn request_builder(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` inside a CLIENT span. The span is an error when no
    /// response came back or the response is a 4xx or 5xx (for a client both
    /// mean the call failed).
    pub async fn send(&self, mut request: reqwest::Request) -> reqwest::Result<reqwest::Response> {
        let start = Instant::now();
        let method = method_label(request.method());
        let url = request.url();
        let span = tracing::info_span!(
            "HTTP client request",
            otel.name = method,
            // Stage 1: CLIENT kind is what pairs with the peer's SERVER span
            // in Tempo's service graph; an INTERNAL span draws no edge.
            otel.kind = "client",
            http.request.method = method,
            server.address = url.host_str().unwrap_or(""),
            server.port = i64::from(url.port_or_known_default().unwrap_or(0)),
            url.full = url.as_str(),
            peer.service = self.peer,
            http.response.status_code = Empty,
            otel.status_code = Empty,
            error.type = Empty,
        );
        let context = span.context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(request.headers_mut()))
        });

        let result = self.client.execute(request).instrument(span.clone()).await;
        let status = match &result {
            Ok(response) => {
                let status = response.status();
                span.record("http.response.status_code", i64::from(status.as_u16()));
                if status.is_client_error() || status.is_server_error() {
                    span.record("otel.status_code", "error");
                    span.record("error.type", status.as_str());
                }
                status.as_str().to_owned()
            }
            Err(error) => {
                let kind = if error.is_timeout() {
                    "timeout"
                } else {
                    "error"
                };
                span.record("otel.status_code", "error");
                span.record("error.type", kind);
                kind.to_owned()
            }
        };
        self.metrics
            .requests
            .with_label_values(&[self.peer, method, status.as_str()])
            .inc();
        self.metrics
            .duration
            .with_label_values(&[self.peer, method])
            .observe(start.elapsed().as_secs_f64());
        result
    }
}
