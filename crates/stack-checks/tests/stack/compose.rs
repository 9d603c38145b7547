//! The compose files: the stack's and every stage's.

use stack_checks::compose::{
    ComposeFile, check_common, check_published_on_loopback, check_stack, check_stage,
};
use stack_checks::dockerfile::{check_dockerfile, workspace_binaries};
use stack_checks::{Repo, assert_no_problems};

use crate::files::{STACK_COMPOSE, Stack};

#[test]
fn every_compose_file_publishes_its_ports_on_the_loopback_unless_the_attendee_opts_in() {
    let repo = Repo::current();
    let files = repo.compose_files();
    // Found by walking the repository, so a compose file added later is
    // checked too: the stack's and at least every stage's.
    assert!(files.len() > repo.stage_compose_files().len(), "{files:?}");
    for path in files {
        let compose = ComposeFile::load(&path).unwrap_or_else(|e| panic!("{e:?}"));
        assert_no_problems(
            &path.display().to_string(),
            &check_published_on_loopback(&compose),
        );
    }
}

#[test]
fn the_stack_runs_pinned_images_on_the_design_ports_and_creates_the_network() {
    let stack = Stack::load();
    assert_no_problems(STACK_COMPOSE, &check_stack(&stack.compose));
}

#[test]
fn every_stage_compose_file_follows_the_design() {
    let stack = Stack::load();
    for expected in 1..=4 {
        assert!(
            stack.stages.iter().any(|(stage, _)| *stage == expected),
            "stage{expected}/docker-compose.yml is missing"
        );
    }
    let endpoint = stack.otlp_endpoint();
    for (stage, compose) in &stack.stages {
        assert_no_problems(
            &compose.path.display().to_string(),
            &check_stage(compose, *stage, &endpoint),
        );
    }
}

#[test]
fn stack_services_run_the_images_they_are_named_for() {
    let stack = Stack::load();
    for (service, image) in [
        ("prometheus", "prom/prometheus:"),
        ("loki", "grafana/loki:"),
        ("tempo", "grafana/tempo:2."),
        ("otel-collector", "otel/opentelemetry-collector:"),
        ("alloy", "grafana/alloy:"),
        ("grafana", "grafana/grafana:"),
    ] {
        let actual = stack.service(service).image().unwrap_or_default();
        assert!(
            actual.starts_with(image),
            "{service} runs {actual}, expected {image}*"
        );
    }
}

#[test]
fn each_backend_reads_the_config_file_its_compose_service_mounts() {
    // A config mounted at one path and read from another leaves the service
    // on its built-in defaults, with no error.
    let stack = Stack::load();
    for (service, source, flag) in [
        ("prometheus", "./prometheus/prometheus.yml", "--config.file"),
        ("loki", "./loki/loki.yml", "-config.file"),
        ("tempo", "./tempo/tempo.yml", "-config.file"),
        ("otel-collector", "./otel-collector/config.yaml", "--config"),
    ] {
        let target = stack.service(service).mount_target(source);
        assert!(target.is_some(), "{service} does not mount {source}");
        assert_eq!(stack.flag(service, flag), target, "{service}: {flag}");
    }
    let alloy = stack.service("alloy");
    let config = alloy.mount_target("../alloy/config.alloy");
    assert!(
        config.is_some(),
        "alloy does not mount ../alloy/config.alloy"
    );
    assert_eq!(
        alloy.command().last(),
        config.as_ref(),
        "alloy runs another config"
    );
}

#[test]
fn images_are_built_from_the_shared_dockerfile_for_workspace_binaries() {
    let stack = Stack::load();
    let dockerfile = stack.repo.read("Dockerfile").unwrap();
    assert_no_problems("Dockerfile", &check_dockerfile(&dockerfile));
    let binaries = workspace_binaries(&stack.repo).unwrap();
    assert!(
        binaries.contains(&"stage1-dice-roller".to_owned()),
        "{binaries:?}"
    );
    for (stage, compose) in &stack.stages {
        assert_no_problems(&compose.path.display().to_string(), &check_common(compose));
        for service in compose.services() {
            let Some(build) = service.build() else {
                continue;
            };
            let context = compose.directory().join(&build.context);
            assert_eq!(
                context.canonicalize().unwrap(),
                stack.repo.root().canonicalize().unwrap(),
                "stage {stage} {}: the build context must be the workspace root",
                service.name
            );
            let package = build.args.get("PACKAGE").cloned().unwrap_or_default();
            assert!(
                binaries.contains(&package),
                "stage {stage} {}: PACKAGE {package:?} is not a workspace binary ({binaries:?})",
                service.name
            );
        }
    }
    let ignored = stack.repo.read(".dockerignore").unwrap();
    assert!(
        ignored
            .lines()
            .any(|line| line.trim().trim_end_matches('/') == "target"),
        ".dockerignore must leave target/ out of the build context"
    );
}
