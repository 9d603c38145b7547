//! The die specifications table: every statement the service runs.

use database::{Database, QueryError, Statement};
use tracing::{Instrument, info, info_span};

use crate::specs::{DieSpec, Specs};

const LIST: Statement = Statement {
    query_type: "list",
    operation: "SELECT",
    collection: "die_specifications",
    text: "SELECT identifier FROM die_specifications ORDER BY identifier",
};

const GET: Statement = Statement {
    query_type: "get",
    operation: "SELECT",
    collection: "die_specifications",
    text: "SELECT faces, error_rate FROM die_specifications WHERE identifier = $1",
};

/// Inserts a die only if the seed file never inserted it before (see the
/// migration): one statement, so two instances seeding at once cannot both
/// insert it.
const SEED: Statement = Statement {
    query_type: "seed",
    operation: "INSERT",
    collection: "die_specifications",
    text: "WITH first_time AS ( \
               INSERT INTO die_specification_seeds (identifier) VALUES ($1) \
               ON CONFLICT (identifier) DO NOTHING RETURNING identifier) \
           INSERT INTO die_specifications (identifier, faces, error_rate) \
           SELECT identifier, $2, $3 FROM first_time \
           ON CONFLICT (identifier) DO NOTHING",
};

/// The identifiers of every die, sorted.
pub async fn identifiers(db: &Database) -> Result<Vec<String>, QueryError> {
    db.run(&LIST, |pool| sqlx::query_scalar(LIST.text).fetch_all(pool))
        .await
}

/// The specification of `identifier`, if there is such a die.
pub async fn spec(db: &Database, identifier: &str) -> Result<Option<DieSpec>, QueryError> {
    let row: Option<(Vec<i32>, f64)> = db
        .run(&GET, |pool| {
            // The identifier travels as a bound parameter ($1): it is never
            // part of the SQL text, nor of the span's db.query.text.
            sqlx::query_as(GET.text)
                .bind(identifier)
                .fetch_optional(pool)
        })
        .await?;
    Ok(row.map(|(faces, error_rate)| DieSpec {
        faces: faces.into_iter().map(i64::from).collect(),
        error_rate,
    }))
}

/// Inserts each die of `specs` that was never seeded before; returns how many
/// were inserted. Running it twice inserts nothing the second time. One span
/// holds the whole seeding, so its INSERTs are one trace.
pub async fn seed(db: &Database, specs: &Specs) -> Result<u64, QueryError> {
    seed_each(db, specs)
        .instrument(info_span!("seed_die_specifications", dice = specs.len()))
        .await
}

async fn seed_each(db: &Database, specs: &Specs) -> Result<u64, QueryError> {
    let mut inserted = 0;
    for (identifier, spec) in specs.iter() {
        let faces: Vec<i32> = spec.faces.iter().map(|&face| face as i32).collect();
        let result = db
            .run(&SEED, |pool| {
                sqlx::query(SEED.text)
                    .bind(identifier)
                    .bind(faces)
                    .bind(spec.error_rate)
                    .execute(pool)
            })
            .await?;
        inserted += result.rows_affected();
    }
    info!(inserted, in_file = specs.len(), "seeded die specifications");
    Ok(inserted)
}
