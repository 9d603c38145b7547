//! The stage 1 dice-roller as `make bench` measures it:
//! `bench-server --mode bare|full|dead-collector|slow-collector|sampled`.
//!
//! Every mode serves the very router and handlers of
//! `stage1_dice_roller::app`, so the modes differ only in telemetry:
//!
//! * `bare`: `axum::serve` on the plain router. No subscriber is installed,
//!   so the handlers' `info!` and `info_span!` reduce to a check of a cached
//!   "nobody listens" answer; no layer, no `/metrics`, no exporter. The
//!   business metrics stay, since the handlers record them; they are a few
//!   atomic adds.
//! * `recipe` is not served here but by `bench-recipe`
//!   (crates/bench/recipe, a workspace of its own so that the ready-made
//!   crates' TLS features stay out of the workshop's services).
//! * `full`, `dead-collector`, `slow-collector`, `sampled`: exactly what the
//!   service's own `main` does: `telemetry::init` (JSON logs on stdout, spans
//!   exported to `OTEL_EXPORTER_OTLP_ENDPOINT`) and `telemetry::serve`. They
//!   differ only in the collector and the sampler the harness sets in the
//!   environment, so the server treats them alike.
//!
//! Settings come from the environment, as for the service: `PORT`,
//! `ROLL_MAX_DELAY_MS` (the harness sets 0), and the `OTEL_*` variables.
//! SIGTERM stops every mode cleanly, which callgrind needs to write its
//! counts.

use anyhow::Context;
use bench::Mode;
use clap::Parser;
use stage1_dice_roller::{AppState, Config, DiceMetrics, app};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(about = "The stage 1 dice-roller with or without its telemetry, for `make bench`")]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config::from_env()?;
    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.port))?;

    if args.mode == Mode::Bare {
        // The registry exists only because the handlers record business
        // metrics into it; nothing serves it.
        let metrics = DiceMetrics::register(&prometheus::Registry::new())?;
        let router = app(AppState::new(&config, metrics));
        axum::serve(listener, router)
            .with_graceful_shutdown(telemetry::shutdown_signal())
            .await?;
        return Ok(());
    }

    // From here on, line for line what stage1/dice-roller/src/main.rs does.
    let telemetry = telemetry::init("dice-roller")?;
    let metrics = DiceMetrics::register(telemetry.registry())?;
    let state = AppState::new(&config, metrics);
    tracing::info!(address = %listener.local_addr()?, mode = args.mode.name(), "bench-server listening");
    telemetry::serve(listener, app(state), telemetry).await?;
    Ok(())
}
