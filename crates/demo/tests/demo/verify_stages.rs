//! `verify` where the workshop puts it: stages side by side on one stack,
//! a stage that is not running, Tempo's search order, stage 4's batches
//! and stage 6's two flows. The answers are the ones recorded from real
//! Tempo 2.10.8, Loki 3.4.6 and Prometheus with stage 1 and stage 3 running
//! at once (tests/fixtures/stack-api/multi-stage/), plus, for what no
//! recording holds, answers synthesized in the same shape
//! (`synthesized.rs`). Each test runs the whole of `verify` against a fake
//! stack serving them by what is asked.

use std::collections::BTreeSet;
use std::time::{Duration, UNIX_EPOCH};

use demo::verify::tempo::{self, FoundTrace};
use demo::verify::{
    GRAPH, LOGS, Recorded, Scope, TRACE, TRAFFIC, USAGE, VerifyOptions, choose_trace, graph_check,
    service_graph, trace_check, usable_traces,
};

use crate::fake_stack::{Answers, fixtures, recorded, run_verify};
use crate::synthesized::{self, Found, Line, Span};

/// When the multi-stage answers were recorded (Unix seconds).
const RECORDED_AT: u64 = 1_796_394_468;
/// The newest stage 1 trace, in the recorded most-recent search.
const STAGE1_NEWEST: &str = "498699c5ff7eca9c2e8800318096e1ed";
/// The stage 3 roll whose trace and log lines were recorded.
const STAGE3_SAMPLED: &str = "193f53e085fb127a1ba38ac9ac266e29";

fn repository() -> std::path::PathBuf {
    fixtures().join("../../../..")
}

/// `verify --stage N` with the window ending at `end` (Unix seconds).
fn options(stage: u8, end: u64, window: Duration) -> VerifyOptions {
    let mut options = VerifyOptions::new(stages::stage(stage).unwrap());
    options.dashboard = repository().join(format!("grafana-dashboards/stage{stage}.json"));
    options.end = Some(UNIX_EPOCH + Duration::from_secs(end));
    options.window = window;
    options
}

const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);

fn in_stage(environment: &'static str) -> impl Fn(&str) -> bool + Send + Sync {
    move |query: &str| query.contains(&format!("deployment.environment.name=\"{environment}\""))
}

fn most_recent(query: &str) -> bool {
    query.contains("with (most_recent=true)")
}

/// What an unscoped search finds with both stages running: both stages'
/// traces in one answer, newest first.
fn both_stages_in_one_answer() -> String {
    let mut traces = Vec::new();
    for file in [
        "multi-stage/tempo-search-stage1-most-recent-window.json",
        "multi-stage/tempo-search-frontend-stage3-most-recent-window.json",
    ] {
        let answer: serde_json::Value = serde_json::from_str(&recorded(file)).unwrap();
        traces.extend(answer["traces"].as_array().unwrap().iter().cloned());
    }
    traces.sort_by_key(|trace| {
        std::cmp::Reverse(
            trace["startTimeUnixNano"]
                .as_str()
                .unwrap()
                .parse::<u128>()
                .unwrap(),
        )
    });
    serde_json::json!({"traces": traces, "metrics": {}}).to_string()
}

/// The newest stage 1 trace, as Tempo would return it by id: its ids and
/// times are the recorded search's (the dice-roller's two spans), the
/// traffic generator's root around them.
fn stage1_spans() -> Vec<Span> {
    let span = |service, environment, name, kind, id, parent, start: u128, end: u128| Span {
        service,
        environment,
        name,
        kind,
        id,
        parent,
        start_unix_nanos: start,
        end_unix_nanos: end,
    };
    vec![
        span(
            "traffic-gen",
            None,
            "simulated_request",
            "SPAN_KIND_INTERNAL",
            "a000000000000001",
            None,
            1_796_394_398_529_917_361,
            1_796_394_399_388_000_000,
        ),
        span(
            "traffic-gen",
            None,
            "GET",
            "SPAN_KIND_CLIENT",
            "a000000000000002",
            Some("a000000000000001"),
            1_796_394_398_530_000_000,
            1_796_394_399_387_000_000,
        ),
        span(
            "dice-roller",
            Some("stage1"),
            "GET /roll",
            "SPAN_KIND_SERVER",
            "8d5f699889ddf4c5",
            Some("a000000000000002"),
            1_796_394_398_530_198_848,
            1_796_394_399_388_540_560,
        ),
        span(
            "dice-roller",
            Some("stage1"),
            "roll_die",
            "SPAN_KIND_INTERNAL",
            "92c37baa643fd21f",
            Some("8d5f699889ddf4c5"),
            1_796_394_398_530_287_970,
            1_796_394_399_388_474_221,
        ),
    ]
}

