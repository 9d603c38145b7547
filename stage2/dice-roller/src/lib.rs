//! Stage 2: the dice-roller, now with a caller.
//!
//! This service is stage 1's, unchanged but for its port: the lesson of stage
//! 2 happens at its front door. The frontend calls `/roll` with a W3C
//! `traceparent` header, and the telemetry layer continues that trace instead
//! of starting a new one, so the roll's spans hang below the frontend's in one
//! trace. The frontend also sends `baggage` (`die.type=...`); the layer copies
//! each entry onto the SERVER span as a `baggage.<key>` attribute.
//!
//! As in stage 1, the dice-roller answers `GET /roll?die=fair|risky` with `{"roll": N}`
//! after a random delay; the risky die sometimes fails with a 500. Every
//! request leaves
//! * a trace: the telemetry layer's SERVER span `GET /roll` and our own
//!   `roll_die` span below it (see `dice::roll`), exported over OTLP;
//! * JSON log lines carrying that trace's `trace_id` and `span_id`, so Grafana
//!   can jump between a log line and its trace;
//! * metrics on `/metrics`: the HTTP RED metrics every service gets, and the
//!   business metrics `dice_rolls_total` and `dice_roll_value` (`metrics`).
//!
//! Run it with `cargo run -p stage2-dice-roller` and try
//! `curl 'localhost:8200/roll?die=risky'`.

mod config;
mod dice;
mod error;
mod metrics;
mod routes;

use axum::Router;
use axum::routing::get;

pub use config::{Config, ConfigError};
pub use dice::{Die, RollSettings};
pub use error::ApiError;
pub use metrics::DiceMetrics;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub roll_settings: RollSettings,
    pub metrics: DiceMetrics,
}

impl AppState {
    pub fn new(config: &Config, metrics: DiceMetrics) -> Self {
        Self {
            roll_settings: RollSettings {
                max_delay: config.roll_max_delay,
                risky_error_rate: config.risky_error_rate,
            },
            metrics,
        }
    }
}

/// The service's routes. `telemetry::serve` wraps them in the telemetry layer
/// and adds `/metrics`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(routes::index))
        .route("/roll", get(routes::roll))
        .with_state(state)
}
