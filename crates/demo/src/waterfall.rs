//! A trace drawn as text, the way Grafana's trace view draws it: one row per
//! span, children under their parent, and a bar placed on a shared time axis,
//! so spans that run at the same time visibly overlap.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::trace::{SpanRecord, extent};

/// Characters of the time axis.
pub const BAR_WIDTH: usize = 40;

/// Draws the spans of one trace, e.g.
///
/// ```text
/// trace 4bf92f3577b34da6a3ce929d0e0e4736: 4 spans, 2 services, 412.3 ms
/// service      span                   offset    duration  0 ms ... 412.3 ms
/// traffic-gen  simulated_request      0.0 ms    412.3 ms  |████████████████████|
/// traffic-gen    GET                  0.2 ms    411.9 ms  |████████████████████|
/// dice-roller      GET /roll          1.1 ms    410.2 ms  | ███████████████████|
/// dice-roller        roll_die         1.3 ms    409.8 ms  | ███████████████████|
/// ```
pub fn render(spans: &[SpanRecord]) -> String {
    let Some(first) = spans.first() else {
        return "no spans to draw\n".to_owned();
    };
    let (start, end) = extent(spans);
    let total = end.saturating_sub(start).max(1);
    let rows = tree_order(spans);
    let services: HashSet<&str> = spans.iter().map(|span| span.service.as_str()).collect();

    let service_width = spans
        .iter()
        .map(|s| s.service.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let name_width = rows
        .iter()
        .map(|(depth, span)| depth * 2 + span.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace {}: {} spans, {} services, {}",
        first.trace_id,
        spans.len(),
        services.len(),
        millis(total)
    );
    let axis = format!("0 ms{:>width$}", millis(total), width = BAR_WIDTH - 4);
    let _ = writeln!(
        out,
        "{:<service_width$}  {:<name_width$}  {:>10}  {:>10}   {axis}",
        "service", "span", "offset", "duration"
    );
    for (depth, span) in rows {
        let indented = format!("{}{}", "  ".repeat(depth), span.name);
        let offset = span.start_unix_nanos.saturating_sub(start);
        let duration = span.end_unix_nanos.saturating_sub(span.start_unix_nanos);
        let mark = if span.error { " !" } else { "" };
        let _ = writeln!(
            out,
            "{:<service_width$}  {indented:<name_width$}  {:>10}  {:>10}  |{}|{mark}",
            span.service,
            millis(offset),
            millis(duration),
            bar(offset, duration, total)
        );
    }
    out
}

/// Depth-first, each span followed by its children in start order. A span
/// whose parent is not among `spans` (lost, or in a service that did not
/// export) starts a tree of its own.
fn tree_order(spans: &[SpanRecord]) -> Vec<(usize, &SpanRecord)> {
    let ids: HashSet<&str> = spans.iter().map(|span| span.span_id.as_str()).collect();
    let mut sorted: Vec<&SpanRecord> = spans.iter().collect();
    sorted.sort_by_key(|span| {
        (
            span.start_unix_nanos,
            std::cmp::Reverse(span.end_unix_nanos),
        )
    });
    let is_root = |span: &&&SpanRecord| {
        span.parent_span_id
            .as_deref()
            .is_none_or(|parent| !ids.contains(parent))
    };
    let mut rows = Vec::with_capacity(spans.len());
    // An explicit stack rather than recursion: a trace is data from outside.
    let mut stack: Vec<(usize, &SpanRecord)> = sorted
        .iter()
        .filter(is_root)
        .rev()
        .map(|span| (0, *span))
        .collect();
    let mut seen = HashSet::new();
    while let Some((depth, span)) = stack.pop() {
        if !seen.insert(span.span_id.as_str()) {
            continue;
        }
        rows.push((depth, span));
        let children = sorted
            .iter()
            .filter(|child| child.parent_span_id.as_deref() == Some(span.span_id.as_str()));
        stack.extend(children.rev().map(|child| (depth + 1, *child)));
    }
    rows
}

/// `offset` and `duration` as a bar on an axis of [`BAR_WIDTH`] characters;
/// at least one character, so the shortest span still shows.
fn bar(offset: u64, duration: u64, total: u64) -> String {
    let scale = |nanos: u64| (u128::from(nanos) * BAR_WIDTH as u128 / u128::from(total)) as usize;
    let from = scale(offset).min(BAR_WIDTH - 1);
    let to = scale(offset + duration).clamp(from + 1, BAR_WIDTH);
    format!(
        "{}{}{}",
        " ".repeat(from),
        "█".repeat(to - from),
        " ".repeat(BAR_WIDTH - to)
    )
}

fn millis(nanos: u64) -> String {
    format!("{:.1} ms", nanos as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Kind;
    use crate::trace::tests::span;

    #[test]
    fn children_sit_under_their_parent_and_overlaps_show() {
        let spans = vec![
            span(
                "dice-roller",
                "roll 2",
                Kind::Internal,
                ("t", "c2", Some("s")),
                10,
                40,
            ),
            span(
                "dice-roller",
                "GET /roll-async",
                Kind::Server,
                ("t", "s", Some("c")),
                5,
                45,
            ),
            span(
                "traffic-gen",
                "simulated_request",
                Kind::Internal,
                ("t", "r", None),
                0,
                50,
            ),
            span(
                "traffic-gen",
                "GET",
                Kind::Client,
                ("t", "c", Some("r")),
                1,
                49,
            ),
            span(
                "dice-roller",
                "roll 1",
                Kind::Internal,
                ("t", "c1", Some("s")),
                10,
                30,
            ),
        ];
        let text = render(&spans);
        let rows: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(rows.len(), 5, "{text}");
        assert!(rows[0].contains("simulated_request"), "{text}");
        assert!(rows[1].contains("  GET "), "{text}");
        assert!(rows[2].contains("    GET /roll-async"), "{text}");
        // Siblings in start order; at the same start, the longer first.
        assert!(rows[3].contains("      roll 2"), "{text}");
        assert!(rows[4].contains("      roll 1"), "{text}");
        // Both rolls start at 10 ms of 50: column 8 of 40, overlapping.
        let bar_of = |row: &str| row.split('|').nth(1).unwrap().to_owned();
        let blocks = |bar: &str| bar.chars().filter(|c| *c == '█').count();
        let (roll2, roll1) = (bar_of(rows[3]), bar_of(rows[4]));
        assert_eq!(roll1.chars().position(|c| c == '█'), Some(8));
        assert_eq!(roll2.chars().position(|c| c == '█'), Some(8));
        assert_eq!((blocks(&roll1), blocks(&roll2)), (16, 24), "{text}");
        assert!(
            text.starts_with("trace t: 5 spans, 2 services, 50.0 ms"),
            "{text}"
        );
    }

    #[test]
    fn a_span_whose_parent_is_missing_starts_its_own_tree() {
        let spans = vec![span(
            "dice-roller",
            "GET /roll",
            Kind::Server,
            ("t", "s", Some("gone")),
            0,
            5,
        )];
        let text = render(&spans);
        assert!(
            text.lines()
                .nth(2)
                .unwrap()
                .starts_with("dice-roller  GET /roll"),
            "{text}"
        );
    }
}
