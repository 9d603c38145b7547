//! Live configuration: a changed file is served without a restart; a broken
//! one is refused, logged with what and where, and the last good one stays.

use std::time::Duration;

use testkit::metric_value;

use crate::helpers::{FAIR_AND_RISKY, TIMEOUT, TestDieService, spawn_die_service};

/// Polls the list until it equals `expected`, within the deadline.
async fn wait_for_dice(dice: &TestDieService, expected: &[&str]) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if dice.identifiers().await == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "dice never became {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `/metrics` until the reload counter for `result` reaches `count`.
async fn wait_for_reloads(dice: &TestDieService, result: &str, count: f64) -> String {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let text = dice.metrics().await;
        if metric_value(&text, "die_specs_reloads_total", &[("result", result)]) >= count {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {result} reload counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_added_die_is_served_without_a_restart() {
    let dice = spawn_die_service(FAIR_AND_RISKY);
    dice.edit_specs(r#"{"fair": {"faces": [1,2,3,4,5,6], "error_rate": 0},
                        "d20": {"faces": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20], "error_rate": 0}}"#);
    wait_for_dice(&dice, &["d20", "fair"]).await;

    let d20: serde_json::Value = dice.get("/dice?identifier=d20").await.json().await.unwrap();
    assert_eq!(d20["faces"].as_array().unwrap().len(), 20);
    assert_eq!(dice.get("/dice?identifier=risky").await.status(), 404);

    let text = wait_for_reloads(&dice, "success", 1.0).await;
    assert_eq!(metric_value(&text, "die_specifications_loaded", &[]), 2.0);
    let reloaded = &dice
        .service
        .logs()
        .with_message("die specifications reloaded")[0];
    assert_eq!(reloaded["dice"], 2);
}

#[tokio::test]
async fn a_broken_file_keeps_the_last_good_dice_and_says_what_is_wrong() {
    let dice = spawn_die_service(FAIR_AND_RISKY);
    // A missing comma on line 2.
    dice.edit_specs("{\n  \"fair\": {\"faces\": [1, 2, 3] \"error_rate\": 0}\n}");
    wait_for_reloads(&dice, "error", 1.0).await;
    assert_eq!(dice.identifiers().await, ["fair", "risky"]);

    let error = &dice
        .service
        .logs()
        .with_message("die specifications file is invalid, keeping the last good ones")[0];
    assert_eq!(error["level"], "ERROR");
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("dice.json") && message.contains("line 2"),
        "{message}"
    );

    // Valid JSON, invalid die: refused too, naming the die.
    dice.edit_specs(r#"{"fair": {"faces": [1], "error_rate": 7}}"#);
    wait_for_reloads(&dice, "error", 2.0).await;
    assert_eq!(dice.identifiers().await, ["fair", "risky"]);
    let lines = dice
        .service
        .logs()
        .with_message("die specifications file is invalid, keeping the last good ones");
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("die \"fair\": error_rate"),
        "{}",
        lines[1]
    );

    // Fixed: served again.
    dice.edit_specs(r#"{"fair": {"faces": [1], "error_rate": 0}}"#);
    wait_for_dice(&dice, &["fair"]).await;
}
