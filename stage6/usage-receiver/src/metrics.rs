use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

use crate::auth::Refusal;
use crate::events::Rejection;

/// What the receiver did with the lines pushed to it.
#[derive(Clone)]
pub struct UsageMetrics {
    received: IntCounter,
    stored: IntCounter,
    duplicates: IntCounter,
    ignored: IntCounterVec,
    rejected: IntCounterVec,
    unauthorized: IntCounterVec,
}

impl UsageMetrics {
    /// Creates the metrics and registers them in `registry` (the one
    /// `/metrics` serves). Call once at startup.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let received = IntCounter::new(
            "usage_events_received_total",
            "Usage events received and valid (lines with \"usage\": true), retries included.",
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
                "Lines that are no usage events: not_usage (operational logs).",
            ),
            &["reason"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "usage_events_rejected_total",
                "Usage lines that can never be stored, set aside so the rest of their batch is: \
                 invalid (no event or time), nul_character, too_long (line), field_too_long, \
                 unstorable (refused by the database).",
            ),
            &["reason"],
        )?;
        let unauthorized = IntCounterVec::new(
            Opts::new(
                "usage_push_unauthorized_total",
                "Pushes refused with 401, nothing stored: missing (no Authorization header), \
                 wrong_scheme (not Bearer), wrong_token, token_in_query.",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(unauthorized.clone()))?;
        for reason in Refusal::ALL {
            unauthorized.with_label_values(&[reason.label()]);
        }
        registry.register(Box::new(received.clone()))?;
        registry.register(Box::new(stored.clone()))?;
        registry.register(Box::new(duplicates.clone()))?;
        registry.register(Box::new(ignored.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        ignored.with_label_values(&["not_usage"]);
        for reason in Rejection::ALL {
            rejected.with_label_values(&[reason.label()]);
        }
        Ok(Self {
            received,
            stored,
            duplicates,
            ignored,
            rejected,
            unauthorized,
        })
    }

    pub fn record_received(&self, events: usize, not_usage: usize) {
        self.received.inc_by(events as u64);
        self.ignored
            .with_label_values(&["not_usage"])
            .inc_by(not_usage as u64);
    }

    pub fn record_rejected(&self, reason: Rejection, count: u64) {
        self.rejected
            .with_label_values(&[reason.label()])
            .inc_by(count);
    }

    pub fn record_unauthorized(&self, reason: Refusal) {
        self.unauthorized.with_label_values(&[reason.label()]).inc();
    }

    pub fn record_stored(&self, stored: u64, duplicates: u64) {
        self.stored.inc_by(stored);
        self.duplicates.inc_by(duplicates);
    }
}
