//! The embedded SQLite implementation of [`Store`]: connections, transactions and their
//! recovery. The schema lives in `sqlite/schema.rs`, the SQL of each operation in
//! `sqlite/tx.rs`.
//!
//! A file store has one writer connection behind a mutex (SQLite allows one writer at a time
//! anyway; the mutex makes writers of this process queue without busy-polling) and a pool of
//! read-only connections, so `Access::Read` transactions run in parallel with each other and
//! with the writer (WAL snapshots). Several processes may open the same file: write
//! transactions start with `BEGIN IMMEDIATE` and wait on the file lock (`busy_timeout`).
//!
//! The memory store (`--store memory`) is one private in-memory connection used for both reads
//! and writes: nothing touches the disk and every operation runs the same SQL as a file store.
//! (A shared-cache in-memory database would allow several connections, but it uses table
//! locks that fail readers with `SQLITE_LOCKED` instead of giving them a snapshot.)

mod cache;
mod schema;
#[cfg(test)]
mod tests;
mod tx;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::{Access, Store, StoreError, StoreResult, Tx};

use cache::{DocCache, TxCache};

/// Idle read connections kept open; more are opened on demand under load and closed after.
const IDLE_READERS: usize = 4;

impl From<rusqlite::Error> for StoreError {
    /// Only key conflicts are `Duplicate`; the operations of `tx.rs` avoid even those with
    /// `ON CONFLICT DO NOTHING`, so this is a safety net. Everything else is `Unavailable`.
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(code, _) = &e
            && matches!(
                code.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            )
        {
            return StoreError::Duplicate(e.to_string());
        }
        StoreError::Unavailable(e.to_string())
    }
}

/// A [`Store`] in a SQLite database file, or in memory.
pub struct SqliteStore {
    /// `None` for the memory store: reads use the writer connection. Declared before `writer`
    /// so it is dropped first and the read-write connection closes last, checkpointing the WAL
    /// into the main file (a clean shutdown leaves no `-wal` file behind).
    readers: Option<ReaderPool>,
    writer: Mutex<Conn>,
    description: String,
    /// Recently read documents (`sqlite/cache.rs`).
    cache: DocCache,
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Conn>>,
}

/// A connection and the `PRAGMA data_version` its previous transaction saw (`None`: never
/// looked, or not watched because no other connection can write: the memory store).
struct Conn {
    conn: Connection,
    data_version: Option<i64>,
    /// Whether other connections may commit to this database (every file store).
    watched: bool,
}

impl Conn {
    fn new(conn: Connection, watched: bool) -> Conn {
        Conn {
            conn,
            data_version: None,
            watched,
        }
    }
}

impl SqliteStore {
    /// Opens (creating it and its parent directories if needed) the database at `path`,
    /// migrating it to the current schema.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("creating {}: {e}", parent.display()))
            })?;
        }
        // No SQLITE_OPEN_URI: a path is always a path, even one starting with `file:`.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut writer = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::Unavailable(format!("opening {}: {e}", path.display())))?;
        schema::configure_writer(&writer, true)?;
        schema::migrate(&mut writer)?;
        let store = SqliteStore {
            writer: Mutex::new(Conn::new(writer, true)),
            readers: Some(ReaderPool {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
            description: format!("sqlite:{}", path.display()),
            cache: DocCache::default(),
        };
        // Fail now rather than on the first read if read connections cannot be opened.
        if let Some(pool) = &store.readers {
            let conn = pool.take()?;
            pool.give_back(conn);
        }
        Ok(store)
    }

    /// A private in-memory database, gone when the store is dropped.
    pub fn memory() -> StoreResult<Self> {
        let mut conn = Connection::open_in_memory()?;
        schema::configure_writer(&conn, false)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteStore {
            writer: Mutex::new(Conn::new(conn, false)),
            readers: None,
            description: "memory".into(),
            cache: DocCache::default(),
        })
    }

    /// The writer connection, usable even after a panic in an earlier transaction: the mutex
    /// poison is cleared and any transaction the panic left open is rolled back (normally
    /// `rusqlite::Transaction`'s drop already did so during unwinding).
    fn writer(&self) -> MutexGuard<'_, Conn> {
        let conn = self.writer.lock().unwrap_or_else(|poisoned| {
            self.writer.clear_poison();
            poisoned.into_inner()
        });
        if !conn.conn.is_autocommit() {
            // If even this fails, BEGIN reports the connection state as an error next.
            let _ = conn.conn.execute_batch("ROLLBACK");
        }
        conn
    }
}

