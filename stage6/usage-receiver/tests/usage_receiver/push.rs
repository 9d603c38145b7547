//! Both push forms stored once per event; failures answered so the sender
//! does the right thing.

use testkit::metric_value;

use crate::helpers::{
    TIMEOUT, json_body, operational_line, protobuf_body, spawn_receiver, usage_line,
};

#[tokio::test]
async fn protobuf_and_json_pushes_are_stored_and_other_lines_ignored() {
    let receiver = spawn_receiver(1 << 20).await;
    let mut lines: Vec<String> = (0..5).map(|n| usage_line("roll", "alice", n)).collect();
    lines.push(operational_line(1));
    let response = receiver
        .push("application/x-protobuf", protobuf_body(&lines))
        .await;
    assert_eq!(response.status(), 204);

    let json: Vec<String> = (10..13)
        .map(|n| usage_line("sign_in", "bob", n))
        .chain([operational_line(2)])
        .collect();
    assert_eq!(
        receiver
            .push("application/json", json_body(&json))
            .await
            .status(),
        204
    );

    assert_eq!(receiver.rows(), 8);
    let row = receiver.database.psql(
        "usagedb",
        "SELECT event_type || ',' || user_name || ',' || session_key || ',' || service || ',' || \
         to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ',' || (event->>'level') \
         FROM usage_stats WHERE session_key = 'k11'",
    );
    assert_eq!(row, "sign_in,bob,k11,frontend,2026-11-25 10:00:11,INFO");

    let text = receiver.metrics().await;
    assert_eq!(metric_value(&text, "usage_events_received_total", &[]), 8.0);
    assert_eq!(metric_value(&text, "usage_events_stored_total", &[]), 8.0);
    assert_eq!(
        metric_value(
            &text,
            "usage_lines_ignored_total",
            &[("reason", "not_usage")]
        ),
        2.0
    );
    // Its own log lines are never usage events: no loop back through Alloy.
    assert!(!receiver.service.logs().text().contains("\"usage\":true"));
}

#[tokio::test]
async fn the_same_batch_sent_twice_is_stored_once() {
    let receiver = spawn_receiver(1 << 20).await;
    let lines: Vec<String> = (0..4).map(|n| usage_line("roll", "carol", n)).collect();
    for _ in 0..2 {
        assert_eq!(
            receiver
                .push("application/x-protobuf", protobuf_body(&lines))
                .await
                .status(),
            204
        );
    }
    // And once more through the other door.
    assert_eq!(
        receiver
            .push("application/json", json_body(&lines))
            .await
            .status(),
        204
    );
    assert_eq!(receiver.rows(), 4);
    let text = receiver.metrics().await;
    assert_eq!(metric_value(&text, "usage_events_stored_total", &[]), 4.0);
    assert_eq!(
        metric_value(&text, "usage_events_duplicate_total", &[]),
        8.0
    );
}

#[tokio::test]
async fn while_the_database_is_down_pushes_get_a_503_and_the_retry_loses_nothing() {
    let receiver = spawn_receiver(1 << 20).await;
    let lines: Vec<String> = (0..6).map(|n| usage_line("roll", "dave", n)).collect();
    receiver.database.stop();
    let response = receiver
        .push("application/x-protobuf", protobuf_body(&lines))
        .await;
    assert_eq!(
        response.status(),
        503,
        "a 5xx makes the sender keep and retry the batch"
    );

    receiver.database.start_again();
    // The sender's retry, with a deadline: the pool reconnects by itself.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let status = receiver
            .push("application/x-protobuf", protobuf_body(&lines))
            .await
            .status();
        if status == 204 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the database never came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(receiver.rows(), 6);
}

#[tokio::test]
async fn bodies_that_can_never_be_stored_are_refused_with_a_clear_4xx() {
    let receiver = spawn_receiver(64 * 1024).await;
    for (content_type, body) in [
        ("application/x-protobuf", b"definitely not snappy".to_vec()),
        (
            "application/x-protobuf",
            snap::raw::Encoder::new()
                .compress_vec(b"\xff\xff\xff not protobuf")
                .unwrap(),
        ),
        (
            "application/json",
            b"{\"streams\": [{\"values\": [[1]]}]}".to_vec(),
        ),
        ("application/json", b"not json".to_vec()),
    ] {
        let response = receiver.push(content_type, body).await;
        assert_eq!(response.status(), 400, "{content_type}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("the body is not"),
            "{body}"
        );
    }
    assert_eq!(
        receiver
            .push("text/plain", b"hello".to_vec())
            .await
            .status(),
        415
    );

    // Too large as sent, and too large once decompressed (a snappy "bomb").
    // Over the 64 KiB limit, within what the receiver drains before answering.
    let big: Vec<String> = (0..300).map(|n| usage_line("roll", "eve", n)).collect();
    assert_eq!(
        receiver
            .push("application/json", json_body(&big))
            .await
            .status(),
        413
    );
    let bomb = protobuf_body(&[format!("{{\"pad\":\"{}\"}}", "x".repeat(1 << 20))]);
    assert!(bomb.len() < 64 * 1024, "compresses well: {}", bomb.len());
    assert_eq!(
        receiver.push("application/x-protobuf", bomb).await.status(),
        413
    );
    assert_eq!(receiver.rows(), 0);
}
