//! The usage_stats table.

use database::{Database, QueryError, Statement};
use tracing::warn;

use crate::events::{UsageEvent, as_rows};

/// One statement for the whole batch: it is stored entirely or not at all,
/// and a line stored before (same key) is skipped, not duplicated.
///
/// Rows go in in key order (the batch is sorted, and `ORDER BY n` keeps the
/// array's order). Each insert locks its key in the unique index; two
/// batches holding the same events in different orders would each wait for
/// a key the other holds, and PostgreSQL would kill one as a deadlock. In
/// one order, the second simply waits for the first.
const INSERT: Statement = Statement {
    query_type: "insert",
    operation: "INSERT",
    collection: "usage_stats",
    text: "INSERT INTO usage_stats \
               (event_key, event_type, user_name, session_key, service, trace_id, occurred_at, event) \
           SELECT row->>'key', row->'event'->>'event', row->'event'->>'user', \
                  row->'event'->>'session', row->'event'->>'service', \
                  row->'event'->>'trace_id', (row->>'occurred_at')::timestamptz, \
                  row->'event' \
           FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS rows(row, n) \
           ORDER BY n \
           ON CONFLICT (event_key) DO NOTHING",
};

/// What became of a batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// New rows.
    pub stored: u64,
    /// Events stored before (a retried batch), or twice in this one.
    pub duplicates: u64,
    /// Events the database refused on their own: never retried.
    pub unstorable: u64,
}

/// Stores `events`. A data error PostgreSQL raises for the batch (a value
/// the checks in `events` did not foresee) is narrowed down by storing the
/// events one by one, so that only the guilty ones are set aside; anything
/// else (the database is down) fails the batch, for the sender to retry.
pub async fn store(db: &Database, mut events: Vec<UsageEvent>) -> Result<Stored, QueryError> {
    let received = events.len() as u64;
    events.sort_by(|a, b| a.key.cmp(&b.key));
    events.dedup_by(|a, b| a.key == b.key);
    if events.is_empty() {
        return Ok(Stored::default());
    }
    let stored = match insert(db, &events).await {
        Ok(stored) => stored,
        Err(error) if is_data_error(&error) => {
            return store_one_by_one(db, &events, received).await;
        }
        Err(error) => return Err(error),
    };
    Ok(Stored {
        stored,
        duplicates: received - stored,
        unstorable: 0,
    })
}

async fn store_one_by_one(
    db: &Database,
    events: &[UsageEvent],
    received: u64,
) -> Result<Stored, QueryError> {
    let mut result = Stored::default();
    for event in events {
        match insert(db, std::slice::from_ref(event)).await {
            Ok(stored) => result.stored += stored,
            Err(error) if is_data_error(&error) => {
                // The key identifies the line without repeating it.
                warn!(event_key = %event.key, "usage event refused by the database, set aside");
                result.unstorable += 1;
            }
            Err(error) => return Err(error),
        }
    }
    result.duplicates = received - result.stored - result.unstorable;
    Ok(result)
}

async fn insert(db: &Database, events: &[UsageEvent]) -> Result<u64, QueryError> {
    let rows = sqlx::types::Json(as_rows(events));
    let result = db
        .run(&INSERT, |pool| {
            sqlx::query(INSERT.text).bind(rows).execute(pool)
        })
        .await?;
    Ok(result.rows_affected())
}

/// Whether PostgreSQL refused the data itself: SQLSTATE class 22 (data
/// exception: an unsupported character, a bad time) or 54 (program limit
/// exceeded: an index row too large). Retrying the same data cannot help.
fn is_data_error(error: &QueryError) -> bool {
    let QueryError::Failed(sqlx::Error::Database(error)) = error else {
        return false;
    };
    error
        .code()
        .is_some_and(|code| code.starts_with("22") || code.starts_with("54"))
}
