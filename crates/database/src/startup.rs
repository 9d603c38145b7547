use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::{error, info};

use crate::Database;

/// The backoff between attempts: doubling from the first to the last.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const LAST_BACKOFF: Duration = Duration::from_secs(30);

/// Whether a service's database setup has succeeded yet; shared with the
/// task that runs it.
#[derive(Clone, Default)]
pub struct Prepared(Arc<AtomicBool>);

impl Prepared {
    pub fn is_done(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Runs `prepare` (migrations, seeding: whatever must happen once before the
/// database is usable) in a background task until it succeeds. Each failure
/// is logged at ERROR with its cause and retried after a backoff that doubles
/// from 0.5 s to 30 s, so a service that starts before its database keeps
/// trying instead of exiting, and says why it is not ready yet.
pub fn prepare_in_background<F, Fut, E>(database: Database, mut prepare: F) -> Prepared
where
    F: FnMut(Database) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let prepared = Prepared::default();
    let done = prepared.clone();
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1u32.. {
            match prepare(database.clone()).await {
                Ok(()) => {
                    info!(attempt, "database ready");
                    done.0.store(true, Ordering::Release);
                    return;
                }
                Err(failure) => {
                    error!(
                        attempt,
                        retry_in = ?backoff,
                        error = &failure as &dyn std::error::Error,
                        "database not ready, retrying"
                    );
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(LAST_BACKOFF);
        }
    });
    prepared
}
