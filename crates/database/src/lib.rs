//! PostgreSQL, observed: what a service needs to use a database without going
//! blind or hanging when it misbehaves.
//!
//! sqlx emits no OpenTelemetry spans of its own (docs/pitfalls.md#query-spans), and its pool
//! waits 30 s for a connection by default (docs/pitfalls.md#pool-timeouts). This crate wraps a
//! sqlx pool so that
//! * every query is a CLIENT span named `<OPERATION> <table>` with the
//!   database semantic-convention attributes, counted and timed in
//!   `database_queries_total{query_type,result}` and
//!   `database_query_duration_seconds{query_type}`;
//! * a request never waits long for the database: acquiring a connection and
//!   running a statement are both bounded, and a database that is down or
//!   saturated shows up as a [`QueryError`] the service turns into a 503;
//! * the pool's own counters are on `/metrics` as
//!   `database_connection_pool_size` and `database_connection_pool_available`,
//!   read when scraped (never constants: docs/pitfalls.md#query-spans);
//! * a service starts even when the database is down: [`Database::connect_lazy`]
//!   connects on first use, and [`prepare_in_background`] keeps retrying the
//!   service's own setup (migrations, seeding) with backoff until it works.
//!
//! # Layout
//! * `pool`: [`PoolSettings`], [`Database`] and its readiness.
//! * `query`: [`Statement`], [`Database::run`], [`QueryError`].
//! * `metrics`: the query metrics and the pool gauges.
//! * `startup`: [`prepare_in_background`].

mod metrics;
mod pool;
mod query;
mod startup;

pub use pool::{Database, PoolSettings};
pub use query::{QueryError, Statement};
pub use startup::{Prepared, prepare_in_background};

/// Why the database could not be set up at all (a malformed `DATABASE_URL`,
/// a metric name already taken). Startup errors only: once a service runs,
/// database trouble is a [`QueryError`].
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL")]
    Url(#[source] sqlx::Error),
    #[error("cannot register the database metrics")]
    Metrics(#[from] prometheus::Error),
}
