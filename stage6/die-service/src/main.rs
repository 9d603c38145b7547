//! Stage 6 die-service: `make stage6 up` runs it with its PostgreSQL; natively,
//! point `DATABASE_URL` at a database and `cargo run -p stage6-die-service`.
//! It starts even while the database is down.

use anyhow::Context;
use stage6_die_service::{AppState, Config, DieMetrics, app};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let telemetry = telemetry::init("die-service")?;
    let metrics = DieMetrics::register(telemetry.registry())?;
    let state = AppState::start(&config, metrics, telemetry.registry())?;

    let listener = TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.port))?;
    tracing::info!(address = %listener.local_addr()?, "die-service listening");
    telemetry::serve(listener, app(state), telemetry).await?;
    Ok(())
}
