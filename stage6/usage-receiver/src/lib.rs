//! Stage 6: the usage receiver, where usage events end up in a table.
//!
//! It speaks the Loki push API (`POST /loki/api/v1/push`), so Grafana Alloy
//! can send it log lines with the same `loki.write` component it uses for
//! Loki. Alloy's second pipeline sends it only the lines with
//! `"usage": true`; it checks again, and stores each usage event once as a
//! row of `usage_stats`, for analysts to query with SQL.
//!
//! Only Alloy may push: a push carries `Authorization: Bearer <token>` with
//! the token both were given (`auth`), or gets a 401 and stores nothing.
//!
//! Delivery is at least once: Alloy retries a batch until it gets a 2xx, so
//! * the answer is 204 only after the batch is committed, and 503 while the
//!   database is down (Alloy keeps the batch and retries: nothing is lost);
//! * a retried batch stores nothing twice: each event's key is the SHA-256
//!   of its line, unique in the table;
//! * a body that can never be stored gets a 400 (413 if too large), which
//!   Alloy drops instead of retrying forever;
//! * a line that can never be stored (a NUL character, a field too long for
//!   its index) is set aside and counted, and the rest of its batch stored:
//!   a 5xx for it would make Alloy retry the whole batch for ever;
//! * concurrent batches insert their rows in one order (by key), so two
//!   batches holding the same events cannot deadlock each other.
//!
//! Metrics: `usage_events_received_total`, `usage_events_stored_total`,
//! `usage_events_duplicate_total`, `usage_lines_ignored_total{reason}`,
//! `usage_events_rejected_total{reason}`, `usage_push_unauthorized_total{reason}`.

mod auth;
mod config;
mod error;
mod events;
mod metrics;
mod push;
mod routes;
mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use database::{Database, Prepared};
use prometheus::Registry;
use tokio::sync::Semaphore;

pub use auth::PushToken;
pub use config::{Config, ConfigError};
pub use metrics::UsageMetrics;
pub use push::{EntryAdapter, PushRequest, StreamAdapter};

/// The schema, embedded at build time from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// How long a push waits for its turn before it is answered 503 (with
/// `Retry-After`: the sender keeps the batch and retries).
pub const PUSH_WAIT: Duration = Duration::from_secs(5);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub prepared: Prepared,
    pub metrics: UsageMetrics,
    pub max_push_bytes: usize,
    pub max_decompressed_bytes: usize,
    /// The token every push must carry; `None` only with the development
    /// flag, and then every push is accepted.
    pub push_token: Option<PushToken>,
    /// Permits to decode and store a push: one less than the pool's
    /// connections (4 by default), so pushes never wait for a connection
    /// and one stays free for `/ready`.
    pub pushes: Arc<Semaphore>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the database cannot be set up")]
    Database(#[from] database::DatabaseError),
    #[error(transparent)]
    NoPushToken(#[from] ConfigError),
}

impl AppState {
    /// Opens a lazy pool to the database and migrates it in the background,
    /// retrying until the database is there. Call from within the runtime.
    /// Refuses to start without a push token, unless the development flag
    /// allows it (and then says so at WARN).
    pub fn start(
        config: &Config,
        metrics: UsageMetrics,
        registry: &Registry,
    ) -> Result<Self, StartError> {
        match (&config.push_token, config.allow_unauthenticated) {
            (Some(_), _) => {}
            (None, true) => tracing::warn!(
                "USAGE_PUSH_ALLOW_UNAUTHENTICATED is set: every push is accepted without a \
                 token, from anyone who can reach this port; set USAGE_PUSH_TOKEN instead"
            ),
            (None, false) => return Err(ConfigError::NoPushToken.into()),
        }
        let db = Database::connect_lazy(&config.database_url, config.pool, registry)?;
        let prepared = database::prepare_in_background(db.clone(), |db| async move {
            MIGRATOR.run(db.pool()).await
        });
        Ok(Self {
            db,
            prepared,
            metrics,
            max_push_bytes: config.max_push_bytes,
            max_decompressed_bytes: config.max_decompressed_bytes,
            push_token: config.push_token.clone(),
            pushes: Arc::new(Semaphore::new(
                config.pool.max_connections.saturating_sub(1).max(1) as usize,
            )),
        })
    }
}

/// The service's routes. `telemetry::serve` wraps them in the telemetry layer
/// and adds `/metrics`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(routes::index))
        .route("/ready", get(routes::ready))
        // The push handler reads the body itself, against its own limit.
        .route("/loki/api/v1/push", post(routes::push))
        .with_state(state)
}