/// Stage 1 and stage 3 side by side, as recorded: each stage's searches,
/// its sampled trace, its log lines and its service graph.
fn side_by_side() -> Answers {
    Answers::default()
        .search(
            |q| in_stage("stage1")(q) && most_recent(q),
            recorded("multi-stage/tempo-search-stage1-most-recent-window.json"),
        )
        .search(
            in_stage("stage1"),
            recorded("multi-stage/tempo-search-stage1-window.json"),
        )
        .search(
            |q| in_stage("stage3")(q) && most_recent(q),
            recorded("multi-stage/tempo-search-frontend-stage3-most-recent-window.json"),
        )
        .search(
            in_stage("stage3"),
            recorded("multi-stage/tempo-search-frontend-stage3-window.json"),
        )
        .search(
            |q| !q.contains("deployment.environment.name"),
            both_stages_in_one_answer(),
        )
        .trace(
            STAGE3_SAMPLED,
            recorded("multi-stage/tempo-trace-v2-stage3.json"),
        )
        .trace(
            STAGE1_NEWEST,
            synthesized::trace_v1(STAGE1_NEWEST, &stage1_spans()),
        )
        .logs(
            |q| q.starts_with("{stage=\"3\"}") && q.contains(STAGE3_SAMPLED),
            recorded("multi-stage/loki-query-range-stage3-trace-id.json"),
        )
        .logs(
            |q| q.starts_with("{stage=\"1\"}") && q.contains(STAGE1_NEWEST),
            synthesized::loki_streams(&[
                Line {
                    service: "dice-roller",
                    stage: 1,
                    unix_nanos: 1_796_394_398_530_300_000,
                    message: "request received",
                    trace_id: STAGE1_NEWEST,
                },
                Line {
                    service: "dice-roller",
                    stage: 1,
                    unix_nanos: 1_796_394_399_388_400_000,
                    message: "roll result",
                    trace_id: STAGE1_NEWEST,
                },
            ]),
        )
        .promql(
            |q| {
                q.contains(
                    "traces_service_graph_request_total{deployment_environment_name=\"stage1\"}",
                )
            },
            synthesized::edges_of("stage1"),
        )
        .promql(
            |q| {
                q.contains(
                    "traces_service_graph_request_total{deployment_environment_name=\"stage3\"}",
                )
            },
            synthesized::edges_of("stage3"),
        )
        // Asked without a stage, Prometheus answers with every stage's edges.
        .promql(
            |q| q.contains("traces_service_graph_request_total") && !q.contains("stage"),
            recorded("multi-stage/prom-service-graph-rate-by-stage.json"),
        )
}

fn outcome<'a>(checklist: &'a demo::Checklist, title: &str) -> &'a demo::Check {
    checklist
        .check(title)
        .unwrap_or_else(|| panic!("no {title:?} in\n{checklist}"))
}

