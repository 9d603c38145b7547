//! `verify`'s parsing and decisions on responses recorded from real Tempo,
//! Loki and Prometheus servers (tests/fixtures/stack-api/), and a full
//! `verify` run of a dashboard's panels against a fake stack serving them.
//!
//! The recordings are of a stage-3-shaped workload, so the tests check them
//! against a stage of that shape rather than against stage 1.

use std::collections::BTreeSet;
use std::time::{Duration, UNIX_EPOCH};

use demo::trace::Kind;
use demo::verify::panels::{Backend, PanelQuery};
use demo::verify::service_graph::{edges, edges_query};
use demo::verify::tempo::FoundTrace;
use demo::verify::{
    self, ApiError, DASHBOARD, PanelAnswer, Recorded, Scope, StackEndpoints, VerifyOptions,
    dashboard_check, graph_check, logs_check, loki, prometheus, tempo, trace_check,
};
use stages::{Edge, Scenario, Service, Stage};

use crate::fake_stack::{Answers, fixtures, run_verify};

const SAMPLED: &str = "85fce9c8be761dfc7748e17825a1d41c";

const fn service(name: &'static str) -> Service {
    Service {
        name,
        package: name,
        binary: name,
        port: 8300,
        peers: &[],
        series: &[],
        span_names: &[],
        env: &[],
    }
}

/// frontend -> dice-roller -> die-service, as recorded.
static RECORDED_STAGE: Stage = Stage {
    number: 3,
    title: "recorded",
    services: &[
        service("frontend"),
        service("dice-roller"),
        service("die-service"),
    ],
    entry: "frontend",
    edges: &[
        Edge {
            client: "frontend",
            server: "dice-roller",
        },
        Edge {
            client: "dice-roller",
            server: "die-service",
        },
    ],
    scenario: Scenario::RollMix { dice: &[] },
    checks: &[],
    native_checks: &[],
};

/// The stage 3 recordings were made on 2026-11-25; a window of a day
/// before their end holds them.
fn scope() -> Scope {
    Scope::new(
        &RECORDED_STAGE,
        UNIX_EPOCH + Duration::from_secs(1_795_576_800),
        Duration::from_secs(24 * 3600),
    )
}

const SERVICES: [&str; 3] = ["frontend", "dice-roller", "die-service"];

/// The search result that named `trace_id`, as `trace_check` is given it.
fn listed(trace_id: &str) -> FoundTrace {
    FoundTrace {
        trace_id: trace_id.to_owned(),
        root_service: "frontend".into(),
        root_name: "GET /roll".into(),
        start_unix_nanos: 1_795_576_641_000_000_000,
        services: BTreeSet::new(),
        environments: BTreeSet::new(),
    }
}

/// A recorded answer with the status the recording had.
fn recorded(file: &str, status: u16) -> Recorded {
    let body = std::fs::read_to_string(fixtures().join("stack-api").join(file))
        .unwrap_or_else(|error| panic!("{file}: {error}"));
    Recorded {
        url: format!("recorded:{file}"),
        status,
        body,
    }
}

fn services_of(spans: &[demo::SpanRecord]) -> BTreeSet<&str> {
    spans.iter().map(|span| span.service.as_str()).collect()
}

#[test]
fn tempo_v1_trace_decodes_base64_ids_and_finds_every_service() {
    let found = tempo::parse_trace(&recorded("tempo/trace-by-id.json", 200))
        .unwrap()
        .unwrap();
    // Every service's resource names the stage.
    assert_eq!(
        found
            .environments
            .iter()
            .map(|(_, e)| e.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["stage3"])
    );
    assert!(found.foreign("stage3").is_empty());
    let trace = found.spans.clone();
    assert_eq!(trace.len(), 5);
    assert!(trace.iter().all(|span| span.trace_id == SAMPLED));
    assert_eq!(
        services_of(&trace),
        BTreeSet::from(["dice-roller", "die-service", "frontend"])
    );
    // "Dqh83LbNa9k=" is 0ea87cdcb6cd6bd9, the die-service SERVER span.
    let server = trace
        .iter()
        .find(|span| span.span_id == "0ea87cdcb6cd6bd9")
        .unwrap();
    assert_eq!(
        (server.service.as_str(), server.kind),
        ("die-service", Kind::Server)
    );
    let roots: Vec<_> = trace
        .iter()
        .filter(|span| span.parent_span_id.is_none())
        .collect();
    assert_eq!(roots.len(), 1);
    assert_eq!(
        (roots[0].service.as_str(), roots[0].name.as_str()),
        ("frontend", "GET /roll")
    );
    // Every parent is in the trace: the ids decode consistently.
    let ids: BTreeSet<&str> = trace.iter().map(|span| span.span_id.as_str()).collect();
    assert!(
        trace
            .iter()
            .filter_map(|s| s.parent_span_id.as_deref())
            .all(|p| ids.contains(p))
    );

    let check = trace_check(&scope(), &SERVICES, "Q", &listed(SAMPLED), &Ok(Some(found)));
    assert!(check.passed, "{check:?}");
    assert_eq!(
        check.details,
        [format!(
            "trace {SAMPLED}, begun 2026-11-25T03:17:21Z: 5 spans from dice-roller, die-service, frontend"
        )]
    );
    // The same spans draw a waterfall, frontend's root first.
    let drawn = demo::waterfall::render(&trace);
    assert!(
        drawn
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("frontend     GET /roll"),
        "{drawn}"
    );
    assert!(drawn.contains("die-service          GET /dice"), "{drawn}");
}

