use std::time::Duration;

/// The dice-roller's settings, read once at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen port. Env: `PORT`; default 8200.
    pub port: u16,
    /// Each roll waits a random time up to this long, so latency panels have
    /// something to show. Env: `ROLL_MAX_DELAY_MS`; default 1000.
    pub roll_max_delay: Duration,
    /// Probability that a roll of the risky die fails with a 500.
    /// Env: `RISKY_ERROR_RATE`; default 0.1.
    pub risky_error_rate: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 8200,
            roll_max_delay: Duration::from_millis(1000),
            risky_error_rate: 0.1,
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
        Ok(Self {
            port: read("PORT", "a port number", |v| v.parse().ok())?.unwrap_or(defaults.port),
            roll_max_delay: read("ROLL_MAX_DELAY_MS", "milliseconds, a whole number", |v| {
                v.parse().ok().map(Duration::from_millis)
            })?
            .unwrap_or(defaults.roll_max_delay),
            risky_error_rate: read("RISKY_ERROR_RATE", "a probability from 0 to 1", |v| {
                v.parse().ok().filter(|rate| (0.0..=1.0).contains(rate))
            })?
            .unwrap_or(defaults.risky_error_rate),
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
