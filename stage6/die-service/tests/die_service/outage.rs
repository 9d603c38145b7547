//! The database goes away and comes back; the service never restarts.

use std::time::Duration;

use serde_json::Value;
use testkit::{Kind, OtlpReceiver, PostgresCluster, Status};

use crate::helpers::{
    FAIR_AND_RISKY, TIMEOUT, TestDieService, pool_settings, spawn_die_service, spawn_service,
};

async fn wait_for_status(dice: &TestDieService, path: &str, status: u16) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if dice.get(path).await.status() == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn during_an_outage_requests_get_a_503_and_afterwards_they_succeed_again() {
    let dice = spawn_die_service(FAIR_AND_RISKY, pool_settings()).await;
    assert_eq!(dice.get("/dice?identifier=fair").await.status(), 200);

    dice.database.stop();
    let response = dice.get("/dice?identifier=fair").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        "the database is unavailable; try again shortly"
    );
    assert_eq!(dice.get("/ready").await.status(), 503);
    // Liveness is unaffected: the process is fine, its database is not.
    assert_eq!(dice.get("/").await.status(), 200);

    // All three signals say what happened.
    let spans = dice
        .receiver
        .wait_for(TIMEOUT, |spans| {
            spans
                .iter()
                .any(|span| span.name.starts_with("SELECT") && span.status == Status::Error)
        })
        .await
        .unwrap();
    let failed_query = spans
        .iter()
        .find(|span| span.name.starts_with("SELECT") && span.status == Status::Error)
        .unwrap();
    assert!(failed_query.attr_str("error.type").is_some());
    let request = spans
        .iter()
        .find(|span| Some(span.span_id.as_str()) == failed_query.parent_span_id.as_deref())
        .unwrap();
    assert_eq!(request.kind, Kind::Server);
    assert_eq!(request.status, Status::Error);
    assert_eq!(request.attr_i64("http.response.status_code"), Some(503));
    let errors = dice.service.logs().with_message("database query failed");
    assert!(!errors.is_empty());
    assert_eq!(errors[0]["level"], "ERROR");
    assert_eq!(errors[0]["span_id"], failed_query.span_id.as_str());
    let text = dice.metrics().await;
    assert!(
        testkit::metric_value(
            &text,
            "database_queries_total",
            &[("query_type", "get"), ("result", "error")]
        ) >= 1.0
    );

    // Back: the same process serves again, without a restart.
    dice.database.start_again();
    wait_for_status(&dice, "/dice?identifier=fair", 200).await;
    wait_for_status(&dice, "/ready", 200).await;
}

#[tokio::test]
async fn a_database_down_at_startup_is_connected_to_once_it_is_up() {
    let database = PostgresCluster::start("dicedb");
    database.stop();
    let seed_dir = tempfile::tempdir().unwrap();
    let seed = seed_dir.path().join("dice.json");
    std::fs::write(&seed, FAIR_AND_RISKY).unwrap();
    let receiver = OtlpReceiver::start();
    let service = spawn_service(&receiver, database.url("dicedb"), seed, pool_settings());
    let dice = TestDieService {
        service,
        receiver,
        http: reqwest::Client::new(),
        database,
        seed_dir,
    };

    // It started and answers, but is not ready, and says why in its log.
    assert_eq!(dice.get("/").await.status(), 200);
    let ready: Value = dice.get("/ready").await.json().await.unwrap();
    assert_eq!(ready["database"], "unreachable");
    assert_eq!(dice.get("/dice").await.status(), 503);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while dice
        .service
        .logs()
        .with_message("database not ready, retrying")
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed attempt was logged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempt = &dice
        .service
        .logs()
        .with_message("database not ready, retrying")[0];
    assert_eq!(attempt["level"], "ERROR");
    assert!(
        attempt["error"]
            .as_str()
            .unwrap()
            .contains("migrations failed"),
        "{attempt}"
    );

    dice.database.start_again();
    dice.wait_until_ready().await;
    assert_eq!(dice.identifiers().await, ["fair", "risky"]);
}