#[test]
fn tempo_3_and_the_v2_api_have_the_same_shape() {
    let v3 = tempo::parse_trace(&recorded("tempo-3.0.3/tempo/trace-by-id.json", 200));
    assert_eq!(v3.unwrap().unwrap().spans.len(), 5);
    let v2 = tempo::parse_trace(&recorded("tempo/trace-by-id-v2.json", 200))
        .unwrap()
        .unwrap()
        .spans;
    assert_eq!(services_of(&v2).len(), 3);
    assert!(v2.iter().all(|span| span.trace_id == SAMPLED));
}

#[test]
fn a_missing_trace_is_404_in_v1_and_an_empty_200_in_v2() {
    let v1 = tempo::parse_trace(&recorded("tempo/trace-by-id-not-found.txt", 404)).unwrap();
    assert_eq!(v1, None);
    let v2 = tempo::parse_trace(&recorded("tempo/trace-by-id-v2-not-found.json", 200)).unwrap();
    assert_eq!(v2, None);
    let check = trace_check(
        &scope(),
        &SERVICES,
        "Q",
        &listed("0123456789abcdef0123456789abcdef"),
        &Ok(v1),
    );
    assert!(!check.passed);
    assert_eq!(
        check.details,
        [
            "Tempo has no trace 0123456789abcdef0123456789abcdef, though its search listed it \
          [stage 3, the last 1day, TraceQL: Q]"
        ]
    );

    let invalid = tempo::parse_trace(&recorded("tempo/trace-by-id-invalid.txt", 400)).unwrap_err();
    assert!(
        invalid
            .to_string()
            .contains("trace IDs can only contain hex characters"),
        "{invalid}"
    );
}

#[test]
fn a_trace_missing_a_service_fails_naming_it() {
    let error_trace = tempo::parse_trace(&recorded("tempo/trace-by-id-error.json", 200)).unwrap();
    assert!(
        error_trace
            .as_ref()
            .unwrap()
            .spans
            .iter()
            .any(|span| span.error)
    );
    let mut trace = error_trace.unwrap();
    trace.spans.retain(|span| span.service != "die-service");
    let check = trace_check(
        &scope(),
        &SERVICES,
        "Q",
        &listed("5ee69cf80c7a9a1c145669651dc13785"),
        &Ok(Some(trace)),
    );
    assert!(!check.passed);
    assert!(
        check.details[0].ends_with(
            "4 spans from dice-roller, frontend; no span from die-service [stage 3, the last 1day, TraceQL: Q]"
        ),
        "{check:?}"
    );
}

#[test]
fn search_results_get_their_leading_zeros_back() {
    let found =
        tempo::parse_search(&recorded("tempo/search-traceql-service-name.json", 200)).unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().all(|trace| trace.trace_id.len() == 32));
    assert!(
        found
            .iter()
            .any(|trace| trace.trace_id == "0a4981e20dc981291d422421434365ff")
    );
    assert_eq!(found[0].root_service, "frontend");

    let empty = tempo::parse_search(&recorded("tempo/search-traceql-empty.json", 200)).unwrap();
    assert!(empty.is_empty());
    let syntax = tempo::parse_search(&recorded("tempo/search-traceql-syntax-error.txt", 400));
    assert!(
        matches!(syntax, Err(ApiError::Status { status: 400, .. })),
        "{syntax:?}"
    );
    assert!(
        syntax
            .unwrap_err()
            .to_string()
            .contains("invalid TraceQL query")
    );
}

