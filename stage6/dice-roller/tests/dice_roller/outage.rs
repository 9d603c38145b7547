//! When the die-service's database is down, the dice-roller says so.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_die_service_reason_for_its_503_is_passed_on() {
    let app = spawn_app().await;
    assert_eq!(app.get("/roll?die=answer").await.status(), 200);

    app.die_service.as_ref().unwrap().database.stop();
    let response = app.get("/roll?die=answer").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        "the die-service is unavailable (the database is unavailable; try again shortly), so no die can be rolled"
    );
    let warning = &app
        .dice_roller
        .logs()
        .with_message("die-service request failed")[0];
    assert_eq!(
        warning["reason"],
        "the database is unavailable; try again shortly"
    );
}
