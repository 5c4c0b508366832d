//! The layout of the PostgreSQL store: the numbered migrations of the `localatlas` schema. Every
//! change to what is written happens here, append-only, so a database written by any released
//! version keeps opening (a test replays the v1 layout by hand and opens it).

use postgres::Client;

use super::unavailable;
use crate::StoreResult;

/// The schema (namespace) holding every table, so localatlas can share a database with others.
pub(crate) const SCHEMA: &str = "localatlas";

/// Migration `n` (1-based) is `MIGRATIONS[n - 1]`; `meta.schema_version` says how many ran.
/// Append only: never edit a released migration.
const MIGRATIONS: &[&str] = &[V1];

/// v1: documents with a store-wide sequence, unique claims, and the meta table.
/// - Paths, keys, scopes, values and owners are `bytea`: compared bytewise whatever the
///   database's collation (the range scans of `delete_tree`/`collections_under` and bytewise
///   sorting rely on it), and a NUL character (a `%00` in a request path) is storable, which
///   `text` refuses.
/// - `seq` is an identity column: a sequence is never rolled back or reused, across every
///   instance, so lists stay in creation order.
/// - `doc` is the JSON text (record format 1, as in SQLite); `jsonb` would refuse `\u0000` in
///   strings.
/// - `uniques (scope, value)` is the primary key: that constraint *is* uniqueness, for every
///   instance sharing the database.
const V1: &str = "
CREATE TABLE localatlas.meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE localatlas.docs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection BYTEA NOT NULL,
    key BYTEA NOT NULL,
    format INTEGER NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (collection, key)
);
CREATE INDEX docs_by_collection ON localatlas.docs (collection, seq);
CREATE TABLE localatlas.uniques (
    scope BYTEA NOT NULL,
    value BYTEA NOT NULL,
    owner BYTEA NOT NULL,
    PRIMARY KEY (scope, value)
);
CREATE INDEX uniques_by_owner ON localatlas.uniques (owner, scope);
";

/// Any constant: the advisory lock that makes concurrent migrations (two instances starting on
/// a new database) run one after the other.
const MIGRATION_LOCK: i64 = 0x6c6f_6361_6c61_746c;

fn current_schema_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Brings the database to the current schema in one transaction under an advisory lock, so
/// several instances starting at once migrate it exactly once. Refuses a database written by a
/// newer version.
pub(crate) fn migrate(client: &mut Client) -> StoreResult<()> {
    let mut tx = client
        .transaction()
        .map_err(|e| unavailable("migration", &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| unavailable("migration lock", &e))?;
    let found = schema_version(&mut tx)?;
    let current = current_schema_version();
    if found > current {
        return Err(crate::schema_error(format!(
            "the database has schema version {found}, newer than the {current} this localatlas \
             supports; use a newer localatlas or another database"
        )));
    }
    if found == 0 {
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            .map_err(|e| unavailable("creating the schema", &e))?;
    }
    for (done, sql) in MIGRATIONS.iter().enumerate() {
        let version = i64::try_from(done + 1).unwrap_or(i64::MAX);
        if version <= found {
            continue;
        }
        tx.batch_execute(sql)
            .map_err(|e| unavailable(&format!("migration {version}"), &e))?;
        tx.execute(
            "INSERT INTO localatlas.meta (key, value) VALUES ('schema_version', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&version.to_string()],
        )
        .map_err(|e| unavailable("recording the schema version", &e))?;
    }
    tx.commit().map_err(|e| unavailable("migration commit", &e))
}

/// The stored schema version; 0 when the `localatlas` schema has no meta table yet.
fn schema_version(tx: &mut postgres::Transaction<'_>) -> StoreResult<i64> {
    let has_meta: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables \
             WHERE schemaname = $1 AND tablename = 'meta')",
            &[&SCHEMA],
        )
        .map_err(|e| unavailable("reading the catalog", &e))?
        .get(0);
    if !has_meta {
        return Ok(0);
    }
    let row = tx
        .query_opt(
            "SELECT value FROM localatlas.meta WHERE key = 'schema_version'",
            &[],
        )
        .map_err(|e| unavailable("reading the schema version", &e))?;
    match row.map(|r| r.get::<_, String>(0).parse::<i64>()) {
        Some(Ok(version)) if version >= 1 => Ok(version),
        Some(_) => Err(crate::schema_error(
            "schema_version is not a positive integer".into(),
        )),
        None => Err(crate::schema_error(
            "the meta table has no schema_version".into(),
        )),
    }
}
