//! The shared Dockerfile every stage builds its services from, and the
//! workspace packages it can build.

use crate::compose::image_is_pinned;
use crate::{LoadError, Problems, Repo};

/// One `FROM` stage: its base image, its name, and its instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildStage {
    pub image: String,
    pub alias: Option<String>,
    /// Instructions after `FROM`, continuation lines joined.
    pub instructions: Vec<String>,
}

/// The stages of a Dockerfile, comments dropped and `\` continuations
/// joined.
pub fn stages(text: &str) -> Vec<BuildStage> {
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<BuildStage> = Vec::new();
    for instruction in logical {
        let mut words = instruction.split_whitespace();
        if words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            let words: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
            stages.push(BuildStage {
                image: words.first().copied().unwrap_or_default().to_owned(),
                alias: match words.as_slice() {
                    [_, as_, alias] if as_.eq_ignore_ascii_case("AS") => Some((*alias).to_owned()),
                    _ => None,
                },
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push(instruction);
        }
    }
    stages
}

/// Base images pinned; a build stage that takes `ARG PACKAGE` and builds it
/// in release mode with the locked versions; a final stage that does not run
/// as root and has an entrypoint.
pub fn check_dockerfile(text: &str) -> Problems {
    let mut problems = Vec::new();
    let stages = stages(text);
    let mut aliases = Vec::new();
    for stage in &stages {
        if !aliases.contains(&stage.image)
            && let Err(problem) = image_is_pinned(&stage.image)
        {
            problems.push(format!("Dockerfile: {problem}"));
        }
        aliases.extend(stage.alias.clone());
    }
    let has = |stage: &BuildStage, prefix: &str| {
        stage
            .instructions
            .iter()
            .any(|instruction| instruction.starts_with(prefix))
    };
    let builds = stages.iter().any(|stage| {
        has(stage, "ARG PACKAGE")
            && stage.instructions.iter().any(|instruction| {
                instruction.contains("cargo build --release --locked")
                    && instruction.contains("$PACKAGE")
            })
    });
    if !builds {
        problems.push(
            "Dockerfile: no stage takes ARG PACKAGE and runs cargo build --release --locked for it"
                .into(),
        );
    }
    match stages.last() {
        None => problems.push("Dockerfile: no FROM".into()),
        Some(last) => {
            let user = last
                .instructions
                .iter()
                .rev()
                .find_map(|instruction| instruction.strip_prefix("USER "))
                .map(str::trim);
            if matches!(user, None | Some("root" | "0" | "0:0")) {
                problems.push(format!(
                    "Dockerfile: the runtime stage runs as {user:?}; run as a non-root user"
                ));
            }
            if !has(last, "ENTRYPOINT") && !has(last, "CMD") {
                problems.push("Dockerfile: the runtime stage has no ENTRYPOINT".into());
            }
        }
    }
    problems
}

/// The workspace's packages whose binary has the package's name (the
/// Dockerfile copies `target/release/$PACKAGE`), read from the root
/// `Cargo.toml`'s members and each member's `[package] name`.
pub fn workspace_binaries(repo: &Repo) -> Result<Vec<String>, LoadError> {
    let manifest = repo.read("Cargo.toml")?;
    let members = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .unwrap_or_default();
    let mut binaries = Vec::new();
    for member in members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
    {
        let member_manifest = repo.read(&format!("{member}/Cargo.toml"))?;
        let name = member_manifest
            .lines()
            .find_map(|line| line.trim().strip_prefix("name = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_default()
            .to_owned();
        let binary_renamed = member_manifest.contains("[[bin]]")
            && !member_manifest.contains(&format!("[[bin]]\nname = \"{name}\""));
        let has_main = repo.path(&format!("{member}/src/main.rs")).exists();
        if has_main && !binary_renamed {
            binaries.push(name);
        }
    }
    Ok(binaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_join_continuations_and_skip_comments() {
        let stages = stages(
            "# syntax\nFROM rust:1.95.0-slim-bookworm AS build\nARG PACKAGE\nRUN a \\\n    b\nFROM --platform=x debian:12.11-slim\nUSER 10001\n",
        );
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].alias.as_deref(), Some("build"));
        assert_eq!(stages[0].instructions, ["ARG PACKAGE", "RUN a  b"]);
        assert_eq!(stages[1].image, "debian:12.11-slim");
    }

    #[test]
    fn unpinned_bases_root_users_and_missing_builds_are_caught() {
        let problems = check_dockerfile(
            "FROM rust AS build\nRUN cargo build\nFROM debian:latest\nUSER root\n",
        )
        .join("\n");
        assert!(problems.contains("\"rust\" has no tag"), "{problems}");
        assert!(problems.contains("latest"), "{problems}");
        assert!(problems.contains("ARG PACKAGE"), "{problems}");
        assert!(problems.contains("non-root"), "{problems}");
        assert!(problems.contains("ENTRYPOINT"), "{problems}");
    }
}
