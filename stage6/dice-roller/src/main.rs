//! Stage 6 dice-roller: start stage 6's die-service, then
//! `cargo run -p stage6-dice-roller` and `curl 'localhost:8600/roll?die=fair'`.

use anyhow::Context;
use stage6_dice_roller::{AppState, Config, DiceMetrics, DieService, app};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let telemetry = telemetry::init("dice-roller")?;
    let metrics = DiceMetrics::register(telemetry.registry())?;
    let client = telemetry.http_client("die-service", config.die_service_timeout)?;
    let die_service = DieService::new(client, &config.die_service_url, telemetry.registry())?;
    let state = AppState::new(&config, die_service, metrics);

    let listener = TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.port))?;
    tracing::info!(
        address = %listener.local_addr()?,
        die_service = %config.die_service_url,
        "dice-roller listening"
    );
    telemetry::serve(listener, app(state), telemetry).await?;
    Ok(())
}
