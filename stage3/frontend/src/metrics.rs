use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The frontend's business metrics: what people click, and what the
/// dice-roller answered.
#[derive(Clone)]
pub struct FrontendMetrics {
    clicks: IntCounterVec,
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl FrontendMetrics {
    /// Creates the metrics and registers them in `registry` (the one
    /// `/metrics` serves). Call once at startup.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let clicks = IntCounterVec::new(
            Opts::new(
                "frontend_button_clicks_total",
                "Roll button clicks, by die.",
            ),
            &["die_type"],
        )?;
        let requests = IntCounterVec::new(
            Opts::new(
                "frontend_requests_total",
                "Rolls requested from the dice-roller, by die and the status it answered \
                 (or unreachable, timeout).",
            ),
            &["die_type", "status_code"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "frontend_request_duration_seconds",
                "Time the dice-roller took to answer a roll, as the frontend saw it.",
            ),
            &["die_type"],
        )?;
        registry.register(Box::new(clicks.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            clicks,
            requests,
            duration,
        })
    }

    pub fn record_click(&self, die: &str) {
        self.clicks.with_label_values(&[die]).inc();
    }

    /// `status_code` is the backend's status code, or `unreachable`/`timeout`.
    pub fn record_backend_call(&self, die: &str, status_code: &str, elapsed: Duration) {
        self.requests.with_label_values(&[die, status_code]).inc();
        self.duration
            .with_label_values(&[die])
            .observe(elapsed.as_secs_f64());
    }
}
