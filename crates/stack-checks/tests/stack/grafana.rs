//! Grafana's provisioning: datasources, links between signals, dashboards.

use stack_checks::assert_no_problems;
use stack_checks::grafana::{check_dashboard_provider, check_datasources, check_dollar_escapes};

use crate::files::Stack;

#[test]
fn datasources_have_fixed_uids_and_link_traces_logs_and_metrics() {
    let stack = Stack::load();
    assert_no_problems(
        "datasources.yml",
        &check_datasources(&stack.datasources, &stack.service_ports()),
    );
}

#[test]
fn every_dollar_in_provisioning_is_escaped() {
    let stack = Stack::load();
    let mut problems = Vec::new();
    for directory in ["datasources", "dashboards"] {
        let path = stack
            .repo
            .path(&format!("stack/grafana/provisioning/{directory}"));
        for entry in std::fs::read_dir(&path).unwrap() {
            let file = entry.unwrap().path();
            let text = std::fs::read_to_string(&file).unwrap();
            problems.extend(check_dollar_escapes(&file.display().to_string(), &text));
        }
    }
    assert_no_problems("grafana provisioning", &problems);
}

#[test]
fn the_dashboards_provider_reads_the_mounted_dashboards() {
    let stack = Stack::load();
    assert_no_problems(
        "dashboards.yml",
        &check_dashboard_provider(&stack.dashboard_providers, &stack.service("grafana")),
    );
}
