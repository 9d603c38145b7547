//! Stage 2 dice-roller: `cargo run -p stage2-dice-roller`, then
//! `curl 'localhost:8200/roll?die=fair'`. Each request prints JSON log lines
//! with the trace id of its spans.

use anyhow::Context;
use stage2_dice_roller::{AppState, Config, DiceMetrics, app};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    // Stage 1: one call sets up all three signals: spans exported over OTLP,
    // JSON log lines on stdout carrying trace ids, and a Prometheus registry.
    let telemetry = telemetry::init("dice-roller")?;
    let metrics = DiceMetrics::register(telemetry.registry())?;
    let state = AppState::new(&config, metrics);

    let listener = TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.port))?;
    tracing::info!(address = %listener.local_addr()?, "dice-roller listening");
    // Serves with a span and RED metrics per request, adds /metrics, and on
    // SIGTERM drains the requests in flight before flushing their spans.
    telemetry::serve(listener, app(state), telemetry).await?;
    Ok(())
}
