//! The open loop keeps its schedule when the server stalls (no coordinated
//! omission), and stage 5's database load against a real die-service and
//! PostgreSQL reports what the service counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use database::PoolSettings;
use stage5_die_service as die_service;
use testkit::{OtlpReceiver, PostgresCluster, TestService};
use tokio::sync::{mpsc, watch};
use traffic_gen::{LoadConfig, Sample, database_load, list_dice};

const DEADLINE: Duration = Duration::from_secs(20);

/// A server that holds every request until `open` says true, counting
/// arrivals.
#[derive(Clone)]
struct Gate {
    arrived: Arc<AtomicU64>,
    open: watch::Receiver<bool>,
}

async fn held(State(gate): State<Gate>) -> &'static str {
    gate.arrived.fetch_add(1, Ordering::SeqCst);
    let mut open = gate.open.clone();
    let _ = open.wait_for(|open| *open).await;
    "ok"
}

fn client(telemetry: &telemetry::Telemetry) -> telemetry::HttpClient {
    telemetry
        .http_client("die-service", Duration::from_secs(10))
        .unwrap()
}

fn quiet_telemetry() -> telemetry::Telemetry {
    let mut config = telemetry::TelemetryConfig::new("traffic-gen");
    config.otlp_endpoint = None;
    telemetry::build(&config, std::io::sink).unwrap()
}

#[tokio::test]
async fn requests_keep_leaving_on_schedule_while_the_server_answers_none() {
    let (open, gate_state) = watch::channel(false);
    let gate = Gate {
        arrived: Arc::new(AtomicU64::new(0)),
        open: gate_state,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url: reqwest::Url = format!("http://{}/held", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let app = Router::new()
        .route("/held", get(held))
        .with_state(gate.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // The gate opens only once 20 requests are waiting at the server: a
    // closed loop (send, wait, send) could never get there.
    const HELD: u64 = 20;
    let arrived = gate.arrived.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while arrived.load(Ordering::SeqCst) < HELD && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = open.send(true);
    });

    let telemetry = quiet_telemetry();
    let client = client(&telemetry);
    const RATE: f64 = 50.0;
    let (samples, mut received) = mpsc::unbounded_channel();
    let stop = tokio::time::sleep(Duration::from_secs(1));
    traffic_gen::open_loop::run(
        &client,
        RATE,
        stop,
        |_| ("held", client.request_builder().get(url.clone())),
        samples,
    )
    .await;
    let mut all: Vec<Sample> = Vec::new();
    while let Some(sample) = received.recv().await {
        all.push(sample);
    }
    server.abort();

    assert!(
        all.len() as u64 > HELD,
        "only {} requests were sent while the server held them",
        all.len()
    );
    assert_eq!(all.len() as u64, gate.arrived.load(Ordering::SeqCst));
    assert!(all.iter().all(Sample::succeeded), "{all:?}");
    // The first request was answered only after the 20th was scheduled, 19
    // periods later: its latency counts that whole wait, because latency
    // runs from the scheduled send, not from whenever the loop got round to
    // it.
    let first = all.iter().min_by_key(|s| s.scheduled).unwrap();
    let period = Duration::from_secs_f64(1.0 / RATE);
    assert!(
        first.latency() >= period * (HELD as u32 - 1),
        "first request's latency {:?} is shorter than the stall it sat through",
        first.latency()
    );
    // And no request can be answered before it was scheduled.
    assert!(
        all.iter()
            .all(|s| s.answered >= s.scheduled && s.sent >= s.scheduled)
    );
}

const DICE: &str = r#"{
  "fair": {"faces": [1, 2, 3, 4, 5, 6], "error_rate": 0.0},
  "risky": {"faces": [2, 3, 4, 5, 6, 7], "error_rate": 0.1}
}"#;

/// The successful queries of the die-service's own `database_queries_total`.
fn successful_queries(metrics: &str, query_type: &str) -> f64 {
    testkit::metric_value(
        metrics,
        "database_queries_total",
        &[("query_type", query_type), ("result", "success")],
    )
}

#[tokio::test]
async fn the_database_load_report_matches_what_the_die_service_counted() {
    let database = PostgresCluster::start("dicedb");
    let specs = tempfile::tempdir().unwrap();
    std::fs::write(specs.path().join("dice.json"), DICE).unwrap();
    let receiver = OtlpReceiver::start();
    let config = die_service::Config {
        port: 0,
        database_url: database.url("dicedb"),
        specs_path: specs.path().join("dice.json"),
        pool: PoolSettings {
            max_connections: 5,
            acquire_timeout: Duration::from_millis(500),
            statement_timeout: Duration::from_millis(1000),
        },
    };
    let service = TestService::spawn(
        testkit::telemetry_config("die-service", &receiver),
        async move |telemetry| {
            let metrics = die_service::DieMetrics::register(telemetry.registry())?;
            Ok(die_service::app(die_service::AppState::start(
                &config,
                metrics,
                telemetry.registry(),
            )?))
        },
    );
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while http
        .get(service.url("/ready"))
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let telemetry = quiet_telemetry();
    let client = client(&telemetry);
    let base_url: reqwest::Url = service.base_url().parse().unwrap();
    let identifiers = list_dice(&client, &base_url).await.unwrap();
    assert_eq!(identifiers, ["fair", "risky"]);

    let scrape = || async {
        http.get(service.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = scrape().await;
    let load = LoadConfig {
        base_url,
        queries_per_second: 40.0,
        duration: Duration::from_secs(2),
        list_share: 0.25,
        identifiers,
    };
    let report = database_load(&load, &client).await;
    let after = scrape().await;

    assert_eq!(report.error_count(), 0, "{report}");
    assert!(report.sent >= 40, "{report}");
    // Every list is one `list` query, every get of a known die one `get`.
    for kind in ["list", "get"] {
        let counted = successful_queries(&after, kind) - successful_queries(&before, kind);
        assert_eq!(
            counted,
            report.by_kind.get(kind).copied().unwrap_or(0) as f64,
            "{kind} queries: the service counted {counted}; the report says\n{report}"
        );
    }
    let lists = report.by_kind.get("list").copied().unwrap_or(0);
    assert!(lists > 0 && lists < report.sent, "{report}");
    let text = report.to_string();
    assert!(text.contains("target 40.0/s"), "{text}");
    assert!(text.contains("errors: 0 of"), "{text}");
}
