//! The demos of stages 1, 4, 5 and 6, run as `make demo` runs them, on free
//! ports (stages 5 and 6 with a throwaway PostgreSQL cluster of the run's
//! own); and the stage 1 run with one signal broken on purpose, which the
//! checklist must catch and name.
//!
//! The services are the real binaries from `target/debug/`, built by
//! `make test` (`cargo build --workspace --all-targets`) before the tests run.

use std::process::Stdio;
use std::time::Duration;

use demo::local_checks::{LOGS, OUTAGE, SECRETS, SPANS, TRACES, TRAFFIC, USAGE};
use demo::{DemoOptions, DemoReport, Ports};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Short, so the suite stays quick; long enough for a dozen requests.
const TRAFFIC_TIME: Duration = Duration::from_secs(3);
/// Bounds every wait on a demo process.
const DEADLINE: Duration = Duration::from_secs(60);

fn options(overrides: &[&str]) -> DemoOptions {
    let mut options = DemoOptions::new(stages::stage(1).unwrap());
    options.ports = Ports::Free;
    options.traffic = TRAFFIC_TIME;
    options.think_time = (Duration::from_millis(20), Duration::from_millis(100));
    options.overrides = std::iter::once("dice-roller:ROLL_MAX_DELAY_MS=200")
        .chain(overrides.iter().copied())
        .map(|text| text.parse().unwrap())
        .collect();
    options
}

async fn run_demo(options: &DemoOptions) -> DemoReport {
    tokio::time::timeout(DEADLINE, demo::run(options, std::future::pending()))
        .await
        .expect("the demo finishes by itself")
        .expect("the demo produces a checklist")
}

fn details(report: &DemoReport, title: &str) -> String {
    let check = report.checklist.check(title).expect(title);
    assert!(!check.passed, "{title} should fail:\n{report}");
    check.details.join("\n")
}

