use std::path::PathBuf;
use std::time::Duration;

/// The die-service's settings, read once at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen port. Env: `PORT`; default 8402.
    pub port: u16,
    /// The die specifications file. Env: `DIE_SPECS_PATH`; default the
    /// `dice.json` shipped beside this crate.
    pub specs_path: PathBuf,
    /// How often the file is checked for changes. Env: `DIE_SPECS_POLL_MS`;
    /// default 1000.
    pub poll_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 8402,
            specs_path: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/dice.json")),
            poll_interval: Duration::from_secs(1),
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
            specs_path: read("DIE_SPECS_PATH", "a file path", |v| {
                (!v.is_empty()).then(|| PathBuf::from(v))
            })?
            .unwrap_or(defaults.specs_path),
            poll_interval: read("DIE_SPECS_POLL_MS", "milliseconds, at least 10", |v| {
                v.parse()
                    .ok()
                    .filter(|ms| *ms >= 10)
                    .map(Duration::from_millis)
            })?
            .unwrap_or(defaults.poll_interval),
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
