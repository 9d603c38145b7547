use std::time::Duration;

/// The frontend's settings, read once at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen port. Env: `PORT`; default 8601.
    pub port: u16,
    /// Base URL of the dice-roller. Env: `DICE_ROLLER_URL`; default
    /// `http://localhost:8600`, stage 6's dice-roller on this machine.
    pub dice_roller_url: String,
    /// Base URL of the die-service, which lists the dice to offer.
    /// Env: `DIE_SERVICE_URL`; default `http://localhost:8602`.
    pub die_service_url: String,
    /// Base URL of Grafana, for the "see this trace" link under each roll.
    /// Env: `GRAFANA_URL`; default `http://localhost:3000`.
    pub grafana_url: String,
    /// How long a call to the dice-roller or the die-service may take (a roll
    /// itself takes up to `ROLL_MAX_DELAY_MS`). Env: `BACKEND_TIMEOUT_MS`;
    /// default 5000.
    pub backend_timeout: Duration,
    /// The accounts people sign in with. Env: `DEMO_USERS`, as
    /// `name:password,name:password`; default `alice:wonderland,
    /// bob:builder,carol:dice-are-nice` (a workshop, not a bank).
    pub demo_users: DemoUsers,
    /// Whether the session cookie is marked `Secure` (sent over HTTPS only).
    /// Env: `SESSION_COOKIE_SECURE` (`true`/`false`); default `false`, since
    /// the workshop serves plain HTTP on localhost. Set it behind TLS.
    pub session_cookie_secure: bool,
    /// A session ends after this long without activity. Env:
    /// `SESSION_TTL_MINUTES`; default 60.
    pub session_ttl: Duration,
}

/// Demo accounts: names with their passwords, read once and hashed at
/// startup. `Debug` shows the names only, so a logged config leaks nothing.
#[derive(Clone)]
pub struct DemoUsers(pub Vec<(String, String)>);

impl std::fmt::Debug for DemoUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl DemoUsers {
    /// Parses `name:password,...`; names are 1 to 64 characters without `:`
    /// or `,`, passwords are not empty.
    pub fn parse(text: &str) -> Option<Self> {
        let users: Option<Vec<_>> = text
            .split(',')
            .map(|pair| {
                let (name, password) = pair.trim().split_once(':')?;
                let valid = !name.is_empty() && name.chars().count() <= 64 && !password.is_empty();
                valid.then(|| (name.to_owned(), password.to_owned()))
            })
            .collect();
        users.filter(|users| !users.is_empty()).map(Self)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 8601,
            dice_roller_url: "http://localhost:8600".to_owned(),
            die_service_url: "http://localhost:8602".to_owned(),
            grafana_url: "http://localhost:3000".to_owned(),
            backend_timeout: Duration::from_secs(5),
            demo_users: DemoUsers::parse("alice:wonderland,bob:builder,carol:dice-are-nice")
                .unwrap_or(DemoUsers(Vec::new())),
            session_cookie_secure: false,
            session_ttl: Duration::from_secs(60 * 60),
        }
    }
}

/// A variable that is set but unusable; startup stops and says which.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value} is invalid: {expected}")]
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
            demo_users: match std::env::var("DEMO_USERS") {
                // Never echo the value: it holds passwords.
                Ok(value) => DemoUsers::parse(&value).ok_or(ConfigError {
                    name: "DEMO_USERS",
                    value: "(not shown: it holds passwords)".to_owned(),
                    expected: "name:password pairs separated by commas",
                })?,
                Err(_) => defaults.demo_users,
            },
            session_cookie_secure: read("SESSION_COOKIE_SECURE", "true or false", |v| {
                v.parse().ok()
            })?
            .unwrap_or(defaults.session_cookie_secure),
            session_ttl: read("SESSION_TTL_MINUTES", "minutes, at least 1", |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|m| *m >= 1)
                    .map(|m| Duration::from_secs(m * 60))
            })?
            .unwrap_or(defaults.session_ttl),
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
            value: format!("{value:?}"),
            expected,
        }),
        Err(_) => Ok(None),
    }
}