/// Every question `verify` asks, its own and every dashboard panel's, names
/// the stage: with several stages on one stack an unscoped answer is about
/// whichever stage comes first.
#[tokio::test]
async fn every_question_verify_asks_names_the_stage() {
    for stage in stages::STAGES {
        let n = stage.number;
        let (_, asked) = run_verify(side_by_side(), options(n, RECORDED_AT, FIFTEEN_MINUTES)).await;
        let environment = format!("resource.deployment.environment.name=\"stage{n}\"");
        assert!(!asked.traceql.is_empty(), "stage {n}: no TraceQL asked");
        for query in &asked.traceql {
            assert!(query.contains(&environment), "stage {n}, TraceQL: {query}");
        }
        let label = format!("stage=\"{n}\"");
        for query in &asked.logql {
            assert!(query.contains(&label), "stage {n}, LogQL: {query}");
        }
        let generated = format!("deployment_environment_name=\"stage{n}\"");
        for query in &asked.promql {
            // Every selector, not just one of them.
            for selector in dashboards::promql_selectors(query).unwrap() {
                let matches = |name: &str, value: &str| {
                    selector
                        .matchers
                        .iter()
                        .any(|(l, op, v)| l == name && op == "=" && v == value)
                };
                let name = selector.name.clone().unwrap_or_default();
                let scoped = if dashboards::is_generated_by_tempo(&name) {
                    matches("deployment_environment_name", &format!("stage{n}"))
                } else {
                    matches("stage", &n.to_string())
                };
                assert!(
                    scoped,
                    "stage {n}, PromQL selector {name} of {query} (want {label} or {generated})"
                );
            }
        }
    }
}

/// The first case: `verify --stage 1` sampled a stage 3 trace and
/// failed its logs check. Scoped, it samples stage 1's newest trace.
#[tokio::test]
async fn side_by_side_stage_1_samples_its_own_trace() {
    let (checklist, _) = run_verify(side_by_side(), options(1, RECORDED_AT, FIFTEEN_MINUTES)).await;
    for title in [TRAFFIC, TRACE, LOGS, GRAPH] {
        assert!(outcome(&checklist, title).passed, "{title}:\n{checklist}");
    }
    let trace = &outcome(&checklist, TRACE).details[0];
    assert!(
        trace.starts_with(&format!(
            "trace {STAGE1_NEWEST}, begun 2026-12-04T14:26:38Z"
        )),
        "{trace}"
    );
    assert_eq!(
        outcome(&checklist, GRAPH).details,
        ["traffic-gen -> dice-roller: 2 requests"]
    );
}

/// And stage 3 beside it samples stage 3's, whose recorded log lines come
/// from all three services.
#[tokio::test]
async fn side_by_side_stage_3_samples_its_own_trace() {
    // The window ends just after the recorded roll, before the next began.
    let (checklist, _) =
        run_verify(side_by_side(), options(3, 1_796_394_398, FIFTEEN_MINUTES)).await;
    for title in [TRAFFIC, TRACE, LOGS, GRAPH] {
        assert!(outcome(&checklist, title).passed, "{title}:\n{checklist}");
    }
    assert!(
        outcome(&checklist, TRACE).details[0].starts_with(&format!("trace {STAGE3_SAMPLED}")),
        "{checklist}"
    );
    assert_eq!(
        outcome(&checklist, LOGS).details,
        [format!(
            "8 lines with trace_id {STAGE3_SAMPLED}, from dice-roller, die-service, frontend"
        )]
    );
}

/// The second case: `--stage 4` (here 5) with none of its services
/// up passed its trace and service-graph checks on the other stages' data.
#[tokio::test]
async fn a_stage_that_is_not_running_fails_with_no_traffic() {
    let (checklist, asked) =
        run_verify(side_by_side(), options(5, RECORDED_AT, FIFTEEN_MINUTES)).await;
    let no_traffic = "no traffic from stage 5 in the last 15m";
    for title in [TRAFFIC, TRACE, LOGS, GRAPH] {
        let check = outcome(&checklist, title);
        assert!(!check.passed, "{title}:\n{checklist}");
        assert!(
            check.details[0].contains(no_traffic),
            "{title}:\n{checklist}"
        );
    }
    // The failures say where they looked.
    let traffic = &outcome(&checklist, TRAFFIC).details[0];
    assert!(
        traffic.ends_with(
            "[stage 5, the last 15m, TraceQL: {resource.deployment.environment.name=\"stage5\"} with (most_recent=true)]"
        ),
        "{traffic}"
    );
    let graph = &outcome(&checklist, GRAPH).details[0];
    assert!(
        graph.contains(&format!(
            "[stage 5, the last 15m, PromQL: {}]",
            asked.promql[0]
        )),
        "{graph}"
    );
    assert!(
        graph.contains("deployment_environment_name=\"stage5\""),
        "{graph}"
    );
    let stage_check = outcome(
        &checklist,
        "die-service: a SELECT die_specifications CLIENT span under each GET /dice",
    );
    assert_eq!(stage_check.details, [no_traffic]);
}

