//! Stage 6 usage receiver: `make stage6 up` runs it beside its PostgreSQL;
//! natively, point `DATABASE_URL` at a database and
//! `USAGE_PUSH_TOKEN=<16+ characters> cargo run -p stage6-usage-receiver`.
//! Try it with Loki's JSON form: `curl -H "Authorization: Bearer $USAGE_PUSH_TOKEN"
//! -H 'Content-Type: application/json' localhost:8603/loki/api/v1/push -d '{"streams":[...]}'`.

use anyhow::Context;
use stage6_usage_receiver::{AppState, Config, UsageMetrics, app};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let telemetry = telemetry::init("usage-receiver")?;
    let metrics = UsageMetrics::register(telemetry.registry())?;
    let state = AppState::start(&config, metrics, telemetry.registry())?;

    let listener = TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.port))?;
    tracing::info!(address = %listener.local_addr()?, "usage-receiver listening");
    telemetry::serve(listener, app(state), telemetry).await?;
    Ok(())
}
