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
    // STAGES.md, stage 1: request rate, success-rate gauge, error rate by
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
