//! Prometheus metrics, pulled from `/metrics`.
//!
//! The names are the original workshop's (`http_requests_total`, ...), kept exact by using
//! the Prometheus client directly: OTLP metric export would rename them with
//! unit suffixes (docs/pitfalls.md#metric-names). Every label value comes from a closed set: the
//! route template (or [`UNMATCHED_ROUTE`]), a known HTTP method (or `_OTHER`),
//! a status code, a peer name fixed in code. Raw paths and user input never
//! become label values, so an attacker cannot grow the series count.

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::TelemetryError;

/// The `handler` label of requests that matched no route: one value for every
/// unknown path, whatever it was.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Request-rate, error and duration metrics of the requests a service serves.
#[derive(Clone)]
pub(crate) struct HttpServerMetrics {
    pub(crate) requests: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) in_flight: IntGaugeVec,
}

impl HttpServerMetrics {
    pub(crate) fn register(registry: &Registry) -> Result<Self, TelemetryError> {
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests served."),
            &["method", "handler", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from receiving a request to sending its response headers.",
            ),
            &["method", "handler"],
        )?;
        let in_flight = IntGaugeVec::new(
            Opts::new(
                "http_requests_in_flight",
                "Requests being served right now.",
            ),
            &["method", "handler"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        Ok(Self {
            requests,
            duration,
            in_flight,
        })
    }
}

/// Metrics of the calls a service makes to its peers.
#[derive(Clone)]
pub(crate) struct HttpClientMetrics {
    pub(crate) requests: IntCounterVec,
    pub(crate) duration: HistogramVec,
}

impl HttpClientMetrics {
    pub(crate) fn register(registry: &Registry) -> Result<Self, TelemetryError> {
        let requests = IntCounterVec::new(
            Opts::new(
                "http_client_requests_total",
                "Outgoing HTTP requests by peer service, method and status (or error kind).",
            ),
            &["peer", "method", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_client_request_duration_seconds",
                "Time from sending an outgoing request to receiving its response headers.",
            ),
            &["peer", "method"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self { requests, duration })
    }
}

/// The method as a label value: the standard methods by name, anything else
/// as `_OTHER` (the OpenTelemetry convention), so a made-up method cannot
/// create a series.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}

/// A router serving `GET /metrics` in the Prometheus text format from
/// `registry`. [`crate::serve`] adds it to every service.
pub(crate) fn metrics_router(registry: Registry) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move {
                let mut body = Vec::with_capacity(16 * 1024);
                let encoder = TextEncoder::new();
                // Encoding into a Vec fails only on a malformed metric family,
                // which the registry's own checks rule out at registration.
                let _ = encoder.encode(&registry.gather(), &mut body);
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    )],
                    body,
                )
                    .into_response()
            }
        }),
    )
}
