//! The checklist of a native run, item by item, from what the run measured.
//! Each function is pure: facts in, a [`Check`] out.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use stages::{Stage, StageCheck, TRAFFIC_GEN};
use traffic_gen::{OutageReport, Summary};

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
pub const OUTAGE: &str = "database outage: clear 503s within 2 s, then recovery with no restart";
pub const USAGE: &str = "usage events routed to their own store, one row per line";
pub const SECRETS: &str = "no password, hash or cookie in any log line, span attribute or /metrics";

/// What marks a password hash in text: the PHC string every argon2 hash
/// starts with.
const HASH_MARKER: &str = "$argon2";
/// Secrets shorter than this are not searched for: a three-letter password
/// is found inside innocent words.
const SHORTEST_SECRET: usize = 6;

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
        StageCheck::QueryUnderRequest {
            service,
            request,
            query,
        } => format!("{service}: a {query} CLIENT span under each {request}"),
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
        StageCheck::QueryUnderRequest {
            service,
            request,
            query,
        } => {
            let requests: Vec<&SpanRecord> = spans
                .iter()
                .filter(|span| {
                    span.service == service && span.name == request && span.kind == Kind::Server
                })
                .collect();
            let with_query = requests
                .iter()
                .filter(|span| has_query_child(spans.iter(), span, query))
                .count();
            let fact = format!(
                "{with_query} of {} {request} spans have a {query} CLIENT child",
                requests.len()
            );
            if requests.is_empty() {
                Check::fail(
                    title,
                    vec![format!("no {request} SERVER span from {service}")],
                )
            } else if with_query < requests.len() {
                Check::fail(
                    title,
                    vec![format!(
                        "{fact}: every request reads the database, so every one should"
                    )],
                )
            } else {
                Check::pass(title, vec![fact])
            }
        }
    }
}

/// One `parent` span and its `child` spans (stage 4: a `/roll-async`
/// request and its rolls): how many, and the most that ran at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    pub size: usize,
    pub at_once: usize,
}

/// Every `parent` span of `service` in `spans`, as a [`Batch`] of its
/// `child` spans.
pub fn batches(spans: &[SpanRecord], service: &str, parent: &str, child: &str) -> Vec<Batch> {
    spans
        .iter()
        .filter(|span| span.service == service && span.name == parent)
        .map(|span| {
            let children = children_of(spans, span, child);
            Batch {
                size: children.len(),
                at_once: most_at_once(&children),
            }
        })
        .collect()
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
        StageCheck::QueryUnderRequest {
            service,
            request,
            query,
        } => trace
            .iter()
            .filter(|span| span.service == service && span.name == request)
            .any(|span| has_query_child(trace.iter().copied(), span, query)),
    }
}

/// Stage 5's drill, from its report or why it could not run.
pub fn outage_survived(drill: &Result<OutageReport, String>) -> Check {
    match drill {
        Ok(report) => {
            let facts = report.to_string().lines().map(str::to_owned).collect();
            let problems = report.problems();
            if problems.is_empty() {
                Check::pass(OUTAGE, facts)
            } else {
                let mut why = problems;
                why.extend(report.to_string().lines().map(|line| format!("  {line}")));
                Check::fail(OUTAGE, why)
            }
        }
        Err(why) => Check::fail(OUTAGE, vec![format!("the drill could not run: {why}")]),
    }
}

/// Stage 6: the usage lines `emitter` printed against the rows stored.
/// `forwarded` is how many lines reached the receiver (or why not);
/// `stored`, the rows counted in the table afterwards.
pub fn usage_routed(
    emitter: &str,
    printed: &[&str],
    forwarded: &Result<usize, String>,
    stored: &Result<u64, String>,
) -> Check {
    let mut by_event: BTreeMap<String, usize> = BTreeMap::new();
    for line in printed {
        let event = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|value| value.get("event")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "(no event)".to_owned());
        *by_event.entry(event).or_default() += 1;
    }
    let events: Vec<String> = by_event
        .iter()
        .map(|(event, count)| format!("{event} {count}"))
        .collect();
    let printed_fact = format!(
        "{emitter} printed {} usage lines ({})",
        printed.len(),
        events.join(", ")
    );
    let mut problems = Vec::new();
    if printed.is_empty() {
        problems.push(format!(
            "{emitter} printed no usage line during the traffic"
        ));
    }
    if let Err(why) = forwarded {
        problems.push(format!("forwarding them failed: {why}"));
    }
    let stored_fact = match stored {
        Ok(rows) => {
            if *rows != printed.len() as u64 {
                problems.push(format!(
                    "usage_stats holds {rows} rows for {} usage lines: every line must be one row",
                    printed.len()
                ));
            }
            format!("usage_stats holds {rows} rows")
        }
        Err(why) => {
            problems.push(format!("the rows could not be counted: {why}"));
            String::new()
        }
    };
    if !problems.is_empty() {
        problems.insert(0, printed_fact);
        return Check::fail(USAGE, problems);
    }
    Check::pass(USAGE, vec![printed_fact, stored_fact])
}

