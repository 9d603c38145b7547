//! `GET /roll?die=X` rolls by the die-service's specification of X.

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_without_die_service};

#[tokio::test]
async fn rolls_follow_the_specification() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let body: Value = app.get("/roll?die=answer").await.json().await.unwrap();
        assert_eq!(body["roll"], 42);
    }
    for _ in 0..20 {
        let body: Value = app.get("/roll?die=fair").await.json().await.unwrap();
        assert!((1..=6).contains(&body["roll"].as_i64().unwrap()), "{body}");
    }
    let failed = app.get("/roll?die=doomed").await;
    assert_eq!(failed.status(), 500);
}

#[tokio::test]
async fn an_unknown_die_is_a_400_naming_the_dice_the_die_service_knows() {
    let app = spawn_app().await;
    let response = app.get("/roll?die=loaded").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        "unknown die; choose one of: answer, coin, doomed, fair"
    );

    for query in ["/roll", "/roll?die="] {
        assert_eq!(app.get(query).await.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn a_die_name_the_die_service_refuses_is_passed_on_as_a_400_not_an_outage() {
    let app = spawn_app().await;
    // It used to come back as 503 "the die-service is unavailable".
    for query in [
        "/roll?die=%00",
        "/roll?die=fair%00",
        "/roll-async?die=%00&times=2",
    ] {
        let response = app.get(query).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error"],
            "invalid die name: an identifier is 1 to 50 characters, none of them a control character",
            "{query}"
        );
    }
}

#[tokio::test]
async fn with_the_die_service_down_a_roll_is_a_clear_503() {
    let app = spawn_without_die_service();
    let response = app.get("/roll?die=fair").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("the die-service is unavailable"),
        "{body}"
    );

    let warning = &app
        .dice_roller
        .logs()
        .with_message("die-service request failed")[0];
    assert_eq!(warning["level"], "WARNING");
    assert!(warning["trace_id"].is_string());
}
