//! Assembling the three signals into one handle.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use prometheus::Registry;
use tracing::{Dispatch, Level};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry as SpanRegistry};

use crate::HttpClient;
use crate::config::TelemetryConfig;
use crate::error::TelemetryError;
use crate::logs::JsonLogLayer;
use crate::metrics::{HttpClientMetrics, HttpServerMetrics};
use crate::propagation::install_propagator;
use crate::server::HttpServerLayer;
use crate::traces::{ExportLog, build_tracer_provider};

/// How long shutdown waits for the last spans to reach the collector. Bounded
/// so that a dead or slow collector cannot hold up a service's exit.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// A service's telemetry: the subscriber that turns spans and events into
/// exported spans and JSON log lines, the Prometheus registry, and the pieces
/// that flush at exit.
///
/// Keep it until the service stops; [`crate::serve`] takes it and calls
/// [`Telemetry::shutdown`] once requests have drained. Dropping it without
/// shutdown still flushes, but without a bound on how long that takes.
pub struct Telemetry {
    service_name: String,
    dispatch: Dispatch,
    registry: Registry,
    server_metrics: HttpServerMetrics,
    client_metrics: HttpClientMetrics,
    tracer_provider: SdkTracerProvider,
    /// Flushes buffered stdout log lines when dropped.
    _log_writer: Option<WorkerGuard>,
}

/// Sets up telemetry for `service_name` from the environment
/// ([`TelemetryConfig::from_env`]) and installs it process-wide: the global
/// `tracing` subscriber, and the global W3C trace-context + baggage
/// propagator. Log lines go to stdout through a background writer, so a slow
/// terminal or log shipper never blocks a request (lines beyond its buffer are
/// dropped instead), and leave in batches, one system call for all the lines
/// that arrived while the last batch was written.
///
/// Call it once, first thing in `main`, and keep the result.
///
/// ```no_run
/// let telemetry = telemetry::init("dice-roller")?;
/// tracing::info!("dice-roller starting");
/// # Ok::<(), telemetry::TelemetryError>(())
/// ```
pub fn init(service_name: &str) -> Result<Telemetry, TelemetryError> {
    let config = TelemetryConfig::from_env(service_name)?;
    // The background writer drains every line waiting in its channel, then
    // flushes: with this buffer a burst of lines leaves in one `write`
    // instead of one system call per line (stdout is line-buffered), and a
    // line never waits longer than the writer takes to catch up.
    let stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let (writer, guard) = tracing_appender::non_blocking(stdout);
    let mut telemetry = build(&config, writer)?;
    telemetry._log_writer = Some(guard);
    tracing::dispatcher::set_global_default(telemetry.dispatch.clone())?;
    Ok(telemetry)
}

/// Builds telemetry from `config`, writing log lines to `log_writer`, without
/// installing a global subscriber. Tests use it to run several services in
/// one process, each with its own subscriber and log capture; run a service
/// under [`Telemetry::dispatch`] to use it.
///
/// The W3C propagator is process-wide by nature (it holds no state) and is
/// installed here as well, since neither incoming nor outgoing propagation
/// works without it.
///
/// ```
/// let config = telemetry::TelemetryConfig {
///     otlp_endpoint: None,
///     ..telemetry::TelemetryConfig::new("doc-test")
/// };
/// let telemetry = telemetry::build(&config, std::io::sink).unwrap();
/// tracing::dispatcher::with_default(telemetry.dispatch(), || {
///     tracing::info!("written to the sink as one JSON line");
/// });
/// ```
pub fn build<W>(config: &TelemetryConfig, log_writer: W) -> Result<Telemetry, TelemetryError>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    build_with(config, log_writer, build_tracer_provider)
}

/// [`build`], with the tracer provider made by `tracer_provider` (tests
/// compare the exporter with opentelemetry-otlp's own).
pub(crate) fn build_with<W>(
    config: &TelemetryConfig,
    log_writer: W,
    tracer_provider: impl FnOnce(
        &TelemetryConfig,
        &Registry,
    ) -> Result<(SdkTracerProvider, ExportLog), TelemetryError>,
) -> Result<Telemetry, TelemetryError>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    install_propagator();
    let registry = Registry::new();
    let (tracer_provider, export_log) = tracer_provider(config, &registry)?;
    let dispatch = build_dispatch(config, &tracer_provider, log_writer)?;
    export_log.set(&dispatch);
    Ok(Telemetry {
        service_name: config.service_name.clone(),
        dispatch,
        server_metrics: HttpServerMetrics::register(&registry)?,
        client_metrics: HttpClientMetrics::register(&registry)?,
        registry,
        tracer_provider,
        _log_writer: None,
    })
}

/// The subscriber: a span registry, the `RUST_LOG` filter, the OpenTelemetry
/// layer that turns spans into exported spans, and the JSON log layer.
fn build_dispatch<W>(
    config: &TelemetryConfig,
    tracer_provider: &SdkTracerProvider,
    log_writer: W,
) -> Result<Dispatch, TelemetryError>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder().parse(&config.log_filter)?;
    let tracer = tracer_provider.tracer("telemetry");
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Source location, thread and busy/idle timings on every span cost
        // attributes and allocations per request and tell a workshop nothing.
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        // Warnings and errors also become events on their span, so a failed
        // roll is visible in Tempo; INFO lines stay in the logs only.
        .with_filter(filter_fn(|metadata| {
            metadata.is_span() || *metadata.level() <= Level::WARN
        }));
    let subscriber = SpanRegistry::default()
        .with(filter)
        .with(spans)
        .with(JsonLogLayer::new(&config.service_name, log_writer));
    Ok(Dispatch::new(subscriber))
}

impl Telemetry {
    /// The service name on spans and log lines.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The registry `/metrics` serves. Register business metrics here.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The subscriber. [`init`] installs it globally; with [`build`], run the
    /// service's threads under it (`tracing::dispatcher::set_default`).
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }

    /// The server middleware, sharing this service's RED metrics.
    pub fn http_layer(&self) -> HttpServerLayer {
        HttpServerLayer::new(self.server_metrics.clone())
    }

    /// An instrumented client for calls to the service `peer` (a fixed name:
    /// it becomes a label value and the `peer.service` span attribute). Every
    /// call gives up after `timeout`.
    pub fn http_client(
        &self,
        peer: &'static str,
        timeout: Duration,
    ) -> Result<HttpClient, TelemetryError> {
        Ok(HttpClient::new(peer, timeout, self.client_metrics.clone())?)
    }

    /// Exports every finished span that is still queued, waiting at most a few
    /// seconds, and stops the exporter. Call it after the last request has
    /// been answered; [`crate::serve`] does.
    pub fn shutdown(self) {
        if let Err(error) = self.tracer_provider.shutdown_with_timeout(FLUSH_TIMEOUT) {
            // Through this service's own subscriber, wherever shutdown runs.
            tracing::dispatcher::with_default(&self.dispatch, || {
                tracing::warn!(%error, "could not flush all spans at shutdown");
            });
        }
    }
}
