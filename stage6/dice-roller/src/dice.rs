use std::sync::Arc;
use std::time::{Duration, Instant};

use telemetry::OpenTelemetrySpanExt;
use tokio::task::JoinSet;
use tracing::field::Empty;
use tracing::{Instrument, Span, error, info, info_span};

use crate::die_service::DieSpec;
use crate::error::ApiError;
use crate::metrics::DiceMetrics;

/// The most dice one `/roll-async` request may roll.
pub const MAX_BATCH_SIZE: usize = 20;

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
    let result = roll_once(identifier, spec, max_delay)
        .instrument(span)
        .await;
    metrics.record_roll(identifier, result);
    result.ok_or(ApiError::RollFailed)
}

/// What `/roll-async` answers: every value, in roll order, and their sum.
#[derive(Debug)]
pub struct Batch {
    pub rolls: Vec<i64>,
    pub total: i64,
}

/// Rolls `identifier` `times` times at once, each roll a task and a span of
/// its own, so the spans overlap in the trace's waterfall. A batch is all or
/// nothing: every roll runs to its end, and if any failed the batch fails
/// (500) saying how many, so a total is never quietly short of a die.
pub async fn roll_batch(
    identifier: &str,
    spec: DieSpec,
    times: usize,
    max_delay: Duration,
    metrics: &DiceMetrics,
) -> Result<Batch, ApiError> {
    let start = Instant::now();
    let request_span = Span::current();
    request_span.set_attribute("async.batch_size", times as i64);
    let spec = Arc::new(spec);
    let mut rolls = JoinSet::new();
    for index in 0..times {
        // Stage 4: a spawned task starts with no current span. Creating each
        // roll's span here, while the request's span is current, makes it
        // that span's child; `.instrument` carries it into the task. Without
        // it the roll's span would be an orphan in a trace of its own.
        let span = info_span!(
            "roll_die",
            "die.type" = identifier,
            "async.roll_index" = index as i64,
            "die.result" = Empty,
            "die.error" = Empty,
        );
        let (identifier, spec, metrics) = (identifier.to_owned(), spec.clone(), metrics.clone());
        rolls.spawn(
            async move {
                let _in_progress = metrics.async_roll_started();
                let result = roll_once(&identifier, &spec, max_delay).await;
                metrics.record_async_roll(&identifier, result);
                (index, result)
            }
            .instrument(span),
        );
    }
    let mut results = rolls.join_all().await;
    results.sort_by_key(|(index, _)| *index);
    metrics.record_batch(times, start.elapsed());

    let rolls: Vec<i64> = results.iter().filter_map(|(_, result)| *result).collect();
    let failed = times - rolls.len();
    if failed > 0 {
        request_span.set_attribute("async.failed_rolls", failed as i64);
        error!(die_type = identifier, failed, count = times, "batch failed");
        return Err(ApiError::BatchFailed {
            failed,
            count: times,
        });
    }
    let total = rolls.iter().sum();
    request_span.set_attribute("async.total_result", total);
    info!(die_type = identifier, count = times, total, "batch result");
    Ok(Batch { rolls, total })
}

/// One roll, inside the current span: waits, then fails (`None`) at the
/// die's error rate or returns one of its faces.
async fn roll_once(identifier: &str, spec: &DieSpec, max_delay: Duration) -> Option<i64> {
    // Draw everything before the first await: the thread-local generator
    // must not be held across it.
    let delay_ms = rand::random_range(0..=max_delay.as_millis() as u64);
    let fails = rand::random_bool(spec.error_rate.clamp(0.0, 1.0));
    let value = spec.faces[rand::random_range(0..spec.faces.len())];
    // Stage 4: an async wait, never `std::thread::sleep`: a blocking call
    // would hold the worker thread and the batch would run one die at a time.
    // No timer at all for a zero delay: tokio rounds a deadline up to its next
    // millisecond tick, so even `sleep(0 ms)` would park the roll until then.
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }

    if fails {
        Span::current().record("die.error", "die failed");
        // An ERROR event inside a span also marks that span as failed.
        error!(die_type = identifier, "roll failed");
        return None;
    }
    Span::current().record("die.result", value);
    info!(die_type = identifier, roll_value = value, "roll result");
    Some(value)
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
