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
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;

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
