//! Stage 2: a frontend, and one trace across two services.
//!
//! A web page (server-rendered, no JavaScript needed) with a die picker and a
//! Roll button. Each click is a `POST /roll` that the frontend answers by
//! calling the dice-roller's `GET /roll`. The lesson is propagation:
//!
//! * the frontend's SERVER span `POST /roll` gets a CLIENT span below it for
//!   the call (`telemetry::HttpClient`), and that client span's context goes
//!   out in the W3C `traceparent` header;
//! * the dice-roller continues that trace, so its `GET /roll` SERVER span is
//!   the CLIENT span's child: one trace, two services, and in Tempo's service
//!   graph an edge `frontend -> dice-roller`;
//! * `baggage` (`die.type`) rides along in its own header (see `backend`).
//!
//! The page shows the trace id of each roll, linked to Grafana. Metrics:
//! `frontend_button_clicks_total{die_type}`,
//! `frontend_requests_total{die_type,status_code}`,
//! `frontend_request_duration_seconds{die_type}`, next to the HTTP RED and
//! outgoing-call metrics every service gets.

mod backend;
mod config;
mod metrics;
mod pages;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use telemetry::HttpClient;

pub use backend::DiceRoller;
pub use config::{Config, ConfigError};
pub use metrics::FrontendMetrics;
pub use routes::DICE;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub dice_roller: DiceRoller,
    pub metrics: FrontendMetrics,
    pub grafana_url: Arc<str>,
}

impl AppState {
    /// `client` is the instrumented client the dice-roller is called with.
    pub fn new(config: &Config, client: HttpClient, metrics: FrontendMetrics) -> Self {
        Self {
            dice_roller: DiceRoller::new(client, &config.dice_roller_url),
            metrics,
            grafana_url: config.grafana_url.as_str().into(),
        }
    }
}

/// The frontend's routes. `telemetry::serve` wraps them in the telemetry layer
/// and adds `/metrics`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(routes::index))
        .route("/roll", post(routes::roll))
        .with_state(state)
        // The form is a few hundred bytes; nothing larger is read.
        .layer(DefaultBodyLimit::max(hardening::MAX_FORM_BYTES))
        // What the browser may do with the page: no script, only its own
        // stylesheet, no framing (Content-Security-Policy, nosniff,
        // Referrer-Policy).
        .layer(hardening::browser_headers(&[pages::PAGE_STYLE]))
}
