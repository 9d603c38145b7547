//! `make diff` on the repository's own stages: what it shows is the lesson.

use std::path::Path;

fn repository() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn changed_files(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter_map(|line| line.strip_prefix("+++ "))
        .collect()
}

#[test]
fn stage_2_leaves_the_dice_rollers_code_as_it_was_but_for_its_lesson_header() {
    let diff = stage_diff::diff_stages(repository(), 1, 2, Some("dice-roller/src")).unwrap();
    assert_eq!(
        changed_files(&diff),
        ["b/stage2/dice-roller/src/lib.rs"],
        "{diff}"
    );
    // Ports, crate paths and stage numbers were renamed, so they are no
    // change (they still show in the context of a real one).
    let changes = || {
        diff.lines()
            .filter(|line| !line.starts_with("+++") && !line.starts_with("---"))
            .filter(|line| line.starts_with('+') || line.starts_with('-'))
    };
    assert!(!changes().any(|line| line.contains("8200")), "{diff}");
    assert!(
        !changes().any(|line| line.contains("stage1_dice_roller")),
        "{diff}"
    );
    // The new service is all additions.
    let frontend = stage_diff::diff_stages(repository(), 1, 2, Some("frontend")).unwrap();
    assert!(frontend.contains("--- /dev/null\n+++ b/stage2/frontend/src/backend.rs"));
}

#[test]
fn stage_3_shows_the_die_service_lookup_in_the_dice_roller() {
    let diff = stage_diff::diff_stages(repository(), 2, 3, Some("dice-roller/src")).unwrap();
    assert!(
        changed_files(&diff).contains(&"b/stage3/dice-roller/src/die_service.rs"),
        "{diff}"
    );
    assert!(
        diff.contains("+        info!(identifier, \"querying die-service\");"),
        "{diff}"
    );
    // The hard-coded dice give way to the die-service's specifications.
    assert!(
        diff.contains("-") && diff.contains("DIE_SERVICE_URL"),
        "{diff}"
    );
}

#[test]
fn stage_4_changes_the_die_service_only_in_its_header() {
    let diff = stage_diff::diff_stages(repository(), 3, 4, Some("die-service")).unwrap();
    assert_eq!(
        changed_files(&diff),
        ["b/stage4/die-service/src/lib.rs"],
        "{diff}"
    );
    let dice_roller = stage_diff::diff_stages(repository(), 3, 4, Some("dice-roller/src")).unwrap();
    assert!(dice_roller.contains("roll-async"), "{dice_roller}");
}

#[test]
fn a_stage_that_does_not_exist_is_an_error_naming_it() {
    let error = stage_diff::diff_stages(repository(), 1, 9, None).unwrap_err();
    assert!(error.to_string().contains("stage9"), "{error}");
}