/// Stage 4's own check on traces from Tempo: found by TraceQL (batches of
/// two rolls or more), judged by the demo's rule (the batch's rolls
/// overlap), on several traces.
#[test]
fn the_stage_4_check_asks_tempo_for_batches_and_judges_their_rolls() {
    let stage = stages::stage(4).unwrap();
    let check = &stage.checks[0];
    let query = tempo::traces_showing(check, "stage4");
    assert_eq!(
        query,
        r#"{resource.service.name="dice-roller" && resource.deployment.environment.name="stage4" && name="GET /roll-async"} > {name="roll_die"} | count() >= 2"#
    );
    let span = |trace: &str, id: &str, name: &str, parent: Option<&str>, start: u64, end: u64| {
        demo::SpanRecord {
            service: "dice-roller".into(),
            name: name.into(),
            kind: if parent.is_some() {
                Kind::Internal
            } else {
                Kind::Server
            },
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_owned),
            start_unix_nanos: start,
            end_unix_nanos: end,
            error: false,
        }
    };
    let batch = |trace: &str, rolls: &[(u64, u64)]| {
        let mut spans = vec![span(trace, "p", "GET /roll-async", None, 0, 100)];
        for (index, (start, end)) in rolls.iter().enumerate() {
            spans.push(span(
                trace,
                &format!("r{index}"),
                "roll_die",
                Some("p"),
                *start,
                *end,
            ));
        }
        (
            trace.to_owned(),
            tempo::TempoTrace {
                spans,
                environments: BTreeSet::new(),
            },
        )
    };
    let scope = Scope::new(
        stage,
        UNIX_EPOCH + Duration::from_secs(1_000),
        Duration::from_secs(900),
    );
    let judge = |traces| verify::stage_check_in_tempo(&scope, check, &query, &[], &Ok(traces));

    let passed = judge(vec![
        batch("t1", &[(1, 60), (2, 90)]),
        batch("t2", &[(1, 60)]),
    ]);
    assert!(passed.passed, "{passed:?}");
    assert_eq!(
        passed.details[1],
        "  t1: 2 roll_die spans, at most 2 at once"
    );
    // Only batches of one: nothing to judge.
    let ones = judge(vec![batch("t1", &[(1, 60)]), batch("t2", &[(1, 60)])]);
    assert!(!ones.passed);
    assert!(
        ones.details[0].starts_with(
            "no GET /roll-async with two or more roll_die spans; 2 with fewer than two roll_die spans passed over [stage 4, the last 15m, TraceQL: "
        ),
        "{ones:?}"
    );
    // The recorded stage 3 trace has no batch at all.
    let recorded = tempo::parse_trace(&recorded("tempo/trace-by-id.json", 200))
        .unwrap()
        .unwrap();
    let failed = judge(vec![(SAMPLED.to_owned(), recorded)]);
    assert!(!failed.passed);
    let missing = judge(Vec::new());
    assert!(
        missing.details[0]
            .starts_with("no trace in Tempo matches [stage 4, the last 15m, TraceQL: "),
        "{missing:?}"
    );
}

#[test]
fn the_sample_query_asks_for_traces_of_the_stage_through_every_service() {
    assert_eq!(
        tempo::traces_through("stage3", &["frontend", "die-service"]),
        r#"{resource.service.name="frontend" && resource.deployment.environment.name="stage3"} && {resource.service.name="die-service" && resource.deployment.environment.name="stage3"}"#
    );
    assert_eq!(
        tempo::most_recent(&tempo::stage_spans("stage3")),
        r#"{resource.deployment.environment.name="stage3"} with (most_recent=true)"#
    );
}

#[test]
fn loki_streams_are_merged_in_time_order_and_lines_parsed_again() {
    let lines = loki::parse_streams(&recorded(
        "loki/query-range-trace-id-all-services.json",
        200,
    ))
    .unwrap();
    assert_eq!(lines.len(), 6, "a successful roll writes 6 lines");
    assert!(
        lines
            .windows(2)
            .all(|pair| pair[0].unix_nanos <= pair[1].unix_nanos)
    );
    assert_eq!(lines[0].field("message").as_deref(), Some("button clicked"));
    assert!(
        lines
            .iter()
            .all(|line| line.field("trace_id").as_deref() == Some(SAMPLED))
    );

    let check = logs_check(&scope(), &SERVICES, "L", SAMPLED, &Ok(lines));
    assert!(check.passed, "{check:?}");
}

