//! What every question `verify` asks is limited to: one stage, and one
//! window of time ending now.
//!
//! Stages run side by side on one stack, so an unscoped question answers
//! for whichever stage happens to come first: a search for "a trace through
//! the dice-roller" finds stage 3's as readily as stage 1's. Each backend
//! names the stage its own way, and every query here says it:
//!
//! | backend | the stage | for stage 3 |
//! |---|---|---|
//! | Prometheus, scraped series | label `stage` | `stage="3"` |
//! | Prometheus, Tempo's generated series | label `deployment_environment_name` | `deployment_environment_name="stage3"` |
//! | Loki | stream label `stage` | `{stage="3"}` |
//! | Tempo | resource attribute `deployment.environment.name` | `resource.deployment.environment.name="stage3"` |
//!
//! The window is what "recent" means: a trace is judged only when it began
//! inside it, and a stage with nothing in it has had "no traffic".

use std::fmt::Display;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stages::Stage;

/// One stage, from `start` to `end` (Unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub stage: &'static Stage,
    pub start: u64,
    pub end: u64,
}

impl Scope {
    /// The `window` that ends at `end`.
    pub fn new(stage: &'static Stage, end: SystemTime, window: Duration) -> Self {
        let end = end.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        Self {
            stage,
            start: end.saturating_sub(window.as_secs()),
            end,
        }
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs(self.end - self.start)
    }

    /// "the last 15m".
    pub fn last(&self) -> String {
        format!("the last {}", humantime::format_duration(self.window()))
    }

    /// The stage's `stage` label value in Prometheus and Loki: `3`.
    pub fn label(&self) -> String {
        self.stage.number.to_string()
    }

    /// The stage's `deployment.environment.name`: `stage3`.
    pub fn environment(&self) -> String {
        self.stage.environment()
    }

    /// The window as a PromQL range: `[900s]`.
    pub fn promql_range(&self) -> String {
        format!("[{}s]", self.end - self.start)
    }

    /// Whether a moment (Unix nanoseconds) lies in the window.
    pub fn contains(&self, unix_nanos: u128) -> bool {
        let nanos = |seconds: u64| u128::from(seconds) * 1_000_000_000;
        nanos(self.start) <= unix_nanos && unix_nanos <= nanos(self.end)
    }

    /// The sentence every check says when the stage has sent nothing.
    pub fn no_traffic(&self) -> String {
        format!(
            "no traffic from stage {} in {}",
            self.stage.number,
            self.last()
        )
    }

    /// `what`, then where it was looked for: the stage, the window and the
    /// query, so a failure can be repeated by hand.
    pub fn said(&self, what: impl Display, language: &str, query: &str) -> String {
        format!(
            "{what} [stage {}, {}, {language}: {query}]",
            self.stage.number,
            self.last()
        )
    }

    /// A moment (Unix nanoseconds) as an RFC 3339 time, to the second.
    pub fn time(unix_nanos: u128) -> String {
        let seconds = u64::try_from(unix_nanos / 1_000_000_000).unwrap_or(u64::MAX);
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_at_end_and_says_so() {
        let stage = stages::stage(3).unwrap();
        let scope = Scope::new(
            stage,
            UNIX_EPOCH + Duration::from_secs(1_000),
            Duration::from_secs(900),
        );
        assert_eq!((scope.start, scope.end), (100, 1_000));
        assert_eq!(scope.last(), "the last 15m");
        assert_eq!(scope.promql_range(), "[900s]");
        assert!(scope.contains(100 * 1_000_000_000));
        assert!(scope.contains(1_000 * 1_000_000_000));
        assert!(!scope.contains(99 * 1_000_000_000 + 999_999_999));
        assert!(!scope.contains(1_000 * 1_000_000_000 + 1));
        assert_eq!(
            scope.no_traffic(),
            "no traffic from stage 3 in the last 15m"
        );
        assert_eq!(
            scope.said("nothing", "LogQL", "{stage=\"3\"}"),
            "nothing [stage 3, the last 15m, LogQL: {stage=\"3\"}]"
        );
        assert_eq!(
            Scope::time(1_796_394_397_977_477_003),
            "2026-12-04T14:26:37Z"
        );
    }
}
