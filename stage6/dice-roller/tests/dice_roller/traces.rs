//! The second hop: dice-roller SERVER -> CLIENT -> die-service SERVER.

use testkit::{Kind, Status};

use crate::helpers::{TIMEOUT, spawn_app, spawn_without_die_service, wait_for_trace_of};

#[tokio::test]
async fn a_roll_asks_the_die_service_inside_the_same_trace() {
    let app = spawn_app().await;
    assert_eq!(app.get("/roll?die=answer").await.status(), 200);
    // dice-roller SERVER, CLIENT, roll_die; die-service SERVER and its query.
    let spans = wait_for_trace_of(&app.receiver, "GET /roll", 5).await;
    let find = |service: &str, kind: Kind| {
        spans
            .iter()
            .find(|span| span.service_name == service && span.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} span from {service}"))
    };
    let server = find("dice-roller", Kind::Server);
    let client = find("dice-roller", Kind::Client);
    let roll = find("dice-roller", Kind::Internal);
    let die_service = find("die-service", Kind::Server);

    assert!(spans.iter().all(|span| span.trace_id == server.trace_id));
    assert_eq!(
        client.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    assert_eq!(client.attr_str("peer.service"), Some("die-service"));
    assert_eq!(die_service.name, "GET /dice");
    assert_eq!(
        die_service.parent_span_id.as_deref(),
        Some(client.span_id.as_str())
    );
    assert_eq!(die_service.attr_str("die.identifier"), Some("answer"));
    assert_eq!(
        roll.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    assert_eq!(roll.attr_str("die.type"), Some("answer"));
    assert_eq!(roll.attr_i64("die.result"), Some(42));
    // Stage 5: the die-service's answer came from a query, one level down.
    let query = spans
        .iter()
        .find(|span| span.name == "SELECT die_specifications")
        .unwrap();
    assert_eq!(
        query.parent_span_id.as_deref(),
        Some(die_service.span_id.as_str())
    );

    // "querying die-service" is logged in the request, before the call.
    let querying = &app.dice_roller.logs().with_message("querying die-service")[0];
    assert_eq!(querying["trace_id"], server.trace_id.as_str());
    assert_eq!(querying["identifier"], "answer");
}

#[tokio::test]
async fn a_die_service_outage_shows_as_an_error_client_span() {
    let app = spawn_without_die_service();
    assert_eq!(app.get("/roll?die=fair").await.status(), 503);
    let spans = app.receiver.wait_for_spans(2, TIMEOUT).await.unwrap();
    let server = spans.iter().find(|span| span.kind == Kind::Server).unwrap();
    let client = spans.iter().find(|span| span.kind == Kind::Client).unwrap();
    assert_eq!(server.status, Status::Error);
    assert_eq!(server.attr_i64("http.response.status_code"), Some(503));
    assert_eq!(client.status, Status::Error);
    assert!(spans.iter().all(|span| span.name != "roll_die"));
}
