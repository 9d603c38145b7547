//! Grafana's provisioning: datasources, links between signals, dashboards.

use stack_checks::grafana::{check_dashboard_provider, check_datasources, check_dollar_escapes};
use stack_checks::{assert_no_problems, design};

use crate::files::Stack;

#[test]
fn datasources_have_fixed_uids_and_link_traces_logs_and_metrics() {
    let stack = Stack::load();
    // Grafana reaches the stack's services and, on the shared network, the
    // stages' containers (stage 6's PostgreSQL for the usage panels).
    let mut reachable = stack.service_ports();
    for stage in design::STAGES {
        for service in design::stage_services(stage) {
            reachable.insert(design::container_name(service.name, stage), service.port);
        }
    }
    assert_no_problems(
        "datasources.yml",
        &check_datasources(&stack.datasources, &reachable),
    );
}

#[test]
fn the_usage_datasource_reads_stage_six_usage_database() {
    let stack = Stack::load();
    let usage = stack.datasources["datasources"]
        .as_sequence()
        .and_then(|sources| {
            sources
                .iter()
                .find(|source| source["uid"].as_str() == Some("usage-db"))
        })
        .expect("a datasource with uid usage-db");
    // The stage 6 compose file's PostgreSQL, by container name, and the
    // usage receiver's database (stage6/docker-compose.yml, its init script).
    assert_eq!(usage["url"].as_str(), Some("postgres-stage6:5432"));
    assert_eq!(usage["jsonData"]["database"].as_str(), Some("usagedb"));
    let stage6 = std::fs::read_to_string(stack.repo.path("stage6/docker-compose.yml")).unwrap();
    assert!(stage6.contains("postgres://dice:dice@postgres-stage6:5432/usagedb"));
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