/// The fourth case: without `most_recent` Tempo answered with the
/// oldest 15 s of the data, so verify judged a trace minutes old. With a
/// two-minute window that answer holds nothing to judge, and the
/// most-recent one holds the recorded roll.
#[tokio::test]
async fn the_newest_trace_is_judged_not_the_first_one_tempo_found() {
    let end = 1_796_394_398;
    let window = Duration::from_secs(120);
    let (checklist, asked) = run_verify(side_by_side(), options(3, end, window)).await;
    let trace = outcome(&checklist, TRACE);
    assert!(trace.passed, "{checklist}");
    assert!(
        trace.details[0].starts_with(&format!(
            "trace {STAGE3_SAMPLED}, begun 2026-12-04T14:26:37Z"
        )),
        "{checklist}"
    );
    let through = asked.traceql.iter().filter(|q| q.contains("} && {"));
    assert!(
        through.clone().count() == 1
            && through
                .clone()
                .all(|q| q.ends_with(" with (most_recent=true)")),
        "{:?}",
        asked.traceql
    );

    // Tempo's answer without the hint: every trace began before the window.
    let scope = Scope::new(
        stages::stage(3).unwrap(),
        UNIX_EPOCH + Duration::from_secs(end),
        window,
    );
    let oldest = tempo::parse_search(&response(
        "multi-stage/tempo-search-frontend-stage3-window.json",
    ));
    let services = ["die-service", "dice-roller", "frontend"];
    let why = choose_trace(&scope, &services, "Q", &oldest).unwrap_err();
    assert_eq!(
        why[1],
        "Tempo listed 20 traces, none usable: 20 began outside the last 2m (the newest at 2026-12-04T14:24:33Z)"
    );
    assert!(
        why[0].contains("[stage 3, the last 2m, TraceQL: Q]"),
        "{why:?}"
    );
}

/// A stage that ran an hour ago and stopped: Tempo still has its traces,
/// but none is recent.
#[test]
fn traffic_older_than_the_window_is_no_traffic() {
    let scope = Scope::new(
        stages::stage(3).unwrap(),
        UNIX_EPOCH + Duration::from_secs(RECORDED_AT + 3600),
        FIFTEEN_MINUTES,
    );
    let found = tempo::parse_search(&response(
        "multi-stage/tempo-search-frontend-stage3-most-recent-window.json",
    ));
    let check = demo::verify::traffic_check(&scope, "Q", &found);
    assert!(!check.passed);
    assert_eq!(
        check.details[0],
        "no traffic from stage 3 in the last 15m: its newest trace in Tempo began at \
         2026-12-04T14:26:38Z [stage 3, the last 15m, TraceQL: Q]"
    );
    let recent = Scope::new(
        stages::stage(3).unwrap(),
        UNIX_EPOCH + Duration::from_secs(RECORDED_AT),
        FIFTEEN_MINUTES,
    );
    assert!(demo::verify::traffic_check(&recent, "Q", &found).passed);
}

fn response(file: &str) -> Recorded {
    Recorded {
        url: format!("recorded:{file}"),
        status: 200,
        body: recorded(file),
    }
}

