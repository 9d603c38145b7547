//! The run's own PostgreSQL, from stage 5 on: one throwaway cluster (Debian's
//! `postgresql` binaries, `initdb` into a temporary directory, a free port)
//! holding every database the stage's services name. The run may stop and
//! start it (the outage drill) and removes it at the end; the machine's own
//! PostgreSQL, if any, is never touched.
//!
//! `pg_ctl`, `createdb` and `psql` are blocking commands, so each runs on
//! the blocking pool, never on the runtime's worker threads.

use std::sync::Arc;

use stages::Stage;
use testkit::{PostgresCluster, PostgresError};
use traffic_gen::DatabaseSwitch;

/// The cluster of one run. Dropping the last handle stops the server and
/// removes its directory.
#[derive(Clone)]
pub struct RunDatabase {
    cluster: Arc<PostgresCluster>,
}

impl RunDatabase {
    /// Starts a cluster with every database `stage` names, or `None` when it
    /// names none (stages 1 to 4).
    pub async fn for_stage(stage: &Stage) -> Result<Option<Self>, PostgresError> {
        let names = stage.databases();
        let Some((first, others)) = names.split_first() else {
            return Ok(None);
        };
        let (first, others) = (*first, others.to_vec());
        let cluster = blocking(move || {
            let cluster = PostgresCluster::try_start(first)?;
            for name in others {
                cluster.try_create_database(name)?;
            }
            Ok(cluster)
        })
        .await?;
        Ok(Some(Self {
            cluster: Arc::new(cluster),
        }))
    }

    /// The URL a service connects to `database` with.
    pub fn url(&self, database: &str) -> String {
        self.cluster.url(database)
    }

    /// `SELECT count(*)` of `table` in `database`.
    pub async fn count_rows(&self, database: &str, table: &str) -> Result<u64, String> {
        let cluster = self.cluster.clone();
        let (database, sql) = (database.to_owned(), format!("SELECT count(*) FROM {table}"));
        let output = blocking(move || cluster.try_psql(&database, &sql))
            .await
            .map_err(|error| error_chain(&error))?;
        output
            .trim()
            .parse()
            .map_err(|_| format!("psql answered {output:?}, not a count"))
    }

    /// What the outage drill stops and starts.
    pub fn switch(&self) -> ClusterSwitch {
        ClusterSwitch {
            cluster: self.cluster.clone(),
        }
    }
}

/// Stops and starts the run's cluster for [`traffic_gen::outage_drill`]:
/// `pg_ctl stop -m fast` ends every session, as a crashed or restarted
/// database server would.
pub struct ClusterSwitch {
    cluster: Arc<PostgresCluster>,
}

impl DatabaseSwitch for ClusterSwitch {
    async fn stop(&mut self) -> Result<(), String> {
        let cluster = self.cluster.clone();
        blocking(move || cluster.try_stop())
            .await
            .map_err(|error| error_chain(&error))
    }

    async fn start(&mut self) -> Result<(), String> {
        let cluster = self.cluster.clone();
        blocking(move || cluster.try_start_again())
            .await
            .map_err(|error| error_chain(&error))
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PostgresError> + Send + 'static,
) -> Result<T, PostgresError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
