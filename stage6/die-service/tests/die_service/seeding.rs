//! Seeding is idempotent, and an operator's changes win over the file.

use serde_json::Value;

use crate::helpers::{FAIR_AND_RISKY, pool_settings, spawn_die_service, spawn_service};

const ROWS: &str = "SELECT identifier || ':' || array_to_string(faces, ',') || ':' || error_rate \
                    FROM die_specifications ORDER BY identifier";

#[tokio::test]
async fn seeding_again_changes_nothing_an_operator_did() {
    let mut dice = spawn_die_service(FAIR_AND_RISKY, pool_settings()).await;
    assert_eq!(dice.sql(ROWS), "fair:1,2,3,4,5,6:0\nrisky:2,3,4,5,6,7:0.1");
    let seeded = &dice
        .service
        .logs()
        .with_message("seeded die specifications")[0];
    assert_eq!(seeded["inserted"], 2);

    // An operator tunes one die and retires another.
    dice.sql("UPDATE die_specifications SET error_rate = 0.9 WHERE identifier = 'risky'");
    dice.sql("DELETE FROM die_specifications WHERE identifier = 'fair'");
    // A new die appears in the file.
    let seed = dice.seed_dir.path().join("dice.json");
    std::fs::write(
        &seed,
        r#"{"fair": {"faces": [1,2,3,4,5,6], "error_rate": 0},
            "risky": {"faces": [2,3,4,5,6,7], "error_rate": 0.1},
            "d8": {"faces": [1,2,3,4,5,6,7,8], "error_rate": 0}}"#,
    )
    .unwrap();

    // A restart seeds again: only the new die is added.
    let old = std::mem::replace(
        &mut dice.service,
        spawn_service(
            &dice.receiver,
            dice.database.url("dicedb"),
            seed,
            pool_settings(),
        ),
    );
    old.shutdown().await;
    dice.wait_until_ready().await;
    assert_eq!(
        dice.sql(ROWS),
        "d8:1,2,3,4,5,6,7,8:0\nrisky:2,3,4,5,6,7:0.9"
    );
    let seeded = &dice
        .service
        .logs()
        .with_message("seeded die specifications")[0];
    assert_eq!(seeded["inserted"], 1);
    let body: Value = dice.get("/dice").await.json().await.unwrap();
    assert_eq!(body["identifiers"], serde_json::json!(["d8", "risky"]));
}
