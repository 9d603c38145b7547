//! The dashboards in grafana-dashboards/, against the provisioned
//! datasources and the stage contracts.

use std::collections::{BTreeMap, BTreeSet};

use dashboards::{Dashboard, Language};
use stack_checks::assert_no_problems;
use stack_checks::dashboard::{check_dashboard, panel_titles};
use stack_checks::grafana::datasources;

use crate::files::Stack;

#[test]
fn every_dashboard_uses_provisioned_datasources_and_well_formed_queries() {
    let stack = Stack::load();
    let provisioned: BTreeMap<String, String> = datasources(&stack.datasources)
        .into_iter()
        .map(|source| (source.uid, source.kind))
        .collect();
    let all = Dashboard::load_all(&stack.repo.path("grafana-dashboards")).unwrap();
    assert!(!all.is_empty(), "no dashboards in grafana-dashboards/");
    let mut uids = BTreeSet::new();
    for dashboard in &all {
        assert!(
            uids.insert(dashboard.uid.clone()),
            "uid {} used twice",
            dashboard.uid
        );
        assert_no_problems(
            &dashboard.path.display().to_string(),
            &check_dashboard(dashboard, &provisioned),
        );
    }
}

#[test]
fn the_stage1_dashboard_has_every_panel_stages_md_lists() {
    let stack = Stack::load();
    let dashboard = Dashboard::load(&stack.repo.path("grafana-dashboards/stage1.json")).unwrap();
    assert_eq!(dashboard.title, "Dice Roller - Stage 1");
    let titles = panel_titles(&dashboard);
    // docs/design.md#stage-1: request rate, success-rate gauge, error rate by
    // die type, p50/p95/p99 latency, mean latency, rolls by die type, roll
    // value distribution (fair, risky), recent logs, error logs, trace
    // search, how-to for trace-to-logs.
    for title in [
        "Request rate",
        "Success rate",
        "Error rate by die type",
        "Latency p50 / p95 / p99",
        "Mean latency",
        "Rolls by die type",
        "Roll values: fair die",
        "Roll values: risky die",
        "Recent logs",
        "Error logs",
        "Traces",
        "How to: trace to logs, logs to trace",
    ] {
        assert!(titles.contains(title), "no panel {title:?} in {titles:?}");
    }
    let kind = |title: &str| {
        dashboard
            .panels
            .iter()
            .find(|panel| panel.title == title)
            .map(|panel| panel.kind.as_str())
            .unwrap_or_default()
    };
    assert_eq!(kind("Success rate"), "gauge");
    assert_eq!(kind("Recent logs"), "logs");
    let languages: BTreeSet<_> = dashboard
        .queries()
        .iter()
        .map(|query| format!("{:?}", query.language))
        .collect();
    for language in [Language::PromQL, Language::LogQL, Language::TraceQL] {
        assert!(
            languages.contains(&format!("{language:?}")),
            "{languages:?}"
        );
    }
    let how_to = dashboard
        .panels
        .iter()
        .find_map(|panel| panel.content.clone())
        .unwrap_or_default();
    for step in ["Logs for this span", "View trace"] {
        assert!(
            how_to.contains(step),
            "the how-to panel does not mention {step:?}"
        );
    }
}

/// The panels of stages 2 to 4 (docs/design.md#stage-contracts), each stage keeping the previous
/// stage's: stage 2 adds the frontend and the service graph, stage 3 the
/// die-service, the calls to it and per-edge panels, stage 4 async rolling.
#[test]
fn the_stage_2_to_4_dashboards_have_every_panel_stages_md_lists() {
    let stack = Stack::load();
    let stage2 = [
        // Stage 1's, for the dice-roller.
        "Dice-roller request rate",
        "Dice-roller success rate",
        "Error rate by die type",
        "Dice-roller latency p50 / p95 / p99",
        "Dice-roller mean latency",
        "Rolls by die type",
        "Roll values: fair die",
        "Roll values: risky die",
        "Dice-roller logs",
        "Error logs",
        "Traces",
        // New in stage 2.
        "Frontend request rate",
        "Frontend success rate",
        "Clicks by die type",
        "Frontend -> dice-roller latency p50 / p95 / p99",
        "Frontend logs",
        "Service graph",
    ];
    let stage3 = [
        "Die-service request rate",
        "Specifications requested by identifier",
        "Die-service latency p50 / p95 / p99",
        "Dice-roller -> die-service rate",
        "Dice-roller -> die-service errors",
        "Dice-roller -> die-service p95",
        "Die-service logs",
        "Edges: requests per second",
        "Edges: failed requests per second",
        "Edges: p95 latency (server side)",
    ];
    let stage4 = [
        "Async vs sync roll rate",
        "Batch size quantiles",
        "Rolls in progress",
        "Sync vs async mean duration",
        "Improvement ratio",
    ];
    for (stage, title, expected) in [
        (2, "Dice Roller - Stage 2 (Frontend)", stage2.to_vec()),
        (
            3,
            "Dice Roller - Stage 3 (Die Service)",
            [&stage2[..], &stage3].concat(),
        ),
        (
            4,
            "Dice Roller - Stage 4 (Async Rolling)",
            [&stage2[..], &stage3, &stage4].concat(),
        ),
    ] {
        let path = stack
            .repo
            .path(&format!("grafana-dashboards/stage{stage}.json"));
        let dashboard = Dashboard::load(&path).unwrap();
        assert_eq!(dashboard.title, title);
        let titles = panel_titles(&dashboard);
        for panel in expected {
            assert!(titles.contains(panel), "stage {stage}: no panel {panel:?}");
        }
        let kind = |title: &str| {
            dashboard
                .panels
                .iter()
                .find(|panel| panel.title == title)
                .map(|panel| panel.kind.as_str())
                .unwrap_or_default()
        };
        assert_eq!(kind("Service graph"), "nodeGraph", "stage {stage}");
        assert_eq!(kind("Frontend success rate"), "gauge", "stage {stage}");
        // The per-edge panels count only real edges (docs/pitfalls.md#service-graph-traps).
        for query in dashboard.queries() {
            if query.target.text.contains("traces_service_graph_request") {
                assert!(
                    query.target.text.contains("connection_type=\"\""),
                    "stage {stage}, {}: a virtual_node edge is no real edge",
                    query.panel.title
                );
            }
        }
    }
}