#[test]
fn a_search_answer_gives_start_times_services_and_the_matched_stage() {
    let found = tempo::parse_search(&response(
        "multi-stage/tempo-search-frontend-stage3-most-recent-window.json",
    ))
    .unwrap();
    assert_eq!(found.len(), 20);
    let first = &found[0];
    assert_eq!(first.trace_id, "14a767cff7561228eb636e987e167c2d");
    assert_eq!(first.start_unix_nanos, 1_796_394_398_819_986_146);
    assert_eq!(
        first.services,
        BTreeSet::from(["dice-roller", "die-service", "frontend", "traffic-gen"].map(String::from))
    );
    assert_eq!(first.environments, BTreeSet::from(["stage3".to_owned()]));
    // A page load: the frontend asks the die-service for the dice, no roll.
    assert!(!found[1].services.contains("dice-roller"));
    // Newest first.
    assert!(
        found
            .windows(2)
            .all(|w| w[0].start_unix_nanos >= w[1].start_unix_nanos)
    );
}

/// Two stages' traces in one answer: only the stage's own are judged.
#[test]
fn of_two_stages_in_one_answer_only_the_stage_s_own_traces_are_usable() {
    let mixed: Vec<FoundTrace> = tempo::parse_search(&Recorded {
        url: "mixed".into(),
        status: 200,
        body: both_stages_in_one_answer(),
    })
    .unwrap();
    assert_eq!(mixed[0].environments, BTreeSet::from(["stage3".to_owned()]));
    let stage1 = Scope::new(
        stages::stage(1).unwrap(),
        UNIX_EPOCH + Duration::from_secs(RECORDED_AT),
        FIFTEEN_MINUTES,
    );
    let (usable, passed_over) = usable_traces(&stage1, &["dice-roller"], &mixed);
    assert_eq!(usable.len(), 20);
    assert_eq!(usable[0].trace_id, STAGE1_NEWEST);
    assert!(usable.iter().all(|t| t.environments.contains("stage1")));
    assert_eq!(passed_over, ["some were of stage3"]);

    // And a stage 3 trace fetched for stage 1 fails, naming its stage.
    let trace = tempo::parse_trace(&response("multi-stage/tempo-trace-v2-stage3.json"));
    let listed = mixed.iter().find(|t| t.trace_id == STAGE3_SAMPLED).unwrap();
    let check = trace_check(&stage1, &["dice-roller"], "Q", listed, &trace);
    assert!(!check.passed);
    assert_eq!(
        check.details,
        [format!(
            "trace {STAGE3_SAMPLED} has spans of another stage: dice-roller (stage3), die-service (stage3), frontend (stage3) [stage 1, the last 15m, TraceQL: Q]"
        )]
    );
}

#[test]
fn each_stage_has_a_service_graph_of_its_own() {
    let graph = |environment| {
        let samples = demo::verify::prometheus::parse_query(&Recorded {
            url: "edges".into(),
            status: 200,
            body: synthesized::edges_of(environment),
        })
        .unwrap();
        Ok(service_graph::edges(&samples))
    };
    let scope = |n| {
        Scope::new(
            stages::stage(n).unwrap(),
            UNIX_EPOCH + Duration::from_secs(RECORDED_AT),
            FIFTEEN_MINUTES,
        )
    };
    let services = |n| -> Vec<&str> {
        stages::stage(n)
            .unwrap()
            .request_path()
            .iter()
            .map(|s| s.name)
            .collect()
    };
    let stage3 = graph_check(&scope(3), &services(3), "Q", &graph("stage3"));
    assert!(stage3.passed, "{stage3:?}");
    assert_eq!(stage3.details.len(), 4, "{stage3:?}");
    // Stage 1's graph has none of stage 3's edges.
    let wrong = graph_check(&scope(3), &services(3), "Q", &graph("stage1"));
    assert!(!wrong.passed);
    assert!(
        wrong.details[0].starts_with("traffic-gen -> frontend is missing"),
        "{wrong:?}"
    );
    let none = graph_check(&scope(4), &services(4), "Q", &Ok(Vec::new()));
    assert!(
        none.details[0].starts_with(
            "no traffic from stage 4 in the last 15m: Prometheus has no service-graph series"
        ),
        "{none:?}"
    );
}

// --- stage 4: batches ---------------------------------------------------------

