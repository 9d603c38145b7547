//! A person's view: headless Chromium signs in, rolls, and signs out.
//! Screenshots land in `artefacts/`.

use fantoccini::Locator;
use serde_json::Value;
use testkit::Browser;

use crate::helpers::spawn_stage;

#[tokio::test]
async fn a_person_signs_in_rolls_and_signs_out() {
    let stage = spawn_stage().await;
    let browser = Browser::start().await;
    let page = browser.client();

    // Not signed in: the dice send you to the sign-in page.
    page.goto(&stage.frontend.base_url()).await.unwrap();
    assert!(
        page.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sign-in")
    );
    // Both pages tell the browser what it may do (Content-Security-Policy,
    // nosniff, Referrer-Policy), and it obeys: styled, no script runs.
    browser
        .assert_page_locked_down(&stage.frontend.url("/sign-in"), "sign-in")
        .await;

    // A wrong password: the message, and still the sign-in page.
    page.find(Locator::Id("user"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    page.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("not-it")
        .await
        .unwrap();
    page.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let message = page
        .wait()
        .for_element(Locator::Id("sign-in-message"))
        .await
        .unwrap();
    assert_eq!(
        message.text().await.unwrap(),
        "Wrong user name or password."
    );
    browser.screenshot("stage6-sign-in-failed").await;

    page.find(Locator::Id("user"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    page.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("wonderland")
        .await
        .unwrap();
    page.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let who = page
        .wait()
        .for_element(Locator::Id("signed-in-user"))
        .await
        .unwrap();
    assert_eq!(who.text().await.unwrap(), "alice");
    browser
        .assert_page_locked_down(&stage.frontend.base_url(), "roll")
        .await;
    // The session cookie is invisible to scripts (HttpOnly).
    let cookies: Value = page
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    assert_eq!(cookies, Value::String(String::new()));

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
    let total = page
        .wait()
        .for_element(Locator::Id("roll-value"))
        .await
        .unwrap();
    let total: i64 = total.text().await.unwrap().parse().unwrap();
    assert!((1..=6).contains(&total), "{total}");
    let path = browser.screenshot("stage6-frontend").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);

    // A page elsewhere on this machine (another port: the same *site*, so
    // the SameSite=Lax cookie goes along) posts the roll form: refused, and
    // nothing rolled.
    let attacker = attacker_page(&format!("{}/roll", stage.frontend.base_url())).await;
    page.goto(&attacker).await.unwrap();
    page.find(Locator::Id("prize"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The refusal is the frontend's answer to the form: wait for it to be
    // the page shown before reading it.
    let roll_url = reqwest::Url::parse(&stage.frontend.url("/roll")).unwrap();
    page.wait().for_url(&roll_url).await.unwrap();
    let refusal = page
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(refusal.starts_with("Refused"), "{refusal}");
    browser.screenshot("stage6-cross-origin-refused").await;
    let metrics = reqwest::get(stage.frontend.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        testkit::metric_value(&metrics, "frontend_button_clicks_total", &[]),
        1.0,
        "the forged form rolled nothing"
    );
    // The person is still signed in, and the page's own form still works.
    page.goto(&stage.frontend.base_url()).await.unwrap();
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
    page.wait()
        .for_element(Locator::Id("roll-value"))
        .await
        .unwrap();

    page.find(Locator::Id("sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page.wait()
        .for_element(Locator::Id("sign-in"))
        .await
        .unwrap();
    // Signed out for real: the dice send you back again.
    page.goto(&stage.frontend.base_url()).await.unwrap();
    assert!(
        page.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sign-in")
    );
    browser.close().await;

    let events: Vec<String> = stage
        .frontend
        .logs()
        .json_lines()
        .iter()
        .filter(|line| line["usage"] == true)
        .filter_map(|line| line["event"].as_str().map(str::to_owned))
        .collect();
    // The first sign_in is the test client's (spawn_stage); then the person.
    assert_eq!(
        events[1..],
        [
            "sign_in_failed",
            "sign_in",
            "page_view",
            "roll",
            "page_view",
            "roll",
            "sign_out"
        ]
    );
}

/// Serves, on a port of its own, a page whose one button posts a form to
/// `target`: what a malicious page would do. Returns its URL.
async fn attacker_page(target: &str) -> String {
    let html = format!(
        "<!doctype html><title>You won!</title>\
         <form method=\"post\" action=\"{target}\">\
         <input type=\"hidden\" name=\"die\" value=\"fair\">\
         <button id=\"prize\" type=\"submit\">Claim your prize</button></form>"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
