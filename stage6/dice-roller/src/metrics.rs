use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

/// The business metrics of rolling dice, next to the HTTP metrics that the
/// telemetry layer records for every request.
#[derive(Clone)]
pub struct DiceMetrics {
    rolls: IntCounterVec,
    roll_value: HistogramVec,
    async_rolls: IntCounterVec,
    batch_size: Histogram,
    batch_duration: Histogram,
    in_progress: IntGauge,
}

impl DiceMetrics {
    /// Creates the metrics and registers them in `registry` (the one
    /// `/metrics` serves). Call once at startup.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let rolls = IntCounterVec::new(
            Opts::new(
                "dice_rolls_total",
                "Dice rolled by /roll, by die and outcome.",
            ),
            &["die_type", "result"],
        )?;
        let roll_value = HistogramVec::new(
            HistogramOpts::new("dice_roll_value", "Values rolled, by die.")
                // One bucket per face of the usual dice, so the histogram is
                // the distribution; bigger values land in +Inf.
                .buckets(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
            &["die_type"],
        )?;
        let async_rolls = IntCounterVec::new(
            Opts::new(
                "async_rolls_total",
                "Dice rolled by /roll-async, by die and outcome.",
            ),
            &["die_type", "result"],
        )?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("async_roll_batch_size", "Dice per /roll-async request.")
                .buckets(vec![1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0]),
        )?;
        let batch_duration = Histogram::with_opts(HistogramOpts::new(
            "async_roll_duration_seconds",
            "Time to roll a whole /roll-async batch.",
        ))?;
        let in_progress = IntGauge::new(
            "async_rolls_in_progress",
            "Dice of /roll-async batches being rolled right now.",
        )?;
        registry.register(Box::new(rolls.clone()))?;
        registry.register(Box::new(roll_value.clone()))?;
        registry.register(Box::new(async_rolls.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(batch_duration.clone()))?;
        registry.register(Box::new(in_progress.clone()))?;
        Ok(Self {
            rolls,
            roll_value,
            async_rolls,
            batch_size,
            batch_duration,
            in_progress,
        })
    }

    /// A `/roll` roll of `die` (a die the die-service knows): `Some(value)`
    /// or failed.
    pub fn record_roll(&self, die: &str, result: Option<i64>) {
        self.rolls.with_label_values(&[die, outcome(result)]).inc();
        if let Some(value) = result {
            self.record_value(die, value);
        }
    }

    /// One die of a `/roll-async` batch.
    pub fn record_async_roll(&self, die: &str, result: Option<i64>) {
        self.async_rolls
            .with_label_values(&[die, outcome(result)])
            .inc();
        if let Some(value) = result {
            self.record_value(die, value);
        }
    }

    /// A whole `/roll-async` batch.
    pub fn record_batch(&self, size: usize, elapsed: Duration) {
        self.batch_size.observe(size as f64);
        self.batch_duration.observe(elapsed.as_secs_f64());
    }

    /// Counts a die of a batch as in progress until the guard is dropped.
    pub fn async_roll_started(&self) -> InProgress {
        self.in_progress.inc();
        InProgress(self.in_progress.clone())
    }

    fn record_value(&self, die: &str, value: i64) {
        self.roll_value
            .with_label_values(&[die])
            .observe(value as f64);
    }
}

fn outcome(result: Option<i64>) -> &'static str {
    if result.is_some() { "success" } else { "error" }
}

/// Decrements `async_rolls_in_progress` when the roll ends, however it ends.
pub struct InProgress(IntGauge);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.dec();
    }
}
