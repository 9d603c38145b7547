//! Die specifications: the file, its checks, and its live reloading.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{error, info};

use crate::metrics::DieMetrics;

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
    /// Reads and checks the file at `path`; also returns the bytes read, so
    /// a watcher can tell later changes from this version.
    pub fn load(path: &Path) -> Result<(Self, Vec<u8>), SpecsError> {
        let bytes = std::fs::read(path).map_err(|source| SpecsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok((Self::parse(path, &bytes)?, bytes))
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
    } else if !(0.0..=1.0).contains(&spec.error_rate) {
        Some("error_rate must be between 0 and 1")
    } else {
        None
    }
}

/// The specifications being served, swapped whole when the file changes.
/// Readers take an `Arc` and never wait for a reload.
#[derive(Clone, Default)]
pub struct SpecStore(Arc<RwLock<Arc<Specs>>>);

impl SpecStore {
    pub fn new(specs: Specs) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(specs))))
    }

    pub fn current(&self) -> Arc<Specs> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, specs: Specs) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(specs);
    }
}

/// Checks `path` every `interval` and serves a changed file once it passes
/// the checks; a broken one is logged at ERROR, counted, and ignored, so the
/// last good specifications stay in service. `loaded` is the version already
/// in service.
///
/// Stage 3: polling the contents, rather than inotify, is deliberate: editors
/// save by writing a new file and renaming it over the old, which a watch on
/// the old file never reports; comparing bytes every second catches any way
/// of saving. (Under Docker, mount the file's directory, not the file: a
/// single-file bind mount keeps showing the old file after such a rename,
/// whatever the service does. The compose files do.)
pub async fn watch(
    path: PathBuf,
    interval: Duration,
    store: SpecStore,
    metrics: DieMetrics,
    loaded: Vec<u8>,
) {
    let mut last_seen = Some(loaded);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(source) => {
                // Said once, not every second: the file may be mid-rename.
                if last_seen.take().is_some() {
                    let failure = SpecsError::Read {
                        path: path.clone(),
                        source,
                    };
                    error!(error = %failure, "cannot read the die specifications, keeping the last good ones");
                    metrics.record_reload(false);
                }
                continue;
            }
        };
        if last_seen.as_ref() == Some(&bytes) {
            continue;
        }
        match Specs::parse(&path, &bytes) {
            Ok(specs) => {
                info!(dice = specs.len(), path = %path.display(), "die specifications reloaded");
                metrics.record_reload(true);
                metrics.set_loaded(specs.len());
                store.replace(specs);
            }
            Err(failure) => {
                error!(error = %failure, "die specifications file is invalid, keeping the last good ones");
                metrics.record_reload(false);
            }
        }
        last_seen = Some(bytes);
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
        let (specs, _) =
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
