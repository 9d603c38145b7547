//! `make bench`'s `recipe` mode: the stage 1 dice-roller's very router and
//! handlers (`stage1_dice_roller::app`), instrumented as a Rust user would
//! without writing a telemetry crate, each ready-made crate as its README
//! shows it:
//!
//! * init-tracing-opentelemetry's `TracingConfig::production()`: JSON logs
//!   on stdout with the trace id, spans exported over OTLP/HTTP by a batch
//!   processor, configured by the same `OTEL_*` variables;
//! * axum-tracing-opentelemetry's `OtelAxumLayer`: a SERVER span per request,
//!   W3C context extracted from the request;
//! * axum-prometheus's layer and its `/metrics`.
//!
//! Settings come from the environment, as for the service: `PORT`,
//! `ROLL_MAX_DELAY_MS` (the harness sets 0) and the `OTEL_*` variables.
//! SIGTERM stops it cleanly, which callgrind needs to write its counts.

use anyhow::Context;
use axum::routing::get;
use axum_tracing_opentelemetry::middleware::OtelAxumLayer;
use stage1_dice_roller::{AppState, Config, DiceMetrics, app};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.port))?;
    // Flushes the spans still queued when dropped, at the end of `main`.
    let _guard = init_tracing_opentelemetry::TracingConfig::production()
        .init_subscriber()
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let (metric_layer, metric_handle) = axum_prometheus::PrometheusMetricLayer::pair();
    // The handlers record the stage's business metrics; axum-prometheus
    // serves its own registry, so these are counted and never served.
    let metrics = DiceMetrics::register(&prometheus::Registry::new())?;
    let router = app(AppState::new(&config, metrics))
        .route(
            "/metrics",
            get(move || async move { metric_handle.render() }),
        )
        .layer(OtelAxumLayer::default())
        .layer(metric_layer);
    tracing::info!(address = %listener.local_addr()?, mode = "recipe", "bench-server listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(telemetry::shutdown_signal())
        .await?;
    Ok(())
}
