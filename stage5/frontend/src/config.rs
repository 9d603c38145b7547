use std::time::Duration;

/// The frontend's settings, read once at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen port. Env: `PORT`; default 8501.
    pub port: u16,
    /// Base URL of the dice-roller. Env: `DICE_ROLLER_URL`; default
    /// `http://localhost:8500`, stage 5's dice-roller on this machine.
    pub dice_roller_url: String,
    /// Base URL of the die-service, which lists the dice to offer.
    /// Env: `DIE_SERVICE_URL`; default `http://localhost:8502`.
    pub die_service_url: String,
    /// Base URL of Grafana, for the "see this trace" link under each roll.
    /// Env: `GRAFANA_URL`; default `http://localhost:3000`.
    pub grafana_url: String,
    /// How long a call to the dice-roller or the die-service may take (a roll
    /// itself takes up to `ROLL_MAX_DELAY_MS`). Env: `BACKEND_TIMEOUT_MS`;
    /// default 5000.
    pub backend_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 8501,
            dice_roller_url: "http://localhost:8500".to_owned(),
            die_service_url: "http://localhost:8502".to_owned(),
            grafana_url: "http://localhost:3000".to_owned(),
            backend_timeout: Duration::from_secs(5),
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
            dice_roller_url: read("DICE_ROLLER_URL", "an http:// URL", http_url)?
                .unwrap_or(defaults.dice_roller_url),
            die_service_url: read("DIE_SERVICE_URL", "an http:// URL", http_url)?
                .unwrap_or(defaults.die_service_url),
            grafana_url: read("GRAFANA_URL", "an http:// URL", http_url)?
                .unwrap_or(defaults.grafana_url),
            backend_timeout: read("BACKEND_TIMEOUT_MS", "milliseconds, a whole number", |v| {
                v.parse().ok().map(Duration::from_millis)
            })?
            .unwrap_or(defaults.backend_timeout),
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
