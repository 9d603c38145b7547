//! Stage 6: the frontend, with people signed in and their usage recorded.
//!
//! New in stage 6: rolling needs a signed-in user. `/sign-in` checks a name
//! and password against demo accounts held as argon2 hashes (`accounts`);
//! repeated failures lock a name out for a while, in bounded memory
//! (`throttle`); a session cookie (HttpOnly, SameSite=Lax, Secure when
//! configured, expiring after inactivity) remembers who is signed in
//! (`auth`). What people do becomes usage events (`usage`): ordinary JSON log
//! lines with `"usage": true`, which Alloy routes to the usage receiver
//! besides sending them to Loki with every other line. Counted in
//! `sign_ins_total{result}`.
//!
//! From stage 5: when the die-service's database is down, the die-service
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

mod accounts;
mod auth;
mod backend;
mod config;
mod metrics;
mod pages;
mod routes;
mod sign_in;
mod throttle;
mod usage;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use hardening::SameOriginLayer;
use telemetry::HttpClient;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, MemoryStore, SessionManagerLayer};

pub use accounts::{Accounts, HashError};
pub use backend::{DiceRoller, DieList};
pub use config::{Config, ConfigError, DemoUsers};
pub use metrics::FrontendMetrics;
pub use routes::MAX_ROLLS;
pub use throttle::SignInThrottle;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub dice_roller: DiceRoller,
    pub die_list: DieList,
    pub metrics: FrontendMetrics,
    pub grafana_url: Arc<str>,
    pub accounts: Accounts,
    pub throttle: SignInThrottle,
    /// The session cookie's `Secure` flag, and the inactivity that ends a session.
    pub cookie_secure: bool,
    pub session_ttl: Duration,
}

impl AppState {
    /// `dice_roller` and `die_service` are the instrumented clients the two
    /// peers are called with; `accounts` the hashed demo accounts.
    pub fn new(
        config: &Config,
        dice_roller: HttpClient,
        die_service: HttpClient,
        metrics: FrontendMetrics,
        accounts: Accounts,
    ) -> Self {
        Self {
            dice_roller: DiceRoller::new(dice_roller, &config.dice_roller_url),
            die_list: DieList::new(die_service, &config.die_service_url),
            metrics,
            grafana_url: config.grafana_url.as_str().into(),
            accounts,
            throttle: SignInThrottle::default(),
            cookie_secure: config.session_cookie_secure,
            session_ttl: config.session_ttl,
        }
    }
}

/// The frontend's routes, behind the session layer. `telemetry::serve` wraps
/// them in the telemetry layer and adds `/metrics`.
pub fn app(state: AppState) -> Router {
    // Sessions live in this process's memory: one frontend, a workshop. The
    // cookie holds only the session id: HttpOnly (no script reads it),
    // SameSite=Lax (not sent on cross-site form posts), Secure when served
    // over HTTPS, and the session ends after `session_ttl` without activity.
    let ttl = tower_sessions::cookie::time::Duration::seconds(state.session_ttl.as_secs() as i64);
    let sessions = SessionManagerLayer::new(MemoryStore::default())
        .with_name("dice_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.cookie_secure)
        .with_expiry(Expiry::OnInactivity(ttl));
    Router::new()
        .route("/", get(routes::index))
        .route("/roll", post(routes::roll))
        .route("/sign-in", get(sign_in::page).post(sign_in::sign_in))
        .route("/sign-out", post(sign_in::sign_out))
        .with_state(state)
        .layer(DefaultBodyLimit::max(hardening::MAX_FORM_BYTES))
        .layer(sessions)
        // Stage 6: a cookie is a credential the browser attaches by itself,
        // even to a form another page posts here. SameSite=Lax does not stop
        // a page on another port of localhost (the same *site*), so every
        // form post must come from this frontend's own pages (same origin).
        .layer(SameOriginLayer)
        // From stage 2: no script, only the pages' own stylesheets, no framing.
        .layer(hardening::browser_headers(&[
            pages::PAGE_STYLE,
            pages::SIGN_IN_STYLE,
        ]))
}
