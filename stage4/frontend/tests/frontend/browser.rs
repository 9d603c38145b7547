//! A person's view: headless Chromium picks a die, asks for five rolled at
//! once, clicks Roll, and sees the total and its trace id. Screenshots land
//! in `artefacts/`.

use fantoccini::Locator;
use serde_json::Value;
use testkit::Browser;

use crate::helpers::{TIMEOUT, spawn_stage};

#[tokio::test]
async fn a_person_rolls_five_dice_at_once_and_sees_the_total_and_its_trace() {
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
    let times = page.find(Locator::Id("times")).await.unwrap();
    times.clear().await.unwrap();
    times.send_keys("5").await.unwrap();
    page.find(Locator::Id("async"))
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

    let total = page
        .wait()
        .for_element(Locator::Id("roll-value"))
        .await
        .unwrap();
    let total: i64 = total.text().await.unwrap().parse().unwrap();
    assert!(
        (5..=30).contains(&total),
        "five fair dice total 5 to 30, got {total}"
    );
    let summary = page
        .find(Locator::Id("roll-summary"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        summary.starts_with(&format!("Rolled 5 dice, total {total}, rolls [")),
        "{summary}"
    );
    let trace_id = page
        .find(Locator::Id("trace-id"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let href = page
        .find(Locator::Id("trace-link"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(href.contains(&trace_id), "{href}");
    // The form remembers what was asked.
    let ticked = page
        .find(Locator::Id("async"))
        .await
        .unwrap()
        .prop("checked")
        .await
        .unwrap();
    assert_eq!(ticked.as_deref(), Some("true"));
    let times = page
        .find(Locator::Id("times"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(times.as_deref(), Some("5"));

    let path = browser.screenshot("stage4-frontend").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);

    // The trace the page names holds the batch, with its total.
    let spans = stage
        .receiver
        .wait_for_trace(&trace_id, 12, TIMEOUT)
        .await
        .unwrap();
    let batch = spans
        .iter()
        .find(|span| span.service_name == "dice-roller" && span.name == "GET /roll-async")
        .expect("the page's trace holds the batch");
    assert_eq!(batch.attr_i64("async.total_result"), Some(total));

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
    browser.screenshot("stage4-frontend-phone").await;
    browser.close().await;
}
