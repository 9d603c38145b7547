use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The frontend's business metrics: what people click, and what the
/// dice-roller answered.
#[derive(Clone)]
pub struct FrontendMetrics {
    clicks: IntCounterVec,
    requests: IntCounterVec,
    duration: HistogramVec,
    async_requests: IntCounterVec,
    sign_ins: IntCounterVec,
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
        let async_requests = IntCounterVec::new(
            Opts::new(
                "async_roll_requests_total",
                "Batches sent to the dice-roller's /roll-async, by size.",
            ),
            &["batch_size"],
        )?;
        registry.register(Box::new(async_requests.clone()))?;
        let sign_ins = IntCounterVec::new(
            Opts::new(
                "sign_ins_total",
                "Sign-in attempts by result: success, failure (wrong name or password), throttled, busy (too many being checked at once).",
            ),
            &["result"],
        )?;
        registry.register(Box::new(sign_ins.clone()))?;
        for result in ["success", "failure", "throttled", "busy"] {
            sign_ins.with_label_values(&[result]);
        }
        registry.register(Box::new(clicks.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            clicks,
            requests,
            duration,
            async_requests,
            sign_ins,
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

impl FrontendMetrics {
    /// `result` is `success`, `failure`, `throttled` or `busy`.
    pub fn record_sign_in(&self, result: &'static str) {
        self.sign_ins.with_label_values(&[result]).inc();
    }

    /// `batch_size` is 1 to `MAX_ROLLS`, so the label is a closed set.
    pub fn record_async_request(&self, batch_size: u32) {
        self.async_requests
            .with_label_values(&[batch_size.to_string().as_str()])
            .inc();
    }
}
