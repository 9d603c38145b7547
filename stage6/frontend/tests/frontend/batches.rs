//! Several dice per click: one `/roll-async` request, or one `/roll` per die.

use testkit::{Kind, ReceivedSpan, metric_value};

use crate::helpers::{TIMEOUT, spawn_stage, submit_batch};

fn dice_roller_calls(spans: &[ReceivedSpan]) -> Vec<&ReceivedSpan> {
    let mut calls: Vec<_> = spans
        .iter()
        .filter(|span| {
            span.kind == Kind::Client && span.attr_str("peer.service") == Some("dice-roller")
        })
        .collect();
    calls.sort_by_key(|span| span.start_unix_nanos);
    calls
}

#[tokio::test]
async fn async_rolling_is_one_request_for_all_the_dice() {
    let stage = spawn_stage().await;
    let page = submit_batch(&stage.http, &stage.frontend, "fair", "3", true).await;
    assert_eq!(page.status, 200);
    let total: i64 = page.element("roll-value").unwrap().parse().unwrap();
    let summary = page.element("roll-summary").unwrap();
    assert!(
        summary.starts_with(&format!("Rolled 3 dice, total {total}, rolls [")),
        "{summary}"
    );

    // frontend SERVER + 2 CLIENT, die-service list (+ query), dice-roller
    // SERVER + CLIENT, die-service spec (+ query), 3 x roll_die.
    let spans = stage
        .receiver
        .wait_for_trace(page.trace_id(), 12, TIMEOUT)
        .await
        .unwrap();
    let calls = dice_roller_calls(&spans);
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0]
            .attr_str("url.full")
            .unwrap()
            .contains("/roll-async?die=fair&times=3")
    );
    assert_eq!(
        spans.iter().filter(|span| span.name == "roll_die").count(),
        3
    );

    let metrics = stage
        .http
        .get(stage.frontend.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric_value(
            &metrics,
            "async_roll_requests_total",
            &[("batch_size", "3")]
        ),
        1.0
    );
}

#[tokio::test]
async fn without_async_each_die_is_its_own_request_after_the_last() {
    let stage = spawn_stage().await;
    let page = submit_batch(&stage.http, &stage.frontend, "fair", "3", false).await;
    assert_eq!(page.status, 200);
    assert!(
        page.element("roll-summary")
            .unwrap()
            .starts_with("Rolled 3 dice, total ")
    );

    // frontend SERVER + list CLIENT + 3 CLIENT; die-service list (+ query);
    // 3 x (dice-roller SERVER, CLIENT, roll_die, die-service SERVER + query).
    let spans = stage
        .receiver
        .wait_for_trace(page.trace_id(), 22, TIMEOUT)
        .await
        .unwrap();
    let calls = dice_roller_calls(&spans);
    assert_eq!(calls.len(), 3);
    for pair in calls.windows(2) {
        assert!(
            pair[0].end_unix_nanos <= pair[1].start_unix_nanos,
            "one at a time, end to end"
        );
    }
    let metrics = stage
        .http
        .get(stage.frontend.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric_value(&metrics, "async_roll_requests_total", &[]),
        0.0
    );
}

#[tokio::test]
async fn a_failed_die_in_a_batch_is_explained() {
    let stage = spawn_stage().await;
    let page = submit_batch(&stage.http, &stage.frontend, "doomed", "4", true).await;
    assert_eq!(page.status, 502);
    assert!(page.html.contains("4 of 4 rolls failed"), "{}", page.html);

    let page = submit_batch(&stage.http, &stage.frontend, "doomed", "4", false).await;
    assert_eq!(page.status, 502, "one at a time stops at the first failure");
}

#[tokio::test]
async fn the_number_of_rolls_must_be_one_to_ten() {
    let stage = spawn_stage().await;
    for times in ["0", "11", "-1", "two"] {
        let page = submit_batch(&stage.http, &stage.frontend, "fair", times, true).await;
        assert_eq!(page.status, 400, "times={times}");
        assert_eq!(
            page.element("error-headline"),
            Some("Invalid number of rolls")
        );
    }
    // Left empty, it means one.
    let page = submit_batch(&stage.http, &stage.frontend, "fair", "", false).await;
    assert_eq!(page.status, 200);
    assert!(
        page.element("roll-summary")
            .unwrap()
            .starts_with("Rolled 1 dice")
    );
}
