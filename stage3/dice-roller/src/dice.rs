use std::time::Duration;

use tracing::field::Empty;
use tracing::{Instrument, error, info, info_span};

use crate::die_service::DieSpec;
use crate::error::ApiError;
use crate::metrics::DiceMetrics;

/// Rolls the die `identifier` as `spec` says, after a random delay of up to
/// `max_delay`, in a span of its own.
///
/// Stage 1: the request already has a SERVER span from the telemetry layer;
/// this INTERNAL child span times the roll itself and carries the business
/// attributes (`die.type`, `die.result`, `die.error`) that Tempo can search
/// for: `{ span.die.type = "risky" && status = error }`.
pub async fn roll(
    identifier: &str,
    spec: &DieSpec,
    max_delay: Duration,
    metrics: &DiceMetrics,
) -> Result<i64, ApiError> {
    let span = info_span!(
        "roll_die",
        "die.type" = identifier,
        "die.result" = Empty,
        "die.error" = Empty,
    );
    async move {
        // Draw everything before the first await: the thread-local generator
        // must not be held across it.
        let delay_ms = rand::random_range(0..=max_delay.as_millis() as u64);
        let fails = rand::random_bool(spec.error_rate.clamp(0.0, 1.0));
        let value = spec.faces[rand::random_range(0..spec.faces.len())];
        // Stage 1: no timer at all for a zero delay. tokio's timer ticks once a
        // millisecond and rounds a deadline up to the next tick, so even
        // `sleep(0 ms)` would park the roll until then: about a millisecond
        // of pure waiting on every request when the delay is switched off.
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }

        if fails {
            tracing::Span::current().record("die.error", "die failed");
            metrics.record_failure(identifier);
            // An ERROR event inside a span also marks that span as failed.
            error!(die_type = identifier, "roll failed");
            return Err(ApiError::RollFailed);
        }
        tracing::Span::current().record("die.result", value);
        metrics.record_success(identifier, value);
        info!(die_type = identifier, roll_value = value, "roll result");
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
        let spec = DieSpec {
            faces: vec![1, 2, 3],
            error_rate: 0.0,
        };
        let value = runtime
            .block_on(roll("fair", &spec, Duration::ZERO, &metrics))
            .unwrap();
        assert!((1..=3).contains(&value));
    }
}
