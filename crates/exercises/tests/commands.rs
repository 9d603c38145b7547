//! `make stageN exercise K`, `solution K` and `exercises` on a repository of
//! their own: they never clobber an attendee's work.

use std::path::Path;
use std::process::{Command, Output};

const README: &str =
    "# Stage 1\n\n### Exercise 1: the greeting\n\nCaught by `greeting::is_there`.\n";

const PATCH: &str = r#"Exercise: the greeting
Caught by: greeting::is_there

diff --git a/stage1/dice-roller/src/lib.rs b/stage1/dice-roller/src/lib.rs
--- a/stage1/dice-roller/src/lib.rs
+++ b/stage1/dice-roller/src/lib.rs
@@ -1,2 +1 @@
 // the service
-pub fn greeting() {}
"#;

/// A git repository with one stage, one source file and one exercise.
fn repository() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "stage1/dice-roller/src/lib.rs",
        "// the service\npub fn greeting() {}\n",
    );
    write("stage1/exercises/01-greeting.patch", PATCH);
    write("stage1/README.md", README);
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(
        root,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "stage 1",
        ],
    );
    directory
}

fn git(root: &Path, arguments: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(arguments)
        .status()
        .unwrap();
    assert!(status.success(), "git {arguments:?}");
}

fn exercises(root: &Path, arguments: &[&str]) -> (bool, String) {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_exercises"))
        .arg("--root")
        .arg(root)
        .args(["--stage", "1"])
        .args(arguments)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn source(root: &Path) -> String {
    std::fs::read_to_string(root.join("stage1/dice-roller/src/lib.rs")).unwrap()
}

#[test]
fn an_exercise_is_applied_listed_and_restored() {
    let repo = repository();
    let root = repo.path();

    let (ok, said) = exercises(root, &["list"]);
    assert!(
        ok && said.contains("1  the greeting  not applied"),
        "{said}"
    );

    let (ok, said) = exercises(root, &["apply", "1"]);
    assert!(ok, "{said}");
    assert!(said.contains("Exercise 1: the greeting applied."), "{said}");
    assert!(
        said.contains("stage1/README.md, section \"Exercise 1: the greeting\""),
        "{said}"
    );
    assert!(said.contains("make stage1 test"), "{said}");
    assert_eq!(source(root), "// the service\n");

    let (_, said) = exercises(root, &["list"]);
    assert!(said.contains("applied: `make stage1 test` fails"), "{said}");

    let (ok, said) = exercises(root, &["solution", "1"]);
    assert!(ok && said.contains("restored"), "{said}");
    assert_eq!(source(root), "// the service\npub fn greeting() {}\n");

    let (ok, said) = exercises(root, &["solution", "1"]);
    assert!(ok && said.contains("not applied"), "{said}");
}

#[test]
fn uncommitted_work_in_the_stage_is_never_overwritten() {
    let repo = repository();
    let root = repo.path();
    let mine = "// the service\npub fn greeting() {}\n// my own work\n";
    std::fs::write(root.join("stage1/dice-roller/src/lib.rs"), mine).unwrap();

    let (ok, said) = exercises(root, &["apply", "1"]);
    assert!(!ok, "{said}");
    assert!(said.contains("not committed"), "{said}");
    assert!(said.contains("stage1/dice-roller/src/lib.rs"), "{said}");
    assert_eq!(source(root), mine);
}

#[test]
fn an_exercise_solved_by_hand_is_not_reverted_over_the_attendees_code() {
    let repo = repository();
    let root = repo.path();
    assert!(exercises(root, &["apply", "1"]).0);
    let solved = "// the service\npub fn greeting() { /* mine */ }\n";
    std::fs::write(root.join("stage1/dice-roller/src/lib.rs"), solved).unwrap();

    let (ok, said) = exercises(root, &["solution", "1"]);
    assert!(!ok, "{said}");
    assert!(
        said.contains("git diff -- stage1/dice-roller/src/lib.rs"),
        "{said}"
    );
    assert_eq!(source(root), solved);

    let (ok, said) = exercises(root, &["apply", "1"]);
    assert!(!ok && said.contains("not committed"), "{said}");
}

#[test]
fn an_unknown_exercise_is_named() {
    let repo = repository();
    let (ok, said) = exercises(repo.path(), &["apply", "7"]);
    assert!(!ok);
    assert!(said.contains("stage 1 has no exercise 7"), "{said}");
}
