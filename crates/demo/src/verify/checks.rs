//! The decisions of `verify`: pure functions of what the stack answered,
//! so they are tested on recorded answers. Every problem names the stage,
//! the window and the query (through [`Scope::said`]), so the attendee can
//! ask the same question in Grafana's Explore.

use std::collections::BTreeSet;

use stages::{Series, Service, StageCheck};

use super::ApiError;
use super::loki::LokiLine;
use super::panels::PanelQuery;
use super::prometheus::Sample;
use super::scope::Scope;
use super::service_graph::GraphEdge;
use super::tempo::{FoundTrace, TempoTrace};
use crate::checklist::Check;
use crate::local_checks;
use crate::trace::Kind;

pub const TRAFFIC: &str = "the stage sent spans to Tempo in the window";
pub const TRACE: &str =
    "a trace of the stage's requests is in Tempo, with spans from every service on their path";
pub const LOGS: &str = "that trace's log lines are in Loki, from every service on its path";
pub const GRAPH: &str = "the stage's service graph has its edges, paired, not guessed";
pub const USAGE: &str =
    "usage lines reached the usage receiver: its own traces, and its series grew";
pub const DASHBOARD: &str = "every panel of the stage's dashboard has data";

/// How many traces a stage check judges: one could be the odd one out.
pub const JUDGED: usize = 5;

/// The stage's traffic: Tempo holds spans of it that began in the window.
pub fn traffic_check(
    scope: &Scope,
    query: &str,
    found: &Result<Vec<FoundTrace>, ApiError>,
) -> Check {
    let found = match found {
        Ok(found) => found,
        Err(error) => return Check::fail(TRAFFIC, vec![scope.said(error, "TraceQL", query)]),
    };
    let stage = scope.stage.number;
    match newest_in_window(scope, found) {
        Some(newest) => Check::pass(
            TRAFFIC,
            vec![format!(
                "the newest trace of stage {stage} began at {} ({}, from {})",
                Scope::time(newest.start_unix_nanos),
                newest.trace_id,
                if newest.root_service.is_empty() {
                    "an unknown root"
                } else {
                    &newest.root_service
                },
            )],
        ),
        None => Check::fail(
            TRAFFIC,
            vec![
                scope.said(
                    match found.iter().map(|trace| trace.start_unix_nanos).max() {
                        Some(newest) => format!(
                            "{}: its newest trace in Tempo began at {}",
                            scope.no_traffic(),
                            Scope::time(newest)
                        ),
                        None => format!(
                            "{}: Tempo holds no span with {}={}",
                            scope.no_traffic(),
                            super::tempo::ENVIRONMENT,
                            scope.environment()
                        ),
                    },
                    "TraceQL",
                    query,
                ),
                format!(
                    "is stage {stage} up (make stage{stage} up, docker ps), and did it get \
                     traffic (make stage{stage} traffic)? Its services send spans to the \
                     collector at otel-collector:4318"
                ),
            ],
        ),
    }
}

fn newest_in_window<'a>(scope: &Scope, found: &'a [FoundTrace]) -> Option<&'a FoundTrace> {
    found
        .iter()
        .filter(|trace| scope.contains(trace.start_unix_nanos))
        .max_by_key(|trace| trace.start_unix_nanos)
}

/// Why a listed trace was passed over.
#[derive(Debug, Default)]
struct Passed {
    /// Began before the window (or after its end): the newest of them.
    outside: Vec<u128>,
    /// Matched spans of another stage.
    foreign: BTreeSet<String>,
    /// Lacked a service.
    incomplete: usize,
}

impl Passed {
    fn describe(&self, scope: &Scope) -> Vec<String> {
        let mut reasons = Vec::new();
        if let Some(newest) = self.outside.iter().max() {
            reasons.push(format!(
                "{} began outside {} (the newest at {})",
                self.outside.len(),
                scope.last(),
                Scope::time(*newest)
            ));
        }
        if !self.foreign.is_empty() {
            let stages: Vec<&str> = self.foreign.iter().map(String::as_str).collect();
            reasons.push(format!("some were of {}", stages.join(", ")));
        }
        if self.incomplete > 0 {
            reasons.push(format!("{} lacked a service", self.incomplete));
        }
        reasons
    }
}

