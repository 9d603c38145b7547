use std::time::Duration;

use database::PoolSettings;

use crate::auth::PushToken;

/// The usage receiver's settings, read once at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen port. Env: `PORT`; default 8603.
    pub port: u16,
    /// Its database, apart from the dice. Env: `DATABASE_URL`; default
    /// `postgres://dice:dice@localhost:5632/usagedb`, stage 6's PostgreSQL as
    /// `make stage6 up` publishes it.
    pub database_url: String,
    /// Largest body accepted, as sent. Env: `MAX_PUSH_BYTES`; default 4 MiB
    /// (Alloy's batches are 1 MiB by default).
    pub max_push_bytes: usize,
    /// Largest body accepted once decompressed. Env:
    /// `MAX_DECOMPRESSED_PUSH_BYTES`; default 8 MiB (snappy can inflate a
    /// body twenty-fold; Alloy's batches hold 1 MiB of lines).
    pub max_decompressed_bytes: usize,
    /// Env: `DATABASE_MAX_CONNECTIONS` (5), `DATABASE_ACQUIRE_TIMEOUT_MS`
    /// (1000), `DATABASE_STATEMENT_TIMEOUT_MS` (5000: a batch is one insert).
    pub pool: PoolSettings,
    /// The token a push must carry as `Authorization: Bearer <token>`.
    /// Env: `USAGE_PUSH_TOKEN`, at least 16 visible characters; required,
    /// unless `allow_unauthenticated`. Alloy sends the same value
    /// (`stage6/.env` sets it for both).
    pub push_token: Option<PushToken>,
    /// Development only: accept pushes without a token (a WARN at start
    /// says so). Env: `USAGE_PUSH_ALLOW_UNAUTHENTICATED` (`true`/`false`);
    /// default false.
    pub allow_unauthenticated: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 8603,
            database_url: "postgres://dice:dice@localhost:5632/usagedb".to_owned(),
            max_push_bytes: 4 << 20,
            max_decompressed_bytes: 8 << 20,
            pool: PoolSettings {
                max_connections: 5,
                acquire_timeout: Duration::from_millis(1000),
                statement_timeout: Duration::from_millis(5000),
            },
            push_token: None,
            allow_unauthenticated: false,
        }
    }
}

/// Why the settings are unusable; startup stops and says which.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable that is set but unusable.
    #[error("{name}={value:?} is invalid: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// No token, and no explicit permission to go without.
    #[error(
        "USAGE_PUSH_TOKEN is not set: without it anyone who can reach this port could store usage \
         events. Set it to a token of at least 16 characters, the same one Alloy sends \
         (stage6/.env holds the workshop's); for a throwaway local run only, \
         USAGE_PUSH_ALLOW_UNAUTHENTICATED=true accepts every push"
    )]
    NoPushToken,
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
        let bytes = |v: &str| v.parse().ok().filter(|n| *n >= 1024);
        let push_token = match std::env::var("USAGE_PUSH_TOKEN") {
            Ok(token) if !token.trim().is_empty() => {
                Some(PushToken::new(token.trim()).ok_or(ConfigError::Invalid {
                    name: "USAGE_PUSH_TOKEN",
                    // Never echo the value: it is a secret.
                    value: "(not shown: it is a secret)".to_owned(),
                    expected: "at least 16 visible characters, no spaces",
                })?)
            }
            _ => None,
        };
        let allow_unauthenticated =
            read("USAGE_PUSH_ALLOW_UNAUTHENTICATED", "true or false", |v| {
                v.parse().ok()
            })?
            .unwrap_or(false);
        if push_token.is_none() && !allow_unauthenticated {
            return Err(ConfigError::NoPushToken);
        }
        Ok(Self {
            port: read("PORT", "a port number", |v| v.parse().ok())?.unwrap_or(defaults.port),
            database_url: read("DATABASE_URL", "a postgres:// URL", |v| {
                (v.starts_with("postgres://") || v.starts_with("postgresql://"))
                    .then(|| v.to_owned())
            })?
            .unwrap_or(defaults.database_url),
            max_push_bytes: read("MAX_PUSH_BYTES", "bytes, at least 1024", bytes)?
                .unwrap_or(defaults.max_push_bytes),
            max_decompressed_bytes: read(
                "MAX_DECOMPRESSED_PUSH_BYTES",
                "bytes, at least 1024",
                bytes,
            )?
            .unwrap_or(defaults.max_decompressed_bytes),
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
            push_token,
            allow_unauthenticated,
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
        Ok(value) => parse(value.trim()).map(Some).ok_or(ConfigError::Invalid {
            name,
            value,
            expected,
        }),
        Err(_) => Ok(None),
    }
}
