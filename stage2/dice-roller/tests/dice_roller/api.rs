//! The HTTP contract of stage 1 (docs/design.md#stage-1).

use serde_json::Value;

use crate::helpers::{config, spawn_app};

#[tokio::test]
async fn fair_rolls_are_one_to_six_and_risky_rolls_two_to_seven() {
    let app = spawn_app(config(0.0));
    for (die, range) in [("fair", 1..=6), ("risky", 2..=7)] {
        for _ in 0..30 {
            let response = app.get(&format!("/roll?die={die}")).await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            let roll = body["roll"].as_i64().unwrap();
            assert!(range.contains(&roll), "{die} rolled {roll}");
        }
    }
}

#[tokio::test]
async fn the_risky_die_fails_with_a_json_500() {
    let app = spawn_app(config(1.0));
    let response = app.get("/roll?die=risky").await;
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("failed"), "{body}");
}

#[tokio::test]
async fn unknown_missing_or_malformed_dice_get_a_400_naming_the_known_dice() {
    let app = spawn_app(config(0.0));
    for query in [
        "/roll?die=loaded",
        "/roll",
        "/roll?die=",
        "/roll?die=%ZZ",
        "/roll?die=FAIR",
    ] {
        let response = app.get(query).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("fair") && error.contains("risky"),
            "{query}: {error}"
        );
    }
    let warnings = app.service.logs().with_message("unknown die requested");
    assert_eq!(warnings.len(), 5);
    assert!(warnings.iter().all(|line| line["level"] == "WARNING"));
}

#[tokio::test]
async fn the_index_describes_the_service() {
    let app = spawn_app(config(0.0));
    let body: Value = app.get("/").await.json().await.unwrap();
    assert_eq!(body["service"], "dice-roller");
    assert_eq!(body["dice"], serde_json::json!(["fair", "risky"]));
}
