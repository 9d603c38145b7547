//! `GET /dice` and `GET /dice?identifier=X`, their spans and their metrics.

use serde_json::{Value, json};
use testkit::{Kind, metric_value};

use crate::helpers::{FAIR_AND_RISKY, TIMEOUT, spawn_die_service};

#[tokio::test]
async fn lists_dice_and_serves_each_specification() {
    let dice = spawn_die_service(FAIR_AND_RISKY);
    assert_eq!(dice.identifiers().await, ["fair", "risky"]);

    let risky: Value = dice
        .get("/dice?identifier=risky")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        risky,
        json!({"identifier": "risky", "faces": [2, 3, 4, 5, 6, 7], "error_rate": 0.1})
    );
}

#[tokio::test]
async fn an_unknown_die_is_a_404_naming_the_known_ones() {
    let dice = spawn_die_service(FAIR_AND_RISKY);
    let response = dice.get("/dice?identifier=loaded").await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["identifiers"], json!(["fair", "risky"]));
    assert!(body["error"].as_str().unwrap().contains("fair, risky"));

    let warning = &dice
        .service
        .logs()
        .with_message("unknown die identifier requested")[0];
    assert_eq!(warning["level"], "WARNING");
    assert_eq!(warning["identifier"], "loaded");
}

#[tokio::test]
async fn the_server_span_says_which_die_and_whether_it_was_found() {
    let dice = spawn_die_service(FAIR_AND_RISKY);
    dice.get("/dice?identifier=fair").await;
    dice.get("/dice?identifier=loaded").await;
    let spans = dice.receiver.wait_for_spans(2, TIMEOUT).await.unwrap();
    for span in &spans {
        assert_eq!(span.kind, Kind::Server);
        assert_eq!(span.name, "GET /dice");
    }
    let found = spans
        .iter()
        .find(|s| s.attr_str("die.identifier") == Some("fair"))
        .unwrap();
    assert_eq!(
        found.attr("die.found"),
        Some(&testkit::AttributeValue::Bool(true))
    );
    let missing = spans
        .iter()
        .find(|s| s.attr_str("die.identifier") == Some("loaded"))
        .unwrap();
    assert_eq!(
        missing.attr("die.found"),
        Some(&testkit::AttributeValue::Bool(false))
    );
    assert_eq!(missing.attr_i64("http.response.status_code"), Some(404));
}

#[tokio::test]
async fn requests_are_counted_by_known_die_only() {
    let dice = spawn_die_service(FAIR_AND_RISKY);
    for _ in 0..4 {
        dice.get("/dice?identifier=fair").await;
    }
    for _ in 0..3 {
        dice.get("/dice").await;
    }
    for i in 0..20 {
        dice.get(&format!("/dice?identifier=made-up-{i}")).await;
    }
    let text = dice.metrics().await;
    assert_eq!(
        metric_value(
            &text,
            "die_specifications_requested_total",
            &[("identifier", "fair")]
        ),
        4.0
    );
    assert_eq!(metric_value(&text, "die_list_requests_total", &[]), 3.0);
    assert_eq!(metric_value(&text, "die_specifications_loaded", &[]), 2.0);
    assert!(
        !text.contains("made-up"),
        "user input became a label:\n{text}"
    );
}
