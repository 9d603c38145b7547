use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::dice::Die;

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
                // One bucket per face, so the histogram is the distribution.
                .buckets(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
            &["die_type"],
        )?;
        registry.register(Box::new(rolls.clone()))?;
        registry.register(Box::new(roll_value.clone()))?;
        // Every outcome of every die exists from the start, at 0, so a panel
        // of errors by die shows 0 rather than "no data" before the first one.
        for die in Die::NAMES {
            for result in ["success", "error"] {
                rolls.with_label_values(&[die, result]);
            }
        }
        Ok(Self { rolls, roll_value })
    }

    pub fn record_success(&self, die: Die, value: u8) {
        self.rolls.with_label_values(&[die.name(), "success"]).inc();
        self.roll_value
            .with_label_values(&[die.name()])
            .observe(f64::from(value));
    }

    pub fn record_failure(&self, die: Die) {
        self.rolls.with_label_values(&[die.name(), "error"]).inc();
    }
}
