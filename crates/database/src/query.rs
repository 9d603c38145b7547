use std::future::Future;
use std::time::Instant;

use sqlx::PgPool;
use tracing::field::Empty;
use tracing::{Instrument, error, info_span, warn};

use crate::Database;

/// A statement a service runs, described once for its span and metrics.
///
/// ```
/// const GET_DIE: database::Statement = database::Statement {
///     query_type: "get",
///     operation: "SELECT",
///     collection: "die_specifications",
///     text: "SELECT faces, error_rate FROM die_specifications WHERE identifier = $1",
/// };
/// assert_eq!(GET_DIE.span_name(), "SELECT die_specifications");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Statement {
    /// The `query_type` label: one of a few names fixed in code.
    pub query_type: &'static str,
    /// `db.operation.name`: `SELECT`, `INSERT`, ...
    pub operation: &'static str,
    /// `db.collection.name`: the table.
    pub collection: &'static str,
    /// The SQL with `$1`-style placeholders. It becomes `db.query.text`, so
    /// values (what a user asked for) never appear in a span.
    pub text: &'static str,
}

impl Statement {
    /// `<operation> <collection>`, the span name the semantic conventions
    /// give a query.
    pub fn span_name(&self) -> String {
        format!("{} {}", self.operation, self.collection)
    }
}

/// Why a query gave no result.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The database is down, unreachable, shutting down, or too slow to
    /// answer within the timeouts: a 503 for the client, try again later.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Every connection is busy and none freed up within the acquire
    /// timeout: also a 503.
    #[error("every database connection is busy")]
    PoolExhausted,
    /// The query itself failed (a bug, or data it did not expect).
    #[error("the query failed")]
    Failed(#[source] sqlx::Error),
}

impl QueryError {
    /// Whether waiting and retrying could help: the client gets a 503.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::PoolExhausted)
    }

    /// The `error.type` span attribute.
    fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable(sqlx::Error::PoolTimedOut) => "pool_timeout",
            Self::Unavailable(_) => "unavailable",
            Self::PoolExhausted => "pool_exhausted",
            Self::Failed(_) => "query_failed",
        }
    }
}

/// SQLSTATE classes and codes that mean "the database cannot serve now"
/// rather than "this query is wrong": connection exceptions (08), operator
/// intervention (57: shutdown, statement timeout), insufficient resources (53).
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57") || code.starts_with("53")
}

impl Database {
    /// Runs `query` against the pool as `statement`: inside a CLIENT span
    /// (`SELECT die_specifications`, child of the current span), counted and
    /// timed by `statement.query_type`, its failure classified and logged
    /// once, in the query's span.
    ///
    /// ```no_run
    /// # async fn example(db: database::Database) -> Result<(), database::QueryError> {
    /// const LIST: database::Statement = database::Statement {
    ///     query_type: "list",
    ///     operation: "SELECT",
    ///     collection: "die_specifications",
    ///     text: "SELECT identifier FROM die_specifications ORDER BY identifier",
    /// };
    /// let identifiers: Vec<String> = db
    ///     .run(&LIST, |pool| sqlx::query_scalar(LIST.text).fetch_all(pool))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn run<'a, T, Fut>(
        &'a self,
        statement: &Statement,
        query: impl FnOnce(&'a PgPool) -> Fut,
    ) -> Result<T, QueryError>
    where
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let target = &self.target;
        // Stage 5: sqlx makes no spans of its own (docs/pitfalls.md#query-spans). This one is a
        // CLIENT span, like an HTTP call's: to Tempo the database is a peer,
        // and `db.system.name` puts it in the service graph.
        let span = info_span!(
            "database query",
            otel.name = statement.span_name(),
            otel.kind = "client",
            db.system.name = "postgresql",
            db.namespace = target.namespace.as_str(),
            db.operation.name = statement.operation,
            db.collection.name = statement.collection,
            db.query.text = statement.text,
            server.address = target.address.as_str(),
            server.port = i64::from(target.port),
            // The older names, which the original workshop's queries and Tempo's
            // service-graph `peer_attributes` (db.name, db.system) still use.
            db.system = "postgresql",
            db.name = target.namespace.as_str(),
            db.statement = statement.text,
            db.user = target.user.as_str(),
            db.response.status_code = Empty,
            otel.status_code = Empty,
            error.type = Empty,
        );
        let start = Instant::now();
        let result = query(&self.pool).instrument(span.clone()).await;
        let result = result.map_err(|error| self.classify(error, &span));
        self.metrics.record(
            statement.query_type,
            result.is_ok(),
            start.elapsed().as_secs_f64(),
        );
        if let Err(failure) = &result {
            span.record("otel.status_code", "error");
            span.record("error.type", failure.kind());
            span.in_scope(|| match failure {
                QueryError::PoolExhausted => warn!(
                    query_type = statement.query_type,
                    max_connections = self.max_connections,
                    "database pool exhausted"
                ),
                _ => error!(
                    query_type = statement.query_type,
                    error = failure as &dyn std::error::Error,
                    "database query failed"
                ),
            });
        }
        result
    }

    fn classify(&self, error: sqlx::Error, span: &tracing::Span) -> QueryError {
        match error {
            // A timeout with every connection open and none idle is the pool
            // being too small for the load; otherwise the database did not
            // let us connect in time.
            sqlx::Error::PoolTimedOut
                if self.pool.size() >= self.max_connections && self.pool.num_idle() == 0 =>
            {
                QueryError::PoolExhausted
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => QueryError::Unavailable(error),
            sqlx::Error::Database(ref database_error) => {
                let code = database_error.code().map(|code| code.into_owned());
                if let Some(code) = &code {
                    span.record("db.response.status_code", code.as_str());
                }
                if code.as_deref().is_some_and(unavailable_code) {
                    QueryError::Unavailable(error)
                } else {
                    QueryError::Failed(error)
                }
            }
            other => QueryError::Failed(other),
        }
    }
}
