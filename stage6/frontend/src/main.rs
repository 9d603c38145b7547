//! Stage 6 frontend: start stage 6's die-service and dice-roller, then
//! `cargo run -p stage6-frontend`, open http://localhost:8601 and sign in
//! (`alice` / `wonderland`; `DEMO_USERS` sets the accounts).

use anyhow::Context;
use stage6_frontend::{Accounts, AppState, Config, FrontendMetrics, app};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let telemetry = telemetry::init("frontend")?;
    let metrics = FrontendMetrics::register(telemetry.registry())?;
    // Stage 2: every call to the dice-roller goes through this client, which
    // opens a CLIENT span per call and puts its context in the headers.
    let dice_roller = telemetry.http_client("dice-roller", config.backend_timeout)?;
    let die_service = telemetry.http_client("die-service", config.backend_timeout)?;
    // Hashing is CPU work (argon2): off the async workers. Only the hashes
    // are kept; the passwords go out of scope here.
    let users = config.demo_users.clone();
    let accounts = tokio::task::spawn_blocking(move || Accounts::hash(users)).await??;
    let state = AppState::new(&config, dice_roller, die_service, metrics, accounts);

    let listener = TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.port))?;
    tracing::info!(
        address = %listener.local_addr()?,
        dice_roller = %config.dice_roller_url,
        die_service = %config.die_service_url,
        "frontend listening"
    );
    telemetry::serve(listener, app(state), telemetry).await?;
    Ok(())
}
