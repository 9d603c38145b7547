use std::time::Duration;

use stage4_dice_roller::{AppState, Config, DiceMetrics, DieService, app};
use testkit::{OtlpReceiver, TestService};

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Dice whose outcome a test can predict: `fair` always succeeds, `doomed`
/// always fails, `answer` always rolls 42; `coin` fails half the time.
pub const TEST_DICE: &str = r#"{
  "fair": {"faces": [1, 2, 3, 4, 5, 6], "error_rate": 0.0},
  "doomed": {"faces": [1], "error_rate": 1.0},
  "answer": {"faces": [42], "error_rate": 0.0},
  "coin": {"faces": [0, 1], "error_rate": 0.5}
}"#;

/// Fields drop in order: the services flush their spans at shutdown, so the
/// receiver goes last.
pub struct TestApp {
    pub dice_roller: TestService,
    /// Held so the die-service runs as long as the test (`None`: not started).
    _die_service: Option<TestService>,
    pub receiver: OtlpReceiver,
    pub http: reqwest::Client,
    _specs: tempfile::TempDir,
}

pub fn spawn_die_service(receiver: &OtlpReceiver, specs: &tempfile::TempDir) -> TestService {
    use stage4_die_service as die_service;
    let path = specs.path().join("dice.json");
    std::fs::write(&path, TEST_DICE).unwrap();
    let config = die_service::Config {
        port: 0,
        specs_path: path,
        poll_interval: Duration::from_millis(50),
    };
    TestService::spawn(
        testkit::telemetry_config("die-service", receiver),
        async move |telemetry| {
            let metrics = die_service::DieMetrics::register(telemetry.registry())?;
            Ok(die_service::app(die_service::AppState::start(
                &config, metrics,
            )?))
        },
    )
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

/// A die-service serving `TEST_DICE` and a dice-roller asking it, rolling
/// without delay.
pub fn spawn_app() -> TestApp {
    spawn_app_with_delay(Duration::ZERO)
}

/// The same, each roll waiting a random time up to `roll_max_delay`.
pub fn spawn_app_with_delay(roll_max_delay: Duration) -> TestApp {
    let receiver = OtlpReceiver::start();
    let specs = tempfile::tempdir().unwrap();
    let die_service = spawn_die_service(&receiver, &specs);
    let dice_roller = spawn_dice_roller(&receiver, die_service.base_url(), roll_max_delay);
    TestApp {
        receiver,
        _die_service: Some(die_service),
        dice_roller,
        http: reqwest::Client::new(),
        _specs: specs,
    }
}

/// A dice-roller whose die-service is not running.
pub fn spawn_without_die_service() -> TestApp {
    let receiver = OtlpReceiver::start();
    let nowhere = format!("http://127.0.0.1:{}", testkit::free_port());
    let dice_roller = spawn_dice_roller(&receiver, nowhere, Duration::ZERO);
    TestApp {
        receiver,
        _die_service: None,
        dice_roller,
        http: reqwest::Client::new(),
        _specs: tempfile::tempdir().unwrap(),
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
