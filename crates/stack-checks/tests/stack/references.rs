//! Every reference leads somewhere in this repository: an attendee who
//! clones it has nothing else. A comment or document may cite
//! `docs/<file>.md#<anchor>`, and a Markdown file may link a relative path,
//! but each must exist, anchor included; and no file cites the documents
//! this workshop was designed from, which the repository does not carry
//! (their content is in docs/, in the repository's own words).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;
use stack_checks::Repo;

/// Citations of documents that are not in the repository. Built from parts
/// so that this file does not cite them itself.
fn outside_citations() -> Regex {
    let design = ["DESIGN", "STAGES"].map(|name| format!(r"\b{name}\.md\b"));
    Regex::new(&format!(
        r"{}|{}|\bPITFALLS\s+\d|\.\./shared/|\bshared/fixtures\b|\bseed's\b|\b[Tt]he seed\b(?:[^ ]| [^f]| f[^i])",
        design[0], design[1]
    ))
    .unwrap()
}

/// Every file git tracks or would track (ignored ones left out).
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .output()
        .expect("run git ls-files");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(PathBuf::from)
        .filter(|path| root.join(path).is_file())
        .collect()
}

/// The anchors a Markdown file offers: `<a id="...">` and its headings as
/// GitHub turns them into anchors.
fn anchors(markdown: &str) -> BTreeSet<String> {
    static EXPLICIT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"<a\s+(?:id|name)="([^"]+)""#).unwrap());
    let mut anchors: BTreeSet<String> = EXPLICIT
        .captures_iter(markdown)
        .map(|captures| captures[1].to_owned())
        .collect();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        if let Some(heading) = line.strip_prefix('#') {
            let text = heading.trim_start_matches('#').trim();
            anchors.insert(slug(text));
        }
    }
    anchors
}

/// A heading's anchor as GitHub makes it.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// What is wrong with one reference to `target` (a path, maybe with an
/// `#anchor`) found in `file`, resolved against `base`; `None` if it leads
/// somewhere.
fn dangling(root: &Path, file: &Path, base: &Path, target: &str) -> Option<String> {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let resolved = if path.is_empty() {
        root.join(file)
    } else {
        base.join(path)
    };
    if !resolved.exists() {
        return Some(format!("{}: {target}: no such file", file.display()));
    }
    let anchor = anchor?;
    if resolved.extension().is_some_and(|ext| ext == "md") {
        let text = std::fs::read_to_string(&resolved).unwrap_or_default();
        if !anchors(&text).contains(anchor) {
            return Some(format!(
                "{}: {target}: {} has no anchor #{anchor}",
                file.display(),
                resolved.display()
            ));
        }
    }
    None
}

/// Every problem with the references in `text`, the content of `file`.
fn problems_in(root: &Path, file: &Path, text: &str) -> Vec<String> {
    static OUTSIDE: LazyLock<Regex> = LazyLock::new(outside_citations);
    static DOCS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bdocs/[A-Za-z0-9_-]+\.md(?:#[A-Za-z0-9_-]+)?").unwrap());
    static LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\]\(([^)\s]+)\)").unwrap());
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if OUTSIDE.is_match(line) {
            problems.push(format!(
                "{}:{}: cites a document this repository does not have (write what matters into docs/ and cite that): {}",
                file.display(),
                number + 1,
                line.trim()
            ));
        }
    }
    // `docs/<file>.md#anchor` in any file, from the repository's root.
    for found in DOCS.find_iter(text) {
        let start = found.start();
        // A relative Markdown link (`../docs/...`) is checked below.
        if text[..start].ends_with("../") {
            continue;
        }
        problems.extend(dangling(root, file, root, found.as_str()));
    }
    // Relative links of a Markdown file.
    if file.extension().is_some_and(|ext| ext == "md") {
        let base = root.join(file).parent().unwrap().to_owned();
        for captures in LINK.captures_iter(text) {
            let target = &captures[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            problems.extend(dangling(root, file, &base, target));
        }
    }
    problems
}

#[test]
fn every_reference_resolves_inside_the_repository() {
    let repo = Repo::current();
    let root = repo.root();
    let this_file = Path::new("crates/stack-checks/tests/stack/references.rs");
    let mut problems = Vec::new();
    for file in repository_files(root) {
        if file == this_file {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(&file)) else {
            continue; // not text
        };
        problems.extend(problems_in(root, &file, &text));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn dangling_references_and_outside_citations_are_found() {
    let repo = Repo::current();
    let root = repo.root();
    let file = Path::new("stage1/README.md");
    let cited = |text: &str| problems_in(root, file, text);
    assert!(cited("see [the pitfalls](../docs/pitfalls.md#span-kinds)").is_empty());
    assert!(cited("see docs/pitfalls.md#span-kinds").is_empty());
    assert!(cited("the seed file is dice.json").is_empty());
    assert_eq!(cited("see docs/pitfalls.md#no-such-anchor").len(), 1);
    assert_eq!(cited("see [it](../docs/nothing.md)").len(), 1);
    assert_eq!(cited("see [it](dice-roller/src/nothing.rs)").len(), 1);
    assert_eq!(cited("as [Layout](#no-heading-like-this)").len(), 1);
    for outside in [
        "(PITFALLS 5)",
        "as DESIGN.md fixes",
        "STAGES.md, stage 1",
        "the seed's queries",
        "../shared/fixtures",
    ] {
        assert_eq!(cited(outside).len(), 1, "{outside}");
    }
}
