use std::time::Duration;

/// The dice-roller's settings, read once at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen port. Env: `PORT`; default 8600.
    pub port: u16,
    /// Each roll waits a random time up to this long, so latency panels have
    /// something to show. Env: `ROLL_MAX_DELAY_MS`; default 1000.
    pub roll_max_delay: Duration,
    /// Base URL of the die-service. Env: `DIE_SERVICE_URL`; default
    /// `http://localhost:8602`, stage 6's die-service on this machine.
    pub die_service_url: String,
    /// How long a call to the die-service may take before the roll is given
    /// up with a 503. Env: `DIE_SERVICE_TIMEOUT_MS`; default 2000.
    pub die_service_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 8600,
            roll_max_delay: Duration::from_millis(1000),
            die_service_url: "http://localhost:8602".to_owned(),
            die_service_timeout: Duration::from_secs(2),
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
        let millis = |v: &str| v.parse().ok().map(Duration::from_millis);
        Ok(Self {
            port: read("PORT", "a port number", |v| v.parse().ok())?.unwrap_or(defaults.port),
            roll_max_delay: read("ROLL_MAX_DELAY_MS", "milliseconds, a whole number", millis)?
                .unwrap_or(defaults.roll_max_delay),
            die_service_url: read("DIE_SERVICE_URL", "an http:// URL", http_url)?
                .unwrap_or(defaults.die_service_url),
            die_service_timeout: read(
                "DIE_SERVICE_TIMEOUT_MS",
                "milliseconds, a whole number",
                millis,
            )?
            .unwrap_or(defaults.die_service_timeout),
        })
    }
}

fn http_url(value: &str) -> Option<String> {
    (value.starts_with("http://") || value.starts_with("https://"))
        .then(|| value.trim_end_matches('/').to_owned())
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
