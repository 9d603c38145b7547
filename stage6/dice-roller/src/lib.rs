//! Stage 6: the dice-roller, unchanged from stage 5 but for its ports.
//!
//! From stage 5: the die-service now depends on PostgreSQL, and when its
//! database is down it answers 503 saying so. The dice-roller passes that
//! reason on in its own 503 (`ApiError::DieServiceUnavailable`), so the
//! person at the page reads "the database is unavailable" rather than a
//! generic failure.
//!
//! From stage 4: `GET /roll-async?die=<identifier>&times=N` looks the die
//! up once, then rolls N dice concurrently, each in a task and a `roll_die`
//! span of its own (`async.roll_index`), so the N spans overlap in the trace's
//! waterfall where N sequential `/roll` calls would sit end to end. The
//! request's SERVER span carries `async.batch_size` and `async.total_result`
//! (or `async.failed_rolls`: a batch is all or nothing, see
//! `dice::roll_batch`). Metrics: `async_rolls_total{die_type,result}`,
//! `async_roll_batch_size`, `async_roll_duration_seconds`,
//! `async_rolls_in_progress`.
//!
//! From stage 3: `GET /roll?die=<identifier>` asks the die-service for that die's faces and
//! error rate on every roll, then rolls by them. So each roll is now a chain:
//! the frontend's spans, this service's SERVER span, a CLIENT span for the
//! lookup, and the die-service's SERVER span below it, in one trace.
//!
//! What is new here is the second hop (`die_service`): its caller-side metrics
//! (`die_service_requests_total{identifier,status}`,
//! `die_service_request_duration_seconds`), a timeout on the call, and a
//! clear 503 when the die-service is down instead of a generic failure.

mod config;
mod dice;
mod die_service;
mod error;
mod metrics;
mod routes;

use std::time::Duration;

use axum::Router;
use axum::routing::get;

pub use config::{Config, ConfigError};
pub use dice::MAX_BATCH_SIZE;
pub use die_service::{DieService, DieSpec};
pub use error::ApiError;
pub use metrics::DiceMetrics;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub roll_max_delay: Duration,
    pub die_service: DieService,
    pub metrics: DiceMetrics,
}

impl AppState {
    pub fn new(config: &Config, die_service: DieService, metrics: DiceMetrics) -> Self {
        Self {
            roll_max_delay: config.roll_max_delay,
            die_service,
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
        .route("/roll-async", get(routes::roll_async))
        .with_state(state)
}
