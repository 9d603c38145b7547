use std::time::Duration;

use tracing::field::Empty;
use tracing::{Instrument, error, info, info_span};

use crate::error::ApiError;
use crate::metrics::DiceMetrics;

/// The dice this service knows. Their names are the only values the
/// `die_type` label and the `die.type` attribute ever take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Die {
    /// 1 to 6, never fails.
    Fair,
    /// 2 to 7 (a fair roll plus one), and fails now and then.
    Risky,
}

impl Die {
    pub const NAMES: [&'static str; 2] = ["fair", "risky"];

    /// The die called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "fair" => Some(Self::Fair),
            "risky" => Some(Self::Risky),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Fair => "fair",
            Self::Risky => "risky",
        }
    }
}

/// How rolls behave; from `Config`.
#[derive(Debug, Clone, Copy)]
pub struct RollSettings {
    pub max_delay: Duration,
    pub risky_error_rate: f64,
}

/// Rolls `die` after a random delay, in a span of its own.
///
/// Stage 1: the request already has a SERVER span from the telemetry layer;
/// this INTERNAL child span times the roll itself and carries the business
/// attributes (`die.type`, `die.result`, `die.error`) that Tempo can search
/// for: `{ span.die.type = "risky" && status = error }`.
pub async fn roll(die: Die, settings: RollSettings, metrics: &DiceMetrics) -> Result<u8, ApiError> {
    let span = info_span!(
        "roll_die",
        "die.type" = die.name(),
        "die.result" = Empty,
        "die.error" = Empty,
    );
    async move {
        // Draw everything before the first await: the thread-local generator
        // must not be held across it.
        let delay_ms = rand::random_range(0..=settings.max_delay.as_millis() as u64);
        let fails = die == Die::Risky && rand::random_bool(settings.risky_error_rate);
        let face: u8 = rand::random_range(1..=6);
        // Stage 1: no timer at all for a zero delay. tokio's timer ticks once a
        // millisecond and rounds a deadline up to the next tick, so even
        // `sleep(0 ms)` would park the roll until then: about a millisecond
        // of pure waiting on every request when the delay is switched off.
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }

        if fails {
            tracing::Span::current().record("die.error", "risky die failed");
            metrics.record_failure(die);
            // An ERROR event inside a span also marks that span as failed.
            error!(die_type = die.name(), "roll failed");
            return Err(ApiError::RollFailed);
        }
        let value = match die {
            Die::Fair => face,
            Die::Risky => face + 1,
        };
        tracing::Span::current().record("die.result", i64::from(value));
        metrics.record_success(die, value);
        info!(die_type = die.name(), roll_value = value, "roll result");
        Ok(value)
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime without timers panics on any `sleep`, so this fails if a
    /// zero delay still goes through the timer.
    #[test]
    fn a_zero_delay_sets_no_timer() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let metrics = DiceMetrics::register(&prometheus::Registry::new()).unwrap();
        let settings = RollSettings {
            max_delay: Duration::ZERO,
            risky_error_rate: 0.0,
        };
        let value = runtime
            .block_on(roll(Die::Fair, settings, &metrics))
            .unwrap();
        assert!((1..=6).contains(&value));
    }
}
