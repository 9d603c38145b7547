//! `make stageN <action>` and `make stack-*` run the compose files the
//! checks read (make -n prints the commands without running them).

use std::process::Command;

use stack_checks::Repo;

fn dry_run(arguments: &[&str]) -> String {
    let repo = Repo::current();
    let output = Command::new("make")
        .arg("-n")
        .arg("--no-print-directory")
        .args(arguments)
        .current_dir(repo.root())
        .output()
        .expect("run make");
    assert!(
        output.status.success(),
        "make -n {arguments:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn stage_actions_run_the_stage_compose_file() {
    for (action, command) in [
        (
            "up",
            "docker compose -f stage1/docker-compose.yml up -d --build",
        ),
        ("down", "docker compose -f stage1/docker-compose.yml down"),
        ("logs", "docker compose -f stage1/docker-compose.yml logs"),
    ] {
        let printed = dry_run(&["stage1", action]);
        assert!(
            printed.contains(command),
            "make stage1 {action}:\n{printed}"
        );
    }
    // stage up first checks that the stack's network exists.
    assert!(dry_run(&["stage1", "up"]).contains("docker network inspect monitoring"));
}

#[test]
fn stack_targets_run_the_stack_compose_file() {
    for (target, command) in [
        (
            "stack-up",
            "docker compose -f stack/docker-compose.yml up -d",
        ),
        (
            "stack-down",
            "docker compose -f stack/docker-compose.yml down",
        ),
        (
            "stack-logs",
            "docker compose -f stack/docker-compose.yml logs",
        ),
    ] {
        let printed = dry_run(&[target]);
        assert!(printed.contains(command), "make {target}:\n{printed}");
    }
}

#[test]
fn make_diff_and_compare_run_their_tools() {
    let printed = dry_run(&["diff", "FROM=1", "TO=2"]);
    assert!(
        printed.contains("-p stage-diff -- --from 1 --to 2"),
        "make diff:\n{printed}"
    );
    let printed = dry_run(&["stage4", "compare"]);
    assert!(
        printed.contains("-p traffic-gen -- --stage 4 --compare"),
        "make stage4 compare:\n{printed}"
    );
}

#[test]
fn make_stage_test_runs_only_that_stages_crates() {
    let printed = dry_run(&["stage3", "test"]);
    assert!(
        printed.contains("cargo nextest run -p 'stage3-*'"),
        "make stage3 test:\n{printed}"
    );
    assert!(
        !printed.contains("--workspace"),
        "make stage3 test must not also run the workspace's tests:\n{printed}"
    );
}

#[test]
fn demo_and_test_first_install_what_is_missing() {
    for target in ["demo", "test"] {
        let printed = dry_run(&[target]);
        assert!(
            printed.starts_with("bash .ci/install-deps\n"),
            "make {target} must start with the install step:\n{printed}"
        );
    }
}
