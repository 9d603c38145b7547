//! The per-stage verification checklist (docs/design.md#checklist), as measured facts.

use std::fmt;

/// One item of the checklist: a claim, whether it held, and the facts
/// behind the answer (what was measured, or what is missing).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub title: String,
    pub passed: bool,
    pub details: Vec<String>,
}

impl Check {
    pub fn pass(title: impl Into<String>, details: Vec<String>) -> Self {
        Self {
            title: title.into(),
            passed: true,
            details,
        }
    }

    pub fn fail(title: impl Into<String>, details: Vec<String>) -> Self {
        Self {
            title: title.into(),
            passed: false,
            details,
        }
    }

    /// Passes when `problems` is empty; the problems, or else `facts`, are
    /// the details.
    pub fn from_problems(
        title: impl Into<String>,
        facts: Vec<String>,
        problems: Vec<String>,
    ) -> Self {
        if problems.is_empty() {
            Self::pass(title, facts)
        } else {
            Self::fail(title, problems)
        }
    }
}

/// Every item, in the order they were checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checklist {
    pub heading: String,
    pub checks: Vec<Check>,
}

impl Checklist {
    pub fn new(heading: impl Into<String>) -> Self {
        Self {
            heading: heading.into(),
            checks: Vec::new(),
        }
    }

    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|check| !check.passed)
    }

    /// The check titled `title`, if there is one.
    pub fn check(&self, title: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.title == title)
    }
}

impl fmt::Display for Checklist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.heading)?;
        for check in &self.checks {
            let mark = if check.passed { "PASS" } else { "FAIL" };
            writeln!(f, "  [{mark}] {}", check.title)?;
            for detail in &check.details {
                writeln!(f, "         {detail}")?;
            }
        }
        let failed = self.failures().count();
        if failed == 0 {
            writeln!(f, "all {} checks passed", self.checks.len())
        } else {
            writeln!(f, "{failed} of {} checks FAILED", self.checks.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_fails_the_list_and_shows_its_problems() {
        let mut checklist = Checklist::new("stage 1");
        checklist.push(Check::from_problems("a", vec!["fine".into()], vec![]));
        checklist.push(Check::from_problems(
            "b",
            vec!["fine".into()],
            vec!["dice-roller exported no span".into()],
        ));
        assert!(!checklist.passed());
        let text = checklist.to_string();
        assert!(text.contains("[PASS] a\n         fine"), "{text}");
        assert!(
            text.contains("[FAIL] b\n         dice-roller exported no span"),
            "{text}"
        );
        assert!(text.ends_with("1 of 2 checks FAILED\n"), "{text}");
    }
}
