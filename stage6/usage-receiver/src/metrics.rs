use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// What the receiver did with the lines pushed to it.
#[derive(Clone)]
pub struct UsageMetrics {
    received: IntCounter,
    stored: IntCounter,
    duplicates: IntCounter,
    ignored: IntCounterVec,
}

impl UsageMetrics {
    /// Creates the metrics and registers them in `registry` (the one
    /// `/metrics` serves). Call once at startup.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let received = IntCounter::new(
            "usage_events_received_total",
            "Usage events received (lines with \"usage\": true), retries included.",
        )?;
        let stored = IntCounter::new(
            "usage_events_stored_total",
            "Usage events stored as new rows of usage_stats.",
        )?;
        let duplicates = IntCounter::new(
            "usage_events_duplicate_total",
            "Usage events received again (a retried batch) and not stored twice.",
        )?;
        let ignored = IntCounterVec::new(
            Opts::new(
                "usage_lines_ignored_total",
                "Lines not stored: not_usage (operational logs), invalid (usage without event or time).",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(received.clone()))?;
        registry.register(Box::new(stored.clone()))?;
        registry.register(Box::new(duplicates.clone()))?;
        registry.register(Box::new(ignored.clone()))?;
        for reason in ["not_usage", "invalid"] {
            ignored.with_label_values(&[reason]);
        }
        Ok(Self {
            received,
            stored,
            duplicates,
            ignored,
        })
    }

    pub fn record_received(&self, events: usize, not_usage: usize, invalid: usize) {
        self.received.inc_by(events as u64);
        self.ignored
            .with_label_values(&["not_usage"])
            .inc_by(not_usage as u64);
        self.ignored
            .with_label_values(&["invalid"])
            .inc_by(invalid as u64);
    }

    pub fn record_stored(&self, stored: u64, duplicates: u64) {
        self.stored.inc_by(stored);
        self.duplicates.inc_by(duplicates);
    }
}
