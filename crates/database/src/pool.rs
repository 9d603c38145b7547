use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::DatabaseError;
use crate::metrics::{PoolGauges, QueryMetrics};

/// How the pool behaves. Each field is a knob of the service's `Config`.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections held at most; more concurrent queries wait for one.
    pub max_connections: u32,
    /// How long a query waits for a connection (a free one, or a new one
    /// being opened) before it fails. sqlx's default is 30 s, which during an
    /// outage would hold every request for 30 s.
    pub acquire_timeout: Duration,
    /// How long the server lets one statement run before cancelling it, so a
    /// slow query cannot hold a connection (and a request) indefinitely.
    pub statement_timeout: Duration,
}

/// Where the database is, for the spans' `server.*` and `db.*` attributes.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) namespace: String,
    pub(crate) address: String,
    pub(crate) port: u16,
    pub(crate) user: String,
}

/// A service's database: a bounded sqlx pool plus the telemetry of its use.
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Database {
    pub(crate) pool: PgPool,
    pub(crate) target: Arc<Target>,
    pub(crate) metrics: QueryMetrics,
    pub(crate) max_connections: u32,
}

impl Database {
    /// A pool for `url` that opens connections on first use, so the service
    /// starts (and answers, with 503s) while the database is down, and
    /// reconnects by itself when it returns. Registers the query metrics and
    /// the pool gauges in `registry`.
    pub fn connect_lazy(
        url: &str,
        settings: PoolSettings,
        registry: &Registry,
    ) -> Result<Self, DatabaseError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(DatabaseError::Url)?
            .options([(
                "statement_timeout",
                format!("{}ms", settings.statement_timeout.as_millis()),
            )]);
        let target = Target {
            namespace: options.get_database().unwrap_or("postgres").to_owned(),
            address: options.get_host().to_owned(),
            port: options.get_port(),
            user: options.get_username().to_owned(),
        };
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        registry.register(Box::new(PoolGauges::new(
            pool.clone(),
            settings.max_connections,
        )?))?;
        Ok(Self {
            pool,
            target: Arc::new(target),
            metrics: QueryMetrics::register(registry)?,
            max_connections: settings.max_connections,
        })
    }

    /// The pool, for what is not a traced query (migrations).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether the database answers a trivial query right now, within the
    /// acquire timeout. For readiness endpoints.
    pub async fn is_reachable(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}
