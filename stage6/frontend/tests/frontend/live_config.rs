//! A die added to the table with plain SQL appears on the page and can be
//! rolled through all three services, with no restart.

use std::time::Duration;

use crate::helpers::{TIMEOUT, load, spawn_stage, submit};

#[tokio::test]
async fn a_die_added_with_sql_can_be_picked_and_rolled() {
    let stage = spawn_stage().await;
    assert_eq!(
        load(&stage.http, &stage.frontend).await.options(),
        ["doomed", "fair"]
    );

    // Stage 5: the database is the live configuration.
    stage.sql("INSERT INTO die_specifications VALUES ('seven', '{7}', 0)");
    stage.sql("DELETE FROM die_specifications WHERE identifier = 'doomed'");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let page = load(&stage.http, &stage.frontend).await;
        if page.options() == ["fair", "seven"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never offered the new die: {:?}",
            page.options()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let page = submit(&stage.http, &stage.frontend, "seven").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.element("roll-value"), Some("7"));
    // The removed die is refused by the frontend itself.
    assert_eq!(
        submit(&stage.http, &stage.frontend, "doomed").await.status,
        400
    );
}
