//! A person's view: headless Chromium picks a die, clicks Roll, and sees the
//! result and its trace id. Screenshots land in `artefacts/`.

use fantoccini::Locator;
use serde_json::Value;
use testkit::Browser;

use crate::helpers::{SPAN_TIMEOUT, spawn_stage};

#[tokio::test]
async fn a_person_rolls_the_risky_die_and_sees_the_result_and_its_trace() {
    let stage = spawn_stage(0.0);
    let browser = Browser::start().await;
    let page = browser.client();
    page.goto(&stage.frontend.base_url()).await.unwrap();
    // What the page tells the browser it may do, as Chromium received it,
    // and the browser obeying: the page styled, a slipped-in script inert.
    browser
        .assert_page_locked_down(&stage.frontend.base_url(), "roll")
        .await;

    page.find(Locator::Css("select#die option[value='risky']"))
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
        (2..=7).contains(&value),
        "the risky die rolls 2 to 7, got {value}"
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
    assert_eq!(selected.as_deref(), Some("risky"));

    let path = browser.screenshot("stage2-frontend").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);

    // The trace the page names is the one both services exported.
    let spans = stage
        .receiver
        .wait_for_trace(&trace_id, 4, SPAN_TIMEOUT)
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
    browser.screenshot("stage2-frontend-phone").await;
    browser.close().await;
}
