//! The checklist of a native run, item by item, from what the run measured.
//! Each function is pure: facts in, a [`Check`] out.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use stages::{Stage, StageCheck, TRAFFIC_GEN};
use traffic_gen::Summary;

use crate::checklist::Check;
use crate::correlation::{LogLine, TrafficWindow, correlate};
use crate::exposition::{describe, has_series};
use crate::trace::{Kind, SpanRecord, edge_count, edges};

pub const STARTED: &str = "services started and answer";
pub const METRICS: &str = "/metrics exposes the stage's series";
pub const LOGS: &str = "in-request log lines carry the ids of a received span";
pub const SPANS: &str = "spans received from every service";
pub const TRACES: &str = "traces cross services (W3C trace context, service-graph edges)";
pub const TRAFFIC: &str = "traffic generator ran";

/// How a service's start went.
#[derive(Debug, Clone)]
pub struct ServiceStart {
    pub name: &'static str,
    pub port: u16,
    pub pid: Option<u32>,
    /// How long until it answered, or why it never did.
    pub answered: Result<Duration, String>,
    pub stderr_tail: Vec<String>,
}

pub fn services_answer(starts: &[ServiceStart]) -> Check {
    let mut facts = Vec::new();
    let mut problems = Vec::new();
    for start in starts {
        let pid = start
            .pid
            .map(|pid| format!(", pid {pid}"))
            .unwrap_or_default();
        match &start.answered {
            Ok(after) => facts.push(format!(
                "{} on :{}{pid} answered after {:.1} s",
                start.name,
                start.port,
                after.as_secs_f64()
            )),
            Err(why) => {
                problems.push(format!("{} on :{}{pid} {why}", start.name, start.port));
                problems.extend(
                    start
                        .stderr_tail
                        .iter()
                        .map(|line| format!("  stderr: {line}")),
                );
            }
        }
    }
    Check::from_problems(STARTED, facts, problems)
}

/// `scrapes`: each service's `/metrics` body, or why it could not be read.
pub fn metrics_exposed(stage: &Stage, scrapes: &[(&str, Result<String, String>)]) -> Check {
    let mut facts = Vec::new();
    let mut problems = Vec::new();
    for service in stage.services {
        let Some((_, scrape)) = scrapes.iter().find(|(name, _)| *name == service.name) else {
            problems.push(format!("{}: /metrics was not read", service.name));
            continue;
        };
        let text = match scrape {
            Ok(text) => text,
            Err(why) => {
                problems.push(format!(
                    "{}: /metrics could not be read: {why}",
                    service.name
                ));
                continue;
            }
        };
        let missing: Vec<String> = service
            .series
            .iter()
            .filter(|series| !has_series(text, series))
            .map(describe)
            .collect();
        if missing.is_empty() {
            let names: Vec<String> = service.series.iter().map(describe).collect();
            facts.push(format!(
                "{}: all {} series: {}",
                service.name,
                names.len(),
                names.join(", ")
            ));
        } else {
            problems.push(format!(
                "{}: /metrics lacks {}",
                service.name,
                missing.join(", ")
            ));
        }
    }
    Check::from_problems(METRICS, facts, problems)
}

pub fn logs_correlated(
    stage: &Stage,
    logs: &[(&str, Vec<LogLine>)],
    spans: &[SpanRecord],
    window: TrafficWindow,
) -> Check {
    let mut facts = Vec::new();
    let mut problems = Vec::new();
    for service in stage.services {
        let received: HashSet<(String, String)> = spans
            .iter()
            .filter(|span| span.service == service.name)
            .map(|span| (span.trace_id.clone(), span.span_id.clone()))
            .collect();
        let lines = logs
            .iter()
            .find(|(name, _)| *name == service.name)
            .map(|(_, lines)| lines.as_slice())
            .unwrap_or_default();
        let result = correlate(lines, &received, window);
        let measured = format!(
            "{}: {} of {} in-request lines ({:.0}%) match a received span ({} outside requests, not counted)",
            service.name,
            result.matched,
            result.in_request,
            result.share(),
            result.outside
        );
        if result.complete() {
            facts.push(measured);
            continue;
        }
        problems.push(measured);
        if result.in_request == 0 {
            problems.push(format!(
                "  {} wrote no log line during the traffic",
                service.name
            ));
        }
        if result.missing_ids_count > 0 {
            problems.push(format!(
                "  without trace_id/span_id, written during the traffic: {}, e.g.",
                result.missing_ids_count
            ));
            problems.extend(result.missing_ids.iter().map(|line| format!("    {line}")));
        }
        if result.unknown_ids_count > 0 {
            problems.push(format!(
                "  with the ids of a span never received: {}, e.g.",
                result.unknown_ids_count
            ));
            problems.extend(result.unknown_ids.iter().map(|line| format!("    {line}")));
        }
        if result.not_json > 0 {
            problems.push(format!(
                "  stdout lines that are not JSON objects: {}",
                result.not_json
            ));
        }
    }
    Check::from_problems(LOGS, facts, problems)
}

