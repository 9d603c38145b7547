//! Everything a workshop service needs to be observable, in one crate.
//!
//! A service's `main` calls [`init`] once, keeps the returned [`Telemetry`],
//! registers its own metrics in [`Telemetry::registry`], and hands its router
//! to [`serve`]. That is the whole contract:
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let telemetry = telemetry::init("dice-roller")?;
//! let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8100").await?;
//! telemetry::serve(listener, app, telemetry).await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! * `config`: [`TelemetryConfig`], read once from the standard `OTEL_*`
//!   variables and `RUST_LOG`.
//! * `setup`: [`init`] and [`build`], which assemble the three signals into a
//!   [`Telemetry`] handle. `init` installs it process-wide; `build` returns it
//!   uninstalled so tests can run several services in one process.
//! * `traces`: the tracer provider: OTLP/HTTP protobuf export from a batch
//!   processor with a bounded queue, and counters of what was exported and
//!   what was dropped, so a sick collector shows up on `/metrics`.
//! * `otlp_exporter`: the span exporter: batches encoded by `otlp_encoding`
//!   (OTLP protobuf written straight from the SDK's span data into a reused
//!   buffer) and posted by opentelemetry-otlp's HTTP transport.
//! * `logs`: the JSON log layer. Every line written inside a span carries the
//!   `trace_id` and `span_id` of the exported span, which is what lets Grafana
//!   jump from a trace to its logs and back.
//! * `metrics`: the Prometheus registry, the HTTP RED metrics and the
//!   `/metrics` route.
//! * `propagation`: the process-wide W3C trace-context + baggage propagator.
//! * `server`: [`HttpServerLayer`], the tower middleware that opens a SERVER
//!   span per request (continuing the caller's W3C trace context) and records
//!   the RED metrics.
//! * `client`: [`HttpClient`], an instrumented reqwest client: a CLIENT span
//!   per call, trace context injected from that span, outgoing-call metrics.
//! * `shutdown`: [`shutdown_signal`], [`serve`] and [`serve_with_shutdown`]:
//!   stop accepting, drain in-flight requests, then flush spans.

mod client;
mod config;
#[cfg(test)]
mod config_properties;
mod error;
mod logs;
mod metrics;
mod otlp_encoding;
mod otlp_exporter;
mod propagation;
mod server;
mod setup;
mod shutdown;
mod traces;

pub use client::HttpClient;
pub use config::{BatchSettings, DEFAULT_LOG_FILTER, TelemetryConfig};
pub use error::TelemetryError;
pub use metrics::UNMATCHED_ROUTE;
pub use server::HttpServerLayer;
pub use setup::{Telemetry, build, init};
pub use shutdown::{HEADER_READ_TIMEOUT, serve, serve_with_shutdown, shutdown_signal};
pub use traces::current_trace_id;
/// Re-exported so a service can set span attributes and parents without a
/// dependency of its own: `Span::current().set_attribute("die.type", die)`.
pub use tracing_opentelemetry::OpenTelemetrySpanExt;
