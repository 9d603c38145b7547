//! One click, one trace across three services.

use std::collections::HashSet;

use testkit::{Kind, ReceivedSpan};

use crate::helpers::{TIMEOUT, spawn_stage, submit};

fn child<'a>(
    spans: &'a [ReceivedSpan],
    parent: &ReceivedSpan,
    service: &str,
    kind: Kind,
) -> &'a ReceivedSpan {
    let found: Vec<_> = spans
        .iter()
        .filter(|span| {
            span.service_name == service
                && span.kind == kind
                && span.parent_span_id.as_deref() == Some(parent.span_id.as_str())
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {kind:?} span from {service} under {}: {spans:#?}",
        parent.name
    );
    found[0]
}

#[tokio::test]
async fn a_click_is_one_trace_across_three_services() {
    let stage = spawn_stage().await;
    let page = submit(&stage.http, &stage.frontend, "fair").await;
    assert_eq!(page.status, 200);
    let trace_id = page.trace_id().to_owned();

    // frontend: SERVER, CLIENT (die list), CLIENT (roll); die-service: SERVER
    // (list) and its query; dice-roller: SERVER, CLIENT (spec), roll_die;
    // die-service: SERVER (spec) and its query.
    let spans = stage
        .receiver
        .wait_for_trace(&trace_id, 10, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(spans.len(), 10, "{spans:#?}");
    let root = spans
        .iter()
        .find(|span| span.parent_span_id.is_none())
        .unwrap();
    assert_eq!(
        (root.service_name.as_str(), root.name.as_str()),
        ("frontend", "POST /roll")
    );

    let clients: Vec<_> = spans
        .iter()
        .filter(|span| {
            span.kind == Kind::Client
                && span.parent_span_id.as_deref() == Some(root.span_id.as_str())
        })
        .collect();
    let peers: HashSet<_> = clients
        .iter()
        .filter_map(|span| span.attr_str("peer.service"))
        .collect();
    assert_eq!(peers, HashSet::from(["die-service", "dice-roller"]));

    let to_dice_roller = clients
        .iter()
        .find(|span| span.attr_str("peer.service") == Some("dice-roller"))
        .unwrap();
    let dice_roller = child(&spans, to_dice_roller, "dice-roller", Kind::Server);
    let lookup = child(&spans, dice_roller, "dice-roller", Kind::Client);
    let spec = child(&spans, lookup, "die-service", Kind::Server);
    assert_eq!(spec.attr_str("die.identifier"), Some("fair"));
    // Stage 5: the fourth hop, PostgreSQL, as a CLIENT span of the die-service.
    let query = child(&spans, spec, "die-service", Kind::Client);
    assert_eq!(query.name, "SELECT die_specifications");
    assert_eq!(query.attr_str("db.system.name"), Some("postgresql"));
    let roll = child(&spans, dice_roller, "dice-roller", Kind::Internal);
    assert_eq!(roll.name, "roll_die");

    let to_die_service = clients
        .iter()
        .find(|span| span.attr_str("peer.service") == Some("die-service"))
        .unwrap();
    let list = child(&spans, to_die_service, "die-service", Kind::Server);
    assert_eq!(list.attr("die.identifier"), None);

    // Every service logged this click, on these spans. (The die-service's
    // readiness checks and seeding have traces of their own.)
    let ids: HashSet<&str> = spans.iter().map(|span| span.span_id.as_str()).collect();
    for service in [&stage.frontend, &stage.dice_roller, &stage.die_service] {
        let lines: Vec<_> = service
            .logs()
            .json_lines()
            .into_iter()
            .filter(|line| line["trace_id"] == trace_id.as_str())
            .collect();
        assert!(lines.len() >= 2, "{lines:#?}");
        for line in lines {
            assert!(ids.contains(line["span_id"].as_str().unwrap()), "{line}");
        }
    }
    assert_eq!(
        stage.frontend.logs().with_message("die list fetched")[0]["dice"],
        2
    );
}