#[test]
fn logs_from_only_some_services_fail_naming_the_others() {
    // `| json` made every field a label: three one-line streams, one service.
    let lines = loki::parse_streams(&recorded("loki/query-range-trace-id.json", 200)).unwrap();
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .all(|line| line.labels.contains_key("trace_id"))
    );
    let check = logs_check(&scope(), &SERVICES, "L", SAMPLED, &Ok(lines));
    assert!(!check.passed);
    assert_eq!(
        check.details[0],
        format!(
            "no line with trace_id {SAMPLED} from frontend, die-service [stage 3, the last 1day, LogQL: L]"
        )
    );

    let empty = loki::parse_streams(&recorded("loki/query-range-empty.json", 200)).unwrap();
    assert!(!logs_check(&scope(), &SERVICES, "L", SAMPLED, &Ok(empty)).passed);
    let syntax = loki::parse_streams(&recorded("loki/query-range-syntax-error.txt", 400));
    let message = syntax.unwrap_err().to_string();
    assert!(
        message.contains("400: parse error at line 1, col 29"),
        "{message}"
    );
}

#[test]
fn paired_edges_pass_and_the_virtual_user_edge_is_told_apart() {
    for file in [
        "prometheus/query-service-graph-request-total.json",
        "tempo-3.0.3/prometheus/query-service-graph-request-total.json",
    ] {
        let graph = edges(&prometheus::parse_query(&recorded(file, 200)).unwrap());
        let user = graph
            .iter()
            .find(|edge| edge.is("user", "frontend"))
            .unwrap();
        assert!(user.virtual_node);
        assert!(
            !graph
                .iter()
                .find(|e| e.is("frontend", "dice-roller"))
                .unwrap()
                .virtual_node
        );
        let check = graph_check(&scope(), &SERVICES, "Q", &Ok(graph));
        assert!(check.passed, "{file}: {check:?}");
        assert_eq!(check.details.len(), 2, "{check:?}");
        assert!(
            check.details[0].starts_with("frontend -> dice-roller: "),
            "{check:?}"
        );
        assert!(
            check.details[1].starts_with("dice-roller -> die-service: "),
            "{check:?}"
        );
    }
}

/// Without propagation Tempo still draws both edges, as virtual_node edges
/// guessed from peer.service: a check on (client, server) alone would pass.
#[test]
fn guessed_edges_without_propagation_fail() {
    let file =
        "prometheus/service-graph-negative/no-propagation/query-service-graph-edges-rate.json";
    let graph = edges(&prometheus::parse_query(&recorded(file, 200)).unwrap());
    assert!(graph.iter().any(|edge| edge.is("frontend", "dice-roller")));
    let check = graph_check(&scope(), &SERVICES, "Q", &Ok(graph));
    assert!(!check.passed);
    assert!(
        check.details[0].contains("frontend -> dice-roller is only a virtual_node edge"),
        "{check:?}"
    );
    assert!(check.details[1].contains("dice-roller -> die-service is only a virtual_node edge"));
    let query = edges_query(&scope());
    assert!(
        query.contains("connection_type"),
        "the query must keep the label"
    );
    assert_eq!(
        query,
        "sum by (client, server, connection_type) (increase(traces_service_graph_request_total{deployment_environment_name=\"stage3\"}[86400s]))"
    );
}

#[test]
fn internal_client_spans_leave_the_edges_missing() {
    let file = "prometheus/service-graph-negative/client-spans-internal/query-service-graph-edges-rate.json";
    let graph = edges(&prometheus::parse_query(&recorded(file, 200)).unwrap());
    let check = graph_check(&scope(), &SERVICES, "Q", &Ok(graph));
    assert!(!check.passed);
    assert!(
        check.details[0].contains(
            "frontend -> dice-roller is missing: is frontend's outgoing span of kind CLIENT"
        ),
        "{check:?}"
    );
    assert!(
        check
            .details
            .iter()
            .any(|d| d
                == "die-service is not in the service graph [stage 3, the last 1day, PromQL: Q]"),
        "{check:?}"
    );
}

