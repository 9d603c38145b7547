//! Stage 6: the die-service, unchanged from stage 5 but for its ports.
//!
//! From stage 5: the die-service, backed by PostgreSQL.
//!
//! The die specifications now live in the table `die_specifications` of the
//! database `dicedb`, created by the migrations in `migrations/` and seeded
//! from `dice.json`. `GET /dice` and `GET /dice?identifier=X` keep their stage
//! 3 contract but read the table on every request, so a row added or changed
//! with plain SQL is served at once: the database is the live configuration.
//!
//! The lesson is a dependency that fails. With `database` (in `crates/`):
//! * every query is a CLIENT span (`SELECT die_specifications`) under the
//!   request's span, with the database semantic-convention attributes, and is
//!   counted and timed in `database_queries_total{query_type,result}` and
//!   `database_query_duration_seconds{query_type}`; the pool's size and idle
//!   connections are gauges read at every scrape;
//! * the service starts while PostgreSQL is down (`/` answers, `/ready` says
//!   not ready), retries its migrations and seeding with backoff, logging each
//!   failure at ERROR, and serves as soon as the database is back;
//! * a request that needs the database answers within two seconds whatever
//!   happens: a 503 with a JSON error when the database is down or every
//!   connection is busy (logged as a WARNING: pool exhausted).

mod config;
mod error;
mod metrics;
mod routes;
mod specs;
mod store;

use axum::Router;
use axum::routing::get;
use database::{Database, Prepared, QueryError};
use prometheus::Registry;

pub use config::{Config, ConfigError};
pub use metrics::DieMetrics;
pub use specs::{DieSpec, Specs, SpecsError};

/// The schema, embedded at build time from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    /// Whether migrations and seeding have succeeded.
    pub prepared: Prepared,
    pub metrics: DieMetrics,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the seed file is unusable")]
    Specs(#[from] SpecsError),
    #[error("the database cannot be set up")]
    Database(#[from] database::DatabaseError),
}

/// Why preparing the database failed this time (it will be retried).
#[derive(Debug, thiserror::Error)]
enum PrepareError {
    #[error("migrations failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("seeding failed")]
    Seed(#[from] QueryError),
}

impl AppState {
    /// Reads the seed file (failing if it is unusable), opens a lazy pool to
    /// the database, and starts migrating and seeding it in the background,
    /// retrying until the database is there. Call from within the tokio
    /// runtime.
    pub fn start(
        config: &Config,
        metrics: DieMetrics,
        registry: &Registry,
    ) -> Result<Self, StartError> {
        let specs = Specs::load(&config.specs_path)?;
        let db = Database::connect_lazy(&config.database_url, config.pool, registry)?;
        let prepared = database::prepare_in_background(db.clone(), move |db| {
            let specs = specs.clone();
            async move {
                MIGRATOR.run(db.pool()).await?;
                store::seed(&db, &specs).await?;
                Ok::<(), PrepareError>(())
            }
        });
        Ok(Self {
            db,
            prepared,
            metrics,
        })
    }
}

/// The service's routes. `telemetry::serve` wraps them in the telemetry layer
/// and adds `/metrics`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(routes::index))
        .route("/dice", get(routes::dice))
        .route("/ready", get(routes::ready))
        .with_state(state)
}
