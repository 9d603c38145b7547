//! A person's view: headless Chromium picks a die the die-service listed,
//! clicks Roll, and sees the result and its trace id. Screenshots land in `artefacts/`.

use fantoccini::Locator;
use serde_json::Value;
use testkit::Browser;

use crate::helpers::{TIMEOUT, spawn_stage};

#[tokio::test]
async fn a_person_picks_a_die_listed_by_the_die_service_and_sees_the_result_and_its_trace() {
    let stage = spawn_stage();
    let browser = Browser::start().await;
    let page = browser.client();
    page.goto(&stage.frontend.base_url()).await.unwrap();
    // What the page tells the browser it may do, as Chromium received it,
    // and the browser obeying: the page styled, a slipped-in script inert.
    browser
        .assert_page_locked_down(&stage.frontend.base_url(), "roll")
        .await;

    page.find(Locator::Css("select#die option[value='fair']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page.find(Locator::Id("roll"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let value = page
        .wait()
        .for_element(Locator::Id("roll-value"))
        .await
        .unwrap();
    let value: i64 = value.text().await.unwrap().parse().unwrap();
    assert!(
        (1..=6).contains(&value),
        "the fair die rolls 1 to 6, got {value}"
    );
    let trace_id = page
        .find(Locator::Id("trace-id"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let link = page.find(Locator::Id("trace-link")).await.unwrap();
    let href = link.attr("href").await.unwrap().unwrap();
    assert!(
        href.starts_with("http://grafana.example:3000/explore?"),
        "{href}"
    );
    assert!(href.contains(&trace_id), "{href}");
    // The selection survives the round trip.
    let selected = page
        .find(Locator::Css("select#die"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(selected.as_deref(), Some("fair"));

    let path = browser.screenshot("stage3-frontend").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);

    // The trace the page names is the one the services exported.
    let spans = stage
        .receiver
        .wait_for_trace(&trace_id, 8, TIMEOUT)
        .await
        .unwrap();
    assert!(spans.iter().any(
        |span| span.service_name == "dice-roller" && span.attr_i64("die.result") == Some(value)
    ));

    // On a phone-sized window nothing overflows sideways.
    page.set_window_size(390, 844).await.unwrap();
    let overflow: Value = page
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, Value::Bool(false));
    browser.screenshot("stage3-frontend-phone").await;
    browser.close().await;
}
