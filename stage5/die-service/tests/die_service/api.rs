//! The stage 3 contract, now from the table, and every query a CLIENT span.

use serde_json::{Value, json};
use testkit::{AttributeValue, Kind, Status, metric_value};

use crate::helpers::{FAIR_AND_RISKY, TIMEOUT, pool_settings, spawn_die_service};

#[tokio::test]
async fn the_contract_of_stage_three_holds() {
    let dice = spawn_die_service(FAIR_AND_RISKY, pool_settings()).await;
    assert_eq!(dice.identifiers().await, ["fair", "risky"]);
    let risky: Value = dice
        .get("/dice?identifier=risky")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        risky,
        json!({"identifier": "risky", "faces": [2, 3, 4, 5, 6, 7], "error_rate": 0.1})
    );
    let missing = dice.get("/dice?identifier=loaded").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["identifiers"], json!(["fair", "risky"]));
}

#[tokio::test]
async fn an_identifier_no_die_can_have_is_a_400_in_words_not_a_database_error() {
    let dice = spawn_die_service(FAIR_AND_RISKY, pool_settings()).await;
    let too_long = "d".repeat(51);
    // A NUL made PostgreSQL refuse the query: a 500 that looked like an outage.
    for identifier in ["fair%00", "%00", "fair%0A", too_long.as_str(), ""] {
        let response = dice.get(&format!("/dice?identifier={identifier}")).await;
        assert_eq!(response.status(), 400, "{identifier:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error"],
            "an identifier is 1 to 50 characters, none of them a control character"
        );
    }
    assert_eq!(dice.get("/dice?identifier=fair").await.status(), 200);
}

#[tokio::test]
async fn a_row_inserted_with_sql_is_served_on_the_next_request() {
    let dice = spawn_die_service(FAIR_AND_RISKY, pool_settings()).await;
    dice.sql("INSERT INTO die_specifications VALUES ('d4', '{1,2,3,4}', 0.25)");
    dice.sql("UPDATE die_specifications SET error_rate = 0.5 WHERE identifier = 'risky'");
    assert_eq!(dice.identifiers().await, ["d4", "fair", "risky"]);
    let d4: Value = dice.get("/dice?identifier=d4").await.json().await.unwrap();
    assert_eq!(d4["faces"], json!([1, 2, 3, 4]));
    let risky: Value = dice
        .get("/dice?identifier=risky")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(risky["error_rate"], 0.5);
}

#[tokio::test]
async fn each_query_is_a_client_span_under_the_request_without_the_value_asked_for() {
    let dice = spawn_die_service(FAIR_AND_RISKY, pool_settings()).await;
    let secret = "top-secret-identifier-7";
    assert_eq!(
        dice.get(&format!("/dice?identifier={secret}"))
            .await
            .status(),
        404
    );
    assert_eq!(dice.get("/dice?identifier=fair").await.status(), 200);

    let spans = dice
        .receiver
        .wait_for(TIMEOUT, |spans| {
            spans
                .iter()
                .filter(|span| span.kind == Kind::Server && span.name == "GET /dice")
                .count()
                == 2
        })
        .await
        .unwrap();
    let request = spans
        .iter()
        .find(|span| span.kind == Kind::Server && span.attr_str("die.identifier") == Some("fair"))
        .unwrap();
    let queries: Vec<_> = spans
        .iter()
        .filter(|span| span.parent_span_id.as_deref() == Some(request.span_id.as_str()))
        .collect();
    assert_eq!(queries.len(), 1, "{spans:#?}");
    let query = queries[0];
    assert_eq!(query.name, "SELECT die_specifications");
    assert_eq!(query.kind, Kind::Client);
    assert_eq!(query.status, Status::Unset);
    let expected = [
        ("db.system.name", "postgresql"),
        ("db.namespace", "dicedb"),
        ("db.operation.name", "SELECT"),
        ("db.collection.name", "die_specifications"),
        (
            "db.query.text",
            "SELECT faces, error_rate FROM die_specifications WHERE identifier = $1",
        ),
        ("server.address", "127.0.0.1"),
        ("db.system", "postgresql"),
        ("db.name", "dicedb"),
        ("db.user", "postgres"),
    ];
    for (key, value) in expected {
        assert_eq!(query.attr_str(key), Some(value), "{key}");
    }
    assert_eq!(
        query.attr_i64("server.port"),
        Some(i64::from(dice.database.port()))
    );

    // The value asked for is in the request span (bounded), never in a query.
    for span in spans.iter().filter(|span| span.name.starts_with("SELECT")) {
        for value in span.attributes.values() {
            if let AttributeValue::String(text) = value {
                assert!(!text.contains(secret), "{span:#?}");
            }
        }
    }
}

#[tokio::test]
async fn queries_are_counted_and_timed_by_type() {
    let dice = spawn_die_service(FAIR_AND_RISKY, pool_settings()).await;
    for _ in 0..3 {
        dice.get("/dice").await;
    }
    for _ in 0..4 {
        dice.get("/dice?identifier=fair").await;
    }
    let text = dice.metrics().await;
    let value = |name: &str, labels: &[(&str, &str)]| metric_value(&text, name, labels);
    assert_eq!(
        value(
            "database_queries_total",
            &[("query_type", "list"), ("result", "success")]
        ),
        3.0
    );
    assert_eq!(
        value(
            "database_queries_total",
            &[("query_type", "get"), ("result", "success")]
        ),
        4.0
    );
    assert_eq!(
        value(
            "database_query_duration_seconds_count",
            &[("query_type", "get")]
        ),
        4.0
    );
    assert_eq!(value("database_queries_total", &[("result", "error")]), 0.0);
    assert_eq!(
        value(
            "die_specifications_requested_total",
            &[("identifier", "fair")]
        ),
        4.0
    );
    assert_eq!(value("die_specifications_loaded", &[]), 2.0);
    assert_eq!(value("database_connection_pool_max", &[]), 5.0);
}
