//! The pool gauges follow the pool; exhaustion is a WARNING, a metric and a
//! 503 after the acquire timeout, never an endless wait.

use std::time::Duration;

use database::PoolSettings;
use sqlx::Connection;
use testkit::metric_value;

use crate::helpers::{FAIR_AND_RISKY, TIMEOUT, TestDieService, spawn_die_service};

async fn gauges(dice: &TestDieService) -> (f64, f64) {
    let text = dice.metrics().await;
    (
        metric_value(&text, "database_connection_pool_size", &[]),
        metric_value(&text, "database_connection_pool_available", &[]),
    )
}

#[tokio::test]
async fn slow_queries_use_up_the_pool_and_the_gauges_show_it() {
    // Statements may run 5 s; a free connection is waited for 300 ms.
    let settings = PoolSettings {
        max_connections: 5,
        acquire_timeout: Duration::from_millis(300),
        statement_timeout: Duration::from_secs(5),
    };
    let dice = spawn_die_service(FAIR_AND_RISKY, settings).await;

    // Hold an exclusive lock on the table: every query now waits for it.
    let mut blocker = sqlx::PgConnection::connect(&dice.database.url("dicedb"))
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE die_specifications IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();

    let mut slow = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (http, url) = (dice.http.clone(), dice.service.url("/dice?identifier=fair"));
        slow.spawn(async move { http.get(url).send().await.unwrap().status() });
    }
    // All five connections busy: the gauges say so while it lasts.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (size, available) = gauges(&dice).await;
        if size == 5.0 && available == 0.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "size {size}, available {available}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // One more request finds no connection: 503 after the acquire timeout.
    let extra = dice.get("/dice?identifier=fair").await;
    assert_eq!(extra.status(), 503);
    let warning = &dice.service.logs().with_message("database pool exhausted")[0];
    assert_eq!(warning["level"], "WARNING");
    assert_eq!(warning["max_connections"], 5);
    let text = dice.metrics().await;
    assert!(metric_value(&text, "database_queries_total", &[("result", "error")]) >= 1.0);

    // Release the lock: the five complete, and the pool is idle again.
    sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
    assert!(slow.join_all().await.iter().all(|status| *status == 200));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        // num_idle() lags a moment after a release (docs/pitfalls.md#pool-timeouts): poll.
        let (size, available) = gauges(&dice).await;
        if size > 0.0 && size == available {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "size {size}, available {available}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
