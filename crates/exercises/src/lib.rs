//! Exercises: a stage's lesson taken out, for the attendee to put back with
//! the stage's own tests as the guide.
//!
//! Each exercise is a patch, `stageN/exercises/NN-name.patch`, that removes
//! or breaks exactly one piece of the stage's instrumentation (the span that
//! times a roll, the ids in a log line, the CLIENT span that draws the
//! service-map edge...). Applied, the stage's tests fail and name what is
//! missing; the stage's README has a section of the same title that says
//! what to look for and gives a hint.
//!
//! A patch starts with a few header lines before its diff (git ignores
//! them):
//!
//! ```text
//! Exercise: the span that times a roll
//! Caught by: traces::a_roll_exports_a_server_span_with_a_roll_span_below_it
//! Demo: roll_die
//!
//! diff --git a/stage1/dice-roller/src/dice.rs b/stage1/dice-roller/src/dice.rs
//! ...
//! ```
//!
//! `Caught by` names the tests (one or more lines) that fail while the
//! exercise is applied; the README section names them too, so a failing
//! test leads to its section. `Demo` is text that `make demo`'s checklist
//! shows in a failed item while the exercise is applied.
//!
//! ```
//! let text = "Exercise: the span that times a roll\n\
//!             Caught by: traces::a_roll_span\n\
//!             \n\
//!             diff --git a/stage1/dice-roller/src/dice.rs b/stage1/dice-roller/src/dice.rs\n\
//!             --- a/stage1/dice-roller/src/dice.rs\n\
//!             +++ b/stage1/dice-roller/src/dice.rs\n";
//! let exercise = exercises::Exercise::parse(1, "01-roll-span.patch".as_ref(), text).unwrap();
//! assert_eq!(exercise.heading(), "Exercise 1: the span that times a roll");
//! assert_eq!(exercise.anchor(), "exercise-1-the-span-that-times-a-roll");
//! assert_eq!(exercise.packages(), ["stage1-dice-roller"]);
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One exercise of a stage.
#[derive(Debug, Clone)]
pub struct Exercise {
    pub stage: u8,
    /// K in `make stageN exercise K`, from the file name's `NN-` prefix.
    pub number: u8,
    /// The patch file.
    pub path: PathBuf,
    /// What the exercise takes out, e.g. "the span that times a roll".
    pub title: String,
    /// Tests of the stage that fail while it is applied (`module::test`).
    pub caught_by: Vec<String>,
    /// Text that a failed item of `make demo`'s checklist shows while it is
    /// applied, if the demo can see it.
    pub demo: Option<String>,
    /// The diff itself, the header lines removed.
    pub diff: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExerciseError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Malformed { path: PathBuf, problem: String },
    #[error("cannot run git")]
    Git(#[source] std::io::Error),
}

/// Where an exercise stands in a working tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The stage's files are as committed: the exercise can be applied.
    NotApplied,
    /// The patch is applied and the files are otherwise untouched.
    Applied,
    /// The files the patch touches are neither: the attendee changed them
    /// (perhaps solving the exercise).
    Changed,
}

impl Exercise {
    /// Reads an exercise from the text of its patch file `path`.
    pub fn parse(stage: u8, path: &Path, text: &str) -> Result<Self, ExerciseError> {
        let malformed = |problem: &str| ExerciseError::Malformed {
            path: path.to_owned(),
            problem: problem.to_owned(),
        };
        let file_name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let number = file_name
            .split_once('-')
            .and_then(|(number, _)| number.parse().ok())
            .filter(|number| *number > 0)
            .ok_or_else(|| malformed("the file name must start with its number, e.g. 01-"))?;
        let diff_start = text
            .find("diff --git ")
            .ok_or_else(|| malformed("no `diff --git` in the patch"))?;
        let (header, diff) = text.split_at(diff_start);
        let mut title = None;
        let mut caught_by = Vec::new();
        let mut demo = None;
        for line in header
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
        {
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| malformed(&format!("a header line is `Key: value`: {line}")))?;
            let value = value.trim().to_owned();
            match key {
                "Exercise" => title = Some(value),
                "Caught by" => caught_by.push(value),
                "Demo" => demo = Some(value),
                _ => return Err(malformed(&format!("unknown header `{key}`"))),
            }
        }
        let exercise = Self {
            stage,
            number,
            path: path.to_owned(),
            title: title.ok_or_else(|| malformed("no `Exercise:` title"))?,
            caught_by,
            demo,
            diff: diff.to_owned(),
        };
        if exercise.caught_by.is_empty() {
            return Err(malformed("no `Caught by:` test"));
        }
        if exercise.packages().is_empty() {
            return Err(malformed(&format!(
                "the diff touches no file of stage{stage}/<service>/"
            )));
        }
        Ok(exercise)
    }

    /// The README heading of its section: `Exercise K: title`.
    pub fn heading(&self) -> String {
        format!("Exercise {}: {}", self.number, self.title)
    }

    /// The heading's anchor as GitHub and most Markdown viewers make it.
    pub fn anchor(&self) -> String {
        self.heading()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    }

    /// The stage's README, where its section is.
    pub fn readme(&self) -> String {
        format!("stage{}/README.md", self.stage)
    }

    /// The files the diff changes, relative to the repository.
    pub fn files(&self) -> Vec<String> {
        let files: BTreeSet<String> = self
            .diff
            .lines()
            .filter_map(|line| line.strip_prefix("+++ b/"))
            .map(str::to_owned)
            .collect();
        files.into_iter().collect()
    }

    /// The packages whose files the diff changes: `stageN-<service>`.
    pub fn packages(&self) -> Vec<String> {
        let prefix = format!("stage{}/", self.stage);
        let packages: BTreeSet<String> = self
            .files()
            .iter()
            .filter_map(|file| file.strip_prefix(&prefix)?.split_once('/'))
            .map(|(service, _)| format!("stage{}-{service}", self.stage))
            .collect();
        packages.into_iter().collect()
    }

    /// Where the exercise stands in the tree at `root`.
    pub fn state(&self, root: &Path) -> Result<State, ExerciseError> {
        if git_apply(root, &self.path, &["--check"])? {
            Ok(State::NotApplied)
        } else if git_apply(root, &self.path, &["--check", "--reverse"])? {
            Ok(State::Applied)
        } else {
            Ok(State::Changed)
        }
    }

    /// Applies the patch to the tree at `root`; false if it does not apply.
    pub fn apply(&self, root: &Path) -> Result<bool, ExerciseError> {
        git_apply(root, &self.path, &[])
    }

    /// Takes the patch back out of the tree at `root`; false if it is not
    /// applied as it was.
    pub fn restore(&self, root: &Path) -> Result<bool, ExerciseError> {
        git_apply(root, &self.path, &["--reverse"])
    }
}

