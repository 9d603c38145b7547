use std::path::PathBuf;
use std::time::Duration;

use database::PoolSettings;

/// The die-service's settings, read once at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen port. Env: `PORT`; default 8602.
    pub port: u16,
    /// The database. Env: `DATABASE_URL`; default
    /// `postgres://dice:dice@localhost:5632/dicedb`, stage 6's PostgreSQL as
    /// `make stage6 up` publishes it.
    pub database_url: String,
    /// The file the table is seeded from. Env: `DIE_SPECS_PATH`; default the
    /// `dice.json` shipped beside this crate.
    pub specs_path: PathBuf,
    /// Env: `DATABASE_MAX_CONNECTIONS` (default 5),
    /// `DATABASE_ACQUIRE_TIMEOUT_MS` (default 1000),
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (default 1000). Together the two
    /// timeouts keep a request that needs the database under two seconds,
    /// however sick the database is.
    pub pool: PoolSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 8602,
            database_url: "postgres://dice:dice@localhost:5632/dicedb".to_owned(),
            specs_path: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/dice.json")),
            pool: PoolSettings {
                max_connections: 5,
                acquire_timeout: Duration::from_millis(1000),
                statement_timeout: Duration::from_millis(1000),
            },
        }
    }
}

/// A variable that is set but unusable; startup stops and says which.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is invalid: {expected}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    expected: &'static str,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let millis = |v: &str| {
            v.parse()
                .ok()
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
        };
        Ok(Self {
            port: read("PORT", "a port number", |v| v.parse().ok())?.unwrap_or(defaults.port),
            database_url: read("DATABASE_URL", "a postgres:// URL", |v| {
                (v.starts_with("postgres://") || v.starts_with("postgresql://"))
                    .then(|| v.to_owned())
            })?
            .unwrap_or(defaults.database_url),
            specs_path: read("DIE_SPECS_PATH", "a file path", |v| {
                (!v.is_empty()).then(|| PathBuf::from(v))
            })?
            .unwrap_or(defaults.specs_path),
            pool: PoolSettings {
                max_connections: read("DATABASE_MAX_CONNECTIONS", "a number from 1 to 100", |v| {
                    v.parse().ok().filter(|n| (1..=100).contains(n))
                })?
                .unwrap_or(defaults.pool.max_connections),
                acquire_timeout: read(
                    "DATABASE_ACQUIRE_TIMEOUT_MS",
                    "milliseconds, above 0",
                    millis,
                )?
                .unwrap_or(defaults.pool.acquire_timeout),
                statement_timeout: read(
                    "DATABASE_STATEMENT_TIMEOUT_MS",
                    "milliseconds, above 0",
                    millis,
                )?
                .unwrap_or(defaults.pool.statement_timeout),
            },
        })
    }
}

/// Reads `name`: `None` when unset, an error when set but not `parse`-able.
fn read<T>(
    name: &'static str,
    expected: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ConfigError> {
    match std::env::var(name) {
        Ok(value) => parse(value.trim()).map(Some).ok_or(ConfigError {
            name,
            value,
            expected,
        }),
        Err(_) => Ok(None),
    }
}
