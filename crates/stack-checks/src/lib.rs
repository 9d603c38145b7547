//! The observability stack as code, read back and cross-checked.
//!
//! There is no Docker engine where the tests run, so the compose files and
//! the configs they mount cannot be started. They are right by construction
//! instead: this crate parses each file and checks it against the design (docs/design.md) and
//! against the other files, which is where a stack breaks quietly (a scrape
//! target no compose file defines, a datasource uid no dashboard can find,
//! a collector endpoint on the wrong port).
//!
//! Every check returns [`Problems`]: a list of sentences, empty when all is
//! well, so a test reports every mismatch at once.
//!
//! # Layout
//!
//! * `design`: the facts docs/design.md fixes: each stage's services, their
//!   ports and container names, and the stack's ports.
//! * `compose`: compose files: services, images, mounts, ports, environment,
//!   and the checks every stage and the stack must pass.
//! * `prometheus`: the scrape config: its targets and their labels, checked
//!   against the design and the compose files.
//! * `backends`: the configs of Tempo, Loki and the OpenTelemetry Collector.
//! * `alloy`: a small reader for Alloy's configuration syntax, and the
//!   wiring of the log pipeline.
//! * `grafana`: datasource and dashboard provisioning.
//! * `dashboard`: rules for the dashboards' queries (datasources, PromQL,
//!   LogQL, TraceQL).
//! * `dockerfile`: the shared image recipe and the workspace packages it
//!   builds.
//!
//! ```
//! use stack_checks::compose::image_is_pinned;
//! assert!(image_is_pinned("grafana/tempo:2.10.8").is_ok());
//! assert!(image_is_pinned("grafana/tempo:latest").is_err());
//! ```

pub mod alloy;
pub mod backends;
pub mod compose;
pub mod dashboard;
pub mod design;
pub mod dockerfile;
pub mod grafana;
pub mod prometheus;

use std::path::{Path, PathBuf};

/// What a check found wrong, one sentence each; empty when all is well.
pub type Problems = Vec<String>;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid YAML")]
    Yaml {
        path: PathBuf,
        source: serde_yaml_ng::Error,
    },
}

/// The repository checkout the checks read.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    /// The repository this crate was built from (two levels above it).
    pub fn current() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        Self::at(root.canonicalize().unwrap_or(root))
    }

    /// A repository at `root`; tests of the checks point it at a temporary
    /// directory.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `relative` inside the repository.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The text of `relative`.
    pub fn read(&self, relative: &str) -> Result<String, LoadError> {
        read(&self.path(relative))
    }

    /// `relative` parsed as YAML.
    pub fn yaml(&self, relative: &str) -> Result<serde_yaml_ng::Value, LoadError> {
        yaml(&self.path(relative))
    }

    /// Every compose file in the repository, wherever it is and whatever it
    /// serves: `docker-compose*.yml`/`.yaml` and `compose*.yml`/`.yaml`,
    /// outside build output and hidden directories. Checks that must hold
    /// for every compose file, present and future, read this list.
    pub fn compose_files(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut directories = vec![self.root.clone()];
        while let Some(directory) = directories.pop() {
            let Ok(entries) = std::fs::read_dir(&directory) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() {
                    if !(name.starts_with('.')
                        || ["target", "node_modules"].contains(&name.as_str()))
                    {
                        directories.push(path);
                    }
                } else if (name.starts_with("docker-compose") || name.starts_with("compose"))
                    && (name.ends_with(".yml") || name.ends_with(".yaml"))
                {
                    found.push(path);
                }
            }
        }
        found.sort();
        found
    }

    /// The compose files of the stages that have one, as `(stage, path)`.
    pub fn stage_compose_files(&self) -> Vec<(u8, PathBuf)> {
        design::STAGES
            .filter_map(|stage| {
                let path = self.path(&format!("stage{stage}/docker-compose.yml"));
                path.exists().then_some((stage, path))
            })
            .collect()
    }
}

pub(crate) fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn yaml(path: &Path) -> Result<serde_yaml_ng::Value, LoadError> {
    parse_yaml(path, &read(path)?)
}

pub(crate) fn parse_yaml(path: &Path, text: &str) -> Result<serde_yaml_ng::Value, LoadError> {
    serde_yaml_ng::from_str(text).map_err(|source| LoadError::Yaml {
        path: path.to_owned(),
        source,
    })
}

/// Panics listing every problem, under `what`, if there is any.
#[track_caller]
pub fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

/// The host and port of `http://host:port/...`, if the URL has both.
pub fn host_and_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_reads_urls_and_bare_addresses() {
        assert_eq!(
            host_and_port("http://loki:3100/loki/api/v1/push"),
            Some(("loki".into(), 3100))
        );
        assert_eq!(
            host_and_port("0.0.0.0:4317"),
            Some(("0.0.0.0".into(), 4317))
        );
        assert_eq!(host_and_port("http://loki/push"), None);
    }
}
