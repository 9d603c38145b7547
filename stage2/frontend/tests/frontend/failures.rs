//! When the dice-roller fails, is slow or is gone, the person at the page is
//! told so in plain words, with a sensible status, and the trace says why.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use testkit::{Kind, OtlpReceiver, Status, TestService, metric_value};

use crate::helpers::{SPAN_TIMEOUT, spawn_frontend, spawn_stage, submit};

#[tokio::test]
async fn dice_roller_down_gives_a_503_page_and_error_spans() {
    let receiver = OtlpReceiver::start();
    let nowhere = format!("http://127.0.0.1:{}", testkit::free_port());
    let frontend = spawn_frontend(&receiver, nowhere, Duration::from_secs(2));
    let http = reqwest::Client::new();

    let page = submit(&http, &frontend, "fair").await;
    assert_eq!(page.status, 503);
    assert_eq!(
        page.element("error-headline"),
        Some("The dice-roller is not answering")
    );
    let trace_id = page.trace_id().to_owned();

    let spans = receiver
        .wait_for_trace(&trace_id, 2, SPAN_TIMEOUT)
        .await
        .unwrap();
    let server = spans.iter().find(|span| span.kind == Kind::Server).unwrap();
    let client = spans.iter().find(|span| span.kind == Kind::Client).unwrap();
    assert_eq!(server.status, Status::Error);
    assert_eq!(server.attr_i64("http.response.status_code"), Some(503));
    assert_eq!(client.status, Status::Error);
    assert_eq!(
        client.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );

    let failed = &frontend.logs().with_message("backend request failed")[0];
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(failed["trace_id"], trace_id.as_str());
    assert!(
        failed["error"].as_str().unwrap().contains("unreachable"),
        "{failed}"
    );

    let metrics = http
        .get(frontend.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let labels = [("die_type", "fair"), ("status_code", "unreachable")];
    assert_eq!(
        metric_value(&metrics, "frontend_requests_total", &labels),
        1.0
    );
}

#[tokio::test]
async fn a_failed_roll_is_a_502_page_quoting_the_dice_roller() {
    let stage = spawn_stage(1.0);
    let page = submit(&stage.http, &stage.frontend, "risky").await;
    assert_eq!(page.status, 502);
    assert_eq!(
        page.element("error-headline"),
        Some("The dice-roller could not roll")
    );
    assert_eq!(page.element("backend-status"), Some("500"));
    assert!(
        page.html.contains("the die roll failed; try again"),
        "{}",
        page.html
    );

    let spans = stage
        .receiver
        .wait_for_trace(page.trace_id(), 4, SPAN_TIMEOUT)
        .await
        .unwrap();
    for span in spans.iter().filter(|span| span.kind != Kind::Internal) {
        // frontend SERVER (502), frontend CLIENT (got a 500), dice-roller SERVER (500).
        assert_eq!(span.status, Status::Error, "{span:#?}");
    }
}

#[tokio::test]
async fn a_slow_dice_roller_gives_a_504_page() {
    let receiver = OtlpReceiver::start();
    let slow = TestService::spawn(
        testkit::telemetry_config("dice-roller", &receiver),
        async |_| {
            Ok(Router::new().route(
                "/roll",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    "{\"roll\": 1}"
                }),
            ))
        },
    );
    let frontend = spawn_frontend(&receiver, slow.base_url(), Duration::from_millis(200));
    let page = submit(&reqwest::Client::new(), &frontend, "fair").await;
    assert_eq!(page.status, 504);
    assert_eq!(
        page.element("error-headline"),
        Some("The dice-roller is too slow")
    );
    let spans = receiver
        .wait_for(SPAN_TIMEOUT, |spans| {
            spans.iter().any(|span| span.kind == Kind::Client)
        })
        .await
        .unwrap();
    let client = spans.iter().find(|span| span.kind == Kind::Client).unwrap();
    assert_eq!(client.attr_str("error.type"), Some("timeout"));
}

#[tokio::test]
async fn an_unknown_or_missing_die_is_a_400_page_and_no_call() {
    let stage = spawn_stage(0.0);
    let page = submit(&stage.http, &stage.frontend, "loaded").await;
    assert_eq!(page.status, 400);
    assert_eq!(page.element("error-headline"), Some("Unknown die"));

    let empty = stage
        .http
        .post(stage.frontend.url("/roll"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);

    stage
        .receiver
        .wait_for_spans(2, SPAN_TIMEOUT)
        .await
        .unwrap();
    assert!(
        stage
            .receiver
            .spans()
            .iter()
            .all(|span| span.service_name == "frontend")
    );
    assert!(stage.dice_roller.logs().json_lines().is_empty());
}

#[tokio::test]
async fn an_oversized_form_is_a_413_and_an_upper_case_form_type_is_still_a_form() {
    let stage = spawn_stage(0.0);
    let huge = "x".repeat(3 << 20);
    let response = stage
        .http
        .post(stage.frontend.url("/roll"))
        .form(&[("die", huge.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        413,
        "it was a 400, as if the die were unknown"
    );
    assert!(response.text().await.unwrap().contains("Form too large"));

    // Media types are case-insensitive: this was a 400 too.
    let response = stage
        .http
        .post(stage.frontend.url("/roll"))
        .header("Content-Type", "Application/X-WWW-Form-Urlencoded")
        .body("die=fair")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