/// A stage 4 `/roll-async` request in the dice-roller with `rolls` as
/// `(start, end)` offsets in ms.
fn batch(trace: usize, rolls: &[(u64, u64)]) -> (String, Vec<Span>) {
    const IDS: [&str; 6] = [
        "b000000000000001",
        "b000000000000002",
        "b000000000000003",
        "b000000000000004",
        "b000000000000005",
        "b000000000000006",
    ];
    let start = u128::from(RECORDED_AT - 60 - 10 * trace as u64) * 1_000_000_000;
    let at = |ms: u64| start + u128::from(ms) * 1_000_000;
    let end = rolls.iter().map(|(_, end)| *end).max().unwrap_or(0) + 1;
    let mut spans = vec![Span {
        service: "dice-roller",
        environment: Some("stage4"),
        name: "GET /roll-async",
        kind: "SPAN_KIND_SERVER",
        id: "a000000000000001",
        parent: None,
        start_unix_nanos: at(0),
        end_unix_nanos: at(end),
    }];
    for (index, (from, to)) in rolls.iter().enumerate() {
        spans.push(Span {
            service: "dice-roller",
            environment: Some("stage4"),
            name: "roll_die",
            kind: "SPAN_KIND_INTERNAL",
            id: IDS[index],
            parent: Some("a000000000000001"),
            start_unix_nanos: at(*from),
            end_unix_nanos: at(*to),
        });
    }
    (format!("{trace:032x}"), spans)
}

/// Tempo's answers for stage 4: the batches, newest first.
fn stage4(batches: &[(String, Vec<Span>)]) -> Answers {
    let found: Vec<Found<'_>> = batches
        .iter()
        .map(|(id, spans)| Found {
            trace_id: id,
            spans,
            environment: "stage4",
        })
        .collect();
    // Only stage 4 runs: whatever a search asks, Tempo has these batches.
    let mut answers = Answers::default().search(|_| true, synthesized::search(&found));
    for (id, spans) in batches {
        answers = answers.trace(id, synthesized::trace_v1(id, spans));
    }
    answers
}

const CONCURRENT: &str = "dice-roller: the roll_die spans of a GET /roll-async run concurrently";

/// The fifth case: the newest `/roll-async` trace may be a batch of
/// one (two of the first six were), which cannot show concurrency.
#[tokio::test]
async fn stage_4_passes_over_a_batch_of_one_and_judges_several() {
    let batches = [
        batch(1, &[(0, 400)]),
        batch(2, &[(0, 300), (1, 800), (2, 90)]),
        batch(3, &[(0, 500), (1, 200)]),
        batch(4, &[(0, 700), (1, 650), (2, 10), (3, 900)]),
    ];
    let (checklist, asked) =
        run_verify(stage4(&batches), options(4, RECORDED_AT, FIFTEEN_MINUTES)).await;
    let check = outcome(&checklist, CONCURRENT);
    assert!(check.passed, "{checklist}");
    assert_eq!(
        check.details[0],
        "3 of the 3 newest GET /roll-async traces with two or more roll_die spans have them overlap \
         (at most 4 at once); 1 with fewer than two roll_die spans passed over"
    );
    let search = asked
        .traceql
        .iter()
        .find(|q| q.contains("GET /roll-async"))
        .unwrap();
    assert_eq!(
        search,
        "{resource.service.name=\"dice-roller\" && resource.deployment.environment.name=\"stage4\" \
         && name=\"GET /roll-async\"} > {name=\"roll_die\"} | count() >= 2 with (most_recent=true)"
    );
}

#[tokio::test]
async fn stage_4_fails_when_the_rolls_of_most_batches_run_one_after_another() {
    let batches = [
        batch(1, &[(0, 100), (100, 200)]),
        batch(2, &[(0, 300), (300, 800)]),
        batch(3, &[(0, 500), (1, 200)]),
    ];
    let (checklist, _) =
        run_verify(stage4(&batches), options(4, RECORDED_AT, FIFTEEN_MINUTES)).await;
    let check = outcome(&checklist, CONCURRENT);
    assert!(!check.passed, "{checklist}");
    assert!(
        check.details[0].starts_with(
            "1 of the 3 newest GET /roll-async traces with two or more roll_die spans have them overlap"
        ),
        "{checklist}"
    );
    assert!(
        check.details[0]
            .contains("the roll_die spans ran one after another [stage 4, the last 15m, TraceQL: "),
        "{checklist}"
    );
}

