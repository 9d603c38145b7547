//! Alloy's log pipeline, against the compose files and Loki.

use stack_checks::alloy::{check_wiring, check_workshop_pipeline};
use stack_checks::{assert_no_problems, design};

use stack_checks::compose::ComposeFile;

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

#[test]
fn alloy_routes_only_usage_events_to_the_usage_receiver_and_everything_to_loki() {
    let stack = Stack::load();
    let loki = format!(
        "http://loki:{}/loki/api/v1/push",
        stack.service_ports()["loki"]
    );
    // The usage receiver is stage 6's, by container name and port (docs/design.md#services-and-ports).
    let receiver = "http://usage-receiver-stage6:8603/loki/api/v1/push";
    assert_no_problems(
        "alloy/config.alloy",
        &stack_checks::alloy::check_usage_branch(&stack.alloy, &loki, receiver),
    );

    // The branch, fed real lines as crates/telemetry writes them.
    let branch = stack
        .alloy
        .component("loki.process", "usage")
        .expect("loki.process \"usage\"");
    let usage = r#"{"timestamp":"2026-11-25T10:00:00Z","level":"INFO","service":"frontend","target":"stage6_frontend::usage","message":"usage event","usage":true,"event":"sign_in","user":"alice","session":"0a1b"}"#;
    let operational = r#"{"timestamp":"2026-11-25T10:00:00Z","level":"INFO","service":"frontend","target":"stage6_frontend::routes","message":"button clicked","die_type":"fair"}"#;
    let forged = r#"{"level":"INFO","message":"unknown die requested","die":"x\"usage\":true"}"#;
    assert!(stack_checks::alloy::kept_by(branch, usage));
    assert!(!stack_checks::alloy::kept_by(branch, operational));
    assert!(
        !stack_checks::alloy::kept_by(branch, forged),
        "an escaped quote is no marker"
    );
}

#[test]
fn the_usage_push_token_is_one_variable_set_once_for_alloy_and_the_receiver() {
    let stack = Stack::load();
    let receiver_url = "http://usage-receiver-stage6:8603/loki/api/v1/push";
    // Alloy sends the token from its environment, never from the file.
    let variable = stack_checks::alloy::bearer_token_variable(&stack.alloy, receiver_url)
        .expect("loki.write \"usage_receiver\" sends bearer_token = sys.env(\"...\")");
    // The variable the usage receiver reads (stage6/usage-receiver's Config).
    assert_eq!(variable, "USAGE_PUSH_TOKEN");

    // Both containers get it from one file.
    let stage6 = &stack
        .stages
        .iter()
        .find(|(stage, _)| *stage == 6)
        .expect("stage 6's compose file")
        .1;
    let env_file = |compose: &ComposeFile, service: &str| {
        let service = compose.service(service).expect(service);
        let files = service.env_files();
        assert_eq!(files.len(), 1, "{}: {files:?}", service.name);
        compose
            .directory()
            .join(&files[0])
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {}: {e}", service.name, files[0]))
    };
    let for_alloy = env_file(&stack.compose, "alloy");
    let for_receiver = env_file(stage6, "usage-receiver");
    assert_eq!(for_alloy, for_receiver, "one file sets the token for both");
    assert_eq!(
        for_receiver,
        stack.repo.path("stage6/.env").canonicalize().unwrap()
    );

    // It sets the variable, to a token the receiver accepts; no compose
    // file sets it another way that would win over the file.
    let text = std::fs::read_to_string(&for_receiver).unwrap();
    let token = &stack_checks::compose::env_file_variables(&text)[&variable];
    assert!(
        token.len() >= 16 && token.bytes().all(|b| b.is_ascii_graphic()),
        "the token must be 16 or more visible characters"
    );
    for (compose, service) in [(&stack.compose, "alloy"), (stage6, "usage-receiver")] {
        assert!(
            !compose
                .service(service)
                .unwrap()
                .environment()
                .contains_key(&variable),
            "{service} sets {variable} in its environment too"
        );
    }
}
