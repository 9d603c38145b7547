//! From a latency spike to the trace that caused it: every stage dashboard
//! has a span-latency panel asking for exemplars, and the chain behind its
//! diamonds holds. Tempo's metrics-generator attaches the trace id to its
//! latency samples under a label; Prometheus keeps them; Grafana's
//! Prometheus datasource turns the label it names into a link to Tempo.
//! Each link of the chain is checked against the pinned Tempo and against
//! what Tempo 2.10.8 really wrote (tests/fixtures/tempo-2.10.8/).

use std::collections::BTreeSet;

use dashboards::{Dashboard, promql_selectors};
use serde_json::Value;
use stack_checks::assert_no_problems;
use stack_checks::backends::tempo_exemplar_trace_id_label;
use stack_checks::dashboard::{check_exemplar_panel, is_exemplar_latency_panel};
use stack_checks::design;
use stack_checks::grafana::{datasources, exemplar_destinations};

use crate::files::Stack;

/// The Tempo the fixtures were recorded with, which the stack must pin.
const RECORDED_TEMPO: &str = "grafana/tempo:2.10.8";

fn fixture(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tempo-2.10.8")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Label names and values of every recorded span-metric series.
fn recorded_series() -> Vec<serde_json::Map<String, Value>> {
    let exemplars = fixture("prom-exemplars-spanmetrics-latency.json");
    let series = fixture("prom-series-spanmetrics-calls-total.json");
    exemplars["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["seriesLabels"].as_object().unwrap().clone())
        .chain(
            series["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|labels| labels.as_object().unwrap().clone()),
        )
        .collect()
}

fn stage_dashboards(stack: &Stack) -> Vec<Dashboard> {
    design::STAGES
        .map(|stage| {
            let path = stack
                .repo
                .path(&format!("grafana-dashboards/stage{stage}.json"));
            Dashboard::load(&path).unwrap()
        })
        .collect()
}

/// The provisioned Prometheus datasource: the one whose exemplars link to
/// Tempo.
fn prometheus_uid(stack: &Stack) -> String {
    let tempo = tempo_uid(stack);
    exemplar_destinations(&stack.datasources)
        .into_iter()
        .find(|destination| destination.datasource_uid == tempo)
        .map(|destination| destination.from)
        .expect("a Prometheus datasource whose exemplars open Tempo")
}

fn tempo_uid(stack: &Stack) -> String {
    datasources(&stack.datasources)
        .into_iter()
        .find(|source| source.kind == "tempo")
        .map(|source| source.uid)
        .expect("a Tempo datasource")
}

#[test]
fn every_stage_dashboard_has_an_exemplar_latency_panel_on_the_provisioned_prometheus() {
    let stack = Stack::load();
    let uid = prometheus_uid(&stack);
    let destination = exemplar_destinations(&stack.datasources)
        .into_iter()
        .find(|destination| destination.from == uid)
        .unwrap();
    let dashboards = stage_dashboards(&stack);
    assert_eq!(dashboards.len(), 6);
    for dashboard in &dashboards {
        assert_no_problems(
            &dashboard.path.display().to_string(),
            &check_exemplar_panel(dashboard, &uid, &destination.link),
        );
    }
}

/// The label Tempo puts the trace id under is the one the datasource turns
/// into a link: in the stack's Tempo config, in what Tempo 2.10.8 really
/// wrote, and in Grafana's provisioning.
#[test]
fn the_exemplar_trace_id_label_is_the_one_grafana_links_to_tempo() {
    let stack = Stack::load();
    assert_eq!(
        stack.service("tempo").image(),
        Some(RECORDED_TEMPO),
        "the fixtures were recorded with {RECORDED_TEMPO}: record them again for another Tempo"
    );
    let recorded: BTreeSet<String> = fixture("prom-exemplars-spanmetrics-latency.json")["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|series| series["exemplars"].as_array().unwrap().clone())
        .flat_map(|exemplar| {
            exemplar["labels"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    let configured = tempo_exemplar_trace_id_label(&stack.tempo);
    assert_eq!(
        recorded,
        BTreeSet::from([configured.clone()]),
        "the label Tempo's exemplars carried"
    );
    let destinations = exemplar_destinations(&stack.datasources);
    let uid = prometheus_uid(&stack);
    let to_tempo: Vec<_> = destinations
        .iter()
        .filter(|destination| destination.from == uid)
        .collect();
    assert_eq!(to_tempo.len(), 1, "{destinations:?}");
    assert_eq!(
        to_tempo[0].label, configured,
        "exemplarTraceIdDestinations names {:?}, but Tempo's exemplars carry the trace id as {configured:?}",
        to_tempo[0].label
    );
    assert_eq!(to_tempo[0].datasource_uid, tempo_uid(&stack));
}

/// The panel asks for names Tempo really writes: the metric, every label it
/// selects or groups by, and the values it selects on.
#[test]
fn the_exemplar_panels_use_tempo_s_own_metric_and_label_names() {
    let stack = Stack::load();
    let recorded = recorded_series();
    let names: BTreeSet<&str> = recorded
        .iter()
        .filter_map(|labels| labels["__name__"].as_str())
        .collect();
    let labels: BTreeSet<&str> = recorded
        .iter()
        .flat_map(|labels| labels.keys().map(String::as_str))
        .collect();
    let values = |label: &str| -> BTreeSet<&str> {
        recorded
            .iter()
            .filter_map(|labels| labels.get(label).and_then(Value::as_str))
            .collect()
    };
    let grouping = regex::Regex::new(r"by \(([^)]*)\)").unwrap();
    for dashboard in stage_dashboards(&stack) {
        for panel in dashboard
            .panels
            .iter()
            .filter(|p| is_exemplar_latency_panel(p))
        {
            for target in &panel.targets {
                // The stages whose series were recorded.
                for stage in ["1", "3"] {
                    let expanded = dashboards::expand(&target.text, stage);
                    for selector in promql_selectors(&expanded).unwrap() {
                        let name = selector.name.clone().unwrap_or_default();
                        assert!(names.contains(name.as_str()), "{name} in {expanded}");
                        for (label, op, value) in &selector.matchers {
                            assert!(labels.contains(label.as_str()), "{label} in {expanded}");
                            if op == "=" {
                                assert!(
                                    values(label).contains(value.as_str()),
                                    "{label}=\"{value}\" is not a value Tempo wrote: {:?}",
                                    values(label)
                                );
                            }
                        }
                    }
                    for captures in grouping.captures_iter(&expanded) {
                        for label in captures[1].split(',').map(str::trim) {
                            assert!(labels.contains(label), "by ({label}) in {expanded}");
                        }
                    }
                }
            }
        }
    }
}

/// Each stage's walkthrough says where to click: the panel's title and the
/// link Grafana shows on a diamond.
#[test]
fn each_stage_readme_says_where_to_click_for_an_exemplar() {
    let stack = Stack::load();
    let uid = prometheus_uid(&stack);
    let link = exemplar_destinations(&stack.datasources)
        .into_iter()
        .find(|destination| destination.from == uid)
        .unwrap()
        .link;
    for (stage, dashboard) in design::STAGES.zip(stage_dashboards(&stack)) {
        let readme = stack.repo.read(&format!("stage{stage}/README.md")).unwrap();
        let panel = dashboard
            .panels
            .iter()
            .find(|p| is_exemplar_latency_panel(p))
            .unwrap();
        let said = readme.split("\n\n").any(|paragraph| {
            let paragraph = paragraph.replace('\n', " ");
            paragraph.contains(&format!("**{}**", panel.title))
                && paragraph.contains(&format!("**{link}**"))
        });
        assert!(
            said,
            "stage{stage}/README.md: no paragraph names the panel **{}** and the link **{link}**",
            panel.title
        );
    }
}
