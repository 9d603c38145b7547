//! `verify`'s parsing and decisions on responses recorded from real Tempo,
//! Loki and Prometheus servers (tests/fixtures/stack-api/), and one full
//! `verify` run against a fake stack that serves them.
//!
//! The recordings are of a stage-3-shaped workload, so the tests check them
//! against a stage of that shape rather than against stage 1.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Query, Request};
use axum::http::StatusCode;
use axum::routing::get;
use demo::trace::Kind;
use demo::verify::service_graph::{EDGES_QUERY, edges};
use demo::verify::{
    self, ApiError, DASHBOARD, GRAPH, LOGS, PanelAnswer, Recorded, StackEndpoints, TRACE,
    VerifyOptions, dashboard_check, graph_check, logs_check, loki, prometheus, tempo, trace_check,
};
use stages::{Edge, Scenario, Service, Stage};

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

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
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
    let trace = tempo::parse_trace(&recorded("tempo/trace-by-id.json", 200))
        .unwrap()
        .unwrap();
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

    let check = trace_check(&RECORDED_STAGE, SAMPLED, &Ok(Some(trace.clone())));
    assert!(check.passed, "{check:?}");
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
    assert_eq!(v3.unwrap().unwrap().len(), 5);
    let v2 = tempo::parse_trace(&recorded("tempo/trace-by-id-v2.json", 200))
        .unwrap()
        .unwrap();
    assert_eq!(services_of(&v2).len(), 3);
    assert!(v2.iter().all(|span| span.trace_id == SAMPLED));
}

