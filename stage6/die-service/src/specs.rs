//! The seed file: die specifications as JSON, and their checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How a die rolls: one of its faces, uniformly, unless it fails first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DieSpec {
    pub faces: Vec<i64>,
    /// Probability in 0..=1 that a roll fails.
    pub error_rate: f64,
}

/// Every die, by identifier, sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Specs(BTreeMap<String, DieSpec>);

/// Why a specifications file was refused, saying what is wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum SpecsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// serde_json's message carries the line and column.
    #[error("{path} is not a valid specifications file: {source}")]
    Syntax {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: die {identifier:?}: {problem}")]
    Invalid {
        path: PathBuf,
        identifier: String,
        problem: &'static str,
    },
    #[error("{path} defines no die")]
    Empty { path: PathBuf },
}

/// The longest identifier accepted (stage 5 stores them as VARCHAR(50)).
const MAX_IDENTIFIER_LEN: usize = 50;

impl Specs {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, SpecsError> {
        let bytes = std::fs::read(path).map_err(|source| SpecsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &bytes)
    }

    /// Parses and checks `bytes`, the contents of `path`.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, SpecsError> {
        let dice: BTreeMap<String, DieSpec> =
            serde_json::from_slice(bytes).map_err(|source| SpecsError::Syntax {
                path: path.to_owned(),
                source,
            })?;
        if dice.is_empty() {
            return Err(SpecsError::Empty {
                path: path.to_owned(),
            });
        }
        for (identifier, spec) in &dice {
            if let Some(problem) = problem_with(identifier, spec) {
                return Err(SpecsError::Invalid {
                    path: path.to_owned(),
                    identifier: identifier.clone(),
                    problem,
                });
            }
        }
        Ok(Self(dice))
    }

    pub fn get(&self, identifier: &str) -> Option<&DieSpec> {
        self.0.get(identifier)
    }

    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &DieSpec)> {
        self.0
            .iter()
            .map(|(identifier, spec)| (identifier.as_str(), spec))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn problem_with(identifier: &str, spec: &DieSpec) -> Option<&'static str> {
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if identifier.is_empty()
        || identifier.len() > MAX_IDENTIFIER_LEN
        || !identifier.chars().all(plain)
    {
        Some("identifiers are 1 to 50 characters of a-z, 0-9, - and _")
    } else if spec.faces.is_empty() {
        Some("faces must not be empty")
    } else if spec.faces.len() > 1000 {
        Some("a die has at most 1000 faces")
    } else if spec.faces.iter().any(|face| i32::try_from(*face).is_err()) {
        Some("faces must fit in a 32-bit integer")
    } else if !(0.0..=1.0).contains(&spec.error_rate) {
        Some("error_rate must be between 0 and 1")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Specs, SpecsError> {
        Specs::parse(Path::new("dice.json"), json.as_bytes())
    }

    #[test]
    fn the_shipped_file_is_valid() {
        let specs =
            Specs::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/dice.json"))).unwrap();
        assert_eq!(specs.identifiers().collect::<Vec<_>>(), ["fair", "risky"]);
        assert_eq!(specs.get("risky").unwrap().faces, [2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn a_syntax_error_says_where() {
        let error = parse("{\n  \"fair\": {\"faces\": [1,2,3] \"error_rate\": 0}\n}").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("dice.json") && message.contains("line 2"),
            "{message}"
        );
    }

    #[test]
    fn bad_values_name_the_die_and_the_problem() {
        for (json, problem) in [
            (
                r#"{"d6": {"faces": [], "error_rate": 0}}"#,
                "faces must not be empty",
            ),
            (
                r#"{"d6": {"faces": [1], "error_rate": 1.5}}"#,
                "error_rate must be between 0 and 1",
            ),
            (
                r#"{"D 6": {"faces": [1], "error_rate": 0}}"#,
                "identifiers are",
            ),
        ] {
            let message = parse(json).unwrap_err().to_string();
            assert!(message.contains(problem), "{message}");
        }
        assert!(
            parse("{}")
                .unwrap_err()
                .to_string()
                .contains("defines no die")
        );
        assert!(parse(r#"{"d6": {"faces": [1], "error_rate": 0, "weight": 2}}"#).is_err());
    }
}
