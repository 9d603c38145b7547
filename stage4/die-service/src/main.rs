//! Stage 4 die-service: `cargo run -p stage4-die-service`, then
//! `curl 'localhost:8402/dice?identifier=risky'`; edit `dice.json` and ask again.

use anyhow::Context;
use stage4_die_service::{AppState, Config, DieMetrics, app};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let telemetry = telemetry::init("die-service")?;
    let metrics = DieMetrics::register(telemetry.registry())?;
    let state = AppState::start(&config, metrics)?;
    tracing::info!(
        dice = state.specs.current().len(),
        path = %config.specs_path.display(),
        "die specifications loaded"
    );

    let listener = TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.port))?;
    tracing::info!(address = %listener.local_addr()?, "die-service listening");
    telemetry::serve(listener, app(state), telemetry).await?;
    Ok(())
}
