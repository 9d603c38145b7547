use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The business metrics of rolling dice, next to the HTTP metrics that the
/// telemetry layer records for every request.
#[derive(Clone)]
pub struct DiceMetrics {
    rolls: IntCounterVec,
    roll_value: HistogramVec,
}

impl DiceMetrics {
    /// Creates the metrics and registers them in `registry` (the one
    /// `/metrics` serves). Call once at startup.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let rolls = IntCounterVec::new(
            Opts::new("dice_rolls_total", "Dice rolled, by die and outcome."),
            &["die_type", "result"],
        )?;
        let roll_value = HistogramVec::new(
            HistogramOpts::new("dice_roll_value", "Values rolled, by die.")
                // One bucket per face of the usual dice, so the histogram is
                // the distribution; bigger values land in +Inf.
                .buckets(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
            &["die_type"],
        )?;
        registry.register(Box::new(rolls.clone()))?;
        registry.register(Box::new(roll_value.clone()))?;
        Ok(Self { rolls, roll_value })
    }

    /// `die` is an identifier the die-service knows.
    pub fn record_success(&self, die: &str, value: i64) {
        self.rolls.with_label_values(&[die, "success"]).inc();
        self.roll_value
            .with_label_values(&[die])
            .observe(value as f64);
    }

    pub fn record_failure(&self, die: &str) {
        self.rolls.with_label_values(&[die, "error"]).inc();
    }
}
