//! Pushes a hostile (or merely unlucky) sender makes: lines PostgreSQL
//! cannot store, the same events in different orders at once, a small body
//! that inflates to a huge line.

use rand::seq::SliceRandom;
use testkit::metric_value;

use crate::helpers::{
    PUSH_TOKEN, json_body, protobuf_body, spawn_receiver, spawn_receiver_with_limits, usage_line,
};

fn with_field(line: &str, field: &str) -> String {
    line.replace(r#""user":"#, &format!(r#"{field},"user":"#))
}

#[tokio::test]
async fn a_line_that_can_never_be_stored_is_set_aside_and_the_rest_of_its_batch_stored() {
    let receiver = spawn_receiver(1 << 20).await;
    let good: Vec<String> = (0..5).map(|n| usage_line("roll", "alice", n)).collect();
    let poison = [
        // PostgreSQL's JSONB refuses a NUL character, in a value or a key.
        usage_line("roll", r"al\u0000ice", 10),
        with_field(&usage_line("roll", "bob", 11), r#""ke\u0000y":1"#),
        // Too long for the user_name index (about 2.7 kB at most).
        usage_line("roll", &"m".repeat(3000), 12),
        // Amplification: one usage line of 200 KB.
        with_field(
            &usage_line("roll", "carol", 13),
            &format!(r#""pad":"{}""#, "x".repeat(200_000)),
        ),
    ];
    let mut lines = good.clone();
    lines.extend(poison.iter().cloned());
    lines.rotate_left(3);

    let response = receiver
        .push("application/x-protobuf", protobuf_body(&lines))
        .await;
    assert_eq!(
        response.status(),
        204,
        "a 5xx would make Alloy retry this batch for ever"
    );
    assert_eq!(receiver.rows(), 5, "every good event is stored");

    let text = receiver.metrics().await;
    let rejected =
        |reason| metric_value(&text, "usage_events_rejected_total", &[("reason", reason)]);
    assert_eq!(rejected("nul_character"), 2.0);
    assert_eq!(rejected("field_too_long"), 1.0);
    assert_eq!(rejected("too_long"), 1.0);
    assert_eq!(metric_value(&text, "usage_events_stored_total", &[]), 5.0);
    // The reason is logged, never the line.
    let logs = receiver.service.logs().text();
    assert!(logs.contains("usage lines set aside"), "{logs}");
    assert!(!logs.contains("mmmmmmmm") && !logs.contains("xxxxxxxx"));

    // The same batch again (Alloy's retry, had it got a 5xx): nothing new.
    assert_eq!(
        receiver
            .push("application/json", json_body(&lines))
            .await
            .status(),
        204
    );
    assert_eq!(receiver.rows(), 5);
}

/// Before rows went in in one order, such pushes deadlocked in PostgreSQL
/// (500) and, more of them than connections, timed out waiting for the pool
/// (503).
#[tokio::test]
async fn concurrent_pushes_of_the_same_events_in_different_orders_all_succeed() {
    const EVENTS: u32 = 1000;
    const PUSHES: u32 = 10;
    let receiver = spawn_receiver(4 << 20).await;
    let events: Vec<String> = (0..EVENTS).map(|n| usage_line("roll", "dave", n)).collect();
    let mut pushes = tokio::task::JoinSet::new();
    for _ in 0..PUSHES {
        let mut batch = events.clone();
        batch.shuffle(&mut rand::rng());
        let request = receiver
            .http
            .post(receiver.service.url("/loki/api/v1/push"))
            .bearer_auth(PUSH_TOKEN)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .body(protobuf_body(&batch));
        pushes.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        });
    }
    while let Some(answer) = pushes.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 204, "{body}");
    }
    assert_eq!(receiver.rows(), u64::from(EVENTS));
    let text = receiver.metrics().await;
    assert_eq!(
        metric_value(&text, "usage_events_stored_total", &[]),
        f64::from(EVENTS)
    );
    assert_eq!(
        metric_value(&text, "usage_events_duplicate_total", &[]),
        f64::from((PUSHES - 1) * EVENTS)
    );
}

#[tokio::test]
async fn a_small_body_inflating_to_a_huge_line_is_refused_before_it_is_stored() {
    // The service's own default limits.
    let defaults = stage6_usage_receiver::Config::default();
    let receiver =
        spawn_receiver_with_limits(defaults.max_push_bytes, defaults.max_decompressed_bytes).await;
    let huge = with_field(
        &usage_line("roll", "eve", 1),
        &format!(r#""pad":"{}""#, "x".repeat(30 << 20)),
    );
    let body = protobuf_body(&[huge]);
    assert!(body.len() < 2 << 20, "compresses well: {}", body.len());
    let response = receiver.push("application/x-protobuf", body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(receiver.rows(), 0);
}

#[tokio::test]
async fn media_types_are_case_insensitive() {
    let receiver = spawn_receiver(1 << 20).await;
    let lines = [usage_line("roll", "frank", 1)];
    for content_type in ["APPLICATION/JSON", "Application/Json; charset=UTF-8"] {
        let response = receiver
            .http
            .post(receiver.service.url("/loki/api/v1/push"))
            .bearer_auth(PUSH_TOKEN)
            .header("Content-Type", content_type)
            .body(json_body(&lines))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{content_type}");
    }
    assert_eq!(receiver.rows(), 1);
}
