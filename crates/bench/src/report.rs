//! Runs summarised as medians, and the markdown `BENCHMARKS.md` carries.

use std::fmt::Write as _;
use std::time::Duration;

use crate::{Machine, Mode, WrkResult};

/// Marks where `make bench` writes in `BENCHMARKS.md`; the text around it is
/// left alone.
pub const BEGIN_MARKER: &str =
    "<!-- bench:begin: written by `make bench`, edits up to bench:end are overwritten -->";
pub const END_MARKER: &str = "<!-- bench:end -->";

/// What became of the spans a server ended, from its `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanCounts {
    pub exported: u64,
    pub dropped_queue_full: u64,
    pub dropped_export_failed: u64,
    /// Still waiting when `/metrics` was read.
    pub queued: u64,
}

impl SpanCounts {
    fn ended(&self) -> u64 {
        self.exported + self.dropped_queue_full + self.dropped_export_failed + self.queued
    }
}

/// One run of one mode.
#[derive(Debug, Clone)]
pub struct Sample {
    pub mode: Mode,
    pub round: usize,
    pub wrk: WrkResult,
    pub peak_rss_kib: Option<u64>,
    /// `/roll` requests the server answered, warm-up included (its own count
    /// where it has metrics, wrk's otherwise).
    pub served: u64,
    pub spans: Option<SpanCounts>,
    /// Size and lines of the JSON log the server wrote.
    pub log_bytes: Option<u64>,
    pub log_lines: Option<u64>,
    /// From SIGTERM to the process's exit.
    pub exit: Duration,
}

/// The median of `values`; `None` when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

/// One mode's medians over its rounds.
#[derive(Debug, Clone)]
pub struct ModeSummary {
    pub mode: Mode,
    pub rounds: usize,
    pub requests_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub peak_rss_kib: Option<f64>,
    /// wrk's errors (sockets, non-2xx, timeouts), summed over every round.
    pub errors: u64,
    /// Shares of the spans ended that were exported, and dropped (either
    /// reason), per the server's own counters.
    pub exported_share: Option<f64>,
    pub dropped_share: Option<f64>,
    /// The reason most spans were dropped for, if any were.
    pub main_drop_reason: Option<&'static str>,
    pub log_bytes_per_request: Option<f64>,
    pub log_lines_per_request: Option<f64>,
    pub exit: Duration,
    /// From callgrind, if it ran.
    pub instructions_per_request: Option<f64>,
}

impl ModeSummary {
    pub fn of(mode: Mode, samples: &[Sample], instructions_per_request: Option<f64>) -> Self {
        let runs: Vec<&Sample> = samples.iter().filter(|s| s.mode == mode).collect();
        let med = |f: &dyn Fn(&Sample) -> Option<f64>| median(runs.iter().filter_map(|s| f(s)));
        let spans: Vec<SpanCounts> = runs.iter().filter_map(|s| s.spans).collect();
        let queue_full: u64 = spans.iter().map(|c| c.dropped_queue_full).sum();
        let export_failed: u64 = spans.iter().map(|c| c.dropped_export_failed).sum();
        Self {
            mode,
            rounds: runs.len(),
            requests_per_second: med(&|s| Some(s.wrk.requests_per_second())).unwrap_or(0.0),
            p50_us: med(&|s| Some(s.wrk.p50_us as f64)).unwrap_or(0.0),
            p99_us: med(&|s| Some(s.wrk.p99_us as f64)).unwrap_or(0.0),
            max_us: med(&|s| Some(s.wrk.max_us as f64)).unwrap_or(0.0),
            peak_rss_kib: med(&|s| s.peak_rss_kib.map(|k| k as f64)),
            errors: runs.iter().map(|s| s.wrk.errors()).sum(),
            exported_share: med(&|s| {
                let c = s.spans?;
                (c.ended() > 0).then(|| c.exported as f64 / c.ended() as f64)
            }),
            dropped_share: med(&|s| {
                let c = s.spans?;
                (c.ended() > 0).then(|| {
                    (c.dropped_queue_full + c.dropped_export_failed) as f64 / c.ended() as f64
                })
            }),
            main_drop_reason: match (queue_full, export_failed) {
                (0, 0) => None,
                (q, e) if q >= e => Some("queue_full"),
                _ => Some("export_failed"),
            },
            log_bytes_per_request: med(&|s| Some(s.log_bytes? as f64 / s.served.max(1) as f64)),
            log_lines_per_request: med(&|s| Some(s.log_lines? as f64 / s.served.max(1) as f64)),
            exit: Duration::from_secs_f64(med(&|s| Some(s.exit.as_secs_f64())).unwrap_or_default()),
            instructions_per_request,
        }
    }
}