impl ReaderPool {
    fn take(&self) -> StoreResult<Conn> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(conn) = idle {
            return Ok(conn);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| {
            StoreError::Unavailable(format!("opening {} to read: {e}", self.path.display()))
        })?;
        schema::configure_reader(&conn)?;
        Ok(Conn::new(conn, true))
    }

    /// Keeps a connection for the next reader, unless it is still inside a transaction (a
    /// failed rollback) or enough are idle; dropping it closes it.
    fn give_back(&self, conn: Conn) {
        if conn.conn.is_autocommit() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

/// Runs `work` in a transaction on `conn`. On `Err` the transaction is rolled back and the
/// error of `work` returned; on a panic the guard's drop rolls back.
///
/// `BEGIN`, `COMMIT` and `ROLLBACK` are cached prepared statements rather than
/// `rusqlite::Transaction`'s `execute_batch`, which parses its SQL again every time: with one
/// transaction per request that parsing was a measurable share of a GET (docs/performance.md).
///
/// The document cache (`sqlite/cache.rs`): the epoch is read before the snapshot begins, and a
/// watched connection's `PRAGMA data_version` (which begins the snapshot) is compared with the
/// one its previous transaction saw; a transaction that wrote moves the epoch before the
/// connection is released.
fn run(
    conn: &mut Conn,
    cache: &DocCache,
    behavior: TransactionBehavior,
    writable: bool,
    work: &mut dyn FnMut(&mut dyn Tx) -> StoreResult<()>,
) -> StoreResult<()> {
    let begin = match behavior {
        TransactionBehavior::Immediate => "BEGIN IMMEDIATE",
        _ => "BEGIN",
    };
    let epoch = cache.epoch();
    conn.conn.prepare_cached(begin)?.execute([])?;
    let mut open = Open {
        conn: &conn.conn,
        done: false,
    };
    let mut usable = true;
    if conn.watched {
        let version: i64 = open
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if conn.data_version != Some(version) {
            cache.bump();
            conn.data_version = Some(version);
            usable = false;
        }
    }
    let mut tx = tx::SqliteTx {
        conn: open.conn,
        writable,
        cache: TxCache {
            cache,
            epoch,
            usable,
        },
        dirty: false,
    };
    let outcome = work(&mut tx);
    let dirty = tx.dirty;
    let outcome = match outcome {
        Ok(()) => match open
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut c| c.execute([]))
        {
            Ok(_) => {
                open.done = true;
                Ok(())
            }
            Err(e) => Err(e.into()),
        },
        // A failed rollback cannot be reported better than the error of `work`; the
        // connection is checked before reuse (`writer`, `give_back`).
        Err(e) => Err(e),
    };
    if dirty {
        // Committed or not, nothing cached may outlive a write.
        cache.bump();
    }
    outcome
}

/// An open transaction, rolled back when dropped before its commit succeeded (an error of the
/// work, a failed `COMMIT`, or a panic unwinding through [`run`]).
struct Open<'c> {
    conn: &'c Connection,
    done: bool,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done && !self.conn.is_autocommit() {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut rollback| rollback.execute([]));
        }
    }
}

impl Store for SqliteStore {
    fn transaction(
        &self,
        access: Access,
        work: &mut dyn FnMut(&mut dyn Tx) -> StoreResult<()>,
    ) -> StoreResult<()> {
        match (access, &self.readers) {
            (Access::Read, Some(pool)) => {
                let mut conn = pool.take()?;
                let outcome = run(
                    &mut conn,
                    &self.cache,
                    TransactionBehavior::Deferred,
                    false,
                    work,
                );
                pool.give_back(conn);
                outcome
            }
            (Access::Read, None) => run(
                &mut self.writer(),
                &self.cache,
                TransactionBehavior::Deferred,
                false,
                work,
            ),
            // IMMEDIATE takes the write lock up front: a deferred transaction that reads first
            // could fail with SQLITE_BUSY when upgrading if another process wrote meanwhile,
            // which busy_timeout cannot fix.
            (Access::Write, _) => run(
                &mut self.writer(),
                &self.cache,
                TransactionBehavior::Immediate,
                true,
                work,
            ),
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
