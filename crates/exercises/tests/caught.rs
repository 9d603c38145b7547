//! Every exercise is caught: mutation testing of the lessons.
//!
//! For each exercise of each stage, in a scratch copy of the repository
//! (never the working tree): apply its patch, build, run the tests of the
//! crate it touches, and require that they fail, among them a test its README
//! section names; run the failed tests again without the patch and require
//! that they pass, so it was the patch that failed them. Where the exercise
//! says what `make demo` shows, run the stage's demo with the patch applied
//! and require its checklist to fail on that item.
//!
//! That is minutes of building and testing, so `make test` leaves this file
//! out and `make test-exercises` (which CI also runs) runs it.
//! `EXERCISES_STAGE=3` checks one stage's only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use exercises::Exercise;
use regex::Regex;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// A copy of the repository's files (committed or not, ignored ones left
/// out) under `target/exercises/tree`, built into `target/exercises/build`,
/// so that a second run rebuilds only what changed.
struct Scratch {
    tree: PathBuf,
    target: PathBuf,
}

impl Scratch {
    fn copy_of(root: &Path) -> Self {
        let base = root.join("target/exercises");
        let tree = base.join("tree");
        if tree.exists() {
            std::fs::remove_dir_all(&tree).expect("remove the old scratch tree");
        }
        let listed = run(Command::new("git").arg("-C").arg(root).args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ]));
        for file in listed.stdout.split(|byte| *byte == 0) {
            let Ok(file) = std::str::from_utf8(file) else {
                continue;
            };
            let source = root.join(file);
            // A file deleted in the working tree but still in the index.
            if file.is_empty() || !source.is_file() {
                continue;
            }
            let destination = tree.join(file);
            std::fs::create_dir_all(destination.parent().unwrap()).unwrap();
            std::fs::copy(&source, &destination)
                .unwrap_or_else(|error| panic!("copy {file}: {error}"));
        }
        Self {
            tree,
            target: base.join("build"),
        }
    }

    fn cargo(&self, arguments: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO"));
        command
            .args(arguments)
            .current_dir(&self.tree)
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("RUSTFLAGS");
        command.output().expect("run cargo")
    }

    /// Runs the tests of `package` (only those matching `filter`, a nextest
    /// filterset, if given) and returns the names of those that failed, and
    /// the whole output.
    fn failing_tests(&self, package: &str, filter: Option<&str>) -> (BTreeSet<String>, String) {
        let mut arguments = vec![
            "nextest",
            "run",
            "-p",
            package,
            "--no-fail-fast",
            "--color",
            "never",
            "--hide-progress-bar",
        ];
        if let Some(filter) = filter {
            arguments.extend(["-E", filter]);
        }
        let output = self.cargo(&arguments);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !text.contains("could not compile") && !text.contains("error[E"),
            "{package} does not build:\n{text}"
        );
        let line = Regex::new(
            r"(?m)^\s*(?:FAIL|TIMEOUT|SIGSEGV|SIGABRT|ABORT)\s+\[[^\]]*\]\s+(?:\(\s*\d+/\d+\)\s+)?\S+\s+(\S+)\s*$",
        )
        .unwrap();
        let failed = line
            .captures_iter(&text)
            .map(|captures| captures[1].to_owned())
            .collect();
        (failed, text)
    }

    fn apply(&self, exercise: &Exercise, reverse: bool) {
        let applied = if reverse {
            exercise.restore(&self.tree)
        } else {
            exercise.apply(&self.tree)
        };
        assert!(
            applied.expect("run git apply"),
            "{} does not {} in the scratch copy",
            exercise.path.display(),
            if reverse { "reverse" } else { "apply" }
        );
    }
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("run a command");
    assert!(output.status.success(), "{command:?}: {output:?}");
    output
}

fn stages() -> Vec<u8> {
    match std::env::var("EXERCISES_STAGE") {
        Ok(stage) => vec![stage.parse().expect("EXERCISES_STAGE is a stage number")],
        Err(_) => (1..=6).collect(),
    }
}

#[test]
fn every_exercise_is_caught_by_its_stages_tests() {
    let root = repo_root();
    let scratch = Scratch::copy_of(&root);
    let mut problems = Vec::new();
    for stage in stages() {
        let all = exercises::exercises(&root, stage).expect("read the exercises");
        for exercise in &all {
            let what = format!("stage {stage}, {}", exercise.heading());
            scratch.apply(exercise, false);

            // The tests of the crates the patch touches must fail, a test the
            // README section names among them.
            let mut failed = BTreeSet::new();
            for package in exercise.packages() {
                let (failing, output) = scratch.failing_tests(&package, None);
                if failing.is_empty() {
                    problems.push(format!(
                        "{what}: every test of {package} passes with the lesson taken out\n{output}"
                    ));
                }
                failed.extend(failing.into_iter().map(|test| (package.clone(), test)));
            }
            let named = failed
                .iter()
                .any(|(_, test)| exercise.caught_by.contains(test));
            if !failed.is_empty() && !named {
                problems.push(format!(
                    "{what}: the failing tests {:?} include none that the README section names ({:?})",
                    failed.iter().map(|(_, test)| test).collect::<Vec<_>>(),
                    exercise.caught_by
                ));
            }

            // What make demo shows with the lesson taken out.
            if let Some(problem) = exercise
                .demo
                .as_ref()
                .and_then(|expected| demo_misses(&scratch, stage, expected))
            {
                problems.push(format!("{what}: {problem}"));
            }

            // Without the patch the same tests pass: the patch failed them.
            scratch.apply(exercise, true);
            for package in exercise.packages() {
                let names: Vec<&str> = failed
                    .iter()
                    .filter(|(failed_package, _)| *failed_package == package)
                    .map(|(_, test)| test.as_str())
                    .collect();
                if names.is_empty() {
                    continue;
                }
                let filter = names
                    .iter()
                    .map(|name| format!("test(={name})"))
                    .collect::<Vec<_>>()
                    .join(" | ");
                let (still_failing, output) = scratch.failing_tests(&package, Some(&filter));
                if !still_failing.is_empty() {
                    problems.push(format!(
                        "{what}: {still_failing:?} fail without the patch too\n{output}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Runs stage `stage`'s demo in the scratch copy (the patch applied) and
/// says what is wrong unless its checklist fails with `expected` in a failed
/// item.
fn demo_misses(scratch: &Scratch, stage: u8, expected: &str) -> Option<String> {
    let build = scratch.cargo(&["build", "--workspace", "--bins"]);
    if !build.status.success() {
        return Some(format!(
            "the binaries do not build:\n{}",
            String::from_utf8_lossy(&build.stderr)
        ));
    }
    let output = Command::new(scratch.target.join("debug/demo"))
        .args(["--stage", &stage.to_string(), "--duration", "4s"])
        .current_dir(&scratch.tree)
        .output()
        .expect("run the demo");
    let text = String::from_utf8_lossy(&output.stdout);
    let checklist = text.split("== checklist ==").nth(1).unwrap_or_default();
    // A failed item and the lines under it, up to the next item.
    let failed_items: Vec<&str> = checklist
        .split("\n  [")
        .filter(|item| item.starts_with("FAIL]"))
        .collect();
    let seen = failed_items.iter().any(|item| item.contains(expected));
    if output.status.success() || !seen {
        return Some(format!(
            "make demo STAGE={stage} should fail an item showing {expected:?}:\n{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    None
}