/// Stage 6: looks for every secret the traffic handled (passwords it typed,
/// session cookies it was given) and for any password hash in everything
/// `captured` (each with where it came from: a service's log, a span's
/// attribute, a `/metrics` page).
pub fn no_secrets<'a>(
    secrets: &[String],
    captured: impl IntoIterator<Item = (String, &'a str)>,
) -> Check {
    let needles: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|secret| secret.chars().count() >= SHORTEST_SECRET)
        .chain([HASH_MARKER])
        .collect();
    let finder = match aho_corasick::AhoCorasick::new(&needles) {
        Ok(finder) => finder,
        Err(error) => return Check::fail(SECRETS, vec![format!("cannot search: {error}")]),
    };
    let mut searched = 0usize;
    let mut found = Vec::new();
    for (origin, text) in captured {
        searched += 1;
        if let Some(hit) = finder.find(text) {
            let what = if needles[hit.pattern().as_usize()] == HASH_MARKER {
                "a password hash"
            } else {
                "a secret of the traffic"
            };
            // Never print the secret itself: say where it is.
            found.push(format!("{what} in {origin}"));
        }
    }
    let fact = format!(
        "searched {searched} captured texts for {} secrets the traffic used and for password hashes",
        needles.len() - 1
    );
    if needles.len() == 1 {
        return Check::fail(
            SECRETS,
            vec![format!(
                "{fact}: the traffic used no secret, so the search proves nothing"
            )],
        );
    }
    if found.is_empty() {
        Check::pass(SECRETS, vec![fact, "found none".to_owned()])
    } else {
        let count = found.len();
        let mut problems = vec![format!("{fact}: found {count}")];
        problems.extend(found.into_iter().take(10));
        Check::fail(SECRETS, problems)
    }
}

/// Whether `request` has a CLIENT child named `query`.
fn has_query_child<'a>(
    spans: impl IntoIterator<Item = &'a SpanRecord>,
    request: &SpanRecord,
    query: &str,
) -> bool {
    spans.into_iter().any(|span| {
        span.trace_id == request.trace_id
            && span.name == query
            && span.kind == Kind::Client
            && span.parent_span_id.as_deref() == Some(request.span_id.as_str())
    })
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

    const QUERY: StageCheck = StageCheck::QueryUnderRequest {
        service: "die-service",
        request: "GET /dice",
        query: "SELECT die_specifications",
    };

    fn request_with_query(trace: &str, query_parent: &str, kind: Kind) -> Vec<SpanRecord> {
        vec![
            span(
                "die-service",
                "GET /dice",
                Kind::Server,
                (trace, "req", None),
                0,
                10,
            ),
            span(
                "die-service",
                "SELECT die_specifications",
                kind,
                (trace, "q", Some(query_parent)),
                1,
                2,
            ),
        ]
    }

    #[test]
    fn a_query_must_be_a_client_child_of_every_request() {
        let good = request_with_query("t1", "req", Kind::Client);
        assert!(stage_check(&QUERY, &good).passed);
        let refs: Vec<&SpanRecord> = good.iter().collect();
        assert!(shows(&QUERY, &refs));

        // A root query span (the context lost across an await) and an
        // INTERNAL one (no edge to the database) both fail.
        for bad in [
            request_with_query("t2", "elsewhere", Kind::Client),
            request_with_query("t3", "req", Kind::Internal),
        ] {
            let check = stage_check(&QUERY, &bad);
            assert!(!check.passed, "{check:?}");
            assert!(check.details[0].contains("0 of 1"), "{check:?}");
        }
        let check = stage_check(&QUERY, &[]);
        assert!(!check.passed);
    }

    #[test]
    fn secrets_are_found_anywhere_and_never_printed() {
        let secrets = vec!["hunter2-password".to_owned(), "abc".to_owned()];
        let clean = [
            (
                "a log line".to_owned(),
                r#"{"message":"signed in","user":"abc"}"#,
            ),
            (
                "/metrics".to_owned(),
                "sign_ins_total{result=\"success\"} 3",
            ),
        ];
        let check = no_secrets(&secrets, clean.iter().map(|(o, t)| (o.clone(), *t)));
        // "abc" is too short to search for; the user name is not a secret.
        assert!(check.passed, "{check:?}");

        let leaked = [
            (
                "a log line of frontend".to_owned(),
                r#"{"password":"hunter2-password"}"#,
            ),
            (
                "attribute x of a span".to_owned(),
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            ),
        ];
        let check = no_secrets(&secrets, leaked.iter().map(|(o, t)| (o.clone(), *t)));
        assert!(!check.passed);
        let details = check.details.join("\n");
        assert!(details.contains("found 2"), "{details}");
        assert!(details.contains("a secret of the traffic in a log line of frontend"));
        assert!(details.contains("a password hash in attribute x of a span"));
        assert!(
            !details.contains("hunter2"),
            "the report repeats the secret"
        );

        let check = no_secrets(&[], clean.iter().map(|(o, t)| (o.clone(), *t)));
        assert!(!check.passed, "no secret searched for proves nothing");
    }

    #[test]
    fn usage_rows_must_equal_usage_lines() {
        let lines = [
            r#"{"usage":true,"event":"sign_in","user":"alice"}"#,
            r#"{"usage":true,"event":"roll","user":"alice"}"#,
        ];
        let check = usage_routed("frontend", &lines, &Ok(2), &Ok(2));
        assert!(check.passed, "{check:?}");
        assert!(
            check.details[0].contains("(roll 1, sign_in 1)"),
            "{check:?}"
        );

        for (forwarded, stored) in [
            (Ok(2), Ok(1)),
            (Ok(2), Ok(3)),
            (Err("503 until the deadline".to_owned()), Ok(0)),
            (Ok(2), Err("psql failed".to_owned())),
        ] {
            let check = usage_routed("frontend", &lines, &forwarded, &stored);
            assert!(!check.passed, "{forwarded:?} {stored:?}");
        }
        assert!(!usage_routed("frontend", &[], &Ok(0), &Ok(0)).passed);
    }
}
