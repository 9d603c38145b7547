//! Only a push that carries the receiver's token, as a bearer token in the
//! Authorization header, is stored.

use serde_json::Value;
use stage6_usage_receiver::{AppState, Config, ConfigError, StartError, UsageMetrics};
use testkit::metric_value;

use crate::helpers::{PUSH_TOKEN, json_body, spawn_receiver, spawn_receiver_with, usage_line};

#[tokio::test]
async fn pushes_without_the_right_bearer_token_get_a_401_store_nothing_and_are_counted() {
    let receiver = spawn_receiver(1 << 20).await;
    let body = json_body(&[usage_line("roll", "mallory", 1)]);
    let url = receiver.service.url("/loki/api/v1/push");
    let push = |authorization: Option<String>, path: &str| {
        let mut request = receiver
            .http
            .post(format!("{url}{path}"))
            .header("Content-Type", "application/json")
            .body(body.clone());
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        request.send()
    };

    for (authorization, query, reason) in [
        (None, "", "missing"),
        (
            Some("Bearer not-the-token-at-all".to_owned()),
            "",
            "wrong_token",
        ),
        (Some(format!("Basic {PUSH_TOKEN}")), "", "wrong_scheme"),
        (Some(PUSH_TOKEN.to_owned()), "", "wrong_scheme"),
        (None, &format!("?token={PUSH_TOKEN}"), "token_in_query"),
        (
            Some(format!("Bearer {PUSH_TOKEN}")),
            &format!("?access_token={PUSH_TOKEN}"),
            "token_in_query",
        ),
    ] {
        let response = push(authorization.clone(), query).await.unwrap();
        assert_eq!(response.status(), 401, "{authorization:?} {query}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
        );
        let answer: Value = response.json().await.unwrap();
        assert!(answer["error"].is_string(), "{answer}");
        let text = receiver.metrics().await;
        assert!(
            metric_value(
                &text,
                "usage_push_unauthorized_total",
                &[("reason", reason)]
            ) >= 1.0,
            "{reason}"
        );
    }
    assert_eq!(receiver.rows(), 0, "nothing unauthorized was stored");
    let text = receiver.metrics().await;
    assert_eq!(
        metric_value(&text, "usage_push_unauthorized_total", &[]),
        6.0
    );
    assert_eq!(metric_value(&text, "usage_events_received_total", &[]), 0.0);

    let right = push(Some(format!("Bearer {PUSH_TOKEN}")), "")
        .await
        .unwrap();
    assert_eq!(right.status(), 204);
    assert_eq!(receiver.rows(), 1);

    // The token never reaches a log line (nor does the wrong one).
    let logs = receiver.service.logs().text();
    assert!(!logs.contains(PUSH_TOKEN), "{logs}");
    assert!(!logs.contains("not-the-token-at-all"));
    assert!(logs.contains("push refused: not authorized"));
}

#[tokio::test]
async fn without_a_token_the_receiver_starts_only_with_the_development_flag_and_warns() {
    let metrics_registry = prometheus::Registry::new();
    let config = Config {
        push_token: None,
        allow_unauthenticated: false,
        ..Config::default()
    };
    let refused = AppState::start(
        &config,
        UsageMetrics::register(&metrics_registry).unwrap(),
        &metrics_registry,
    );
    let Err(StartError::NoPushToken(ConfigError::NoPushToken)) = refused else {
        panic!("started without a token");
    };
    let message = ConfigError::NoPushToken.to_string();
    assert!(
        message.contains("USAGE_PUSH_TOKEN")
            && message.contains("USAGE_PUSH_ALLOW_UNAUTHENTICATED"),
        "{message}"
    );
}

#[tokio::test]
async fn the_development_flag_accepts_pushes_without_a_token_and_says_so_at_start() {
    let receiver = spawn_receiver_with(|config| {
        config.push_token = None;
        config.allow_unauthenticated = true;
    })
    .await;
    let warnings: Vec<_> = receiver
        .service
        .logs()
        .json_lines()
        .into_iter()
        .filter(|line| {
            line["message"]
                .as_str()
                .is_some_and(|message| message.contains("USAGE_PUSH_ALLOW_UNAUTHENTICATED"))
        })
        .collect();
    let warning = &warnings[0];
    assert_eq!(warning["level"], "WARNING");
    let response = receiver
        .http
        .post(receiver.service.url("/loki/api/v1/push"))
        .header("Content-Type", "application/json")
        .body(json_body(&[usage_line("roll", "dev", 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}