/// Every exercise of stage `stage` in the repository at `root`, by number.
pub fn exercises(root: &Path, stage: u8) -> Result<Vec<Exercise>, ExerciseError> {
    let directory = root.join(format!("stage{stage}/exercises"));
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&directory) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "patch"))
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(ExerciseError::Read {
                path: directory,
                source,
            });
        }
    };
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|source| ExerciseError::Read {
                path: path.clone(),
                source,
            })?;
            Exercise::parse(stage, &path, &text)
        })
        .collect()
}

/// Files under `stageN/` that differ from the last commit, as `git status
/// --short` lists them: work an exercise must not overwrite.
pub fn uncommitted_changes(root: &Path, stage: u8) -> Result<Vec<String>, ExerciseError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["status", "--porcelain", "--untracked-files=all", "--"])
        .arg(format!("stage{stage}/"))
        .output()
        .map_err(ExerciseError::Git)?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// `git apply [arguments] patch` in `root` (a repository or a plain copy of
/// one): whether it succeeded.
fn git_apply(root: &Path, patch: &Path, arguments: &[&str]) -> Result<bool, ExerciseError> {
    let status = Command::new("git")
        .arg("-C")
        .arg(root)
        .arg("apply")
        .args(arguments)
        .arg(patch)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(ExerciseError::Git)?;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "Exercise: the ids in a log line\n\
        Caught by: logs::every_line_carries_ids\n\
        Caught by: logs::another\n\
        Demo: carry the ids of a received span\n\
        \n\
        diff --git a/stage2/frontend/src/routes.rs b/stage2/frontend/src/routes.rs\n\
        --- a/stage2/frontend/src/routes.rs\n\
        +++ b/stage2/frontend/src/routes.rs\n\
        @@ -1 +1 @@\n\
        -a\n\
        +b\n";

    #[test]
    fn the_header_gives_title_tests_and_demo_text() {
        let exercise = Exercise::parse(2, Path::new("x/02-log-ids.patch"), PATCH).unwrap();
        assert_eq!(exercise.number, 2);
        assert_eq!(exercise.heading(), "Exercise 2: the ids in a log line");
        assert_eq!(exercise.anchor(), "exercise-2-the-ids-in-a-log-line");
        assert_eq!(
            exercise.caught_by,
            ["logs::every_line_carries_ids", "logs::another"]
        );
        assert_eq!(
            exercise.demo.as_deref(),
            Some("carry the ids of a received span")
        );
        assert_eq!(exercise.files(), ["stage2/frontend/src/routes.rs"]);
        assert_eq!(exercise.packages(), ["stage2-frontend"]);
        assert!(exercise.diff.starts_with("diff --git"));
    }

    #[test]
    fn a_patch_without_a_title_test_number_or_diff_is_refused() {
        let path = Path::new("01-x.patch");
        for (text, problem) in [
            (PATCH.replace("Exercise: ", "Title: "), "unknown header"),
            (
                PATCH.replace("Caught by", "Exercise"),
                "no `Caught by:` test",
            ),
            (PATCH.replace("diff --git", "diff"), "no `diff --git`"),
            (
                PATCH.replace("stage2/", "stage3/"),
                "touches no file of stage2/",
            ),
        ] {
            let error = Exercise::parse(2, path, &text).unwrap_err().to_string();
            assert!(error.contains(problem), "{error}");
        }
        let error = Exercise::parse(2, Path::new("x.patch"), PATCH)
            .unwrap_err()
            .to_string();
        assert!(error.contains("must start with its number"), "{error}");
    }
}
