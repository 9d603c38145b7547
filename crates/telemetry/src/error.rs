/// Why telemetry could not be set up. Every variant is a startup problem: once
/// a service runs, telemetry failures are counted and logged, never returned.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// An environment variable holds something that is not a number.
    #[error("{name} must be a whole number, got {value:?}")]
    InvalidVariable { name: &'static str, value: String },
    /// `RUST_LOG` holds a character outside ASCII: filter syntax is ASCII,
    /// and tracing-subscriber 0.3 panics on some such filters (`" 𑾰="`,
    /// found by a property test) instead of refusing them.
    #[error("RUST_LOG must be ASCII, got {0:?}")]
    LogFilterNotAscii(String),
    /// `RUST_LOG` is not valid `tracing` filter syntax.
    #[error("RUST_LOG is not a valid filter")]
    LogFilter(#[from] tracing_subscriber::filter::ParseError),
    /// The OTLP exporter rejected its configuration (e.g. a malformed endpoint).
    #[error("cannot build the OTLP span exporter")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A metric could not be registered, usually because its name is taken.
    #[error("cannot register a metric")]
    Metrics(#[from] prometheus::Error),
    /// A global subscriber was already installed in this process.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[from] tracing::dispatcher::SetGlobalDefaultError),
    /// The instrumented HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    HttpClient(#[from] reqwest::Error),
}