/// Everything one `make bench` run writes.
#[derive(Debug, Clone)]
pub struct Report {
    pub machine: Machine,
    /// RFC 3339, UTC.
    pub date: String,
    /// The command as run, with the settings that differ from the defaults.
    pub command: String,
    /// wrk and pinning settings, one sentence.
    pub settings: String,
    pub summaries: Vec<ModeSummary>,
    pub samples: Vec<Sample>,
    /// Request counts of the two callgrind runs per mode.
    pub callgrind_requests: Option<(u64, u64)>,
}

impl Report {
    fn summary(&self, mode: Mode) -> Option<&ModeSummary> {
        self.summaries.iter().find(|s| s.mode == mode)
    }

    /// The section between the markers, markers included.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{BEGIN_MARKER}");
        let _ = writeln!(out, "Measured {} on {}.\n", self.date, self.machine);
        let _ = writeln!(out, "Command: `{}`. {}\n", self.command, self.settings);
        out.push_str(
            "| mode | req/s | × bare | p50 | p99 | max | peak RSS | spans exported | spans dropped | log B/req | instr/req | × bare | exit after SIGTERM |\n",
        );
        out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        let bare = self.summary(Mode::Bare);
        for s in &self.summaries {
            let ratio = |value: f64, base: Option<f64>| match base {
                Some(base) if base > 0.0 => format!("{:.2}×", value / base),
                _ => "-".to_owned(),
            };
            let instructions = s
                .instructions_per_request
                .map_or("-".to_owned(), |i| format!("{i:.0}"));
            let instructions_ratio = match s.instructions_per_request {
                Some(i) => ratio(i, bare.and_then(|b| b.instructions_per_request)),
                None => "-".to_owned(),
            };
            let percent =
                |share: Option<f64>| share.map_or("-".to_owned(), |v| format!("{:.1}%", v * 100.0));
            let dropped = match (s.dropped_share, s.main_drop_reason) {
                (Some(share), Some(reason)) => format!("{} ({reason})", percent(Some(share))),
                (share, _) => percent(share),
            };
            let _ = writeln!(
                out,
                "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} s |",
                s.mode.name(),
                s.requests_per_second,
                ratio(s.requests_per_second, bare.map(|b| b.requests_per_second)),
                micros(s.p50_us),
                micros(s.p99_us),
                micros(s.max_us),
                s.peak_rss_kib
                    .map_or("-".to_owned(), |k| format!("{:.1} MB", k / 1024.0)),
                percent(s.exported_share),
                dropped,
                s.log_bytes_per_request
                    .map_or("-".to_owned(), |b| format!("{b:.0}")),
                instructions,
                instructions_ratio,
                s.exit.as_secs_f64(),
            );
        }
        out.push('\n');
        self.write_targets(&mut out);
        self.write_rounds(&mut out);
        let _ = writeln!(out, "{END_MARKER}");
        out
    }

    fn write_targets(&self, out: &mut String) {
        let (Some(bare), Some(full)) = (self.summary(Mode::Bare), self.summary(Mode::Full)) else {
            return;
        };
        out.push_str("Targets (medians; ✅ met, ❌ not met):\n\n");
        let mut target = |met: bool, text: String| {
            let _ = writeln!(out, "- {} {text}", if met { "✅" } else { "❌" });
        };
        let throughput = full.requests_per_second / bare.requests_per_second;
        target(
            throughput >= 0.5,
            format!("`full` at least 0.5× `bare`'s requests/s: {throughput:.2}×"),
        );
        if let (Some(f), Some(b)) = (full.instructions_per_request, bare.instructions_per_request) {
            target(
                f / b <= 2.0,
                format!(
                    "`full` at most 2× `bare`'s user-space instructions per request: {:.2}× ({f:.0} vs {b:.0})",
                    f / b
                ),
            );
        }
        if let (Some(f), Some(r)) = (
            full.instructions_per_request,
            self.summary(Mode::Recipe)
                .and_then(|recipe| recipe.instructions_per_request),
        ) {
            target(
                r / f >= 4.0,
                format!(
                    "`full` at least 4× cheaper than `recipe` in instructions per request: {:.2}× ({r:.0} vs {f:.0})",
                    r / f
                ),
            );
        }
        target(
            full.p99_us < 2000.0,
            format!(
                "`full` p99 under 2 ms at 32 connections: {}",
                micros(full.p99_us)
            ),
        );
        let peak = self
            .summaries
            .iter()
            .filter_map(|s| s.peak_rss_kib.map(|k| (s.mode, k)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((mode, kib)) = peak {
            target(
                kib < 20.0 * 1024.0,
                format!(
                    "peak RSS under 20 MB in every mode: at most {:.1} MB ({})",
                    kib / 1024.0,
                    mode.name()
                ),
            );
        }
        for mode in [Mode::DeadCollector, Mode::SlowCollector] {
            if let Some(s) = self.summary(mode) {
                let ratio = s.requests_per_second / full.requests_per_second;
                target(
                    ratio >= 0.95,
                    format!(
                        "`{}` no slower than `full` (requests/s, within the 5% two identical runs differ by): {ratio:.2}×",
                        mode.name()
                    ),
                );
            }
        }
        if let Some(dead) = self.summary(Mode::DeadCollector) {
            target(
                dead.exit < Duration::from_secs(5),
                format!(
                    "with a dead collector the server exits within a few seconds of SIGTERM: {:.2} s",
                    dead.exit.as_secs_f64()
                ),
            );
        }
        out.push('\n');
    }

    fn write_rounds(&self, out: &mut String) {
        let rounds = self.samples.iter().map(|s| s.round).max().unwrap_or(0);
        out.push_str("Requests/s per round (modes interleaved; the medians above come from these):\n\n| mode |");
        for round in 1..=rounds {
            let _ = write!(out, " round {round} |");
        }
        out.push_str("\n|---|");
        out.push_str(&"--:|".repeat(rounds));
        out.push('\n');
        for s in &self.summaries {
            let _ = write!(out, "| {} |", s.mode.name());
            for round in 1..=rounds {
                match self
                    .samples
                    .iter()
                    .find(|x| x.mode == s.mode && x.round == round)
                {
                    Some(x) => {
                        let _ = write!(out, " {:.0} |", x.wrk.requests_per_second());
                    }
                    None => out.push_str(" - |"),
                }
            }
            out.push('\n');
        }
        out.push('\n');
        let errors: u64 = self.summaries.iter().map(|s| s.errors).sum();
        let _ = writeln!(
            out,
            "wrk errors (socket errors, non-2xx answers, timeouts) over every run: {errors}."
        );
        if let Some((short, long)) = self.callgrind_requests {
            let _ = writeln!(
                out,
                "Instructions per request: callgrind totals of a {long}-request run minus a {short}-request run, divided by {}.",
                long - short
            );
        }
    }
}

fn micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// `text` with everything from `BEGIN_MARKER` to `END_MARKER` (inclusive)
/// replaced by `section`, or `section` appended when the markers are absent.
pub fn replace_between_markers(text: &str, section: &str) -> String {
    replace_section(text, "bench", section)
}

/// `text` with everything from `<!-- {name}:begin` to `<!-- {name}:end -->`
/// (inclusive) replaced by `section`, which carries its own markers; or
/// `section` appended when the markers are absent.
pub fn replace_section(text: &str, name: &str, section: &str) -> String {
    let end_marker = format!("<!-- {name}:end -->");
    let begin = text.find(&format!("<!-- {name}:begin"));
    let end = text.find(&end_marker).map(|i| i + end_marker.len());
    match (begin, end) {
        (Some(begin), Some(end)) if begin < end => {
            let rest = text[end..].strip_prefix('\n').unwrap_or(&text[end..]);
            format!("{}{section}{rest}", &text[..begin])
        }
        _ => format!("{text}\n{section}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median([]), None);
    }

    #[test]
    fn the_section_between_the_markers_is_replaced_and_the_rest_kept() {
        let text = format!("# head\n{BEGIN_MARKER}\nold\n{END_MARKER}\ntail\n");
        let new = format!("{BEGIN_MARKER}\nnew\n{END_MARKER}\n");
        assert_eq!(
            replace_between_markers(&text, &new),
            format!("# head\n{BEGIN_MARKER}\nnew\n{END_MARKER}\ntail\n")
        );
    }
}
