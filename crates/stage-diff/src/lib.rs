//! What a stage adds to another: a unified diff of `stageFROM/` against
//! `stageTO/` in which the mechanical renames do not show.
//!
//! Each stage directory is a complete snapshot, so a plain `diff -r` drowns
//! the lesson in renames: package names (`stage2-frontend`), crate paths
//! (`stage2_frontend`), ports (`8201`), `Stage 2` in comments and
//! `"stage": 2` in answers. Here every line of the later stage is compared
//! with its stage number and ports written as the earlier stage's, so those
//! lines match; the lines shown are the files' own, unchanged.
//!
//! Only the later stage's own number is rewritten: a later stage's comment
//! that names the earlier stage ("Stage 2: baggage is...", the stage where
//! the concept first appeared) already matches the earlier stage's copy.
//!
//! ```
//! assert_eq!(
//!     stage_diff::as_stage("use stage3_frontend::app; // port 8301, Stage 3", 3, 2),
//!     "use stage2_frontend::app; // port 8201, Stage 2"
//! );
//! ```

mod unified;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use unified::{Hunk, unified_diff};

/// Why no diff could be made.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{0} is not a stage directory")]
    NoStage(PathBuf),
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `line` of stage `stage`, its mechanical references to `stage` rewritten
/// for stage `target`: `stageN` and `Stage N` (any case, before `-`, `_`,
/// `/`, `.` or a space), `"stage": N`, `stage="N"`, and the ports 8N00-8N03.
pub fn as_stage(line: &str, stage: u8, target: u8) -> String {
    let (from, to) = (stage.to_string(), target.to_string());
    let ports = |text: &str| -> String {
        let mut out = String::with_capacity(text.len());
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let is_port = i + 4 <= chars.len()
                && chars[i] == '8'
                && chars[i + 1].to_string() == from
                && chars[i + 2] == '0'
                && ('0'..='3').contains(&chars[i + 3])
                && (i == 0 || !chars[i - 1].is_ascii_digit())
                && chars.get(i + 4).is_none_or(|c| !c.is_ascii_digit());
            if is_port {
                out.push('8');
                out.push_str(&to);
                out.push('0');
                out.push(chars[i + 3]);
                i += 4;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    };
    let lower = line.to_ascii_lowercase();
    let mut out = String::with_capacity(line.len());
    let mut rest = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("stage") {
        let start = search + found;
        let mut at = start + "stage".len();
        // Up to a few separators: `Stage 3`, `"stage": 3`, `stage="3"`.
        let mut skipped = 0;
        while skipped < 4 && lower[at..].starts_with([' ', ':', '=', '"', '\'']) {
            at += 1;
            skipped += 1;
        }
        let ends_there = lower[at..]
            .strip_prefix(from.as_str())
            .is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_digit()));
        let word_start =
            start == 0 || !lower[..start].ends_with(|c: char| c.is_ascii_alphanumeric());
        if ends_there && word_start {
            out.push_str(&line[rest..at]);
            out.push_str(&to);
            rest = at + from.len();
        }
        search = at.max(start + 1);
    }
    out.push_str(&line[rest..]);
    ports(&out)
}

/// The unified diff of stage `from` against stage `to` under `root` (the
/// repository), limited to paths starting with `only` if given, e.g.
/// `dice-roller`. Empty when the later stage adds nothing.
pub fn diff_stages(root: &Path, from: u8, to: u8, only: Option<&str>) -> Result<String, DiffError> {
    let old_root = root.join(format!("stage{from}"));
    let new_root = root.join(format!("stage{to}"));
    for dir in [&old_root, &new_root] {
        if !dir.is_dir() {
            return Err(DiffError::NoStage(dir.clone()));
        }
    }
    let mut paths: BTreeSet<PathBuf> = files(&old_root)?.into_iter().collect();
    paths.extend(files(&new_root)?);
    let mut out = String::new();
    for path in paths {
        if only.is_some_and(|prefix| !path.starts_with(prefix)) {
            continue;
        }
        let old = read_lines(&old_root.join(&path))?;
        let new = read_lines(&new_root.join(&path))?;
        let (Some(old), Some(new)) = (old, new) else {
            continue; // binary
        };
        let keys: Vec<String> = new.iter().map(|line| as_stage(line, to, from)).collect();
        let hunks = unified_diff(&old, &new, &keys, 3);
        if hunks.is_empty() {
            continue;
        }
        let shown = path.display();
        let old_name = if old.is_empty() && !old_root.join(&path).exists() {
            "/dev/null".to_owned()
        } else {
            format!("a/stage{from}/{shown}")
        };
        let new_name = if new.is_empty() && !new_root.join(&path).exists() {
            "/dev/null".to_owned()
        } else {
            format!("b/stage{to}/{shown}")
        };
        let _ = writeln!(out, "--- {old_name}\n+++ {new_name}");
        for hunk in hunks {
            out.push_str(&hunk.to_string());
        }
    }
    Ok(out)
}

/// Files under `dir`, relative to it, leaving out build output and hidden
/// files.
fn files(dir: &Path) -> Result<Vec<PathBuf>, DiffError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|source| DiffError::Read {
            path: current.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                found.push(relative.to_owned());
            }
        }
    }
    Ok(found)
}

/// The lines of a text file; no lines for a missing file, `None` for a
/// binary one.
fn read_lines(path: &Path) -> Result<Option<Vec<String>>, DiffError> {
    if !path.exists() {
        return Ok(Some(Vec::new()));
    }
    let bytes = std::fs::read(path).map_err(|source| DiffError::Read {
        path: path.to_owned(),
        source,
    })?;
    if bytes.contains(&0) {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanical_references_are_rewritten_and_history_is_kept() {
        for (line, expected) in [
            ("name = \"stage3-frontend\"", "name = \"stage2-frontend\""),
            (
                "use stage3_dice_roller::app;",
                "use stage2_dice_roller::app;",
            ),
            ("//! Stage 3: the frontend", "//! Stage 2: the frontend"),
            ("        \"stage\": 3,", "        \"stage\": 2,"),
            (
                "DICE_ROLLER_URL: http://dice-roller-stage3:8300",
                "DICE_ROLLER_URL: http://dice-roller-stage2:8200",
            ),
            (
                "stage=\"3\" and workshop.stage: \"3\"",
                "stage=\"2\" and workshop.stage: \"2\"",
            ),
            // History: stage 3 naming stage 2 stays as it is.
            ("// Stage 2: baggage is", "// Stage 2: baggage is"),
            // Not a stage number, not a port.
            (
                "stages 30 and 83001, backstage 3",
                "stages 30 and 83001, backstage 3",
            ),
            ("8304 and 18300", "8304 and 18300"),
        ] {
            assert_eq!(as_stage(line, 3, 2), expected, "{line}");
        }
    }
}
