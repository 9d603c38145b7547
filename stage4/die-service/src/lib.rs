//! Stage 4: the die-service, unchanged from stage 3 but for its port.
//!
//! From stage 3: the die-service, a third hop.
//!
//! Die specifications (faces and error rate) come from a JSON file, e.g.
//! `{"fair": {"faces": [1,2,3,4,5,6], "error_rate": 0.0}}`, served as
//! `GET /dice` (identifiers) and `GET /dice?identifier=X` (one spec, or 404).
//! The dice-roller asks for the spec on every roll, and the frontend fills its
//! die picker from the list, so a trace now crosses three services:
//! frontend -> dice-roller -> die-service.
//!
//! The file is live configuration: edit it and the service picks the change
//! up within a second, no restart (`specs::watch`). A broken edit is refused
//! with an ERROR log saying what is wrong and where, and the last good
//! specifications stay in service. Metrics:
//! `die_specifications_requested_total{identifier}`, `die_list_requests_total`,
//! `die_specifications_loaded`, `die_specs_reloads_total{result}`. Spans: the
//! SERVER span carries `die.identifier` and `die.found`.

mod config;
mod error;
mod metrics;
mod routes;
mod specs;

use axum::Router;
use axum::routing::get;

pub use config::{Config, ConfigError};
pub use metrics::DieMetrics;
pub use specs::{DieSpec, SpecStore, Specs, SpecsError};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub specs: SpecStore,
    pub metrics: DieMetrics,
}

impl AppState {
    /// Loads the specifications (failing if the file is unusable: there is
    /// nothing to serve without it) and starts watching the file for changes.
    /// Call from within the tokio runtime.
    pub fn start(config: &Config, metrics: DieMetrics) -> Result<Self, SpecsError> {
        let (specs, loaded) = Specs::load(&config.specs_path)?;
        metrics.set_loaded(specs.len());
        let store = SpecStore::new(specs);
        tokio::spawn(specs::watch(
            config.specs_path.clone(),
            config.poll_interval,
            store.clone(),
            metrics.clone(),
            loaded,
        ));
        Ok(Self {
            specs: store,
            metrics,
        })
    }
}

/// The service's routes. `telemetry::serve` wraps them in the telemetry layer
/// and adds `/metrics`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(routes::index))
        .route("/dice", get(routes::dice))
        .with_state(state)
}
