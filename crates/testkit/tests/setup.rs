//! `.ci/install-deps`, the step `make setup`, `make demo`, `make test` and CI
//! run first: what it finds missing, what it installs, and what it says when
//! it may not install, decided on a `PATH` of stand-in programs.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testkit::programs::PROGRAMS;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A machine in miniature: a `PATH` of stand-in programs and a PostgreSQL
/// bin directory, each present or not as the test says.
struct Machine {
    bin: tempfile::TempDir,
    postgres_bin: tempfile::TempDir,
    /// Where the stand-in `apt-get` writes its arguments, one call a line.
    apt_log: PathBuf,
}

impl Machine {
    /// No program at all, and `id` saying root (uid 0) unless told otherwise.
    fn bare() -> Self {
        let machine = Self {
            bin: tempfile::tempdir().unwrap(),
            postgres_bin: tempfile::tempdir().unwrap(),
            apt_log: PathBuf::new(),
        };
        let apt_log = machine.bin.path().join("apt-get.log");
        let machine = Self { apt_log, ..machine };
        machine.program("id", "echo 0");
        machine.program(
            "apt-get",
            &format!("echo \"$*\" >> {}", machine.apt_log.display()),
        );
        // A Rust toolchain without cargo-nextest.
        machine.program(
            "cargo",
            "[ \"$1\" = nextest ] && exit 101; [ \"$1\" = install ] && exit 0; exit 0",
        );
        machine
    }

    /// Every program the tests need, PostgreSQL and cargo-nextest included.
    fn equipped() -> Self {
        let machine = Self::bare();
        for program in PROGRAMS {
            machine.program(program.name, "exit 0");
        }
        machine.postgres_program("initdb");
        machine.program("cargo", "exit 0");
        machine
    }

    fn program(&self, name: &str, body: &str) {
        write_script(&self.bin.path().join(name), body);
    }

    fn postgres_program(&self, name: &str) {
        write_script(&self.postgres_bin.path().join(name), "exit 0");
    }

    fn install_deps(&self, arguments: &[&str]) -> Output {
        Command::new("/bin/bash")
            .arg(repo_root().join(".ci/install-deps"))
            .args(arguments)
            .env_clear()
            .env("PATH", self.bin.path())
            .env("PG_BIN", self.postgres_bin.path())
            .output()
            .expect("run .ci/install-deps")
    }

    fn apt_calls(&self) -> String {
        std::fs::read_to_string(&self.apt_log).unwrap_or_default()
    }
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const EVERY_PACKAGE: &str =
    "prometheus chromium chromium-driver prometheus-postgres-exporter postgresql";

#[test]
fn the_script_installs_every_program_the_tests_start() {
    let script = std::fs::read_to_string(repo_root().join(".ci/install-deps")).unwrap();
    let in_script: BTreeSet<(String, String)> = script
        .lines()
        .filter_map(|line| line.trim().strip_prefix("need_program "))
        .map(|rest| {
            let mut words = rest.split_whitespace();
            let program = words.next().unwrap().to_owned();
            let package = words.next().unwrap().to_owned();
            (program, package)
        })
        .collect();
    let in_testkit: BTreeSet<(String, String)> = PROGRAMS
        .iter()
        .map(|program| (program.name.to_owned(), program.package.to_owned()))
        .collect();
    assert_eq!(in_script, in_testkit);
    assert!(script.contains("packages+=(postgresql)"));
}

#[test]
fn on_a_fresh_machine_it_says_what_it_would_install() {
    let machine = Machine::bare();
    let output = machine.install_deps(&["--dry-run"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        text(&output.stdout),
        format!(
            "missing Debian packages: {EVERY_PACKAGE}\n\
             would run: apt-get update && apt-get install -y --no-install-recommends {EVERY_PACKAGE}\n\
             would run: cargo install --locked cargo-nextest\n"
        )
    );
    assert_eq!(machine.apt_calls(), "", "a dry run installs nothing");
}

#[test]
fn as_root_it_installs_only_what_is_missing() {
    let machine = Machine::equipped();
    std::fs::remove_file(machine.bin.path().join("chromedriver")).unwrap();
    std::fs::remove_file(machine.postgres_bin.path().join("initdb")).unwrap();
    let output = machine.install_deps(&[]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        machine.apt_calls(),
        "update -qq\ninstall -y -qq --no-install-recommends chromium-driver postgresql\n"
    );
    assert_eq!(
        text(&output.stdout),
        "installing: chromium-driver postgresql\n"
    );
}

#[test]
fn without_root_or_sudo_it_stops_with_the_line_to_run() {
    let machine = Machine::equipped();
    machine.program("id", "echo 1000");
    std::fs::remove_file(machine.bin.path().join("prometheus")).unwrap();
    let output = machine.install_deps(&[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let said = text(&output.stderr);
    assert!(
        said.contains(
            "  apt-get update && apt-get install -y --no-install-recommends prometheus\n"
        ),
        "{said}"
    );
    assert!(said.contains("not root and no sudo"), "{said}");
    assert_eq!(machine.apt_calls(), "", "nothing may be half-installed");
}

#[test]
fn without_root_it_uses_sudo_when_there_is_one() {
    let machine = Machine::equipped();
    machine.program("id", "echo 1000");
    machine.program("sudo", "exec \"$@\"");
    std::fs::remove_file(machine.bin.path().join("chromium")).unwrap();
    let output = machine.install_deps(&[]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        machine
            .apt_calls()
            .contains("--no-install-recommends chromium\n")
    );
}

#[test]
fn when_everything_is_present_it_prints_nothing() {
    let machine = Machine::equipped();
    let output = machine.install_deps(&[]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(text(&output.stdout), "");
    assert_eq!(text(&output.stderr), "");
    assert_eq!(machine.apt_calls(), "");
}
