//! End to end without Docker: signed-in traffic through the frontend, its
//! stdout through the usage forwarder (Alloy's part) to the usage receiver:
//! one row per usage line, nothing lost, nothing twice; and the usage
//! dashboard's SQL panels answer from those rows.

use std::time::Duration;

use stage6_usage_receiver as usage_receiver;
use testkit::TestService;

use crate::helpers::{
    PUSH_TOKEN, Stage6, TIMEOUT, browser_like_client, sign_in, spawn_stage, submit_batch,
};

pub async fn spawn_usage_receiver(stage: &Stage6) -> TestService {
    stage.database.psql("dicedb", "CREATE DATABASE usagedb");
    let config = usage_receiver::Config {
        port: 0,
        database_url: stage.database.url("usagedb"),
        push_token: usage_receiver::PushToken::new(PUSH_TOKEN),
        ..usage_receiver::Config::default()
    };
    let service = TestService::spawn(
        testkit::telemetry_config("usage-receiver", &stage.receiver),
        async move |telemetry| {
            let metrics = usage_receiver::UsageMetrics::register(telemetry.registry())?;
            let state = usage_receiver::AppState::start(&config, metrics, telemetry.registry())?;
            Ok(usage_receiver::app(state))
        },
    );
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while reqwest::get(service.url("/ready")).await.unwrap().status() != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "usage receiver not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    service
}

#[tokio::test]
async fn every_usage_line_the_frontend_prints_becomes_one_row() {
    let stage = spawn_stage().await;
    let receiver = spawn_usage_receiver(&stage).await;

    for (user, password) in [
        ("alice", "wonderland"),
        ("bob", "builder"),
        ("bob", "wrong"),
    ] {
        let http = browser_like_client();
        sign_in(&http, &stage.frontend, user, password).await;
        for (times, concurrently) in [("1", false), ("3", true), ("2", false)] {
            submit_batch(&http, &stage.frontend, "fair", times, concurrently).await;
        }
        http.post(stage.frontend.url("/sign-out"))
            .send()
            .await
            .unwrap();
    }

    let stdout = stage.frontend.logs().text();
    let printed = testkit::usage_lines(stdout.lines()).len();
    // alice: sign_in, 3 rolls, sign_out; bob the same; bob again: one
    // sign_in_failed; and the test client's own sign-in (spawn_stage).
    assert_eq!(printed, 12, "{stdout}");
    let push_url = receiver.url("/loki/api/v1/push");
    let sent = testkit::forward_usage_lines(stdout.lines(), &push_url, PUSH_TOKEN, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(sent, printed);

    let rows = |sql: &str| stage.database.psql("usagedb", sql);
    assert_eq!(
        rows("SELECT count(*) FROM usage_stats"),
        printed.to_string()
    );
    // Per event type, the table says what the lines say.
    let mut from_lines: Vec<String> = stage
        .frontend
        .logs()
        .json_lines()
        .iter()
        .filter(|line| line["usage"] == true)
        .map(|line| {
            format!(
                "{}|{}",
                line["event"].as_str().unwrap(),
                line["user"].as_str().unwrap_or("")
            )
        })
        .collect();
    from_lines.sort();
    let from_table =
        rows("SELECT event_type || '|' || coalesce(user_name, '') FROM usage_stats ORDER BY 1");
    assert_eq!(from_table, from_lines.join("\n"));

    // Alloy retries a batch it is unsure about: the table does not change.
    testkit::forward_usage_lines(stdout.lines(), &push_url, PUSH_TOKEN, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        rows("SELECT count(*) FROM usage_stats"),
        printed.to_string()
    );
}