pub fn spans_received(stage: &Stage, spans: &[SpanRecord]) -> Check {
    let mut per_service: BTreeMap<&str, usize> = BTreeMap::new();
    for span in spans {
        *per_service.entry(span.service.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = stage
        .span_sources()
        .iter()
        .map(|source| format!("{source} {}", per_service.get(source).copied().unwrap_or(0)))
        .collect();
    let counts = format!("spans per service: {}", counts.join(", "));
    let mut problems: Vec<String> = stage
        .span_sources()
        .into_iter()
        .filter(|source| !per_service.contains_key(source))
        .map(|source| format!("{source} exported no span"))
        .collect();
    for service in stage.services {
        let names: HashSet<&str> = spans
            .iter()
            .filter(|span| span.service == service.name)
            .map(|span| span.name.as_str())
            .collect();
        let missing: Vec<&str> = service
            .span_names
            .iter()
            .copied()
            .filter(|name| !names.contains(name))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{} sent no span named {}",
                service.name,
                missing.join(", ")
            ));
        }
    }
    if !problems.is_empty() {
        problems.insert(0, counts.clone());
    }
    Check::from_problems(SPANS, vec![counts], problems)
}

/// Every expected edge carries requests, and every answered request's trace
/// reached the entry service as a child of the traffic generator's CLIENT
/// span.
pub fn traces_cross_services(stage: &Stage, spans: &[SpanRecord], summary: &Summary) -> Check {
    let found = edges(spans);
    let mut facts = Vec::new();
    let mut problems = Vec::new();
    for edge in stage.edges {
        let count = edge_count(&found, edge);
        let line = format!("{} -> {}: {count} requests", edge.client, edge.server);
        if count == 0 {
            problems.push(format!(
                "{line}: no {} SERVER span is the child of a {} CLIENT span",
                edge.server, edge.client
            ));
        } else {
            facts.push(line);
        }
    }
    let traffic_traces: HashSet<&str> = summary.trace_ids.iter().map(String::as_str).collect();
    let client_spans: HashSet<(&str, &str)> = spans
        .iter()
        .filter(|span| span.service == TRAFFIC_GEN && span.kind == Kind::Client)
        .map(|span| (span.trace_id.as_str(), span.span_id.as_str()))
        .collect();
    let continued: HashSet<&str> = spans
        .iter()
        .filter(|span| span.service == stage.entry && span.kind == Kind::Server)
        .filter(|span| traffic_traces.contains(span.trace_id.as_str()))
        .filter(|span| {
            span.parent_span_id
                .as_deref()
                .is_some_and(|parent| client_spans.contains(&(span.trace_id.as_str(), parent)))
        })
        .map(|span| span.trace_id.as_str())
        .collect();
    let answered = summary.requests - summary.unanswered();
    let line = format!(
        "{} of {answered} answered requests continued in {} as one trace",
        continued.len(),
        stage.entry
    );
    if (continued.len() as u64) < answered {
        problems.push(line);
    } else {
        facts.push(line);
    }
    Check::from_problems(TRACES, facts, problems)
}

pub fn traffic_ran(summary: &Summary) -> Check {
    let fact = format!(
        "{} requests, {} errors, {} unanswered, p95 {:.0} ms",
        summary.requests,
        summary.error_count(),
        summary.unanswered(),
        summary.p95.as_secs_f64() * 1000.0
    );
    let mut problems = Vec::new();
    if summary.requests == 0 {
        problems.push("no request was sent".to_owned());
    }
    if summary.unanswered() > 0 {
        problems.push(format!("{fact}: every request should get an HTTP answer"));
    }
    Check::from_problems(TRAFFIC, vec![fact], problems)
}

/// The title of a stage-specific check.
pub fn stage_check_title(check: &StageCheck) -> String {
    match check {
        StageCheck::ConcurrentChildren {
            service,
            parent,
            child,
        } => format!("{service}: the {child} spans of a {parent} run concurrently"),
    }
}

