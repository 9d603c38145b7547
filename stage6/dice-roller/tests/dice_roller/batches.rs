//! `/roll-async`: N dice at once, N overlapping child spans, bounds, and
//! what a failed die does to a batch.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use testkit::{Kind, ReceivedSpan, Status, metric_value};

use crate::helpers::{TIMEOUT, spawn_app, spawn_app_with_delay, wait_for_trace_of};

fn rolls_of<'a>(spans: &'a [ReceivedSpan], trace_id: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|span| span.trace_id == trace_id && span.name == "roll_die")
        .collect()
}

#[tokio::test]
async fn a_batch_rolls_every_die_in_an_overlapping_child_span() {
    let app = spawn_app_with_delay(Duration::from_millis(300)).await;
    let response = app.get("/roll-async?die=fair&times=5").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let rolls: Vec<i64> = serde_json::from_value(body["rolls"].clone()).unwrap();
    assert_eq!(rolls.len(), 5);
    assert_eq!(body["count"], 5);
    assert_eq!(body["total"], rolls.iter().sum::<i64>());
    assert!(rolls.iter().all(|roll| (1..=6).contains(roll)));

    // SERVER, CLIENT (the one lookup), die-service SERVER and its query,
    // 5 x roll_die.
    let spans = wait_for_trace_of(&app.receiver, "GET /roll-async", 9).await;
    let server = spans
        .iter()
        .find(|span| span.service_name == "dice-roller" && span.kind == Kind::Server)
        .unwrap();
    assert_eq!(server.name, "GET /roll-async");
    assert_eq!(server.attr_i64("async.batch_size"), Some(5));
    assert_eq!(
        server.attr_i64("async.total_result"),
        body["total"].as_i64()
    );
    let lookups = spans
        .iter()
        .filter(|span| span.service_name == "dice-roller" && span.kind == Kind::Client);
    assert_eq!(lookups.count(), 1, "one lookup for the whole batch");

    let children = rolls_of(&spans, &server.trace_id);
    assert_eq!(children.len(), 5);
    let indexes: HashSet<i64> = children
        .iter()
        .filter_map(|span| span.attr_i64("async.roll_index"))
        .collect();
    assert_eq!(indexes, (0..5).collect());
    for roll in &children {
        assert_eq!(
            roll.parent_span_id.as_deref(),
            Some(server.span_id.as_str())
        );
    }
    // Concurrent, not sequential: the dice together took longer than the
    // whole request, and some pair of them ran at the same time.
    let busy: Duration = children.iter().map(|span| span.duration()).sum();
    assert!(
        busy > server.duration(),
        "{busy:?} of rolling in a {:?} request",
        server.duration()
    );
    let overlap = children.iter().any(|a| {
        children.iter().any(|b| {
            a.span_id != b.span_id
                && a.start_unix_nanos < b.end_unix_nanos
                && b.start_unix_nanos < a.end_unix_nanos
        })
    });
    assert!(overlap, "no two rolls overlapped: {children:#?}");
}

#[tokio::test]
async fn concurrent_batches_keep_their_spans_apart() {
    let app = spawn_app_with_delay(Duration::from_millis(50)).await;
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (http, url) = (
            app.http.clone(),
            app.dice_roller.url("/roll-async?die=fair&times=4"),
        );
        requests.spawn(async move { http.get(url).send().await.unwrap().status() });
    }
    assert!(
        requests
            .join_all()
            .await
            .iter()
            .all(|status| *status == 200)
    );

    let spans = app
        .receiver
        .wait_for(TIMEOUT, |spans| {
            spans.iter().filter(|span| span.name == "roll_die").count() == 24
        })
        .await
        .unwrap();
    let servers: Vec<_> = spans
        .iter()
        .filter(|span| span.service_name == "dice-roller" && span.kind == Kind::Server)
        .collect();
    assert_eq!(servers.len(), 6);
    for server in servers {
        let children = rolls_of(&spans, &server.trace_id);
        assert_eq!(children.len(), 4, "each batch has its own four rolls");
        assert!(
            children
                .iter()
                .all(|roll| roll.parent_span_id.as_deref() == Some(server.span_id.as_str()))
        );
    }
}

#[tokio::test]
async fn batch_sizes_outside_one_to_twenty_are_refused_clearly() {
    let app = spawn_app().await;
    for times in ["", "abc", "0", "-3", "21", "1.5", "99999999999999999999"] {
        let response = app
            .get(&format!("/roll-async?die=fair&times={times}"))
            .await;
        assert_eq!(response.status(), 400, "times={times}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error"], "times must be a whole number from 1 to 20",
            "times={times}"
        );
    }
    assert_eq!(app.get("/roll-async?die=fair").await.status(), 400);
    for times in [1, 20] {
        let body: Value = app
            .get(&format!("/roll-async?die=fair&times={times}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["count"], times);
    }
}

#[tokio::test]
async fn a_failed_die_fails_the_batch_and_the_spans_say_how_many() {
    let app = spawn_app().await;
    let response = app.get("/roll-async?die=coin&times=20").await;
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    let failed: i64 = message.split(' ').next().unwrap().parse().unwrap();
    assert!(
        message.ends_with("of 20 rolls failed; a batch is all or nothing, try again"),
        "{message}"
    );

    let spans = app
        .receiver
        .wait_for(TIMEOUT, |spans| {
            spans.iter().filter(|span| span.name == "roll_die").count() == 20
        })
        .await
        .unwrap();
    let server = spans
        .iter()
        .find(|span| span.service_name == "dice-roller" && span.kind == Kind::Server)
        .unwrap();
    assert_eq!(server.status, Status::Error);
    assert_eq!(server.attr_i64("async.failed_rolls"), Some(failed));
    assert_eq!(server.attr("async.total_result"), None);
    let failed_spans = spans
        .iter()
        .filter(|span| span.name == "roll_die" && span.status == Status::Error)
        .count();
    assert_eq!(
        failed_spans as i64, failed,
        "every die ran; the failed ones are error spans"
    );
}

#[tokio::test]
async fn batches_are_measured() {
    let app = spawn_app().await;
    for _ in 0..3 {
        assert_eq!(app.get("/roll-async?die=fair&times=4").await.status(), 200);
    }
    assert_eq!(
        app.get("/roll-async?die=doomed&times=2").await.status(),
        500
    );
    let text = app.metrics().await;
    let value = |name: &str, labels: &[(&str, &str)]| metric_value(&text, name, labels);
    assert_eq!(
        value(
            "async_rolls_total",
            &[("die_type", "fair"), ("result", "success")]
        ),
        12.0
    );
    assert_eq!(
        value(
            "async_rolls_total",
            &[("die_type", "doomed"), ("result", "error")]
        ),
        2.0
    );
    assert_eq!(value("async_roll_batch_size_count", &[]), 4.0);
    assert_eq!(value("async_roll_batch_size_sum", &[]), 14.0);
    assert_eq!(value("async_roll_duration_seconds_count", &[]), 4.0);
    assert_eq!(value("async_rolls_in_progress", &[]), 0.0);
    // Batches are not counted as /roll rolls.
    assert_eq!(value("dice_rolls_total", &[]), 0.0);
}
