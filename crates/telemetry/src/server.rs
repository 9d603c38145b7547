//! Server-side instrumentation: one SERVER span and one set of RED metrics per
//! request.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::response::Response;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::HeaderExtractor;
use prometheus::{Histogram, IntCounter, IntGauge};
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::{HttpServerMetrics, UNMATCHED_ROUTE, method_label};

/// At most this many incoming baggage entries are copied onto the server span
/// as `baggage.<key>` attributes; baggage is caller input, so it is bounded.
const MAX_BAGGAGE_ATTRIBUTES: usize = 8;

/// Tower middleware that instruments every request a router serves.
///
/// For each request it
/// * continues the caller's trace: W3C `traceparent`/`tracestate` and
///   `baggage` headers are extracted, and a malformed header simply starts a
///   new trace;
/// * opens a SERVER span named `METHOD /route` from the route *template*
///   (`GET /roll`, never `/roll?die=...` or `/users/42`), with the HTTP
///   semantic-convention attributes, error status on 5xx;
/// * records `http_requests_total{method,handler,status}`,
///   `http_request_duration_seconds{method,handler}` and
///   `http_requests_in_flight{method,handler}`.
///
/// It must wrap the routes themselves (`Router::layer`), not the whole
/// router from outside, because axum only knows the matched route template
/// once routing has happened. [`crate::serve`] applies it; a service does not
/// need to.
#[derive(Clone)]
pub struct HttpServerLayer {
    metrics: HttpServerMetrics,
}

impl HttpServerLayer {
    pub(crate) fn new(metrics: HttpServerMetrics) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for HttpServerLayer {
    type Service = HttpServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpServerService {
            inner,
            metrics: self.metrics.clone(),
            series: Arc::default(),
        }
    }
}

/// The service [`HttpServerLayer`] wraps around each route.
#[derive(Clone)]
pub struct HttpServerService<S> {
    inner: S,
    metrics: HttpServerMetrics,
    /// The metric series of the route this service wraps, looked up on its
    /// first request and shared by every clone (axum clones the service per
    /// request).
    series: Arc<OnceLock<Arc<RouteSeries>>>,
}

/// One route's series of the RED metrics. `with_label_values` hashes every
/// label value and takes the metric's lock on each call, three times a
/// request; a route's series never change, so they are looked up once.
struct RouteSeries {
    method: &'static str,
    handler: String,
    /// The SERVER span's name, `{method} {route}`: formatted once too.
    span_name: String,
    in_flight: IntGauge,
    duration: Histogram,
    /// One counter per status code the route has answered with: a handful.
    requests: Mutex<Vec<(u16, IntCounter)>>,
}

impl RouteSeries {
    fn new(
        metrics: &HttpServerMetrics,
        method: &'static str,
        handler: &str,
        route: Option<&str>,
    ) -> Self {
        // Semantic conventions: `{method} {route}`, or the bare method when no
        // route matched, so span names stay a closed set like metric labels.
        let span_name = match route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        Self {
            method,
            handler: handler.to_owned(),
            span_name,
            in_flight: metrics.in_flight.with_label_values(&[method, handler]),
            duration: metrics.duration.with_label_values(&[method, handler]),
            requests: Mutex::default(),
        }
    }

    fn count(&self, metrics: &HttpServerMetrics, status: StatusCode) {
        // A poisoned lock only means another request panicked mid-push; the
        // list is still valid.
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let code = status.as_u16();
        if let Some((_, counter)) = requests.iter().find(|(known, _)| *known == code) {
            counter.inc();
            return;
        }
        let counter = metrics.requests.with_label_values(&[
            self.method,
            self.handler.as_str(),
            status.as_str(),
        ]);
        counter.inc();
        requests.push((code, counter));
    }
}

impl<S> HttpServerService<S> {
    /// The series of `method` on `handler`: the cached ones when they match
    /// (always, unless one service wraps several routes or methods), else
    /// freshly looked up.
    fn series(&self, method: &'static str, route: Option<&str>) -> Arc<RouteSeries> {
        let handler = route.unwrap_or(UNMATCHED_ROUTE);
        if let Some(series) = self.series.get()
            && series.method == method
            && series.handler == handler
        {
            return series.clone();
        }
        let series = Arc::new(RouteSeries::new(&self.metrics, method, handler, route));
        // The first lookup is kept; a concurrent or different one is used once.
        let _ = self.series.set(series.clone());
        series
    }
}

impl<S> Service<Request> for HttpServerService<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let start = Instant::now();
        let method = method_label(request.method());
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(|path| path.as_str());
        let series = self.series(method, route);
        let span = request_span(&request, &series.span_name, method, route);

        series.in_flight.inc();
        // Decrements even if the client goes away and the future is dropped.
        let in_flight = InFlightGuard(series.in_flight.clone());

        let metrics = self.metrics.clone();
        let response = self.inner.call(request).instrument(span.clone());
        Box::pin(async move {
            let result = response.await;
            let _in_flight = in_flight;
            if let Ok(response) = &result {
                let status = response.status();
                // Signed on purpose: tracing-opentelemetry exports unsigned
                // integers as strings.
                span.record("http.response.status_code", i64::from(status.as_u16()));
                if status.is_server_error() {
                    // Semantic conventions: a server span is an error on 5xx
                    // only; a 4xx is the client's mistake, not the server's.
                    span.record("otel.status_code", "error");
                    span.record("error.type", status.as_str());
                }
                series.count(&metrics, status);
                series.duration.observe(start.elapsed().as_secs_f64());
            }
            result
        })
    }
}

/// Opens the SERVER span for `request` as a child of the caller's span, if the
/// request carried a valid `traceparent`.
fn request_span(
    request: &Request,
    name: &str,
    method: &'static str,
    route: Option<&str>,
) -> tracing::Span {
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = name,
        // Stage 1: SERVER kind is half of what draws an edge in Tempo's
        // service graph; the caller's CLIENT span is the other half.
        otel.kind = "server",
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        url.scheme = "http",
        network.protocol.version = protocol_version(request),
        user_agent.original = user_agent(request),
        http.response.status_code = Empty,
        otel.status_code = Empty,
        error.type = Empty,
    );

    // Without a global propagator this would find nothing and every request
    // would start a new trace, silently (docs/pitfalls.md#no-propagator); `build` installs it.
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    if parent.span().span_context().is_remote() {
        for (key, (value, _)) in parent.baggage().iter().take(MAX_BAGGAGE_ATTRIBUTES) {
            span.set_attribute(format!("baggage.{key}"), value.to_string());
        }
        // Fails only if the span is disabled by the filter, and then there is
        // nothing to parent.
        let _ = span.set_parent(parent);
    }
    span
}

fn protocol_version(request: &Request) -> &'static str {
    match request.version() {
        axum::http::Version::HTTP_09 => "0.9",
        axum::http::Version::HTTP_10 => "1.0",
        axum::http::Version::HTTP_11 => "1.1",
        axum::http::Version::HTTP_2 => "2",
        axum::http::Version::HTTP_3 => "3",
        _ => "unknown",
    }
}

/// The caller's `User-Agent`, if it sent one: an absent header records no
/// attribute rather than an empty one.
fn user_agent(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
}

/// The answer to a path no route matches. [`crate::serve`] installs it as
/// the router's fallback, since axum's built-in fallback is not wrapped by
/// `Router::layer`, and unknown paths would go untraced and uncounted.
pub(crate) async fn not_found() -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": "no such endpoint" })),
    )
}

struct InFlightGuard(prometheus::IntGauge);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
