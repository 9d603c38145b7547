//! Each service down in turn: the page says which, in plain words.

use testkit::{Kind, OtlpReceiver, Status};

use crate::helpers::{
    TIMEOUT, load, spawn_dice_roller, spawn_die_service, spawn_frontend, spawn_stage, submit,
};

#[tokio::test]
async fn with_the_die_service_down_the_page_says_so() {
    let receiver = OtlpReceiver::start();
    let nowhere = format!("http://127.0.0.1:{}", testkit::free_port());
    let dice_roller = spawn_dice_roller(&receiver, nowhere.clone());
    let frontend = spawn_frontend(&receiver, dice_roller.base_url(), nowhere);
    let http = reqwest::Client::new();

    for page in [
        load(&http, &frontend).await,
        submit(&http, &frontend, "fair").await,
    ] {
        assert_eq!(page.status, 503);
        assert_eq!(
            page.element("error-headline"),
            Some("The die-service is not answering")
        );
        assert!(page.options().is_empty());
    }
    let failed = frontend.logs().with_message("die list fetch failed");
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["level"], "ERROR");
}

#[tokio::test]
async fn when_only_the_dice_roller_cannot_reach_the_die_service_its_message_is_shown() {
    let receiver = OtlpReceiver::start();
    let specs = tempfile::tempdir().unwrap();
    let die_service = spawn_die_service(&receiver, &specs);
    let nowhere = format!("http://127.0.0.1:{}", testkit::free_port());
    let dice_roller = spawn_dice_roller(&receiver, nowhere);
    let frontend = spawn_frontend(&receiver, dice_roller.base_url(), die_service.base_url());

    let page = submit(&reqwest::Client::new(), &frontend, "fair").await;
    assert_eq!(page.status, 502);
    assert_eq!(page.element("backend-status"), Some("503"));
    assert!(
        page.html.contains("the die-service is unavailable"),
        "{}",
        page.html
    );

    let spans = receiver
        .wait_for_trace(page.trace_id(), 5, TIMEOUT)
        .await
        .unwrap();
    let dice_roller_server = spans
        .iter()
        .find(|span| span.service_name == "dice-roller" && span.kind == Kind::Server)
        .unwrap();
    assert_eq!(dice_roller_server.status, Status::Error);
}

#[tokio::test]
async fn a_failed_roll_is_a_502_page() {
    let stage = spawn_stage();
    let page = submit(&stage.http, &stage.frontend, "doomed").await;
    assert_eq!(page.status, 502);
    assert_eq!(page.element("backend-status"), Some("500"));
}

#[tokio::test]
async fn an_oversized_form_is_a_413_and_an_upper_case_form_type_is_still_a_form() {
    let stage = spawn_stage();
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
