use std::time::Duration;

use prost::Message;
use stage6_usage_receiver::{
    AppState, Config, EntryAdapter, PushRequest, PushToken, StreamAdapter, UsageMetrics, app,
};
use testkit::{OtlpReceiver, PostgresCluster, TestService};

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The token the receiver under test requires.
pub const PUSH_TOKEN: &str = "usage-receiver-tests-token";

/// Fields drop in order: the service flushes its spans at shutdown, so the
/// receiver of spans goes after it, and the database last.
pub struct TestReceiver {
    pub service: TestService,
    _spans: OtlpReceiver,
    pub http: reqwest::Client,
    pub database: PostgresCluster,
}

/// A usage receiver on a fresh database, ready; bodies up to `max_push_bytes`.
pub async fn spawn_receiver(max_push_bytes: usize) -> TestReceiver {
    spawn_receiver_with_limits(max_push_bytes, 4 * max_push_bytes).await
}

/// A usage receiver with both body limits given.
pub async fn spawn_receiver_with_limits(
    max_push_bytes: usize,
    max_decompressed_bytes: usize,
) -> TestReceiver {
    spawn_receiver_with(|config| {
        config.max_push_bytes = max_push_bytes;
        config.max_decompressed_bytes = max_decompressed_bytes;
    })
    .await
}

/// A usage receiver with the tests' settings, changed by `adjust`.
pub async fn spawn_receiver_with(adjust: impl FnOnce(&mut Config)) -> TestReceiver {
    let database = PostgresCluster::start("usagedb");
    let spans = OtlpReceiver::start();
    let max_push_bytes = 1 << 20;
    let mut config = Config {
        port: 0,
        database_url: database.url("usagedb"),
        max_push_bytes,
        max_decompressed_bytes: 4 * max_push_bytes,
        push_token: PushToken::new(PUSH_TOKEN),
        allow_unauthenticated: false,
        pool: database::PoolSettings {
            max_connections: 3,
            acquire_timeout: Duration::from_millis(500),
            statement_timeout: Duration::from_secs(2),
        },
    };
    adjust(&mut config);
    let service = TestService::spawn(
        testkit::telemetry_config("usage-receiver", &spans),
        async move |telemetry| {
            let metrics = UsageMetrics::register(telemetry.registry())?;
            Ok(app(AppState::start(
                &config,
                metrics,
                telemetry.registry(),
            )?))
        },
    );
    let receiver = TestReceiver {
        service,
        _spans: spans,
        http: reqwest::Client::new(),
        database,
    };
    receiver.wait_until_ready().await;
    receiver
}

impl TestReceiver {
    pub async fn wait_until_ready(&self) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let status = self
                .http
                .get(self.service.url("/ready"))
                .send()
                .await
                .unwrap()
                .status();
            if status == 200 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never ready: {}",
                self.service.logs().text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Pushes `body` as `content_type` (snappy-encoded when protobuf).
    pub async fn push(&self, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.service.url("/loki/api/v1/push"))
            .bearer_auth(PUSH_TOKEN)
            .header("Content-Type", content_type)
            .body(body);
        if content_type == "application/x-protobuf" {
            request = request.header("Content-Encoding", "snappy");
        }
        request.send().await.unwrap()
    }

    pub fn rows(&self) -> u64 {
        self.database
            .psql("usagedb", "SELECT count(*) FROM usage_stats")
            .parse()
            .unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(self.service.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// A usage event line as the frontend writes it.
pub fn usage_line(event: &str, user: &str, n: u32) -> String {
    format!(
        r#"{{"timestamp":"2026-11-25T10:00:{:02}.{:06}Z","level":"INFO","service":"frontend","target":"stage6_frontend::usage","message":"usage event","usage":true,"event":"{event}","user":"{user}","session":"k{n}","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}}"#,
        n % 60,
        n
    )
}

/// An operational line: not a usage event.
pub fn operational_line(n: u32) -> String {
    format!(
        r#"{{"timestamp":"2026-11-25T10:00:00Z","level":"INFO","service":"frontend","message":"button clicked","n":{n}}}"#
    )
}

/// What Alloy's `loki.write` sends: a protobuf PushRequest, raw snappy.
pub fn protobuf_body(lines: &[String]) -> Vec<u8> {
    let request = PushRequest {
        streams: vec![StreamAdapter {
            labels: r#"{container_name="frontend-stage6", service_name="frontend", stage="6"}"#
                .into(),
            entries: lines
                .iter()
                .enumerate()
                .map(|(i, line)| EntryAdapter {
                    timestamp: Some(prost_types::Timestamp {
                        seconds: 1_795_600_000 + i as i64,
                        nanos: 0,
                    }),
                    line: line.clone(),
                })
                .collect(),
            hash: 0,
        }],
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap()
}

/// Loki's JSON push form.
pub fn json_body(lines: &[String]) -> Vec<u8> {
    let values: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            serde_json::json!([format!("{}", 1_795_600_000_000_000_000u64 + i as u64), line])
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "streams": [{"stream": {"service_name": "frontend"}, "values": values}]
    }))
    .unwrap()
}
