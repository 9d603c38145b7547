//! `/metrics`: exact counts after N requests, and a bounded set of series.

use std::collections::BTreeSet;

use testkit::metric_value;

use crate::helpers::{config, spawn_app};

#[tokio::test]
async fn counts_match_the_requests_exactly() {
    let app = spawn_app(config(1.0));
    let (fair, risky) = (25, 10);
    for _ in 0..fair {
        assert_eq!(app.get("/roll?die=fair").await.status(), 200);
    }
    for _ in 0..risky {
        assert_eq!(app.get("/roll?die=risky").await.status(), 500);
    }
    // Scrapes are not requests of the service's own API: they must not count.
    app.metrics().await;
    let text = app.metrics().await;
    let value = |name: &str, labels: &[(&str, &str)]| metric_value(&text, name, labels);
    let roll = [("method", "GET"), ("handler", "/roll")];

    assert_eq!(
        value(
            "http_requests_total",
            &[roll[0], roll[1], ("status", "200")]
        ),
        fair as f64
    );
    assert_eq!(
        value(
            "http_requests_total",
            &[roll[0], roll[1], ("status", "500")]
        ),
        risky as f64
    );
    assert_eq!(
        value("http_requests_total", &[("handler", "/metrics")]),
        0.0
    );
    assert_eq!(
        value(
            "dice_rolls_total",
            &[("die_type", "fair"), ("result", "success")]
        ),
        fair as f64
    );
    assert_eq!(
        value(
            "dice_rolls_total",
            &[("die_type", "risky"), ("result", "error")]
        ),
        risky as f64
    );
    assert_eq!(
        value(
            "dice_rolls_total",
            &[("die_type", "risky"), ("result", "success")]
        ),
        0.0
    );
    assert_eq!(value("http_requests_in_flight", &roll), 0.0);

    // The latency histogram: count, +Inf bucket and request total agree, and
    // the cumulative buckets never decrease.
    let total = (fair + risky) as f64;
    assert_eq!(value("http_request_duration_seconds_count", &roll), total);
    assert_eq!(
        value(
            "http_request_duration_seconds_bucket",
            &[roll[0], roll[1], ("le", "+Inf")]
        ),
        total
    );
    let buckets: Vec<f64> = text
        .lines()
        .filter(|line| {
            line.starts_with("http_request_duration_seconds_bucket{")
                && line.contains("handler=\"/roll\"")
        })
        .map(|line| line.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert!(
        buckets.len() > 5 && buckets.windows(2).all(|pair| pair[0] <= pair[1]),
        "{buckets:?}"
    );

    // The roll-value histogram: one bucket per face.
    let fair_die = [("die_type", "fair")];
    assert_eq!(value("dice_roll_value_count", &fair_die), fair as f64);
    assert_eq!(
        value("dice_roll_value_bucket", &[fair_die[0], ("le", "6")]),
        fair as f64
    );
    assert_eq!(
        value("dice_roll_value_bucket", &[fair_die[0], ("le", "0")]),
        0.0
    );
    let sum = value("dice_roll_value_sum", &fair_die);
    assert!((fair as f64..=6.0 * fair as f64).contains(&sum), "{sum}");
}

/// The label values `/metrics` may ever show, whatever clients send. Keep in
/// step with the stage README's "Label values" list.
const HANDLERS: [&str; 3] = ["/", "/roll", telemetry::UNMATCHED_ROUTE];
const METHODS: [&str; 3] = ["GET", "POST", "_OTHER"];
const STATUSES: [&str; 5] = ["200", "400", "404", "405", "500"];
const DICE: [&str; 2] = ["fair", "risky"];

/// Every series (metric name with its labels) in an exposition.
fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

fn label_values(series: &BTreeSet<String>, label: &str) -> BTreeSet<String> {
    let needle = format!("{label}=\"");
    series
        .iter()
        .filter_map(|line| {
            let start = line.find(&needle)? + needle.len();
            let end = line[start..].find('"')? + start;
            Some(line[start..end].to_owned())
        })
        .collect()
}

fn random_text(len: usize) -> String {
    (0..len)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789-_.~"[rand::random_range(0..40)]))
        .collect()
}

async fn send_random_requests(app: &crate::helpers::TestApp, count: usize) {
    for i in 0..count {
        let (method, path) = match i % 4 {
            0 => (
                reqwest::Method::GET,
                format!("/{}/{}", random_text(8), random_text(4)),
            ),
            1 => (
                reqwest::Method::GET,
                format!("/roll?die={}", random_text(6)),
            ),
            2 => (
                reqwest::Method::POST,
                format!("/roll?die={}", random_text(3)),
            ),
            _ => (
                reqwest::Method::from_bytes(b"BREW").unwrap(),
                format!("/{}", random_text(10)),
            ),
        };
        let response = app
            .http
            .request(method, app.service.url(&path))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
}

#[tokio::test]
async fn random_paths_and_dice_add_no_label_values() {
    let app = spawn_app(config(1.0));
    // Every documented outcome once, so the series exist before the noise.
    for path in ["/", "/roll?die=fair", "/roll?die=risky"] {
        app.get(path).await;
    }
    send_random_requests(&app, 1000).await;
    let first = series(&app.metrics().await);

    assert!(
        label_values(&first, "handler").is_subset(&HANDLERS.map(String::from).into()),
        "{first:#?}"
    );
    assert!(
        label_values(&first, "method").is_subset(&METHODS.map(String::from).into()),
        "{first:#?}"
    );
    assert!(
        label_values(&first, "status").is_subset(&STATUSES.map(String::from).into()),
        "{first:#?}"
    );
    assert!(
        label_values(&first, "die_type").is_subset(&DICE.map(String::from).into()),
        "{first:#?}"
    );

    // A thousand more random requests: not one new series.
    send_random_requests(&app, 1000).await;
    let second = series(&app.metrics().await);
    assert_eq!(first, second);
}
