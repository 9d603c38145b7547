//! Alloy's log pipeline, against the compose files and Loki.

use stack_checks::alloy::{check_wiring, check_workshop_pipeline};
use stack_checks::{assert_no_problems, design};

use crate::files::Stack;

#[test]
fn the_alloy_config_parses_and_its_components_are_wired() {
    let stack = Stack::load();
    assert_no_problems("alloy/config.alloy", &check_wiring(&stack.alloy));
}

#[test]
fn alloy_ships_the_stage_containers_to_loki_with_the_workshop_labels() {
    let stack = Stack::load();
    // Alloy reaches Docker through the socket its compose service mounts.
    let socket = "/var/run/docker.sock";
    assert_eq!(
        stack.service("alloy").mount_source(socket).as_deref(),
        Some(socket),
        "alloy does not mount the Docker socket"
    );
    let push = format!(
        "http://loki:{}/loki/api/v1/push",
        stack.service_ports()["loki"]
    );
    assert_no_problems(
        "alloy/config.alloy",
        &check_workshop_pipeline(
            &stack.alloy,
            &format!("unix://{socket}"),
            design::STAGE_LABEL,
            &push,
        ),
    );
}
