//! Usage events: what a product owner reads, one JSON line per event.

use std::collections::HashSet;

use serde_json::Value;
use testkit::AttributeValue;

use crate::helpers::{TIMEOUT, browser_like_client, sign_in, spawn_stage, submit, submit_batch};

fn usage_events(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|line| line["usage"] == true).collect()
}

#[tokio::test]
async fn a_visit_is_a_story_of_usage_events() {
    let stage = spawn_stage().await;
    let http = browser_like_client();
    let response = sign_in(&http, &stage.frontend, "bob", "builder").await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let session_id = cookie["dice_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    http.get(stage.frontend.base_url()).send().await.unwrap();
    assert_eq!(
        submit_batch(&http, &stage.frontend, "fair", "2", false)
            .await
            .status,
        200
    );
    let batch = submit_batch(&http, &stage.frontend, "fair", "3", true).await;
    assert_eq!(batch.status, 200);
    let total: i64 = batch.element("roll-value").unwrap().parse().unwrap();
    assert_eq!(submit(&http, &stage.frontend, "doomed").await.status, 502);
    http.post(stage.frontend.url("/sign-out"))
        .send()
        .await
        .unwrap();

    let lines = stage.frontend.logs().json_lines();
    let bobs: Vec<&Value> = usage_events(&lines)
        .into_iter()
        .filter(|line| line["user"] == "bob")
        .collect();
    let events: Vec<&str> = bobs
        .iter()
        .map(|line| line["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["sign_in", "page_view", "roll", "roll", "roll", "sign_out"]
    );

    // One session key throughout, and it is not the session id.
    let keys: HashSet<&str> = bobs
        .iter()
        .map(|line| line["session"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 1);
    let key = *keys.iter().next().unwrap();
    assert_eq!(key.len(), 16);
    assert_ne!(key, session_id);

    let rolls: Vec<&&Value> = bobs.iter().filter(|line| line["event"] == "roll").collect();
    assert_eq!(
        (
            rolls[0]["die"].as_str(),
            rolls[0]["times"].as_u64(),
            rolls[0]["async"].as_bool()
        ),
        (Some("fair"), Some(2), Some(false))
    );
    assert_eq!(rolls[0]["outcome"], "rolled");
    assert_eq!(
        (rolls[1]["times"].as_u64(), rolls[1]["async"].as_bool()),
        (Some(3), Some(true))
    );
    assert_eq!(rolls[1]["total"], total);
    assert_eq!(rolls[2]["outcome"], "failed");
    assert!(rolls[2].get("total").is_none());
    assert!(bobs.last().unwrap()["session_seconds"].is_u64());

    // Like every line, each event carries the ids of its request's span.
    for event in &bobs {
        let span_id = event["span_id"].as_str().expect("span_id").to_owned();
        let spans = stage
            .receiver
            .wait_for(TIMEOUT, |spans| {
                spans.iter().any(|span| span.span_id == span_id)
            })
            .await
            .unwrap();
        let span = spans.iter().find(|span| span.span_id == span_id).unwrap();
        assert_eq!(event["trace_id"], span.trace_id.as_str(), "{event}");
    }

    // The session id (the cookie's value) is nowhere: not in a log line,
    // not in a span attribute.
    assert!(!stage.frontend.logs().text().contains(&session_id));
    for span in stage.receiver.spans() {
        for value in span.attributes.values() {
            if let AttributeValue::String(text) = value {
                assert!(!text.contains(&session_id), "{span:#?}");
            }
        }
    }
}

#[tokio::test]
async fn a_failed_sign_in_names_the_user_only_when_it_is_an_account() {
    let stage = spawn_stage().await;
    let http = browser_like_client();
    sign_in(&http, &stage.frontend, "alice", "not-her-password").await;
    // People type passwords into the user-name box.
    sign_in(&http, &stage.frontend, "hunter2-my-password", "x").await;

    let lines = stage.frontend.logs().json_lines();
    let failed: Vec<&Value> = usage_events(&lines)
        .into_iter()
        .filter(|line| line["event"] == "sign_in_failed")
        .collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["user"], "alice");
    assert_eq!(failed[0]["known_user"], true);
    assert!(failed[1].get("user").is_none());
    assert_eq!(failed[1]["known_user"], false);
    assert!(!stage.frontend.logs().text().contains("hunter2-my-password"));
}