/// A stage-specific item of the checklist, on the spans of the run.
pub fn stage_check(check: &StageCheck, spans: &[SpanRecord]) -> Check {
    let title = stage_check_title(check);
    match *check {
        StageCheck::ConcurrentChildren {
            service,
            parent,
            child,
        } => {
            let mut parents = 0;
            let mut overlapping = 0;
            let mut widest = 0;
            for span in spans
                .iter()
                .filter(|span| span.service == service && span.name == parent)
            {
                parents += 1;
                let children = children_of(spans, span, child);
                let at_once = most_at_once(&children);
                widest = widest.max(at_once);
                if at_once >= 2 {
                    overlapping += 1;
                }
            }
            let fact = format!(
                "{overlapping} of {parents} {parent} spans have {child} children that overlap; \
                 at most {widest} at once"
            );
            if overlapping == 0 {
                let why = if parents == 0 {
                    format!("no {parent} span from {service}: did the traffic ask for it?")
                } else {
                    format!("{fact}: the {child} spans ran one after another")
                };
                Check::fail(title, vec![why])
            } else {
                Check::pass(title, vec![fact])
            }
        }
    }
}

/// Whether one trace shows what `check` is about (for choosing the trace to
/// draw).
pub fn shows(check: &StageCheck, trace: &[&SpanRecord]) -> bool {
    match *check {
        StageCheck::ConcurrentChildren {
            service,
            parent,
            child,
        } => trace
            .iter()
            .filter(|span| span.service == service && span.name == parent)
            .any(|span| {
                let spans: Vec<SpanRecord> = trace.iter().map(|s| (*s).clone()).collect();
                most_at_once(&children_of(&spans, span, child)) >= 2
            }),
    }
}

fn children_of<'a>(
    spans: &'a [SpanRecord],
    parent: &SpanRecord,
    name: &str,
) -> Vec<&'a SpanRecord> {
    spans
        .iter()
        .filter(|span| {
            span.trace_id == parent.trace_id
                && span.name == name
                && span.parent_span_id.as_deref() == Some(parent.span_id.as_str())
        })
        .collect()
}

/// The most spans running at the same moment.
fn most_at_once(spans: &[&SpanRecord]) -> usize {
    let mut events: Vec<(u64, i32)> = spans
        .iter()
        .flat_map(|span| [(span.start_unix_nanos, 1), (span.end_unix_nanos, -1)])
        .collect();
    // At the same instant an end comes before a start: touching is not overlapping.
    events.sort_unstable();
    let (mut running, mut most) = (0i32, 0i32);
    for (_, change) in events {
        running += change;
        most = most.max(running);
    }
    most as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::tests::span;

    const CHECK: StageCheck = StageCheck::ConcurrentChildren {
        service: "dice-roller",
        parent: "GET /roll-async",
        child: "roll_die",
    };

    fn batch(trace: &str, rolls: &[(u64, u64)]) -> Vec<SpanRecord> {
        let mut spans = vec![span(
            "dice-roller",
            "GET /roll-async",
            Kind::Server,
            (trace, "p", None),
            0,
            100,
        )];
        for (index, (start, end)) in rolls.iter().enumerate() {
            let id = format!("r{index}");
            spans.push(span(
                "dice-roller",
                "roll_die",
                Kind::Internal,
                (trace, &id, Some("p")),
                *start,
                *end,
            ));
        }
        spans
    }

    #[test]
    fn overlapping_rolls_pass_and_rolls_end_to_end_fail() {
        let concurrent = batch("t1", &[(1, 50), (2, 80), (3, 30)]);
        let check = stage_check(&CHECK, &concurrent);
        assert!(check.passed, "{check:?}");
        assert!(check.details[0].contains("at most 3 at once"), "{check:?}");

        let sequential = batch("t2", &[(1, 30), (30, 60), (60, 90)]);
        let check = stage_check(&CHECK, &sequential);
        assert!(!check.passed, "{check:?}");
        assert!(check.details[0].contains("one after another"), "{check:?}");

        let none = stage_check(&CHECK, &[]);
        assert!(
            none.details[0].contains("no GET /roll-async span"),
            "{none:?}"
        );
    }

    #[test]
    fn a_trace_shows_the_lesson_when_its_batch_overlaps() {
        let concurrent = batch("t1", &[(1, 50), (2, 80)]);
        let refs: Vec<&SpanRecord> = concurrent.iter().collect();
        assert!(shows(&CHECK, &refs));
        let sequential = batch("t2", &[(1, 30), (30, 60)]);
        let refs: Vec<&SpanRecord> = sequential.iter().collect();
        assert!(!shows(&CHECK, &refs));
    }
}
