//! The usage_stats table.

use database::{Database, QueryError, Statement};

use crate::events::{UsageEvent, as_rows};

/// One statement for the whole batch: it is stored entirely or not at all,
/// and a line stored before (same key) is skipped, not duplicated.
const INSERT: Statement = Statement {
    query_type: "insert",
    operation: "INSERT",
    collection: "usage_stats",
    text: "INSERT INTO usage_stats \
               (event_key, event_type, user_name, session_key, service, trace_id, occurred_at, event) \
           SELECT row->>'key', row->'event'->>'event', row->'event'->>'user', \
                  row->'event'->>'session', row->'event'->>'service', \
                  row->'event'->>'trace_id', (row->'event'->>'timestamp')::timestamptz, \
                  row->'event' \
           FROM jsonb_array_elements($1::jsonb) AS row \
           ON CONFLICT (event_key) DO NOTHING",
};

/// Stores `events`; returns how many were new (the rest were duplicates).
pub async fn store(db: &Database, events: &[UsageEvent]) -> Result<u64, QueryError> {
    if events.is_empty() {
        return Ok(0);
    }
    let rows = sqlx::types::Json(as_rows(events));
    let result = db
        .run(&INSERT, |pool| {
            sqlx::query(INSERT.text).bind(rows).execute(pool)
        })
        .await?;
    Ok(result.rows_affected())
}