// --- stage 6: the request and the usage receiver ---------------------------------

const STAGE6_ROLL: &str = "c0000000000000000000000000000006";
const STAGE6_PUSH: &str = "d0000000000000000000000000000006";

fn stage6_roll() -> Vec<Span> {
    let t = |ms: u128| u128::from(RECORDED_AT - 30) * 1_000_000_000 + ms * 1_000_000;
    let span = |service, environment, name, kind, id, parent, start, end| Span {
        service,
        environment,
        name,
        kind,
        id,
        parent,
        start_unix_nanos: t(start),
        end_unix_nanos: t(end),
    };
    let six = Some("stage6");
    vec![
        span(
            "traffic-gen",
            None,
            "simulated_request",
            "SPAN_KIND_INTERNAL",
            "c000000000000001",
            None,
            0,
            100,
        ),
        span(
            "traffic-gen",
            None,
            "POST",
            "SPAN_KIND_CLIENT",
            "c000000000000002",
            Some("c000000000000001"),
            1,
            99,
        ),
        span(
            "frontend",
            six,
            "POST /roll",
            "SPAN_KIND_SERVER",
            "c000000000000003",
            Some("c000000000000002"),
            2,
            98,
        ),
        span(
            "frontend",
            six,
            "GET",
            "SPAN_KIND_CLIENT",
            "c000000000000004",
            Some("c000000000000003"),
            3,
            97,
        ),
        span(
            "dice-roller",
            six,
            "GET /roll",
            "SPAN_KIND_SERVER",
            "c000000000000005",
            Some("c000000000000004"),
            4,
            96,
        ),
        span(
            "dice-roller",
            six,
            "GET",
            "SPAN_KIND_CLIENT",
            "c000000000000006",
            Some("c000000000000005"),
            5,
            20,
        ),
        span(
            "die-service",
            six,
            "GET /dice",
            "SPAN_KIND_SERVER",
            "c000000000000007",
            Some("c000000000000006"),
            6,
            19,
        ),
        span(
            "die-service",
            six,
            "SELECT die_specifications",
            "SPAN_KIND_CLIENT",
            "c000000000000008",
            Some("c000000000000007"),
            7,
            18,
        ),
    ]
}

/// Alloy's push to the receiver: a trace of its own, rooted at the
/// receiver's SERVER span.
fn stage6_push() -> Vec<Span> {
    let t = |ms: u128| u128::from(RECORDED_AT - 20) * 1_000_000_000 + ms * 1_000_000;
    vec![
        Span {
            service: "usage-receiver",
            environment: Some("stage6"),
            name: "POST /loki/api/v1/push",
            kind: "SPAN_KIND_SERVER",
            id: "d000000000000001",
            parent: None,
            start_unix_nanos: t(0),
            end_unix_nanos: t(9),
        },
        Span {
            service: "usage-receiver",
            environment: Some("stage6"),
            name: "INSERT usage_stats",
            kind: "SPAN_KIND_CLIENT",
            id: "d000000000000002",
            parent: Some("d000000000000001"),
            start_unix_nanos: t(2),
            end_unix_nanos: t(8),
        },
    ]
}

