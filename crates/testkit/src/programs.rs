//! The programs the tests run for real, found where `make setup` installs
//! them.
//!
//! A test that needs one of them and does not find it fails, with one line
//! naming the program and `make setup`: it never passes by skipping, since a
//! skipped check of a signal looks exactly like a passed one.
//! `.ci/install-deps` (what `make setup`, `make demo`, `make test` and CI run
//! first) looks in the same places, and a test keeps the two lists equal.

use std::path::PathBuf;

/// A program a test starts, from a Debian package.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// The command, looked up on `PATH`.
    pub name: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
    /// A variable that, when set, names the binary to use instead.
    pub override_variable: Option<&'static str>,
}

/// Scrapes the services in every dashboard test.
pub const PROMETHEUS: Program = Program {
    name: "prometheus",
    package: "prometheus",
    override_variable: Some("PROMETHEUS_BIN"),
};

/// The browser of the web-page tests (stages 2 to 6).
pub const CHROMIUM: Program = Program {
    name: "chromium",
    package: "chromium",
    override_variable: None,
};

/// Drives [`CHROMIUM`] over WebDriver.
pub const CHROMEDRIVER: Program = Program {
    name: "chromedriver",
    package: "chromium-driver",
    override_variable: None,
};

/// Stage 5's database metrics, in its dashboard test.
pub const POSTGRES_EXPORTER: Program = Program {
    name: "prometheus-postgres-exporter",
    package: "prometheus-postgres-exporter",
    override_variable: None,
};

/// Every program above, which `.ci/install-deps` must install when missing.
pub const PROGRAMS: [Program; 4] = [PROMETHEUS, CHROMIUM, CHROMEDRIVER, POSTGRES_EXPORTER];

/// A program that is not where the tests look for it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{program} is not installed (Debian package `{package}`): run `make setup`")]
pub struct Missing {
    pub program: String,
    pub package: &'static str,
}

impl Program {
    /// The binary: the override variable's path when set, else the command
    /// on `PATH`.
    pub fn find(&self) -> Result<PathBuf, Missing> {
        let missing = || Missing {
            program: self.name.to_owned(),
            package: self.package,
        };
        match self.override_variable.and_then(std::env::var_os) {
            Some(path) => {
                let path = PathBuf::from(path);
                path.is_file().then_some(path).ok_or_else(missing)
            }
            None => which::which(self.name).map_err(|_| missing()),
        }
    }

    /// The binary, or a panic whose message is the one line saying what to
    /// install: for tests.
    pub fn require(&self) -> PathBuf {
        self.find().unwrap_or_else(|missing| panic!("{missing}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_its_package_and_make_setup() {
        let program = Program {
            name: "no-such-program-anywhere",
            package: "no-such-package",
            override_variable: None,
        };
        let message = program.find().unwrap_err().to_string();
        assert_eq!(
            message,
            "no-such-program-anywhere is not installed (Debian package `no-such-package`): run `make setup`"
        );
    }

    #[test]
    fn a_program_on_the_path_is_found() {
        let sh = Program {
            name: "sh",
            package: "dash",
            override_variable: None,
        };
        assert!(sh.find().unwrap().is_absolute());
    }
}
