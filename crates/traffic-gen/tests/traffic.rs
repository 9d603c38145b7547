//! The traffic generator against a real dice-roller, with both exporting to
//! an in-process OTLP receiver.

use std::collections::HashSet;
use std::time::Duration;

use indicatif::ProgressBar;
use stage1_dice_roller::{AppState, Config, DiceMetrics, app};
use testkit::{Kind, OtlpReceiver, ReceivedSpan, Status, TestService};
use tracing::instrument::WithSubscriber;
use traffic_gen::{Budget, RequestStatus, Summary, TrafficConfig, Workload};

const SPAN_TIMEOUT: Duration = Duration::from_secs(10);

/// A stage 1 dice-roller rolling at once, whose risky die fails at `rate`.
fn dice_roller(receiver: &OtlpReceiver, risky_error_rate: f64) -> TestService {
    let config = Config {
        port: 0,
        roll_max_delay: Duration::ZERO,
        risky_error_rate,
    };
    let telemetry = testkit::telemetry_config("dice-roller", receiver);
    TestService::spawn(telemetry, async move |telemetry| {
        let metrics = DiceMetrics::register(telemetry.registry())?;
        Ok(app(AppState::new(&config, metrics)))
    })
}

fn traffic(service: &TestService, budget: Budget) -> TrafficConfig {
    let workload = Workload::for_scenario(stages::stage(1).unwrap().scenario);
    let mut config = TrafficConfig::new(service.base_url().parse().unwrap(), workload, budget);
    config.users = 4;
    config.think_time = (Duration::ZERO, Duration::from_millis(5));
    config
}

/// Runs `config` in this process as the service `traffic-gen` would, under a
/// subscriber of its own that exports to `receiver`, and flushes its spans.
async fn run_traffic(config: &TrafficConfig, receiver: &OtlpReceiver) -> Summary {
    let telemetry_config = testkit::telemetry_config(stages::TRAFFIC_GEN, receiver);
    let telemetry = telemetry::build(&telemetry_config, std::io::sink).unwrap();
    let client = telemetry
        .http_client("dice-roller", Duration::from_secs(5))
        .unwrap();
    let summary = traffic_gen::run(config, &client, &ProgressBar::hidden())
        .with_subscriber(telemetry.dispatch().clone())
        .await;
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    summary
}

fn span<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str, trace: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.service_name == service && s.name == name && s.trace_id == trace)
        .unwrap_or_else(|| panic!("no {service} span {name:?} in trace {trace}"))
}

#[tokio::test]
async fn every_request_is_a_trace_that_the_service_continues() {
    let receiver = OtlpReceiver::start();
    let service = dice_roller(&receiver, 0.5);
    let summary = run_traffic(&traffic(&service, Budget::requests(20)), &receiver).await;

    assert_eq!(summary.requests, 20, "{summary}");
    let traces: HashSet<&String> = summary.trace_ids.iter().collect();
    assert_eq!(traces.len(), 20, "one trace per request");
    // Each trace: simulated_request -> CLIENT GET -> dice-roller SERVER GET /roll -> roll_die.
    let spans = receiver
        .wait_for(SPAN_TIMEOUT, |spans| {
            traces
                .iter()
                .all(|trace| spans.iter().filter(|span| &&span.trace_id == trace).count() >= 4)
        })
        .await
        .unwrap();
    for trace in &traces {
        let root = span(&spans, "traffic-gen", "simulated_request", trace);
        assert_eq!(root.parent_span_id, None);
        let client = span(&spans, "traffic-gen", "GET", trace);
        assert_eq!(client.kind, Kind::Client);
        assert_eq!(client.parent_span_id.as_ref(), Some(&root.span_id));
        let server = span(&spans, "dice-roller", "GET /roll", trace);
        assert_eq!(server.kind, Kind::Server);
        assert_eq!(
            server.parent_span_id.as_ref(),
            Some(&client.span_id),
            "traceparent carries the CLIENT span"
        );
    }

    // Errors by status agree with what the service says it answered.
    let failed_server_spans = spans
        .iter()
        .filter(|s| s.service_name == "dice-roller" && s.name == "GET /roll")
        .filter(|s| s.attr_i64("http.response.status_code") == Some(500))
        .count() as u64;
    assert_eq!(
        summary
            .errors
            .get(&RequestStatus::Http(500))
            .copied()
            .unwrap_or(0),
        failed_server_spans,
        "{summary}"
    );
    for failed in &summary.failed {
        let root = span(&spans, "traffic-gen", "simulated_request", &failed.trace_id);
        assert_eq!(root.status, Status::Error);
        assert_eq!(root.attr_i64("http.response.status_code"), Some(500));
    }
    assert!(!summary.slowest.is_empty());
    assert!(summary.p50 <= summary.p95 && summary.p95 <= summary.p99);
}

#[tokio::test]
async fn a_duration_budget_stops_the_run_by_itself() {
    let receiver = OtlpReceiver::start();
    let service = dice_roller(&receiver, 0.0);
    let config = traffic(&service, Budget::duration(Duration::from_millis(300)));
    let summary = tokio::time::timeout(Duration::from_secs(20), run_traffic(&config, &receiver))
        .await
        .expect("a run with a duration stops by itself");
    assert!(summary.requests > 0, "{summary}");
    assert_eq!(summary.error_count(), 0, "{summary}");
}

/// `OTEL_BSP_SCHEDULE_DELAY` of a minute: only the flush at exit can deliver
/// the spans before the process is gone (docs/pitfalls.md#exporter-runtime).
#[tokio::test]
async fn the_binary_flushes_its_spans_before_it_exits_and_prints_a_summary() {
    let receiver = OtlpReceiver::start();
    let service = dice_roller(&receiver, 0.0);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_traffic-gen"))
        .args(["--stage", "1", "--requests", "3", "--users", "1"])
        .args(["--think-min", "0ms", "--think-max", "1ms"])
        .args(["--url", &service.base_url()])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_BSP_SCHEDULE_DELAY", "60000")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("3 requests to http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains("errors: none"), "{stdout}");
    assert!(stdout.contains("latency: p50 "), "{stdout}");

    let spans = receiver.spans();
    let roots: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.service_name == "traffic-gen" && s.name == "simulated_request")
        .collect();
    assert_eq!(roots.len(), 3, "spans flushed at exit");
    // With three requests all three are among the slowest: every trace id
    // printed is one that was exported.
    for root in roots {
        assert!(
            stdout.contains(&root.trace_id),
            "{} not in\n{stdout}",
            root.trace_id
        );
    }
    // Its JSON log lines went to stderr.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#""message":"traffic finished""#),
        "{stderr}"
    );
}

#[tokio::test]
async fn without_a_reachable_service_it_stops_and_says_what_to_start() {
    let closed = testkit::free_port();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_traffic-gen"))
        .args([
            "--stage",
            "1",
            "--requests",
            "2",
            "--think-min",
            "0ms",
            "--think-max",
            "1ms",
        ])
        .args(["--url", &format!("http://127.0.0.1:{closed}")])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("connection error: 2"), "{stdout}");
    assert!(stderr.contains("make stage1 up"), "{stderr}");
    // No endpoint configured: export is off, so no complaint about a collector.
    assert!(!stderr.contains("span export failing"), "{stderr}");
}
