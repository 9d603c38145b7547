use std::time::Duration;

use stage6_dice_roller::{AppState, Config, DiceMetrics, DieService, app};
use testkit::{OtlpReceiver, PostgresCluster, TestService};

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Dice whose outcome a test can predict: `fair` always succeeds, `doomed`
/// always fails, `answer` always rolls 42; `coin` fails half the time.
pub const TEST_DICE: &str = r#"{
  "fair": {"faces": [1, 2, 3, 4, 5, 6], "error_rate": 0.0},
  "doomed": {"faces": [1], "error_rate": 1.0},
  "answer": {"faces": [42], "error_rate": 0.0},
  "coin": {"faces": [0, 1], "error_rate": 0.5}
}"#;

/// A die-service with a database of its own, seeded with `TEST_DICE`.
pub struct DieServiceUnderTest {
    pub service: TestService,
    pub database: PostgresCluster,
    _seed: tempfile::TempDir,
}

/// Starts the database and the die-service, and waits until it is ready.
pub async fn spawn_die_service(receiver: &OtlpReceiver) -> DieServiceUnderTest {
    use stage6_die_service as die_service;
    let database = PostgresCluster::start("dicedb");
    let seed = tempfile::tempdir().unwrap();
    let path = seed.path().join("dice.json");
    std::fs::write(&path, TEST_DICE).unwrap();
    let config = die_service::Config {
        port: 0,
        database_url: database.url("dicedb"),
        specs_path: path,
        pool: database::PoolSettings {
            max_connections: 5,
            acquire_timeout: Duration::from_millis(500),
            statement_timeout: Duration::from_secs(1),
        },
    };
    let service = TestService::spawn(
        testkit::telemetry_config("die-service", receiver),
        async move |telemetry| {
            let metrics = die_service::DieMetrics::register(telemetry.registry())?;
            let state = die_service::AppState::start(&config, metrics, telemetry.registry())?;
            Ok(die_service::app(state))
        },
    );
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while http
        .get(service.url("/ready"))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "die-service not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    DieServiceUnderTest {
        service,
        database,
        _seed: seed,
    }
}

pub fn spawn_dice_roller(
    receiver: &OtlpReceiver,
    die_service_url: String,
    roll_max_delay: Duration,
) -> TestService {
    let config = Config {
        port: 0,
        roll_max_delay,
        die_service_url,
        die_service_timeout: Duration::from_secs(2),
    };
    TestService::spawn(
        testkit::telemetry_config("dice-roller", receiver),
        async move |telemetry| {
            let metrics = DiceMetrics::register(telemetry.registry())?;
            let client = telemetry.http_client("die-service", config.die_service_timeout)?;
            let die_service =
                DieService::new(client, &config.die_service_url, telemetry.registry())?;
            Ok(app(AppState::new(&config, die_service, metrics)))
        },
    )
}

/// Fields drop in order: the services flush their spans at shutdown, so the
/// receiver goes after them.
pub struct TestApp {
    pub dice_roller: TestService,
    pub die_service: Option<DieServiceUnderTest>,
    pub receiver: OtlpReceiver,
    pub http: reqwest::Client,
}

/// A die-service serving `TEST_DICE` and a dice-roller asking it, rolling
/// without delay.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_delay(Duration::ZERO).await
}

/// The same, each roll waiting a random time up to `roll_max_delay`.
pub async fn spawn_app_with_delay(roll_max_delay: Duration) -> TestApp {
    let receiver = OtlpReceiver::start();
    let die_service = spawn_die_service(&receiver).await;
    let dice_roller = spawn_dice_roller(&receiver, die_service.service.base_url(), roll_max_delay);
    TestApp {
        dice_roller,
        die_service: Some(die_service),
        receiver,
        http: reqwest::Client::new(),
    }
}

/// A dice-roller whose die-service is not running.
pub fn spawn_without_die_service() -> TestApp {
    let receiver = OtlpReceiver::start();
    let nowhere = format!("http://127.0.0.1:{}", testkit::free_port());
    let dice_roller = spawn_dice_roller(&receiver, nowhere, Duration::ZERO);
    TestApp {
        dice_roller,
        die_service: None,
        receiver,
        http: reqwest::Client::new(),
    }
}

impl TestApp {
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(self.dice_roller.url(path_and_query))
            .send()
            .await
            .expect("request to the dice-roller")
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }
}

/// Waits until the dice-roller has served a request named `name` whose whole
/// trace holds `count` spans, and returns that trace's spans. (The
/// die-service's readiness checks and seeding make spans of their own, so
/// tests look at one trace, not at everything received.)
pub async fn wait_for_trace_of(
    receiver: &OtlpReceiver,
    name: &str,
    count: usize,
) -> Vec<testkit::ReceivedSpan> {
    let spans = receiver
        .wait_for(TIMEOUT, |spans| {
            spans.iter().any(|server| {
                server.service_name == "dice-roller"
                    && server.name == name
                    && spans
                        .iter()
                        .filter(|span| span.trace_id == server.trace_id)
                        .count()
                        == count
            })
        })
        .await
        .unwrap();
    let trace_id = spans
        .iter()
        .find(|span| span.service_name == "dice-roller" && span.name == name)
        .map(|span| span.trace_id.clone())
        .unwrap();
    spans
        .into_iter()
        .filter(|span| span.trace_id == trace_id)
        .collect()
}
