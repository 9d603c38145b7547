//! No password, hash, cookie or session id ever reaches a log line, a span
//! attribute or a metric, whatever people type; and typed text cannot forge
//! or break a log line.

use std::collections::HashSet;

use stage6_frontend::DemoUsers;
use testkit::AttributeValue;

use crate::helpers::{browser_like_client, sign_in, spawn_frontend_with, spawn_stage};

/// Awkward things people (and attackers) type, each made unique by a token
/// the test can look for afterwards.
fn password(attempt: usize, token: &str) -> String {
    match attempt % 8 {
        0 => format!("pässwörd-{token}-日本語-🎲"),
        1 => format!("{}{token}", "x".repeat(10_000)),
        2 => format!("\"quoted\" '{token}' \\backslash\\"),
        3 => format!("' OR 1=1; DROP TABLE usage_stats; -- {token}"),
        4 => format!("line one\nline two {token}\r\n"),
        5 => format!("\"}}\n{{\"usage\":true,\"event\":\"sign_in\",\"user\":\"{token}\"}}"),
        6 => format!("<script>alert('{token}')</script>"),
        _ => format!("plain-{token}"),
    }
}

fn user_name(attempt: usize, token: &str) -> String {
    match attempt % 6 {
        // Real accounts, wrong passwords: these get locked after five.
        0 => "alice".to_owned(),
        1 => "bob".to_owned(),
        // Unknown names, hostile ones included.
        2 => format!("user-{token}"),
        3 => format!("new\nline\"quote-{token}"),
        4 => format!("\"}}\n{{\"usage\":true,\"event\":\"sign_in\",\"user\":\"forged-{token}\"}}"),
        _ => format!("{}-{token}", "n".repeat(200)),
    }
}

fn token() -> String {
    format!("{:024x}", rand::random::<u128>() >> 32)
}

#[tokio::test]
async fn a_thousand_hostile_sign_ins_leave_no_secret_anywhere() {
    let stage = spawn_stage().await;
    // An account whose very name is hostile: it must still log as one line.
    let frontend = spawn_frontend_with(
        &stage.receiver,
        stage.dice_roller.base_url(),
        stage.die_service.base_url(),
        |config| {
            config.demo_users = DemoUsers(vec![
                ("alice".into(), "wonderland".into()),
                ("bob".into(), "builder".into()),
                ("mal\"lo\nry\\".into(), "correct horse".into()),
            ])
        },
    );

    let mut secrets = Vec::new();
    let attempts: Vec<(String, String)> = (0..1000)
        .map(|attempt| {
            let token = token();
            secrets.push(token.clone());
            (user_name(attempt, &token), password(attempt, &token))
        })
        .collect();
    for chunk in attempts.chunks(16) {
        let mut tasks = tokio::task::JoinSet::new();
        for (user, password) in chunk {
            let (url, user, password) = (frontend.url("/sign-in"), user.clone(), password.clone());
            tasks.spawn(async move {
                let response = browser_like_client()
                    .post(url)
                    .form(&[("user", user.as_str()), ("password", password.as_str())])
                    .send()
                    .await
                    .unwrap();
                response.status().as_u16()
            });
        }
        for status in tasks.join_all().await {
            assert!([400, 401, 429].contains(&status), "status {status}");
        }
    }

    // The good sign-ins, whose cookies are secrets too.
    let mut cookies = Vec::new();
    for (user, password) in [("alice", "wonderland"), ("mal\"lo\nry\\", "correct horse")] {
        let response = sign_in(&browser_like_client(), &frontend, user, password).await;
        // alice is locked by now; the hostile name is not.
        if response.status() == 303 {
            let cookie = response.headers()["set-cookie"].to_str().unwrap();
            cookies.push(
                cookie["dice_session=".len()..]
                    .split(';')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert_eq!(cookies.len(), 1, "the hostile-named account signed in");

    // Everything the services let out: every log line, every span attribute,
    // every metric.
    let logs = frontend.logs().text();
    let metrics = reqwest::get(frontend.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut attributes = String::new();
    for span in stage.receiver.spans() {
        for value in span.attributes.values() {
            if let AttributeValue::String(text) = value {
                attributes.push_str(text);
                attributes.push('\n');
            }
        }
    }
    for (name, output) in [
        ("logs", &logs),
        ("span attributes", &attributes),
        ("metrics", &metrics),
    ] {
        for secret in secrets.iter().chain(&cookies) {
            assert!(
                !output.contains(secret.as_str()),
                "a secret leaked into the {name}: {secret}"
            );
        }
        assert!(
            !output.contains("$argon2"),
            "a password hash leaked into the {name}"
        );
        assert!(
            !output.contains("correct horse"),
            "a password leaked into the {name}"
        );
    }

    // Typed text cannot forge or break a line: every line is one JSON object
    // (json_lines panics otherwise), and every usage event is a real one.
    let lines = frontend.logs().json_lines();
    let usage: Vec<_> = lines.iter().filter(|line| line["usage"] == true).collect();
    let raw_usage = logs
        .lines()
        .filter(|line| line.contains(testkit::USAGE_MARKER))
        .count();
    assert_eq!(
        raw_usage,
        usage.len(),
        "a typed \"usage\":true forged an event"
    );
    let events: HashSet<&str> = usage
        .iter()
        .filter_map(|line| line["event"].as_str())
        .collect();
    assert!(
        events.is_subset(&HashSet::from([
            "sign_in",
            "sign_in_failed",
            "sign_in_throttled"
        ])),
        "{events:?}"
    );
    let signed_in: Vec<_> = usage
        .iter()
        .filter(|line| line["event"] == "sign_in")
        .collect();
    assert_eq!(signed_in.len(), 1);
    assert_eq!(
        signed_in[0]["user"], "mal\"lo\nry\\",
        "the hostile name, intact, in one line"
    );
}
