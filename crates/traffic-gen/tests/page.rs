//! The page workload against stage 3's three real services: users load the
//! page, then post its form, and roll only the dice the page offers.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use indicatif::ProgressBar;
use testkit::{Kind, OtlpReceiver, ReceivedSpan, TestService};
use tracing::instrument::WithSubscriber;
use traffic_gen::{Budget, TrafficConfig, Workload};

const SPAN_TIMEOUT: Duration = Duration::from_secs(10);

/// `d20` exists only in this file: only a user who read the page can roll it.
const DICE: &str = r#"{
  "fair": {"faces": [1, 2, 3, 4, 5, 6], "error_rate": 0.0},
  "d20": {"faces": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], "error_rate": 0.0}
}"#;

struct Stage3 {
    frontend: TestService,
    _dice_roller: TestService,
    _die_service: TestService,
    receiver: OtlpReceiver,
    _specs: tempfile::TempDir,
}

fn spawn_stage3() -> Stage3 {
    let receiver = OtlpReceiver::start();
    let specs = tempfile::tempdir().unwrap();
    let specs_path = specs.path().join("dice.json");
    std::fs::write(&specs_path, DICE).unwrap();
    let die_service = {
        use stage3_die_service as d;
        let config = d::Config {
            port: 0,
            specs_path,
            poll_interval: Duration::from_millis(50),
        };
        TestService::spawn(
            testkit::telemetry_config("die-service", &receiver),
            async move |telemetry| {
                let metrics = d::DieMetrics::register(telemetry.registry())?;
                Ok(d::app(d::AppState::start(&config, metrics)?))
            },
        )
    };
    let dice_roller = {
        use stage3_dice_roller as r;
        let config = r::Config {
            port: 0,
            roll_max_delay: Duration::ZERO,
            die_service_url: die_service.base_url(),
            die_service_timeout: Duration::from_secs(2),
        };
        TestService::spawn(
            testkit::telemetry_config("dice-roller", &receiver),
            async move |telemetry| {
                let metrics = r::DiceMetrics::register(telemetry.registry())?;
                let client = telemetry.http_client("die-service", config.die_service_timeout)?;
                let lookups =
                    r::DieService::new(client, &config.die_service_url, telemetry.registry())?;
                Ok(r::app(r::AppState::new(&config, lookups, metrics)))
            },
        )
    };
    let frontend = {
        use stage3_frontend as f;
        let config = f::Config {
            port: 0,
            dice_roller_url: dice_roller.base_url(),
            die_service_url: die_service.base_url(),
            grafana_url: "http://grafana.example:3000".to_owned(),
            backend_timeout: Duration::from_secs(2),
        };
        TestService::spawn(
            testkit::telemetry_config("frontend", &receiver),
            async move |telemetry| {
                let metrics = f::FrontendMetrics::register(telemetry.registry())?;
                let dice_roller = telemetry.http_client("dice-roller", config.backend_timeout)?;
                let die_service = telemetry.http_client("die-service", config.backend_timeout)?;
                Ok(f::app(f::AppState::new(
                    &config,
                    dice_roller,
                    die_service,
                    metrics,
                )))
            },
        )
    };
    Stage3 {
        frontend,
        _dice_roller: dice_roller,
        _die_service: die_service,
        receiver,
        _specs: specs,
    }
}

fn span<'a>(spans: &'a [ReceivedSpan], service: &str, trace: &str) -> Option<&'a ReceivedSpan> {
    spans
        .iter()
        .find(|s| s.service_name == service && s.kind == Kind::Server && s.trace_id == trace)
}

#[tokio::test]
async fn users_load_the_page_then_roll_the_dice_it_offers() {
    let stage = spawn_stage3();
    let workload = Workload::for_scenario(stages::stage(3).unwrap().scenario);
    let mut config = TrafficConfig::new(
        stage.frontend.base_url().parse().unwrap(),
        workload,
        Budget::requests(40),
    );
    config.users = 3;
    config.think_time = (Duration::ZERO, Duration::from_millis(5));

    let telemetry = telemetry::build(
        &testkit::telemetry_config(stages::TRAFFIC_GEN, &stage.receiver),
        std::io::sink,
    )
    .unwrap();
    let client = telemetry
        .http_client("frontend", config.request_timeout)
        .unwrap();
    let summary = traffic_gen::run(&config, &client, &ProgressBar::hidden())
        .with_subscriber(telemetry.dispatch().clone())
        .await;
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    assert_eq!(summary.requests, 40, "{summary}");
    assert_eq!(summary.error_count(), 0, "{summary}");

    let traces: HashSet<&String> = summary.trace_ids.iter().collect();
    let spans = stage
        .receiver
        .wait_for(SPAN_TIMEOUT, |spans| {
            traces
                .iter()
                .all(|trace| span(spans, "frontend", trace).is_some())
        })
        .await
        .unwrap();
    let mut page_loads = 0;
    let mut rolled = BTreeSet::new();
    for trace in &traces {
        let server = span(&spans, "frontend", trace).unwrap();
        match server.name.as_str() {
            "GET /" => page_loads += 1,
            "POST /roll" => {
                rolled.insert(server.attr_str("die.type").unwrap_or_default().to_owned());
            }
            other => panic!("a user sent {other}"),
        }
        // The user's action is the root: simulated_request -> CLIENT -> SERVER.
        let root = spans
            .iter()
            .find(|s| s.trace_id == **trace && s.name == "simulated_request")
            .unwrap();
        assert_eq!(root.parent_span_id, None);
    }
    // Every user starts with a page load, and then rolls from the page.
    assert!((1..=20).contains(&page_loads), "{page_loads} page loads");
    assert_eq!(
        rolled,
        BTreeSet::from(["d20".to_owned(), "fair".to_owned()]),
        "the dice the page offered, and only those"
    );
}
