use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// The die-service's business metrics.
#[derive(Clone)]
pub struct DieMetrics {
    specs_requested: IntCounterVec,
    list_requests: IntCounter,
    loaded: IntGauge,
}

impl DieMetrics {
    /// Creates the metrics and registers them in `registry` (the one
    /// `/metrics` serves). Call once at startup.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let specs_requested = IntCounterVec::new(
            Opts::new(
                "die_specifications_requested_total",
                "Die specifications served, by identifier (known dice only).",
            ),
            &["identifier"],
        )?;
        let list_requests = IntCounter::new("die_list_requests_total", "Die lists served.")?;
        let loaded = IntGauge::new(
            "die_specifications_loaded",
            "Dice in the table, as of the last list served.",
        )?;
        registry.register(Box::new(specs_requested.clone()))?;
        registry.register(Box::new(list_requests.clone()))?;
        registry.register(Box::new(loaded.clone()))?;
        Ok(Self {
            specs_requested,
            list_requests,
            loaded,
        })
    }

    /// `identifier` must be a die that exists: user input never becomes a label.
    pub fn record_spec_served(&self, identifier: &str) {
        self.specs_requested.with_label_values(&[identifier]).inc();
    }

    pub fn record_list_served(&self) {
        self.list_requests.inc();
    }

    pub fn set_loaded(&self, dice: usize) {
        self.loaded.set(dice as i64);
    }
}
