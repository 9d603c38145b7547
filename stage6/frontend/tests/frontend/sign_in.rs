//! Signing in and out: who gets in, what the cookie is, and what a failure
//! says.

use crate::helpers::{browser_like_client, sign_in, spawn_frontend_with, spawn_stage};

fn set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test]
async fn people_who_are_not_signed_in_are_sent_to_the_sign_in_page() {
    let stage = spawn_stage().await;
    let anonymous = browser_like_client();
    for response in [
        anonymous
            .get(stage.frontend.base_url())
            .send()
            .await
            .unwrap(),
        anonymous
            .post(stage.frontend.url("/roll"))
            .form(&[("die", "fair")])
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/sign-in");
    }
    let page = anonymous
        .get(stage.frontend.url("/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("id=\"password\""));
}

#[tokio::test]
async fn signing_in_sets_an_http_only_lax_cookie_and_signing_out_ends_the_session() {
    let stage = spawn_stage().await;
    let http = browser_like_client();
    // An id planted before sign-in (session fixation) is not the one used.
    let planted = "dice_session=planted-by-an-attacker";
    let response = http
        .post(stage.frontend.url("/sign-in"))
        .header("cookie", planted)
        .form(&[("user", "alice"), ("password", "wonderland")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    let cookie = set_cookie(&response).expect("a session cookie");
    assert!(cookie.starts_with("dice_session="), "{cookie}");
    assert!(!cookie.contains("planted-by-an-attacker"), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3600"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP by default: {cookie}"
    );

    let page = http.get(stage.frontend.base_url()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("id=\"signed-in-user\">alice<")
    );

    let out = http
        .post(stage.frontend.url("/sign-out"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()["location"], "/sign-in");
    let cleared = set_cookie(&out).expect("the cookie is cleared");
    assert!(
        cleared.contains("Max-Age=0") || cleared.contains("Expires=Thu, 01 Jan 1970"),
        "{cleared}"
    );
    let after = http.get(stage.frontend.base_url()).send().await.unwrap();
    assert_eq!(after.status(), 303, "signed out");
}

#[tokio::test]
async fn the_cookie_is_secure_when_configured() {
    let stage = spawn_stage().await;
    let frontend = spawn_frontend_with(
        &stage.receiver,
        stage.dice_roller.base_url(),
        stage.die_service.base_url(),
        |config| config.session_cookie_secure = true,
    );
    let response = sign_in(&browser_like_client(), &frontend, "alice", "wonderland").await;
    assert!(set_cookie(&response).unwrap().contains("Secure"));
}

#[tokio::test]
async fn a_wrong_password_shows_one_plain_message_and_makes_no_session() {
    let stage = spawn_stage().await;
    for (user, password) in [
        ("alice", "wrong"),
        ("nobody", "wonderland"),
        ("alice", "Wonderland"),
    ] {
        let http = browser_like_client();
        let response = sign_in(&http, &stage.frontend, user, password).await;
        assert_eq!(response.status(), 401);
        assert!(
            set_cookie(&response).is_none(),
            "no session for a failed sign-in"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("id=\"sign-in-message\""), "{html}");
        assert!(
            html.contains("Wrong user name or password."),
            "the same words whichever part was wrong"
        );
        let home = http.get(stage.frontend.base_url()).send().await.unwrap();
        assert_eq!(home.status(), 303);
    }
}

#[tokio::test]
async fn repeated_failures_lock_the_name_for_a_while() {
    let stage = spawn_stage().await;
    let http = browser_like_client();
    for _ in 0..5 {
        assert_eq!(
            sign_in(&http, &stage.frontend, "bob", "guess")
                .await
                .status(),
            401
        );
    }
    // Locked: even the right password is refused, and says why.
    let refused = sign_in(&http, &stage.frontend, "bob", "builder").await;
    assert_eq!(refused.status(), 429);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Too many failed sign-ins")
    );
    // Another name is not affected.
    assert_eq!(
        sign_in(&http, &stage.frontend, "alice", "wonderland")
            .await
            .status(),
        303
    );

    let metrics = http
        .get(stage.frontend.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |result| testkit::metric_value(&metrics, "sign_ins_total", &[("result", result)]);
    // spawn_stage signed alice in once already.
    assert_eq!(
        (count("success"), count("failure"), count("throttled")),
        (2.0, 5.0, 1.0)
    );
}