fn stage6(receiver_got_lines: bool) -> Answers {
    let roll = stage6_roll();
    let push = stage6_push();
    let lines: Vec<Line<'_>> = ["frontend", "dice-roller", "die-service"]
        .into_iter()
        .map(|service| Line {
            service,
            stage: 6,
            unix_nanos: u128::from(RECORDED_AT - 30) * 1_000_000_000,
            message: "request received",
            trace_id: STAGE6_ROLL,
        })
        .collect();
    let edges: Vec<(&[(&str, &str)], f64)> = vec![
        (&[("client", "traffic-gen"), ("server", "frontend")], 10.0),
        (&[("client", "frontend"), ("server", "dice-roller")], 10.0),
        (&[("client", "frontend"), ("server", "die-service")], 10.0),
        (
            &[("client", "dice-roller"), ("server", "die-service")],
            10.0,
        ),
    ];
    let mut answers = Answers::default()
        // No trace holds both the frontend and the receiver.
        .search(
            |q| q.contains("\"usage-receiver\"") && q.contains("\"frontend\""),
            recorded("tempo/search-traceql-empty.json"),
        );
    if receiver_got_lines {
        answers = answers.search(
            |q| q.contains("\"usage-receiver\""),
            synthesized::search(&[Found {
                trace_id: STAGE6_PUSH,
                spans: &push,
                environment: "stage6",
            }]),
        );
    }
    answers
        .search(
            |q| !q.contains("\"usage-receiver\""),
            synthesized::search(&[Found {
                trace_id: STAGE6_ROLL,
                spans: &roll,
                environment: "stage6",
            }]),
        )
        .trace(STAGE6_ROLL, synthesized::trace_v1(STAGE6_ROLL, &roll))
        .trace(STAGE6_PUSH, synthesized::trace_v1(STAGE6_PUSH, &push))
        .logs(
            |q| q.contains(STAGE6_ROLL),
            synthesized::loki_streams(&lines),
        )
        .promql(
            |q| q.contains("traces_service_graph_request_total"),
            synthesized::vector(&edges),
        )
        .promql(
            |q| q.contains("job=\"usage-receiver\"") && q.starts_with("sum(increase("),
            synthesized::vector(&[(&[], if receiver_got_lines { 12.0 } else { 0.0 })]),
        )
}

/// The third case: stage 6 could never pass, since it asked for one
/// trace through all four services while the receiver's are its own.
#[tokio::test]
async fn stage_6_checks_the_request_and_the_usage_receiver_apart() {
    let (checklist, asked) =
        run_verify(stage6(true), options(6, RECORDED_AT, FIFTEEN_MINUTES)).await;
    for title in [TRAFFIC, TRACE, LOGS, GRAPH, USAGE] {
        assert!(outcome(&checklist, title).passed, "{title}:\n{checklist}");
    }
    assert!(
        outcome(&checklist, TRACE).details[0]
            .ends_with("8 spans from dice-roller, die-service, frontend, traffic-gen"),
        "{checklist}"
    );
    assert_eq!(
        outcome(&checklist, USAGE).details,
        [
            format!(
                "trace {STAGE6_PUSH}: 2 spans of usage-receiver (INSERT usage_stats, POST /loki/api/v1/push)"
            ),
            "http_requests_total: +12".to_owned(),
            "usage_events_received_total: +12".to_owned(),
            "usage_events_stored_total: +12".to_owned(),
        ]
    );
    assert!(
        asked
            .traceql
            .iter()
            .all(|q| !(q.contains("usage-receiver") && q.contains("frontend"))),
        "{:?}",
        asked.traceql
    );
    assert!(
        asked.promql.contains(
            &"sum(increase(usage_events_stored_total{job=\"usage-receiver\", stage=\"6\"}[900s]))"
                .to_owned()
        ),
        "{:?}",
        asked.promql
    );
}

#[tokio::test]
async fn stage_6_fails_when_no_usage_line_reached_the_receiver() {
    let (checklist, _) = run_verify(stage6(false), options(6, RECORDED_AT, FIFTEEN_MINUTES)).await;
    assert!(outcome(&checklist, TRACE).passed, "{checklist}");
    let usage = outcome(&checklist, USAGE);
    assert!(!usage.passed, "{checklist}");
    assert!(
        usage.details[0]
            .starts_with("no trace of usage-receiver in Tempo: did Alloy push it any usage line?"),
        "{checklist}"
    );
    assert!(
        usage.details[0].ends_with(
            "[stage 6, the last 15m, TraceQL: {resource.service.name=\"usage-receiver\" && resource.deployment.environment.name=\"stage6\"} with (most_recent=true)]"
        ),
        "{checklist}"
    );
    assert!(
        usage.details[3].starts_with(
            "usage_events_stored_total did not grow [stage 6, the last 15m, PromQL: sum(increase("
        ),
        "{checklist}"
    );
}
