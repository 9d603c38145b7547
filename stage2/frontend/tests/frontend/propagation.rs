//! One click, one trace: frontend SERVER -> frontend CLIENT -> dice-roller
//! SERVER -> roll_die, and both services' log lines on those spans.

use std::collections::HashSet;

use testkit::{Kind, ReceivedSpan, Status};

use crate::helpers::{SPAN_TIMEOUT, spawn_stage, submit, submit_concurrently};

fn one<'a>(spans: &'a [ReceivedSpan], service: &str, kind: Kind) -> &'a ReceivedSpan {
    let found: Vec<_> = spans
        .iter()
        .filter(|span| span.service_name == service && span.kind == kind)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {kind:?} span from {service} in {spans:#?}"
    );
    found[0]
}

#[tokio::test]
async fn a_click_is_one_trace_across_both_services() {
    let stage = spawn_stage(0.0);
    let page = submit(&stage.http, &stage.frontend, "fair").await;
    assert_eq!(page.status, 200);
    let value: i64 = page.element("roll-value").unwrap().parse().unwrap();
    assert!((1..=6).contains(&value));
    let trace_id = page.trace_id().to_owned();

    let spans = stage
        .receiver
        .wait_for_trace(&trace_id, 4, SPAN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let frontend = one(&spans, "frontend", Kind::Server);
    let client = one(&spans, "frontend", Kind::Client);
    let dice_roller = one(&spans, "dice-roller", Kind::Server);
    let roll = one(&spans, "dice-roller", Kind::Internal);

    assert_eq!(frontend.name, "POST /roll");
    assert_eq!(frontend.parent_span_id, None);
    assert_eq!(frontend.attr_str("die.type"), Some("fair"));
    assert_eq!(frontend.attr_i64("backend.status_code"), Some(200));
    assert_eq!(
        frontend.attr_str("backend.url"),
        Some(stage.dice_roller.url("/roll").as_str())
    );

    assert_eq!(client.name, "GET");
    assert_eq!(
        client.parent_span_id.as_deref(),
        Some(frontend.span_id.as_str())
    );
    assert_eq!(client.attr_str("peer.service"), Some("dice-roller"));
    assert_eq!(client.status, Status::Unset);

    assert_eq!(dice_roller.name, "GET /roll");
    assert_eq!(
        dice_roller.parent_span_id.as_deref(),
        Some(client.span_id.as_str())
    );
    // The frontend's baggage arrived with the trace context.
    assert_eq!(dice_roller.attr_str("baggage.die.type"), Some("fair"));

    assert_eq!(roll.name, "roll_die");
    assert_eq!(
        roll.parent_span_id.as_deref(),
        Some(dice_roller.span_id.as_str())
    );
    assert_eq!(roll.attr_i64("die.result"), Some(value));

    // Both services' log lines sit on those spans, with the page's trace id.
    let exported: HashSet<&str> = spans.iter().map(|span| span.span_id.as_str()).collect();
    for service in [&stage.frontend, &stage.dice_roller] {
        let lines = service.logs().json_lines();
        assert!(!lines.is_empty());
        for line in lines {
            assert_eq!(line["trace_id"], trace_id.as_str(), "{line}");
            assert!(
                exported.contains(line["span_id"].as_str().unwrap()),
                "{line}"
            );
        }
    }
    let clicked = &stage.frontend.logs().with_message("button clicked")[0];
    assert_eq!(clicked["die_type"], "fair");
    assert_eq!(clicked["span_id"], frontend.span_id.as_str());
    let answered = &stage.frontend.logs().with_message("backend response")[0];
    assert_eq!(answered["backend_status"], 200);
    let result = &stage.dice_roller.logs().with_message("roll result")[0];
    assert_eq!(result["span_id"], roll.span_id.as_str());
}

#[tokio::test]
async fn concurrent_clicks_keep_their_traces_apart() {
    let stage = spawn_stage(0.0);
    let pages = submit_concurrently(&stage.http, &stage.frontend, "fair", 8).await;
    assert!(pages.iter().all(|page| page.status == 200));
    let traces: HashSet<String> = pages
        .iter()
        .map(|page| page.trace_id().to_owned())
        .collect();
    assert_eq!(traces.len(), 8);
    for trace_id in &traces {
        let spans = stage
            .receiver
            .wait_for_trace(trace_id, 4, SPAN_TIMEOUT)
            .await
            .unwrap();
        let services: HashSet<&str> = spans
            .iter()
            .map(|span| span.service_name.as_str())
            .collect();
        assert_eq!(services, HashSet::from(["frontend", "dice-roller"]));
        // Every span's parent is in the same trace (or it is the root).
        let ids: HashSet<&str> = spans.iter().map(|span| span.span_id.as_str()).collect();
        for span in &spans {
            if let Some(parent) = &span.parent_span_id {
                assert!(ids.contains(parent.as_str()), "{span:#?}");
            }
        }
    }
}
