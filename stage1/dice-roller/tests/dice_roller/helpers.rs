use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stage1_dice_roller::{AppState, Config, DiceMetrics, app};
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

/// Steady traffic in the background while Prometheus scrapes, so rates are
/// not zero: one roll every 5 ms, cycling through `dice`. It stops when
/// [`Traffic::stop`] is called or after 20,000 requests, whichever first.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub fn start_traffic(&self, dice: &'static [&'static str]) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (stop, http, url) = (stop.clone(), self.http.clone(), self.service.base_url());
            async move {
                for die in dice.iter().cycle().take(20_000) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let _ = http.get(format!("{url}/roll?die={die}")).send().await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Traffic { stop, task }
    }
}

impl Traffic {
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("traffic task");
    }
}
