use std::time::Duration;

use stage2_dice_roller::{AppState, Config, DiceMetrics, app};
use telemetry::TelemetryConfig;
use testkit::{OtlpReceiver, TestService};

/// Spans are exported every 50 ms in tests; this bounds every wait for them.
pub const SPAN_TIMEOUT: Duration = Duration::from_secs(10);

/// Rolls without the random delay, and a risky die that fails at `rate`.
pub fn config(risky_error_rate: f64) -> Config {
    Config {
        port: 0,
        roll_max_delay: Duration::ZERO,
        risky_error_rate,
    }
}

pub struct TestApp {
    pub service: TestService,
    pub receiver: OtlpReceiver,
    pub http: reqwest::Client,
}

/// The dice-roller with `config`, exporting to a fresh receiver.
pub fn spawn_app(config: Config) -> TestApp {
    let receiver = OtlpReceiver::start();
    let telemetry_config = testkit::telemetry_config("dice-roller", &receiver);
    spawn_app_with(config, telemetry_config, receiver)
}

/// The dice-roller with explicit telemetry settings.
pub fn spawn_app_with(
    config: Config,
    telemetry_config: TelemetryConfig,
    receiver: OtlpReceiver,
) -> TestApp {
    let service = TestService::spawn(telemetry_config, async move |telemetry| {
        let metrics = DiceMetrics::register(telemetry.registry())?;
        Ok(app(AppState::new(&config, metrics)))
    });
    TestApp {
        service,
        receiver,
        http: reqwest::Client::new(),
    }
}

impl TestApp {
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(self.service.url(path_and_query))
            .send()
            .await
            .expect("request to the dice-roller")
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .text()
            .await
            .expect("metrics body")
    }
}