#[test]
fn a_dashboard_query_without_data_or_with_a_syntax_error_fails() {
    let data = prometheus::parse_query(&recorded(
        "prometheus/query-spanmetrics-calls-total.json",
        200,
    ));
    assert!(!data.as_ref().unwrap().is_empty());
    let empty = prometheus::parse_query(&recorded("prometheus/query-empty.json", 200));
    assert_eq!(empty.as_ref().unwrap().len(), 0);
    let syntax = prometheus::parse_query(&recorded("prometheus/query-syntax-error.json", 400));
    assert!(
        matches!(syntax, Err(ApiError::Rejected { .. })),
        "{syntax:?}"
    );

    let row = |title: &str, answer: Result<Vec<prometheus::Sample>, ApiError>| PanelAnswer {
        query: PanelQuery {
            panel: title.to_owned(),
            language: "PromQL",
            backend: Backend::Prometheus,
            expression: "q".to_owned(),
        },
        answer: answer.map(|samples| samples.len()),
    };
    assert!(dashboard_check(&scope(), &[row("Rate", data)], &[]).passed);
    let check = dashboard_check(&scope(), &[row("Empty", empty), row("Broken", syntax)], &[]);
    assert!(!check.passed);
    assert_eq!(
        check.details[0],
        "panel \"Empty\": no data [stage 3, the last 1day, PromQL: q]"
    );
    assert!(
        check.details[1]
            .contains("refused the query: invalid parameter \"query\": 1:16: parse error"),
        "{check:?}"
    );
}

/// Every panel is asked, in its own language, with the stage's variables:
/// PromQL and the service map from Prometheus, LogQL from Loki, TraceQL
/// from Tempo. Each empty panel is named with its query.
#[tokio::test]
async fn every_panel_s_promql_logql_and_traceql_is_run() {
    let answers = Answers::default()
        .promql(
            |q| q.contains("traces_spanmetrics_calls_total"),
            crate::fake_stack::recorded("prometheus/query-spanmetrics-calls-total.json"),
        )
        .promql(
            |q| q.starts_with("traces_service_graph_request_total{server="),
            crate::fake_stack::recorded("prometheus/query-service-graph-request-total.json"),
        )
        .search(
            |q| q.starts_with("{resource.service.name=\"frontend\""),
            crate::fake_stack::recorded("tempo/search-traceql-service-name.json"),
        )
        .logs(
            |q| q.starts_with("{service_name=\"frontend\""),
            crate::fake_stack::recorded("loki/query-range-trace-id.json"),
        );
    let mut options = VerifyOptions::new(&RECORDED_STAGE);
    options.dashboard = fixtures().join("dashboard-stage3.json");
    let (checklist, asked) = run_verify(answers, options).await;
    let dashboard = checklist.check(DASHBOARD).unwrap();
    assert!(!dashboard.passed, "{checklist}");
    let window = "stage 3, the last 15m";
    assert_eq!(
        dashboard.details,
        [
            format!(
                "panel \"Nothing here\": no data [{window}, PromQL: traces_service_graph_request_total{{client=\"no-such-service\", deployment_environment_name=\"stage3\"}}]"
            ),
            format!(
                "panel \"Error logs\": no data [{window}, LogQL: {{stage=\"3\"}} | json | level=\"ERROR\"]"
            ),
            format!(
                "panel \"Failed rolls\": no data [{window}, TraceQL: {{resource.deployment.environment.name=\"stage3\" && status=error}}]"
            ),
        ],
        "{checklist}"
    );
    // Asked with the variables set, as Grafana would.
    assert!(
        asked
            .logql
            .contains(&r#"{service_name="frontend", stage="3"} | json"#.to_owned()),
        "{asked:?}"
    );
    assert!(
        asked.traceql.contains(
            &r#"{resource.service.name="frontend" && resource.deployment.environment.name="stage3"}"#.to_owned()
        ),
        "{asked:?}"
    );
    assert!(
        asked.promql.contains(
            &r#"traces_service_graph_request_total{server=~"frontend|dice-roller", deployment_environment_name="stage3"}"#.to_owned()
        ),
        "{asked:?}"
    );
}

#[tokio::test]
async fn an_unreachable_stack_says_to_start_it() {
    let closed = testkit::free_port();
    let mut options = VerifyOptions::new(stages::stage(1).unwrap());
    let base = format!("http://127.0.0.1:{closed}");
    options.endpoints = StackEndpoints {
        prometheus: base.clone(),
        loki: base.clone(),
        tempo: base,
    };
    options.dashboard = fixtures().join("dashboard-stage3.json");
    let checklist = verify::verify(&options).await;
    assert!(!checklist.passed());
    let text = checklist.to_string();
    assert!(text.contains("is the stack up? make stack-up"), "{text}");
}
