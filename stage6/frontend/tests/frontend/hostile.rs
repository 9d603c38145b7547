//! What a hostile client gets: forged cross-origin form posts refused,
//! oversized forms a 413, a flood of sign-ins a 503 with Retry-After.

use crate::helpers::{
    browser_like_client, sign_in, signed_in, spawn_frontend_checking, spawn_stage, submit,
};

const EVIL: &str = "http://evil.example";

#[tokio::test]
async fn form_posts_from_another_origin_are_refused_and_change_nothing() {
    let stage = spawn_stage().await;
    let frontend = &stage.frontend;

    // A roll posted by another site's page, carrying the victim's cookie.
    let forged = stage
        .http
        .post(frontend.url("/roll"))
        .header("Origin", EVIL)
        .form(&[("die", "fair")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let words = forged.text().await.unwrap();
    assert!(words.contains("http://evil.example"), "{words}");

    // Sign-out from another site (with only a Referer, as older browsers
    // send) is refused too: the session is still there.
    let forged_out = stage
        .http
        .post(frontend.url("/sign-out"))
        .header("Referer", "http://localhost:9999/attack.html")
        .send()
        .await
        .unwrap();
    assert_eq!(forged_out.status(), 403);
    assert_eq!(submit(&stage.http, frontend, "fair").await.status, 200);

    // Login CSRF: a page signing the victim into the attacker's account.
    let victim = browser_like_client();
    let forged_in = victim
        .post(frontend.url("/sign-in"))
        .header("Origin", "null")
        .form(&[("user", "bob"), ("password", "builder")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged_in.status(), 403);
    assert!(forged_in.headers().get("set-cookie").is_none());

    // What current browsers send for another port of the same host: the same
    // *site* (SameSite=Lax lets the cookie through) but not the same origin.
    let same_site = stage
        .http
        .post(frontend.url("/roll"))
        .header("Sec-Fetch-Site", "same-site")
        .form(&[("die", "fair")])
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), 403);

    // The page's own forms: the browser names the frontend itself.
    let own_origin = format!("http://{}", frontend.address());
    let own = stage
        .http
        .post(frontend.url("/roll"))
        .header("Origin", own_origin)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("die", "fair")])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);

    let metrics = stage
        .http
        .get(frontend.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        testkit::metric_value(
            &metrics,
            "frontend_button_clicks_total",
            &[("die_type", "fair")]
        ),
        2.0,
        "only the two genuine rolls were rolled"
    );
}

#[tokio::test]
async fn an_oversized_form_is_a_413_and_an_upper_case_form_type_is_a_form() {
    let stage = spawn_stage().await;
    let huge = "x".repeat(3 << 20);
    for path in ["/roll", "/sign-in"] {
        let response = stage
            .http
            .post(stage.frontend.url(path))
            .form(&[("die", huge.as_str()), ("user", "alice"), ("password", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("larger") || page.contains("too large"),
            "{page}"
        );
    }

    let http = browser_like_client();
    let response = http
        .post(stage.frontend.url("/sign-in"))
        .header("Content-Type", "APPLICATION/X-WWW-FORM-URLENCODED")
        .body("user=alice&password=wonderland")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "media types are case-insensitive");
}

#[tokio::test]
async fn sign_ins_beyond_the_checking_queue_are_answered_503_with_retry_after() {
    let stage = spawn_stage().await;
    // One check at a time and none waiting: any overlap is refused.
    let frontend = spawn_frontend_checking(
        &stage.receiver,
        stage.dice_roller.base_url(),
        stage.die_service.base_url(),
        |_| {},
        |accounts| accounts.with_check_limits(1, 0),
    );
    let mut attempts = tokio::task::JoinSet::new();
    for n in 0..20 {
        let url = frontend.url("/sign-in");
        attempts.spawn(async move {
            let response = browser_like_client()
                .post(url)
                .form(&[("user", format!("made-up-{n}")), ("password", "x".into())])
                .send()
                .await
                .unwrap();
            let retry_after = response.headers().get("retry-after").cloned();
            (response.status().as_u16(), retry_after)
        });
    }
    let mut busy = 0;
    while let Some(answer) = attempts.join_next().await {
        match answer.unwrap() {
            (401, _) => {}
            (503, Some(retry_after)) => {
                assert_eq!(retry_after, "1");
                busy += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(
        busy > 0,
        "20 overlapping checks on one worker, none refused"
    );
    // Once the flood has passed, people sign in as usual.
    signed_in(&frontend, "alice", "wonderland").await;
    let metrics = reqwest::get(frontend.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        testkit::metric_value(&metrics, "sign_ins_total", &[("result", "busy")]),
        f64::from(busy)
    );
    // A refused sign-in is not a failed guess: the name is not throttled.
    assert_eq!(
        sign_in(&browser_like_client(), &frontend, "alice", "wonderland")
            .await
            .status(),
        303
    );
}
