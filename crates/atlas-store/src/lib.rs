//! The durable state of localatlas.
//!
//! Everything Atlas would remember — organizations, projects, clusters, credentials, tokens — is a
//! JSON document in a *collection*, addressed by a concrete collection path (for example
//! `/groups/5f…/clusters`) and a key (an id or a name). Collections of the emulator itself start
//! with `__` (credentials, tokens, settings) so they can never collide with an Atlas path.
//!
//! The [`Store`] trait is deliberately narrow so a PostgreSQL implementation can follow without
//! changes above it: every read and write happens inside one transaction ([`Tx`]), uniqueness is
//! enforced by the database (primary keys and the `uniques` table), never by a lock in this
//! process. [`sqlite::SqliteStore`] is the embedded implementation (a file, or `memory`);
//! [`postgres::PostgresStore`] lets several localatlas instances share one PostgreSQL database.

pub mod postgres;
pub mod sqlite;
mod tx;

#[cfg(test)]
mod suite;

pub use tx::{Claim, Page, Record, Tx};

use serde_json::Value;

/// What can go wrong below the API.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A key or unique claim is already taken; the payload names the collection (`insert`)
    /// or the claim scope (`claim`).
    #[error("duplicate key in {0}")]
    Duplicate(String),
    /// The stored data cannot be read by this version (a newer format, or corruption). A
    /// database whose schema is newer than this build is refused at open time as
    /// `__meta/schema_version`.
    #[error("unreadable record {collection}/{key}: {reason}")]
    Corrupt {
        collection: String,
        key: String,
        reason: String,
    },
    /// The database failed (I/O, locked for too long, misuse such as a write in a read
    /// transaction); the payload says what happened.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Whether a transaction may write; read transactions can run in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A transactional document store. Object safe, so the server holds an `Arc<dyn Store>`.
pub trait Store: Send + Sync + 'static {
    /// Runs `work` in one transaction: committed if it returns `Ok`, rolled back otherwise
    /// (the error of `work` is returned unchanged). The commit is durable (it survives
    /// `kill -9` of the process) before this returns. A read transaction sees one consistent
    /// snapshot; write transactions are serializable (as if they ran one after another, also
    /// across processes sharing the database). A backend may roll back and run `work` again
    /// from the start when the database reports a serialization conflict, so `work` must keep
    /// no effects of an earlier run outside the transaction. A panic in `work` rolls back and
    /// propagates, and the store stays usable.
    fn transaction(
        &self,
        access: Access,
        work: &mut dyn FnMut(&mut dyn Tx) -> StoreResult<()>,
    ) -> StoreResult<()>;

    /// A short description for logs and the health endpoint (`sqlite:<path>`, `memory`,
    /// `postgres://host:port/db`, never a password).
    fn describe(&self) -> String;

    /// Whether transactions are quick local calls (an embedded database) that may run on an
    /// async worker; `false` for a database across the network, whose transactions the server
    /// runs on its blocking pool.
    fn embedded(&self) -> bool {
        true
    }

    /// Whether the database answers (the health endpoint): one small read transaction.
    fn check(&self) -> StoreResult<()> {
        self.transaction(Access::Read, &mut |tx| {
            tx.get("__meta", "health").map(|_| ())
        })
    }
}

impl dyn Store {
    /// Runs a read-only transaction returning a value. `f` may run more than once (a backend
    /// retries a transaction that lost a serialization conflict), so it must not have effects
    /// outside the transaction other than its result.
    pub fn read<R>(&self, f: impl FnMut(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        self.run(Access::Read, f)
    }

    /// Runs a write transaction returning a value (`f` may run more than once, as for `read`).
    pub fn write<R>(&self, f: impl FnMut(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        self.run(Access::Write, f)
    }

    fn run<R>(
        &self,
        access: Access,
        mut f: impl FnMut(&mut dyn Tx) -> StoreResult<R>,
    ) -> StoreResult<R> {
        let mut out = None;
        self.transaction(access, &mut |tx| {
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| StoreError::Unavailable("transaction produced nothing".into()))
    }
}

/// The refusal of a database whose layout this build cannot use (a newer schema, a foreign
/// database), reported as the unreadable `__meta/schema_version`.
pub(crate) fn schema_error(reason: String) -> StoreError {
    StoreError::Corrupt {
        collection: "__meta".into(),
        key: "schema_version".into(),
        reason,
    }
}

/// Helper for documents: the JSON object inside a record, or an empty object.
pub fn object(doc: &Value) -> &serde_json::Map<String, Value> {
    static EMPTY: std::sync::OnceLock<serde_json::Map<String, Value>> = std::sync::OnceLock::new();
    doc.as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(serde_json::Map::new))
}
