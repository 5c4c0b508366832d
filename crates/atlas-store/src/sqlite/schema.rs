//! The on-disk layout of the SQLite store: connection settings, the numbered migrations and the
//! record format version. Every change to what is written to disk happens here, append-only, so
//! a database written by any released version keeps opening.

use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::{StoreError, StoreResult};

/// Migration `n` (1-based) is `MIGRATIONS[n - 1]`; `meta.schema_version` says how many ran.
/// Append only: never edit a released migration (a test opens a fixture written by v1).
const MIGRATIONS: &[&str] = &[V1, V2];

/// v1: documents with a store-wide sequence, unique claims, and the meta table.
/// - `seq` is the rowid with AUTOINCREMENT, so it is never reused, even after deleting the
///   newest row (plain rowids would be).
/// - `docs_by_collection (collection, seq)` serves `list` in creation order and the range
///   scans of `delete_tree`/`collections_under`; `UNIQUE (collection, key)` serves `get`.
/// - `uniques` is keyed by `(scope, value)`: that primary key *is* the uniqueness constraint;
///   `uniques_by_owner` serves releasing the claims of a deleted document.
const V1: &str = "
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    format INTEGER NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (collection, key)
);
CREATE INDEX docs_by_collection ON docs (collection, seq);
CREATE TABLE uniques (
    scope TEXT NOT NULL,
    value TEXT NOT NULL,
    owner TEXT NOT NULL,
    PRIMARY KEY (scope, value)
) WITHOUT ROWID;
CREATE INDEX uniques_by_owner ON uniques (owner, scope);
";

/// v2: the number of documents per collection, kept by triggers in the writing transaction, so
/// a list's `totalCount` is one lookup instead of a scan of the whole collection (100,000 access
/// list entries took milliseconds to count on every page). Filled from `docs` when migrating.
const V2: &str = "
CREATE TABLE counts (
    collection TEXT PRIMARY KEY NOT NULL,
    n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counts (collection, n) SELECT collection, COUNT(*) FROM docs GROUP BY collection;
CREATE TRIGGER docs_counted_in AFTER INSERT ON docs BEGIN
    INSERT INTO counts (collection, n) VALUES (new.collection, 1)
    ON CONFLICT (collection) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER docs_counted_out AFTER DELETE ON docs BEGIN
    UPDATE counts SET n = n - 1 WHERE collection = old.collection;
END;
";

/// The schema version this build writes (and the newest it can open).
fn current_schema_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// How long a statement waits for another connection's lock (another process writing, or a
/// checkpoint) before failing with `Unavailable`. Write transactions are short, so waiting
/// seconds means something is wrong.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Enough room for every statement of `tx.rs` and the transaction statements of `run`, so
/// `prepare_cached` never evicts.
const STATEMENT_CACHE: usize = 40;

/// Settings of the connection that writes (and, for `memory`, also reads).
///
/// - `journal_mode=WAL`: readers see a snapshot and never block the writer or each other; the
///   writer appends to the `-wal` file. Persistent in the database file.
/// - `synchronous=NORMAL`: in WAL mode a commit is a `write()` of its frames to the WAL file
///   before `COMMIT` returns, without `fsync`; the frames are in the OS page cache, which a
///   process crash (`kill -9`, panic, abort) does not lose, so every acknowledged commit
///   survives the process. Only a power loss or kernel crash can drop the last commits, and
///   even then the database stays consistent (the WAL is fsynced at checkpoints). `FULL`
///   would add an fsync per commit for protection against power loss we do not promise.
/// - `busy_timeout`: several processes may share the file (see [`BUSY_TIMEOUT`]).
pub(crate) fn configure_writer(conn: &Connection, file: bool) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    stable_plans(conn)?;
    if file {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "cannot enable WAL journaling (got {mode:?}); is the file on a network share?"
            )));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    Ok(())
}

/// Settings of a read-only pool connection (opened with `SQLITE_OPEN_READ_ONLY`).
pub(crate) fn configure_reader(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    stable_plans(conn)
}

/// The query planner stability guarantee: a cached statement keeps its plan whatever is bound.
/// Without it SQLite lets the planner look at some bindings (`LIMIT ?`, and with STAT4, which
/// the bundled build enables, range and equality values) and then expires the statement on
/// every later bind of them, even to the same value: each list parsed and planned its SQL again,
/// a third of the instructions of `GET /orgs` (measured with `atlas-callgrind`). Every
/// statement here is a keyed lookup or scan whose plan does not depend on the values.
fn stable_plans(conn: &Connection) -> StoreResult<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Brings the database to [`current_schema_version`] in one immediate (write-locked)
/// transaction, so two processes opening a new file at once migrate it exactly once. Refuses a
/// database written by a newer version, and a non-empty SQLite file that is not ours.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = schema_version(&tx)?;
    let current = current_schema_version();
    if found > current {
        return Err(crate::schema_error(format!(
            "the database has schema version {found}, newer than the {current} this localatlas \
             supports; use a newer localatlas or another database file"
        )));
    }
    for (done, sql) in MIGRATIONS.iter().enumerate() {
        let version = i64::try_from(done + 1).unwrap_or(i64::MAX);
        if version <= found {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [version.to_string()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The stored schema version; 0 for an empty database.
fn schema_version(conn: &Connection) -> StoreResult<i64> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        let tables: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Err(crate::schema_error(
                "the file holds tables but no localatlas meta table; not a localatlas database"
                    .into(),
            ));
        }
        return Ok(0);
    }
    let value = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| {
                Ok(match r.get_ref(0)? {
                    ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(|t| t.parse().ok()),
                    ValueRef::Integer(i) => Some(i),
                    _ => None,
                })
            },
        )
        .optional()?;
    match value {
        Some(Some(version)) if version >= 1 => Ok(version),
        Some(_) => Err(crate::schema_error(
            "schema_version is not a positive integer".into(),
        )),
        None => Err(crate::schema_error(
            "the meta table has no schema_version".into(),
        )),
    }
}