/// The traces of a search answer that `verify` may judge, newest first:
/// begun in the window, of the stage (when the answer says), and with spans
/// from every one of `services` (when Tempo's `serviceStats` says).
pub fn usable_traces(
    scope: &Scope,
    services: &[&str],
    found: &[FoundTrace],
) -> (Vec<FoundTrace>, Vec<String>) {
    let environment = scope.environment();
    let mut passed = Passed::default();
    let mut usable = Vec::new();
    for trace in found {
        if !scope.contains(trace.start_unix_nanos) {
            passed.outside.push(trace.start_unix_nanos);
        } else if trace.environments.iter().any(|found| *found != environment) {
            passed.foreign.extend(
                trace
                    .environments
                    .iter()
                    .filter(|found| **found != environment)
                    .cloned(),
            );
        } else if !trace.services.is_empty()
            && !services
                .iter()
                .all(|service| trace.services.contains(*service))
        {
            passed.incomplete += 1;
        } else {
            usable.push(trace.clone());
        }
    }
    usable.sort_by_key(|trace| std::cmp::Reverse(trace.start_unix_nanos));
    (usable, passed.describe(scope))
}

/// The trace to sample: the newest usable one, or why there is none.
pub fn choose_trace(
    scope: &Scope,
    services: &[&str],
    query: &str,
    found: &Result<Vec<FoundTrace>, ApiError>,
) -> Result<FoundTrace, Vec<String>> {
    let found = match found {
        Ok(found) => found,
        Err(error) => return Err(vec![scope.said(error, "TraceQL", query)]),
    };
    let (usable, passed_over) = usable_traces(scope, services, found);
    if let Some(newest) = usable.into_iter().next() {
        return Ok(newest);
    }
    let what = format!("no trace through {} in Tempo", services.join(", "));
    let mut problems = vec![scope.said(what, "TraceQL", query)];
    if !found.is_empty() {
        problems.push(format!(
            "Tempo listed {} traces, none usable: {}",
            found.len(),
            passed_over.join("; ")
        ));
    }
    problems.push(format!(
        "send traffic through the stage's entry service with make stage{} traffic",
        scope.stage.number
    ));
    Err(problems)
}

/// The sampled trace as Tempo returned it has spans from every one of
/// `services`, and none from another stage.
pub fn trace_check(
    scope: &Scope,
    services: &[&str],
    query: &str,
    chosen: &FoundTrace,
    trace: &Result<Option<TempoTrace>, ApiError>,
) -> Check {
    let trace_id = &chosen.trace_id;
    let trace = match trace {
        Ok(Some(trace)) => trace,
        Ok(None) => {
            return Check::fail(
                TRACE,
                vec![scope.said(
                    format!("Tempo has no trace {trace_id}, though its search listed it"),
                    "TraceQL",
                    query,
                )],
            );
        }
        Err(error) => return Check::fail(TRACE, vec![scope.said(error, "TraceQL", query)]),
    };
    let found: BTreeSet<&str> = trace
        .spans
        .iter()
        .map(|span| span.service.as_str())
        .collect();
    let fact = format!(
        "trace {trace_id}, begun {}: {} spans from {}",
        Scope::time(chosen.start_unix_nanos),
        trace.spans.len(),
        found.iter().copied().collect::<Vec<_>>().join(", ")
    );
    let mut problems = Vec::new();
    let missing: Vec<&str> = services
        .iter()
        .copied()
        .filter(|name| !found.contains(name))
        .collect();
    if !missing.is_empty() {
        problems.push(scope.said(
            format!("{fact}; no span from {}", missing.join(", ")),
            "TraceQL",
            query,
        ));
    }
    let foreign = trace.foreign(&scope.environment());
    if !foreign.is_empty() {
        problems.push(scope.said(
            format!(
                "trace {trace_id} has spans of another stage: {}",
                foreign.join(", ")
            ),
            "TraceQL",
            query,
        ));
    }
    Check::from_problems(TRACE, vec![fact], problems)
}

