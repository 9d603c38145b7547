//! Stage 5: the frontend, telling people why no die can be rolled.
//!
//! New in stage 5: when the die-service's database is down, the die-service
//! says so in its 503, and the dice-roller passes that on; the page shows
//! those words (`routes::unavailable`) instead of a generic error.
//!
//! From stage 4: a "Number of rolls" field (1 to 10) and a "Use async
//! rolling" box. Ticked, the frontend sends one `/roll-async` request and the
//! dice-roller rolls the dice concurrently; unticked, it sends one `/roll`
//! per die, each waiting for the last (`routes::roll_one_at_a_time`). Roll the
//! same number both ways and compare the two traces: the async waterfall is as
//! long as its slowest die, the other as long as all of them together. Counted
//! in `async_roll_requests_total{batch_size}`.
//!
//! From stage 3: the die picker is filled from the die-service's `GET
//! /dice` on every page (`backend::DieList`), so a die added to its file shows
//! up without a restart, and that fetch is a CLIENT span of its own. If the
//! die-service is down, the page says so.
//!
//! From stage 2: a web page (server-rendered, no JavaScript needed) with a die
//! picker and a Roll button. Each click is a `POST /roll` that the frontend
//! answers by calling the dice-roller's `GET /roll`. Propagation:
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

pub use backend::{DiceRoller, DieList};
pub use config::{Config, ConfigError};
pub use metrics::FrontendMetrics;
pub use routes::MAX_ROLLS;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub dice_roller: DiceRoller,
    pub die_list: DieList,
    pub metrics: FrontendMetrics,
    pub grafana_url: Arc<str>,
}

impl AppState {
    /// `dice_roller` and `die_service` are the instrumented clients the two
    /// peers are called with.
    pub fn new(
        config: &Config,
        dice_roller: HttpClient,
        die_service: HttpClient,
        metrics: FrontendMetrics,
    ) -> Self {
        Self {
            dice_roller: DiceRoller::new(dice_roller, &config.dice_roller_url),
            die_list: DieList::new(die_service, &config.die_service_url),
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
