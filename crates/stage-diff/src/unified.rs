//! A line diff (longest common subsequence) printed as unified diff hunks.

use std::fmt;

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Same(String),
    Removed(String),
    Added(String),
}

/// One `@@ -a,b +c,d @@` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    old_start: usize,
    new_start: usize,
    lines: Vec<Line>,
}

/// The hunks turning `old` into `new`, with `context` unchanged lines around
/// each change. Lines are compared as `old[i] == keys[j]` (`keys` is `new`
/// as the comparison should see it) and shown as they are.
pub fn unified_diff(old: &[String], new: &[String], keys: &[String], context: usize) -> Vec<Hunk> {
    let ops = edit_script(old, keys);
    // Indices of the ops that change something.
    let changes: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(..)))
        .map(|(index, _)| index)
        .collect();
    let mut hunks = Vec::new();
    let mut at = 0;
    while at < changes.len() {
        let first = changes[at];
        let mut last = first;
        while at + 1 < changes.len() && changes[at + 1] <= last + 2 * context + 1 {
            at += 1;
            last = changes[at];
        }
        at += 1;
        let start = first.saturating_sub(context);
        let end = (last + context + 1).min(ops.len());
        let (old_start, new_start) = ops[..start].iter().fold((0, 0), |(o, n), op| match op {
            Op::Same(..) => (o + 1, n + 1),
            Op::Removed(_) => (o + 1, n),
            Op::Added(_) => (o, n + 1),
        });
        let lines = ops[start..end]
            .iter()
            .map(|op| match *op {
                Op::Same(j) => Line::Same(new[j].clone()),
                Op::Removed(i) => Line::Removed(old[i].clone()),
                Op::Added(j) => Line::Added(new[j].clone()),
            })
            .collect();
        hunks.push(Hunk {
            old_start,
            new_start,
            lines,
        });
    }
    hunks
}

enum Op {
    Same(usize),
    Removed(usize),
    Added(usize),
}

/// The longest common subsequence, as a script of kept, removed and added
/// lines. Quadratic, which stage files (a few hundred lines) afford.
fn edit_script(old: &[String], new: &[String]) -> Vec<Op> {
    let (n, m) = (old.len(), new.len());
    // common[i][j]: the LCS length of old[i..] and new[j..].
    let mut common = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            ops.push(Op::Same(j));
            i += 1;
            j += 1;
        } else if j < m && (i == n || common[i][j + 1] >= common[i + 1][j]) {
            ops.push(Op::Added(j));
            j += 1;
        } else {
            ops.push(Op::Removed(i));
            i += 1;
        }
    }
    // Removals first within a change, as diff prints them.
    let mut ordered = Vec::with_capacity(ops.len());
    let mut added = Vec::new();
    for op in ops {
        match op {
            Op::Added(_) => added.push(op),
            Op::Removed(_) => ordered.push(op),
            Op::Same(..) => {
                ordered.append(&mut added);
                ordered.push(op);
            }
        }
    }
    ordered.append(&mut added);
    ordered
}

impl fmt::Display for Hunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let old_len = self
            .lines
            .iter()
            .filter(|l| !matches!(l, Line::Added(_)))
            .count();
        let new_len = self
            .lines
            .iter()
            .filter(|l| !matches!(l, Line::Removed(_)))
            .count();
        // Unified diff numbers lines from 1; an empty side starts at 0.
        let start = |at: usize, len: usize| if len == 0 { at } else { at + 1 };
        writeln!(
            f,
            "@@ -{},{old_len} +{},{new_len} @@",
            start(self.old_start, old_len),
            start(self.new_start, new_len)
        )?;
        for line in &self.lines {
            match line {
                Line::Same(text) => writeln!(f, " {text}")?,
                Line::Removed(text) => writeln!(f, "-{text}")?,
                Line::Added(text) => writeln!(f, "+{text}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_change_prints_as_diff_prints_it() {
        let old = lines("a\nb\nc\nd\ne\nf\ng\nh\ni");
        let new = lines("a\nb\nc\nd\nE\nf\ng\nh\ni\nj");
        // Changes four unchanged lines apart (2 x context) share a hunk, as
        // in GNU diff; further apart they do not.
        let far = lines("a\nb\nc\nd\nE\nf\ng\nh\ni\nx\nj");
        let old_far = lines("a\nb\nc\nd\ne\nf\ng\nh\ni\nx");
        assert_eq!(unified_diff(&old_far, &far, &far, 2).len(), 2);
        let text: String = unified_diff(&old, &new, &new, 2)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            "@@ -3,7 +3,8 @@\n c\n d\n-e\n+E\n f\n g\n h\n i\n+j\n"
        );
    }

    #[test]
    fn keys_decide_what_matches_and_the_lines_are_shown_as_they_are() {
        let old = lines("port 8200");
        let new = lines("port 8300");
        let keys = lines("port 8200");
        assert!(unified_diff(&old, &new, &keys, 3).is_empty());
        let all_new = unified_diff(&[], &new, &new, 3);
        assert_eq!(all_new[0].to_string(), "@@ -0,0 +1,1 @@\n+port 8300\n");
    }
}
