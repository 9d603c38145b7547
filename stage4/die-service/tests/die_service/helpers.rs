use std::time::Duration;

use stage4_die_service::{AppState, Config, DieMetrics, app};
use testkit::{OtlpReceiver, TestService};

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub const FAIR_AND_RISKY: &str = r#"{
  "fair": {"faces": [1, 2, 3, 4, 5, 6], "error_rate": 0.0},
  "risky": {"faces": [2, 3, 4, 5, 6, 7], "error_rate": 0.1}
}"#;

/// A die-service serving a copy of `specs` it re-reads every 50 ms.
pub struct TestDieService {
    pub service: TestService,
    pub receiver: OtlpReceiver,
    pub directory: tempfile::TempDir,
    pub http: reqwest::Client,
}

pub fn spawn_die_service(specs: &str) -> TestDieService {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("dice.json");
    std::fs::write(&path, specs).unwrap();
    let receiver = OtlpReceiver::start();
    let config = Config {
        port: 0,
        specs_path: path,
        poll_interval: Duration::from_millis(50),
    };
    let service = TestService::spawn(
        testkit::telemetry_config("die-service", &receiver),
        async move |telemetry| {
            let metrics = DieMetrics::register(telemetry.registry())?;
            Ok(app(AppState::start(&config, metrics)?))
        },
    );
    TestDieService {
        service,
        receiver,
        directory,
        http: reqwest::Client::new(),
    }
}

impl TestDieService {
    pub fn specs_path(&self) -> std::path::PathBuf {
        self.directory.path().join("dice.json")
    }

    /// Replaces the file the way an editor does: write elsewhere, rename over.
    pub fn edit_specs(&self, specs: &str) {
        let draft = self.directory.path().join("dice.json.draft");
        std::fs::write(&draft, specs).unwrap();
        std::fs::rename(&draft, self.specs_path()).unwrap();
    }

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
}