#[tokio::test]
async fn make_demo_for_stage_1_passes_its_own_checklist_and_draws_a_trace() {
    let output = tokio::time::timeout(
        DEADLINE,
        Command::new(env!("CARGO_BIN_EXE_demo"))
            .args(["--stage", "1", "--free-ports", "--duration", "3s"])
            .args(["--env", "dice-roller:ROLL_MAX_DELAY_MS=200"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the demo finishes by itself")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("all 6 checks passed"), "{stdout}");
    assert!(stdout.contains("(100%) match a received span"), "{stdout}");
    // The waterfall: the traffic generator's spans over the service's.
    let waterfall = stdout
        .split("== a representative trace ==")
        .nth(1)
        .expect("a waterfall");
    assert!(
        waterfall.contains("traffic-gen  simulated_request"),
        "{waterfall}"
    );
    assert!(
        waterfall.contains("dice-roller      GET /roll"),
        "{waterfall}"
    );
    assert!(
        waterfall.contains("dice-roller        roll_die"),
        "{waterfall}"
    );
    assert!(waterfall.contains("|█"), "{waterfall}");
}

/// The newest of stages 2 to 4 for real: three services, the die-service
/// reading its copy of dice.json, traffic through the frontend's page, and
/// the stage check that a batch's rolls overlap, drawn in the waterfall.
#[tokio::test]
async fn make_demo_for_stage_4_passes_and_draws_overlapping_rolls() {
    let output = tokio::time::timeout(
        DEADLINE,
        Command::new(env!("CARGO_BIN_EXE_demo"))
            .args(["--stage", "4", "--free-ports", "--duration", "3s"])
            .args(["--env", "dice-roller:ROLL_MAX_DELAY_MS=200"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the demo finishes by itself")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("all 7 checks passed"), "{stdout}");
    for edge in [
        "traffic-gen -> frontend",
        "frontend -> dice-roller",
        "frontend -> die-service",
        "dice-roller -> die-service",
    ] {
        assert!(stdout.contains(edge), "{edge}: {stdout}");
    }
    assert!(
        stdout.contains(
            "[PASS] dice-roller: the roll_die spans of a GET /roll-async run concurrently"
        ),
        "{stdout}"
    );
    let waterfall = stdout
        .split("== a representative trace ==")
        .nth(1)
        .and_then(|rest| rest.split("== checklist ==").next())
        .expect("a waterfall");
    assert!(waterfall.contains("GET /roll-async"), "{waterfall}");
    assert!(waterfall.contains(", 4 services,"), "{waterfall}");
    // Overlap, drawn: two roll_die bars start in the same column.
    let starts: Vec<usize> = waterfall
        .lines()
        .filter(|line| line.contains("roll_die"))
        .filter_map(|line| line.split('|').nth(1)?.chars().position(|c| c == '█'))
        .collect();
    assert!(starts.len() >= 2, "{waterfall}");
    let first = starts[0];
    assert!(
        starts.iter().filter(|start| **start == first).count() >= 2,
        "the rolls of a batch start together:\n{waterfall}"
    );
}

fn passed_details(report: &DemoReport, title: &str) -> String {
    let check = report.checklist.check(title).expect(title);
    assert!(check.passed, "{title} should pass:\n{report}");
    check.details.join("\n")
}

fn stage_options(stage: u8) -> DemoOptions {
    let mut options = DemoOptions::new(stages::stage(stage).unwrap());
    options.ports = Ports::Free;
    options.traffic = TRAFFIC_TIME;
    options.think_time = (Duration::from_millis(20), Duration::from_millis(100));
    options.overrides = vec!["dice-roller:ROLL_MAX_DELAY_MS=100".parse().unwrap()];
    options
}

/// The first number in `text` after `after`.
fn number_after(text: &str, after: &str) -> u64 {
    let rest = &text[text
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} in {text}"))
        + after.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .find(|part| !part.is_empty())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("a number after {after:?} in {text}"))
}

/// Stage 5 natively: the run's own PostgreSQL, the query span drawn under
/// the die-service's request, and the outage drill: the cluster stopped
/// under traffic, 503s, then recovery with the same processes.
#[tokio::test]
async fn make_demo_for_stage_5_draws_the_query_and_survives_the_outage_drill() {
    let report = run_demo(&stage_options(5)).await;
    assert!(report.passed(), "{report}");
    let waterfall = report.waterfall.as_deref().expect("a waterfall");
    assert!(
        waterfall.contains("SELECT die_specifications"),
        "{waterfall}"
    );
    let drill = passed_details(&report, OUTAGE);
    assert!(number_after(&drill, "during the outage: ") > 0, "{drill}");
    assert!(drill.contains("(503: "), "{drill}");
    assert!(drill.contains("first success"), "{drill}");
    assert!(number_after(&drill, "after recovering: ") > 0, "{drill}");
}

/// Stage 6 natively: signed-in traffic, the frontend's usage lines pushed
/// to the usage receiver as Alloy would, one row per line, and no secret
/// the traffic typed or was given anywhere in what the run captured.
#[tokio::test]
async fn make_demo_for_stage_6_stores_every_usage_line_and_leaks_no_secret() {
    let report = run_demo(&stage_options(6)).await;
    assert!(report.passed(), "{report}");
    let usage = passed_details(&report, USAGE);
    let printed = number_after(&usage, "frontend printed ");
    assert!(printed > 0, "{usage}");
    assert_eq!(
        number_after(&usage, "usage_stats holds "),
        printed,
        "{usage}"
    );
    for event in ["sign_in ", "roll "] {
        assert!(usage.contains(event), "{event}: {usage}");
    }
    // The session layer's own INFO spans (`call`, `get_record`) are plumbing,
    // filtered out by the services' default `RUST_LOG`.
    let waterfall = report.waterfall.as_deref().expect("a waterfall");
    assert!(waterfall.contains("frontend"), "{waterfall}");
    assert!(!waterfall.contains("get_record"), "{waterfall}");
    let secrets = passed_details(&report, SECRETS);
    assert!(number_after(&secrets, "for ") > 0, "{secrets}");
    assert!(secrets.contains("found none"), "{secrets}");
}

#[tokio::test]
async fn spans_exported_nowhere_fail_the_checklist_naming_what_is_missing() {
    let closed = testkit::free_port();
    let endpoint = format!("dice-roller:OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{closed}");
    let report = run_demo(&options(&[&endpoint])).await;

    assert!(!report.passed(), "{report}");
    assert!(
        details(&report, SPANS).contains("dice-roller exported no span"),
        "{report}"
    );
    let logs = details(&report, LOGS);
    assert!(logs.contains("dice-roller: 0 of "), "{logs}");
    assert!(
        logs.contains("with the ids of a span never received"),
        "{logs}"
    );
    assert!(
        details(&report, TRACES).contains("traffic-gen -> dice-roller: 0 requests"),
        "{report}"
    );
    // What does work is still reported as working.
    assert!(report.checklist.check(TRAFFIC).unwrap().passed, "{report}");
    assert!(
        report
            .checklist
            .check(demo::local_checks::METRICS)
            .unwrap()
            .passed
    );
}

/// With the telemetry layer's spans filtered out, the handler's
/// "request received" line is written outside any span: no ids.
#[tokio::test]
async fn request_lines_without_ids_fail_the_log_check() {
    let filter = "dice-roller:RUST_LOG=warn,stage1_dice_roller=info";
    let report = run_demo(&options(&[filter])).await;

    assert!(!report.passed(), "{report}");
    let logs = details(&report, LOGS);
    assert!(
        logs.contains("without trace_id/span_id, written during the traffic"),
        "{logs}"
    );
    assert!(logs.contains("request received"), "{logs}");
    assert!(
        details(&report, SPANS).contains("dice-roller sent no span named GET /roll"),
        "{report}"
    );
}

#[tokio::test]
async fn ctrl_c_stops_every_service_the_demo_started() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--stage", "1", "--free-ports", "--duration", "5m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Wait until the traffic runs, noting the service's port on the way.
    let mut stderr = BufReader::new(demo.stderr.take().unwrap()).lines();
    let port = tokio::time::timeout(DEADLINE, async {
        let mut port = None;
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("starting dice-roller on :") {
                port = rest
                    .split_whitespace()
                    .next()
                    .and_then(|p| p.parse::<u16>().ok());
            }
            if line.starts_with("sending traffic") {
                return port;
            }
        }
        None
    })
    .await
    .expect("the demo reaches the traffic")
    .expect("the demo says where dice-roller listens");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    let pid = nix::unistd::Pid::from_raw(demo.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = tokio::time::timeout(DEADLINE, demo.wait())
        .await
        .expect("the demo stops after Ctrl-C")
        .unwrap();
    assert!(!status.success());
    let rest: Vec<String> = {
        let mut lines = Vec::new();
        while let Ok(Some(line)) = stderr.next_line().await {
            lines.push(line);
        }
        lines
    };
    assert!(
        rest.iter().any(|line| line.contains("interrupted")),
        "{rest:?}"
    );
    // The service is gone: its port refuses connections.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "dice-roller still listens on {port} after the demo was interrupted"
    );
}