/// Loki holds lines with `trace_id` from every one of `services`.
pub fn logs_check(
    scope: &Scope,
    services: &[&str],
    logql: &str,
    trace_id: &str,
    logs: &Result<Vec<LokiLine>, ApiError>,
) -> Check {
    let lines = match logs {
        Ok(lines) => lines,
        Err(error) => return Check::fail(LOGS, vec![scope.said(error, "LogQL", logql)]),
    };
    let mut found = BTreeSet::new();
    for line in lines {
        if line.field("trace_id").as_deref() == Some(trace_id) {
            found.insert(line.field("service").unwrap_or_default());
        }
    }
    let missing: Vec<&str> = services
        .iter()
        .copied()
        .filter(|name| !found.contains(*name))
        .collect();
    let fact = format!(
        "{} lines with trace_id {trace_id}, from {}",
        lines.len(),
        found.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    if missing.is_empty() {
        return Check::pass(LOGS, vec![fact]);
    }
    Check::fail(
        LOGS,
        vec![
            scope.said(
                format!(
                    "no line with trace_id {trace_id} from {}",
                    missing.join(", ")
                ),
                "LogQL",
                logql,
            ),
            "is Alloy shipping the stage's containers (http://localhost:12345), and do the \
             service's lines carry trace_id (make stageN logs)?"
                .replace("stageN", &format!("stage{}", scope.stage.number)),
        ],
    )
}

/// Every edge the stage expects carried requests in the window as a paired
/// edge, and every service on the request path is in the graph.
pub fn graph_check(
    scope: &Scope,
    services: &[&str],
    query: &str,
    graph: &Result<Vec<GraphEdge>, ApiError>,
) -> Check {
    let edges = match graph {
        Ok(edges) => edges,
        Err(error) => return Check::fail(GRAPH, vec![scope.said(error, "PromQL", query)]),
    };
    if edges.is_empty() {
        return Check::fail(
            GRAPH,
            vec![scope.said(
                format!(
                    "{}: Prometheus has no service-graph series with deployment_environment_name=\"{}\" \
                     (does Tempo's metrics-generator add that dimension? stack/tempo/tempo.yml)",
                    scope.no_traffic(),
                    scope.environment()
                ),
                "PromQL",
                query,
            )],
        );
    }
    let mut facts = Vec::new();
    let mut problems = Vec::new();
    for expected in scope.stage.edges {
        let (client, server) = (expected.client, expected.server);
        let on_edge = |virtual_node: bool| {
            edges
                .iter()
                .filter(|edge| edge.is(client, server) && edge.virtual_node == virtual_node)
                .map(|edge| edge.value)
                .sum::<f64>()
        };
        let real = edges
            .iter()
            .any(|edge| edge.is(client, server) && !edge.virtual_node);
        let guessed = edges
            .iter()
            .any(|edge| edge.is(client, server) && edge.virtual_node);
        let requests = on_edge(false);
        let problem = if real && requests > 0.0 {
            facts.push(format!("{client} -> {server}: {requests:.0} requests"));
            continue;
        } else if real {
            format!(
                "{client} -> {server} carried no request in {}",
                scope.last()
            )
        } else if guessed {
            format!(
                "{client} -> {server} is only a virtual_node edge, guessed from peer.service: \
                 {server} did not continue {client}'s trace (traceparent propagation)"
            )
        } else {
            format!(
                "{client} -> {server} is missing: is {client}'s outgoing span of kind CLIENT, \
                 and is the metrics-generator enabled?"
            )
        };
        problems.push(scope.said(problem, "PromQL", query));
    }
    for service in services {
        if !edges
            .iter()
            .any(|edge| edge.client == *service || edge.server == *service)
        {
            problems.push(scope.said(
                format!("{service} is not in the service graph"),
                "PromQL",
                query,
            ));
        }
    }
    Check::from_problems(GRAPH, facts, problems)
}

/// A stage's own check (stage 4: a batch's rolls overlap; stage 5: every
/// request reads the database) on the newest traces Tempo found for it,
/// fetched in `traces`, newest first. `listed` is the search's answer, for
/// saying why traces were passed over.
pub fn stage_check_in_tempo(
    scope: &Scope,
    check: &StageCheck,
    query: &str,
    listed: &[String],
    traces: &Result<Vec<(String, TempoTrace)>, ApiError>,
) -> Check {
    let title = local_checks::stage_check_title(check);
    let traces = match traces {
        Ok(traces) => traces,
        Err(error) => return Check::fail(title, vec![scope.said(error, "TraceQL", query)]),
    };
    if traces.is_empty() {
        let mut problems = vec![scope.said("no trace in Tempo matches", "TraceQL", query)];
        problems.extend(listed.iter().cloned());
        return Check::fail(title, problems);
    }
    match *check {
        StageCheck::ConcurrentChildren {
            service,
            parent,
            child,
        } => {
            let mut judged = Vec::new();
            let mut batches_of_one = 0;
            for (trace_id, trace) in traces {
                let batches = local_checks::batches(&trace.spans, service, parent, child);
                let Some(widest) = batches
                    .iter()
                    .filter(|b| b.size >= 2)
                    .max_by_key(|b| b.at_once)
                else {
                    batches_of_one += 1;
                    continue;
                };
                judged.push((trace_id.as_str(), *widest));
                if judged.len() == JUDGED {
                    break;
                }
            }
            let overlapping = judged.iter().filter(|(_, b)| b.at_once >= 2).count();
            let skipped = if batches_of_one > 0 {
                format!("; {batches_of_one} with fewer than two {child} spans passed over")
            } else {
                String::new()
            };
            let fact = format!(
                "{overlapping} of the {} newest {parent} traces with two or more {child} spans \
                 have them overlap (at most {} at once){skipped}",
                judged.len(),
                judged.iter().map(|(_, b)| b.at_once).max().unwrap_or(0),
            );
            let mut details: Vec<String> = judged
                .iter()
                .map(|(id, batch)| {
                    format!(
                        "  {id}: {} {child} spans, at most {} at once",
                        batch.size, batch.at_once
                    )
                })
                .collect();
            // Most, not all: a roll that waits 0 ms can end before the
            // next one starts, but never in most batches.
            if !judged.is_empty() && overlapping * 2 > judged.len() {
                details.insert(0, fact);
                Check::pass(title, details)
            } else {
                details.insert(
                    0,
                    scope.said(
                        if judged.is_empty() {
                            format!("no {parent} with two or more {child} spans{skipped}")
                        } else {
                            format!("{fact}: the {child} spans ran one after another")
                        },
                        "TraceQL",
                        query,
                    ),
                );
                Check::fail(title, details)
            }
        }
        StageCheck::QueryUnderRequest { .. } => {
            let spans: Vec<_> = traces
                .iter()
                .take(JUDGED)
                .flat_map(|(_, trace)| trace.spans.iter().cloned())
                .collect();
            let judged = local_checks::stage_check(check, &spans);
            let prefix = format!("in the {} newest traces: ", traces.len().min(JUDGED));
            let details = judged
                .details
                .iter()
                .map(|detail| {
                    if judged.passed {
                        format!("{prefix}{detail}")
                    } else {
                        scope.said(format!("{prefix}{detail}"), "TraceQL", query)
                    }
                })
                .collect();
            Check {
                title,
                passed: judged.passed,
                details,
            }
        }
    }
}

/// One counter of the usage receiver and how much it grew in the window.
#[derive(Debug)]
pub struct Growth {
    pub series: &'static Series,
    pub query: String,
    pub answer: Result<Vec<Sample>, ApiError>,
}

/// Stage 6: the usage receiver's requests are its own traces (Alloy pushes
/// it the usage lines, outside any request of the traffic), so they are
/// checked apart from the sampled trace: its newest trace is a root of its
/// own holding every span it names, and each of its counters grew.
pub fn usage_check(
    scope: &Scope,
    receiver: &Service,
    query: &str,
    trace: &Result<Option<(String, TempoTrace)>, ApiError>,
    growth: &[Growth],
) -> Check {
    let mut facts = Vec::new();
    let mut problems = Vec::new();
    match trace {
        Err(error) => problems.push(scope.said(error, "TraceQL", query)),
        Ok(None) => problems.push(scope.said(
            format!(
                "no trace of {} in Tempo: did Alloy push it any usage line? \
                 (Alloy's loki.write \"usage_receiver\" at http://localhost:12345)",
                receiver.name
            ),
            "TraceQL",
            query,
        )),
        Ok(Some((trace_id, trace))) => {
            let own: Vec<_> = trace
                .spans
                .iter()
                .filter(|span| span.service == receiver.name)
                .collect();
            let names: BTreeSet<&str> = own.iter().map(|span| span.name.as_str()).collect();
            let missing: Vec<&str> = receiver
                .span_names
                .iter()
                .copied()
                .filter(|name| !names.contains(name))
                .collect();
            let root = trace
                .spans
                .iter()
                .find(|span| span.parent_span_id.is_none());
            let fact = format!(
                "trace {trace_id}: {} spans of {} ({})",
                own.len(),
                receiver.name,
                names.iter().copied().collect::<Vec<_>>().join(", ")
            );
            if !missing.is_empty() {
                problems.push(scope.said(
                    format!("{fact}; no span named {}", missing.join(", ")),
                    "TraceQL",
                    query,
                ));
            }
            match root {
                Some(root) if root.service == receiver.name && root.kind == Kind::Server => {}
                Some(root) => problems.push(scope.said(
                    format!(
                        "trace {trace_id} starts in {} ({}), not in a request to {}",
                        root.service, root.name, receiver.name
                    ),
                    "TraceQL",
                    query,
                )),
                None => problems.push(scope.said(
                    format!("trace {trace_id} has no root span"),
                    "TraceQL",
                    query,
                )),
            }
            facts.push(fact);
        }
    }
    for Growth {
        series,
        query,
        answer,
    } in growth
    {
        match answer {
            Err(error) => problems.push(scope.said(error, "PromQL", query)),
            Ok(samples) => match samples.iter().map(|sample| sample.value).reduce(f64::max) {
                Some(grew) if grew > 0.0 => facts.push(format!("{}: +{grew:.0}", series.name)),
                Some(_) => problems.push(scope.said(
                    format!("{} did not grow", series.name),
                    "PromQL",
                    query,
                )),
                None => problems.push(scope.said(
                    format!(
                        "{} has no series: is {} scraped?",
                        series.name, receiver.name
                    ),
                    "PromQL",
                    query,
                )),
            },
        }
    }
    Check::from_problems(USAGE, facts, problems)
}

/// The PromQL for how much `series` of `service` grew in the window.
pub fn growth_query(scope: &Scope, service: &str, series: &Series) -> String {
    let mut matchers = vec![
        format!("job=\"{service}\""),
        format!("stage=\"{}\"", scope.label()),
    ];
    matchers.extend(
        series
            .labels
            .iter()
            .map(|(name, value)| format!("{name}=\"{value}\"")),
    );
    format!(
        "sum(increase({}{{{}}}{}))",
        series.name,
        matchers.join(", "),
        scope.promql_range()
    )
}

/// A panel's query and how much the stack found for it (series, lines or
/// traces).
#[derive(Debug)]
pub struct PanelAnswer {
    pub query: PanelQuery,
    pub answer: Result<usize, ApiError>,
}

/// Passes when every query of every panel found something in the window.
/// `not_run` are the panels no backend of the stack answers (SQL).
pub fn dashboard_check(scope: &Scope, answers: &[PanelAnswer], not_run: &[String]) -> Check {
    let mut problems = Vec::new();
    let mut languages: Vec<(&str, usize)> = Vec::new();
    for PanelAnswer { query, answer } in answers {
        match languages
            .iter_mut()
            .find(|(name, _)| *name == query.language)
        {
            Some((_, count)) => *count += 1,
            None => languages.push((query.language, 1)),
        }
        let panel = &query.panel;
        match answer {
            Ok(amount) if *amount > 0 => {}
            Ok(_) => problems.push(scope.said(
                format!("panel {panel:?}: no data"),
                query.language,
                &query.expression,
            )),
            Err(error) => problems.push(scope.said(
                format!("panel {panel:?}: {error}"),
                query.language,
                &query.expression,
            )),
        }
    }
    if answers.is_empty() {
        problems.push("the dashboard has no query the stack can answer".into());
    }
    let counts: Vec<String> = languages
        .iter()
        .map(|(language, count)| format!("{count} {language}"))
        .collect();
    let mut facts = vec![format!(
        "{} queries ({}), each with data in {}",
        answers.len(),
        counts.join(", "),
        scope.last()
    )];
    if !not_run.is_empty() {
        facts.push(format!(
            "not asked (they read PostgreSQL, not the stack): {}",
            not_run.join(", ")
        ));
    }
    Check::from_problems(DASHBOARD, facts, problems)
}
