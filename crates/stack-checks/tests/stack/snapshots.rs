//! Stages are snapshots: each stage's crates stand alone, so an attendee can
//! read, change and test one stage (`make stageN test`) without another
//! stage's code in the way. Shared mechanics live in `crates/`.

use std::process::Command;

use serde_json::Value;
use stack_checks::Repo;

/// The stage number of a package named `stageN-<service>`.
fn stage_of(package: &str) -> Option<u32> {
    package
        .strip_prefix("stage")?
        .split_once('-')?
        .0
        .parse()
        .ok()
}

#[test]
fn no_stage_crate_depends_on_another_stages_crate() {
    let repo = Repo::current();
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(repo.root())
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let packages = metadata["packages"].as_array().expect("packages");

    let mut problems = Vec::new();
    let mut stage_packages = 0;
    for package in packages {
        let name = package["name"].as_str().unwrap_or_default();
        let Some(stage) = stage_of(name) else {
            continue;
        };
        stage_packages += 1;
        let manifest = package["manifest_path"].as_str().unwrap_or_default();
        if !manifest.contains(&format!("/stage{stage}/")) {
            problems.push(format!("{name} lives outside stage{stage}/: {manifest}"));
        }
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            let needed = dependency["name"].as_str().unwrap_or_default();
            if stage_of(needed).is_some_and(|other| other != stage) {
                problems.push(format!(
                    "{name} ({manifest}) depends on {needed}, a crate of another stage: \
                     copy what it needs into stage{stage}/, or move shared mechanics into crates/"
                ));
            }
        }
    }
    assert!(
        stage_packages >= 6,
        "found only {stage_packages} stage crates"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn stage_numbers_are_read_from_package_names() {
    assert_eq!(stage_of("stage3-die-service"), Some(3));
    assert_eq!(stage_of("stage-diff"), None);
    assert_eq!(stage_of("telemetry"), None);
}

/// The OpenTelemetry crates are one compatible set only if every crate takes
/// its version from `[workspace.dependencies]`: a crate that pins its own
/// can pull a second `opentelemetry` whose spans the first never sees.
#[test]
fn opentelemetry_crates_are_versioned_only_in_the_workspace() {
    let repo = Repo::current();
    let root = repo.read("Cargo.toml").expect("the workspace manifest");
    let members: Vec<String> = root
        .lines()
        .skip_while(|line| !line.starts_with("members"))
        .skip(1)
        .take_while(|line| !line.starts_with(']'))
        .map(|line| {
            line.trim()
                .trim_matches(|c| c == '"' || c == ',')
                .to_owned()
        })
        .collect();
    assert!(members.len() > 10, "members: {members:?}");
    let mut problems = Vec::new();
    for member in &members {
        let manifest = format!("{member}/Cargo.toml");
        let text = repo.read(&manifest).expect("a member's manifest");
        for line in text.lines().map(str::trim) {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            let opentelemetry =
                name.starts_with("opentelemetry") || name == "tracing-opentelemetry";
            if opentelemetry && !line.contains("workspace = true") && !line.contains(".workspace") {
                problems.push(format!(
                    "{manifest}: {line}: take the version from [workspace.dependencies]"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