#[test]
fn a_missing_trace_is_404_in_v1_and_an_empty_200_in_v2() {
    let v1 = tempo::parse_trace(&recorded("tempo/trace-by-id-not-found.txt", 404)).unwrap();
    assert_eq!(v1, None);
    let v2 = tempo::parse_trace(&recorded("tempo/trace-by-id-v2-not-found.json", 200)).unwrap();
    assert_eq!(v2, None);
    let check = trace_check(&RECORDED_STAGE, "0123456789abcdef0123456789abcdef", &Ok(v1));
    assert!(!check.passed);
    assert!(
        check.details[0].contains("Tempo has no trace 0123456789abcdef"),
        "{check:?}"
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
    assert!(error_trace.as_ref().unwrap().iter().any(|span| span.error));
    let mut spans = error_trace.unwrap();
    spans.retain(|span| span.service != "die-service");
    let check = trace_check(
        &RECORDED_STAGE,
        "5ee69cf80c7a9a1c145669651dc13785",
        &Ok(Some(spans)),
    );
    assert!(!check.passed);
    assert!(
        check
            .details
            .iter()
            .any(|d| d == "no span from die-service"),
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

/// Stage 4's own check on a trace from Tempo: found by TraceQL, judged by
/// the demo's rule (the batch's rolls overlap).
#[test]
fn the_stage_4_check_asks_tempo_for_a_batch_and_judges_its_rolls() {
    let stage = stages::stage(4).unwrap();
    let check = &stage.checks[0];
    let query = tempo::traces_showing(check);
    assert_eq!(
        query,
        r#"{resource.service.name="dice-roller" && name="GET /roll-async"}"#
    );
    let span =
        |id: &str, name: &str, parent: Option<&str>, start: u64, end: u64| demo::SpanRecord {
            service: "dice-roller".into(),
            name: name.into(),
            kind: if parent.is_some() {
                Kind::Internal
            } else {
                Kind::Server
            },
            trace_id: SAMPLED.into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_owned),
            start_unix_nanos: start,
            end_unix_nanos: end,
            error: false,
        };
    let batch = vec![
        span("p", "GET /roll-async", None, 0, 100),
        span("a", "roll_die", Some("p"), 1, 60),
        span("b", "roll_die", Some("p"), 2, 90),
    ];
    let passed = verify::stage_check_in_tempo(check, &query, &Ok(Some(batch)));
    assert!(passed.passed, "{passed:?}");
    // The recorded stage 3 trace has no batch at all.
    let recorded = tempo::parse_trace(&recorded("tempo/trace-by-id.json", 200)).unwrap();
    let failed = verify::stage_check_in_tempo(check, &query, &Ok(recorded));
    assert!(!failed.passed);
    assert!(
        failed.details[0].contains("no GET /roll-async span"),
        "{failed:?}"
    );
    let missing = verify::stage_check_in_tempo(check, &query, &Ok(None));
    assert!(
        missing.details[0].contains("no trace in Tempo matches"),
        "{missing:?}"
    );
}

#[test]
fn the_sample_query_asks_for_traces_through_every_service() {
    assert_eq!(
        tempo::traces_through(&["frontend", "die-service"]),
        r#"{resource.service.name="frontend"} && {resource.service.name="die-service"}"#
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

    let check = logs_check(&RECORDED_STAGE, SAMPLED, &Ok(lines));
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
    let check = logs_check(&RECORDED_STAGE, SAMPLED, &Ok(lines));
    assert!(!check.passed);
    assert_eq!(
        check.details,
        [format!(
            "no line with trace_id {SAMPLED} from frontend, die-service"
        )]
    );

    let empty = loki::parse_streams(&recorded("loki/query-range-empty.json", 200)).unwrap();
    assert!(!logs_check(&RECORDED_STAGE, SAMPLED, &Ok(empty)).passed);
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
        let check = graph_check(&RECORDED_STAGE, &Ok(graph));
        assert!(check.passed, "{file}: {check:?}");
        assert_eq!(
            check.details,
            ["frontend -> dice-roller", "dice-roller -> die-service"]
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
    let check = graph_check(&RECORDED_STAGE, &Ok(graph));
    assert!(!check.passed);
    assert!(
        check.details[0].contains("frontend -> dice-roller is only a virtual_node edge"),
        "{check:?}"
    );
    assert!(check.details[1].contains("dice-roller -> die-service is only a virtual_node edge"));
    assert!(
        EDGES_QUERY.contains("connection_type"),
        "the query must keep the label"
    );
}

#[test]
fn internal_client_spans_leave_the_edges_missing() {
    let file = "prometheus/service-graph-negative/client-spans-internal/query-service-graph-edges-rate.json";
    let graph = edges(&prometheus::parse_query(&recorded(file, 200)).unwrap());
    let check = graph_check(&RECORDED_STAGE, &Ok(graph));
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
            .any(|d| d == "die-service is not in the service graph"),
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

    let row = |title: &str, answer| PanelAnswer {
        panel: title.to_owned(),
        expression: "q".to_owned(),
        answer,
    };
    assert!(dashboard_check(&[row("Rate", data)]).passed);
    let check = dashboard_check(&[row("Empty", empty), row("Broken", syntax)]);
    assert!(!check.passed);
    assert_eq!(check.details[0], "panel \"Empty\": no data for q");
    assert!(
        check.details[1]
            .contains("refused the query: invalid parameter \"query\": 1:16: parse error"),
        "{check:?}"
    );
}

/// Serves the recordings as the stack would, checking the requests `verify`
/// makes on the way.
fn fake_stack() -> Router {
    let file =
        |name: &str| std::fs::read_to_string(fixtures().join("stack-api").join(name)).unwrap();
    let prometheus = move |Query(params): Query<BTreeMap<String, String>>| async move {
        let query = &params["query"];
        let name = if query.contains("traces_service_graph_request_total") {
            if query == EDGES_QUERY {
                "prometheus/query-service-graph-request-total.json"
            } else {
                "prometheus/query-empty.json"
            }
        } else {
            assert!(
                query.contains(r#"stage="3""#),
                "variables expanded: {query}"
            );
            "prometheus/query-spanmetrics-calls-total.json"
        };
        file(name)
    };
    let search = |Query(params): Query<BTreeMap<String, String>>| async move {
        assert_eq!(
            params["q"],
            tempo::traces_through(&["frontend", "dice-roller", "die-service"])
        );
        assert!(params.contains_key("start") && params.contains_key("end"));
        // The search answer's format, holding the recorded sampled trace.
        format!(
            r#"{{"traces":[{{"traceID":"{SAMPLED}","rootServiceName":"frontend","rootTraceName":"GET /roll"}}],"metrics":{{}}}}"#
        )
    };
    let trace = move |request: Request| async move {
        if request.uri().path().ends_with(SAMPLED) {
            (StatusCode::OK, file("tempo/trace-by-id.json"))
        } else {
            (StatusCode::NOT_FOUND, String::new())
        }
    };
    let logs = move |Query(params): Query<BTreeMap<String, String>>| async move {
        assert_eq!(params["query"], format!(r#"{{stage="3"}} |= "{SAMPLED}""#));
        file("loki/query-range-trace-id-all-services.json")
    };
    Router::new()
        .route("/api/v1/query", get(prometheus))
        .route("/api/search", get(search))
        .route("/api/traces/{id}", get(trace))
        .route("/loki/api/v1/query_range", get(logs))
}

#[tokio::test]
async fn verify_against_a_stack_serving_the_recordings() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, fake_stack()).await });

    let mut options = VerifyOptions::new(&RECORDED_STAGE);
    options.endpoints = StackEndpoints {
        prometheus: base.clone(),
        loki: base.clone(),
        tempo: base,
    };
    options.dashboard = fixtures().join("dashboard-stage3.json");
    let checklist = verify::verify(&options).await;
    server.abort();

    let outcome = |title: &str| checklist.check(title).unwrap_or_else(|| panic!("{title}"));
    assert!(outcome(TRACE).passed, "{checklist}");
    assert!(outcome(LOGS).passed, "{checklist}");
    assert!(outcome(GRAPH).passed, "{checklist}");
    // The dashboard's second panel asks for a series that does not exist.
    let dashboard = outcome(DASHBOARD);
    assert!(!dashboard.passed, "{checklist}");
    assert_eq!(dashboard.details.len(), 1, "{checklist}");
    assert!(
        dashboard.details[0].starts_with("panel \"Nothing here\": no data"),
        "{checklist}"
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
