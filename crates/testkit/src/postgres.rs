//! A throwaway PostgreSQL cluster (Debian's `postgresql` binaries), so a test
//! or a demo can stop and start its database without touching anyone else's.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::free_port;
use crate::programs::POSTGRES_EXPORTER;

/// A cluster in a temporary directory, listening on 127.0.0.1 on a port of
/// its own, with trust authentication for the `postgres` user. Stopped and
/// deleted when dropped.
///
/// `initdb` refuses to run as root, so as root every PostgreSQL command runs
/// as the `postgres` user, on a directory that user owns (docs/pitfalls.md#throwaway-postgres).
///
/// Tests use the methods that panic with the server's log (`start`, `stop`,
/// ...); `make demo` uses their `try_` twins, which return a
/// [`PostgresError`] for it to print.
pub struct PostgresCluster {
    directory: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

/// Why a PostgreSQL command did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(
        "PostgreSQL's server (initdb) is not installed under /usr/lib/postgresql/<version>/bin or $PG_BIN (Debian package `postgresql`): run `make setup`"
    )]
    NotInstalled,
    #[error("cannot prepare the cluster's directory")]
    Directory(#[source] std::io::Error),
    #[error("cannot run {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} {args} failed: {output}\nserver log:\n{log}")]
    Failed {
        program: String,
        args: String,
        output: String,
        log: String,
    },
}

/// The newest `/usr/lib/postgresql/<version>/bin`, where Debian keeps the
/// server binaries (they are not on a fresh machine's PATH); `PG_BIN` overrides.
fn postgres_bin() -> Result<PathBuf, PostgresError> {
    if let Some(bin) = std::env::var_os("PG_BIN") {
        let bin = PathBuf::from(bin);
        if bin.join("initdb").is_file() {
            return Ok(bin);
        }
        return Err(PostgresError::NotInstalled);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or(PostgresError::NotInstalled)
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl PostgresCluster {
    /// Creates and starts a cluster with an empty database named `database`.
    pub fn start(database: &str) -> Self {
        Self::try_start(database).unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`start`](Self::start), returning what went wrong instead of panicking.
    pub fn try_start(database: &str) -> Result<Self, PostgresError> {
        let bin = postgres_bin()?;
        let directory = tempfile::tempdir().map_err(PostgresError::Directory)?;
        if running_as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(directory.path())
                .status()
                .map_err(PostgresError::Directory)?;
            if !status.success() {
                return Err(PostgresError::Directory(std::io::Error::other(
                    "chown to the postgres user failed: does the user exist?",
                )));
            }
        }
        let mut cluster = Self {
            directory,
            bin,
            port: free_port(),
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data_dir(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "--no-instructions",
            ],
        )?;
        // A port free a moment ago may be taken by now (see `free_port`):
        // before anyone has been told the port, another one will do.
        let mut attempts = 1;
        while let Err(error) = cluster.try_start_again() {
            let lost_the_port = matches!(&error, PostgresError::Failed { log, .. }
                if log.contains("Address already in use"));
            if !lost_the_port || attempts == 5 {
                return Err(error);
            }
            attempts += 1;
            cluster.port = free_port();
        }
        cluster.try_create_database(database)?;
        Ok(cluster)
    }

    /// Creates another empty database in the cluster.
    pub fn try_create_database(&self, database: &str) -> Result<(), PostgresError> {
        let port = self.port.to_string();
        self.run(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", database],
        )
        .map(drop)
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the server (again, after a stop), waiting until it accepts
    /// connections.
    pub fn start_again(&self) {
        self.try_start_again()
            .unwrap_or_else(|error| panic!("{error}"));
    }

    pub fn try_start_again(&self) -> Result<(), PostgresError> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.directory.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-o",
                &options,
                "-l",
                &self.log_path(),
                "-w",
                "start",
            ],
        )
        .map(drop)
    }

    /// A clean shutdown (`pg_ctl stop -m fast`): sessions are ended, the
    /// server writes a checkpoint and stops; connections are refused after.
    pub fn stop(&self) {
        self.try_stop().unwrap_or_else(|error| panic!("{error}"));
    }

    pub fn try_stop(&self) -> Result<(), PostgresError> {
        self.run(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "fast", "-w", "stop"],
        )
        .map(drop)
    }

    /// Runs `sql` with `psql` against `database` and returns its output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        self.try_psql(database, sql)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    pub fn try_psql(&self, database: &str, sql: &str) -> Result<String, PostgresError> {
        let output = self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
        )?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn data_dir(&self) -> String {
        self.directory.path().join("data").display().to_string()
    }

    fn log_path(&self) -> String {
        self.directory
            .path()
            .join("server.log")
            .display()
            .to_string()
    }

    /// Runs a PostgreSQL binary (as `postgres` when we are root); a failure
    /// carries its output and the server's log.
    fn run(&self, program: &str, args: &[&str]) -> Result<Output, PostgresError> {
        let binary = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&binary);
            command
        } else {
            Command::new(&binary)
        };
        let output = command
            .args(args)
            .current_dir(self.directory.path())
            .output()
            .map_err(|source| PostgresError::Spawn {
                program: binary.clone(),
                source,
            })?;
        if !output.status.success() {
            return Err(PostgresError::Failed {
                program: program.to_owned(),
                args: format!("{args:?}"),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
                log: self.log(),
            });
        }
        Ok(output)
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        // Immediate: nothing in a throwaway cluster is worth a checkpoint.
        let data_dir = self.data_dir();
        let binary = self.bin.join("pg_ctl");
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&binary);
            command
        } else {
            Command::new(&binary)
        };
        let _ = command
            .args(["-D", &data_dir, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// Debian's `prometheus-postgres-exporter` watching a cluster, on a free
/// loopback port; killed when dropped.
pub struct PostgresExporter {
    child: std::process::Child,
    address: String,
}

impl PostgresExporter {
    /// Starts the exporter against `database` of `cluster`. Panics with the
    /// one line saying what to install if the binary is missing.
    pub fn start(cluster: &PostgresCluster, database: &str) -> Self {
        let binary = POSTGRES_EXPORTER.require();
        let address = format!("127.0.0.1:{}", free_port());
        let child = Command::new(binary)
            .arg(format!("--web.listen-address={address}"))
            .env(
                "DATA_SOURCE_NAME",
                format!("{}?sslmode=disable", cluster.url(database)),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start prometheus-postgres-exporter");
        Self { child, address }
    }

    /// `host:port` serving `/metrics`.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for PostgresExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
