use std::time::Duration;

use crate::TelemetryError;

/// Which lines and spans are kept when `RUST_LOG` is not set: ours at INFO,
/// and libraries that open INFO spans of their own for internal steps
/// (tower-sessions, one per session load and save) at WARN, so traces show
/// the service's work, not its libraries' plumbing.
pub const DEFAULT_LOG_FILTER: &str = "info,tower_sessions=warn,tower_sessions_core=warn";

/// Where a service's default OTLP/HTTP collector lives (the stack's
/// OpenTelemetry Collector, published on the host's port 4318).
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4318";

/// How a service's telemetry is set up. Read once at startup with
/// [`TelemetryConfig::from_env`]; tests build it directly.
///
/// Two settings are left to the OpenTelemetry SDK, which reads them itself
/// with the standard semantics: `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`
/// (default `parentbased_always_on`) and `OTEL_RESOURCE_ATTRIBUTES`.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` on every span and `service` on every log line.
    /// Env: `OTEL_SERVICE_NAME`; default: the name the service passes to `init`.
    pub service_name: String,
    /// Base URL of the OTLP/HTTP receiver; spans go to `<endpoint>/v1/traces`.
    /// `None` turns span export off (spans are still created, so log lines keep
    /// their trace ids). Env: `OTEL_EXPORTER_OTLP_ENDPOINT` (`none` turns export
    /// off); default `http://localhost:4318`.
    pub otlp_endpoint: Option<String>,
    /// The full URL spans are posted to, when it is not
    /// `<otlp_endpoint>/v1/traces`. Env: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
    /// (used as given, as the OpenTelemetry specification says); default none.
    pub otlp_traces_endpoint: Option<String>,
    /// How long one export request may take, retries included, before its
    /// batch is given up. Env: `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds);
    /// default 5 s.
    pub export_timeout: Duration,
    /// The batch span processor's knobs.
    pub batch: BatchSettings,
    /// Which log lines (and spans) are kept, in `tracing` directive syntax.
    /// Env: `RUST_LOG`; default [`DEFAULT_LOG_FILTER`] (`info`, quieter for a
    /// few chatty libraries).
    pub log_filter: String,
}

/// The batch span processor's knobs: spans wait in a bounded queue and leave
/// in batches, from a thread of their own, so request handling never waits on
/// the collector.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// Spans held at most while waiting for export; beyond this they are
    /// dropped and counted. Env: `OTEL_BSP_MAX_QUEUE_SIZE`; default 2048.
    pub max_queue_size: usize,
    /// Spans per export request. Env: `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`;
    /// default 512.
    pub max_export_batch_size: usize,
    /// How often a partial batch is sent. Env: `OTEL_BSP_SCHEDULE_DELAY`
    /// (milliseconds); default 1 s, short enough for a workshop and well inside
    /// Tempo's service-graph wait of 10 s.
    pub scheduled_delay: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(1),
        }
    }
}

impl TelemetryConfig {
    /// Settings for `service_name` with every default: export to the local
    /// collector, `info` logs.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            otlp_endpoint: Some(DEFAULT_OTLP_ENDPOINT.to_owned()),
            otlp_traces_endpoint: None,
            export_timeout: Duration::from_secs(5),
            batch: BatchSettings::default(),
            log_filter: DEFAULT_LOG_FILTER.to_owned(),
        }
    }

    /// Reads the standard variables listed on each field. A malformed number
    /// is an error rather than a silent default, so a typo in a compose file
    /// shows at startup.
    pub fn from_env(default_service_name: &str) -> Result<Self, TelemetryError> {
        Self::from_lookup(default_service_name, |name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(
        default_service_name: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TelemetryError> {
        let mut config = Self::new(default_service_name);
        let set = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        if let Some(name) = set("OTEL_SERVICE_NAME") {
            config.service_name = name;
        }
        if let Some(endpoint) = set("OTEL_EXPORTER_OTLP_ENDPOINT") {
            config.otlp_endpoint = (endpoint != "none").then_some(endpoint);
        }
        if let Some(url) = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            config.otlp_traces_endpoint = Some(url);
        }
        if let Some(filter) = set("RUST_LOG") {
            if !filter.is_ascii() {
                return Err(TelemetryError::LogFilterNotAscii(filter));
            }
            config.log_filter = filter;
        }
        let number = |name: &'static str| -> Result<Option<u64>, TelemetryError> {
            set(name)
                .map(|value| {
                    value
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| TelemetryError::InvalidVariable { name, value })
                })
                .transpose()
        };
        if let Some(ms) = number("OTEL_EXPORTER_OTLP_TIMEOUT")? {
            config.export_timeout = Duration::from_millis(ms);
        }
        if let Some(size) = number("OTEL_BSP_MAX_QUEUE_SIZE")? {
            config.batch.max_queue_size = size as usize;
        }
        if let Some(size) = number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            config.batch.max_export_batch_size = size as usize;
        }
        if let Some(ms) = number("OTEL_BSP_SCHEDULE_DELAY")? {
            config.batch.scheduled_delay = Duration::from_millis(ms);
        }
        Ok(config)
    }

    /// The full URL spans are posted to.
    pub(crate) fn traces_url(&self) -> Option<String> {
        if let Some(url) = &self.otlp_traces_endpoint {
            return Some(url.clone());
        }
        self.otlp_endpoint
            .as_deref()
            .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn defaults_point_at_the_local_collector() {
        let config = TelemetryConfig::from_lookup("dice-roller", lookup(&[])).unwrap();
        assert_eq!(config.service_name, "dice-roller");
        assert_eq!(
            config.traces_url().as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        assert_eq!(config.log_filter, DEFAULT_LOG_FILTER);
    }

    #[test]
    fn variables_override_defaults() {
        let vars = [
            ("OTEL_SERVICE_NAME", "frontend"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4318/"),
            ("RUST_LOG", "debug"),
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ];
        let config = TelemetryConfig::from_lookup("dice-roller", lookup(&vars)).unwrap();
        assert_eq!(config.service_name, "frontend");
        assert_eq!(
            config.traces_url().as_deref(),
            Some("http://otel-collector:4318/v1/traces")
        );
        assert_eq!(config.log_filter, "debug");
        assert_eq!(config.batch.scheduled_delay, Duration::from_millis(250));
    }

    #[test]
    fn none_turns_export_off() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "none")];
        let config = TelemetryConfig::from_lookup("x", lookup(&vars)).unwrap();
        assert_eq!(config.traces_url(), None);
    }

    #[test]
    fn the_traces_endpoint_is_used_as_given() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://tempo:4318/custom/path",
            ),
        ];
        let config = TelemetryConfig::from_lookup("x", lookup(&vars)).unwrap();
        assert_eq!(
            config.traces_url().as_deref(),
            Some("http://tempo:4318/custom/path")
        );
    }

    #[test]
    fn a_malformed_number_is_an_error_naming_the_variable() {
        let vars = [("OTEL_BSP_MAX_QUEUE_SIZE", "lots")];
        let error = TelemetryConfig::from_lookup("x", lookup(&vars)).unwrap_err();
        assert!(
            error.to_string().contains("OTEL_BSP_MAX_QUEUE_SIZE"),
            "{error}"
        );
    }
}
