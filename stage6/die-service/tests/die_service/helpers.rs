use std::time::Duration;

use database::PoolSettings;
use stage6_die_service::{AppState, Config, DieMetrics, app};
use testkit::{OtlpReceiver, PostgresCluster, TestService};

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub const FAIR_AND_RISKY: &str = r#"{
  "fair": {"faces": [1, 2, 3, 4, 5, 6], "error_rate": 0.0},
  "risky": {"faces": [2, 3, 4, 5, 6, 7], "error_rate": 0.1}
}"#;

/// A die-service seeding from a file of the test's own. Fields drop in
/// order: the service flushes its spans at shutdown, so the receiver goes
/// after it, and the database last.
pub struct TestDieService {
    pub service: TestService,
    pub receiver: OtlpReceiver,
    pub http: reqwest::Client,
    pub database: PostgresCluster,
    pub seed_dir: tempfile::TempDir,
}

/// Short timeouts, so failure tests are quick; `max_connections` 5.
pub fn pool_settings() -> PoolSettings {
    PoolSettings {
        max_connections: 5,
        acquire_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_millis(1000),
    }
}

pub fn spawn_service(
    receiver: &OtlpReceiver,
    url: String,
    seed: std::path::PathBuf,
    pool: PoolSettings,
) -> TestService {
    let config = Config {
        port: 0,
        database_url: url,
        specs_path: seed,
        pool,
    };
    TestService::spawn(
        testkit::telemetry_config("die-service", receiver),
        async move |telemetry| {
            let metrics = DieMetrics::register(telemetry.registry())?;
            Ok(app(AppState::start(
                &config,
                metrics,
                telemetry.registry(),
            )?))
        },
    )
}

/// A fresh database and a die-service seeding it from `seed`; waits until the
/// service is ready.
pub async fn spawn_die_service(seed: &str, pool: PoolSettings) -> TestDieService {
    let database = PostgresCluster::start("dicedb");
    let seed_dir = tempfile::tempdir().unwrap();
    std::fs::write(seed_dir.path().join("dice.json"), seed).unwrap();
    let receiver = OtlpReceiver::start();
    let service = spawn_service(
        &receiver,
        database.url("dicedb"),
        seed_dir.path().join("dice.json"),
        pool,
    );
    let dice = TestDieService {
        service,
        receiver,
        http: reqwest::Client::new(),
        database,
        seed_dir,
    };
    dice.wait_until_ready().await;
    dice
}

impl TestDieService {
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(self.service.url(path_and_query))
            .send()
            .await
            .unwrap()
    }

    pub async fn identifiers(&self) -> Vec<String> {
        let body: serde_json::Value = self.get("/dice").await.json().await.unwrap();
        serde_json::from_value(body["identifiers"].clone()).unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }

    /// Polls `/ready` until it says 200.
    pub async fn wait_until_ready(&self) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if self.get("/ready").await.status() == 200 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the die-service never became ready; its log:\n{}",
                self.service.logs().text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn sql(&self, sql: &str) -> String {
        self.database.psql("dicedb", sql)
    }
}
