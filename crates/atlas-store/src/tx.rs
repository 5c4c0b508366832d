//! The operations available inside one store transaction, and their exact semantics. Every
//! backend (SQLite and PostgreSQL) implements [`Tx`] and runs the shared test suite in
//! `suite.rs`, so the rules written here are the contract the engine may rely on.

use serde_json::Value;

use crate::{StoreError, StoreResult};

/// A stored document with its key and insertion order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub collection: String,
    pub key: String,
    pub doc: Value,
    /// Store-wide monotonic insertion sequence, never reused (even after deletes): lists are in
    /// creation order. `update` and `upsert` of an existing key keep it; a key deleted and
    /// inserted again gets a new, larger one.
    pub seq: i64,
}

/// A unique claim: `value` held in `scope` by the document whose path is `owner`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claim {
    pub scope: String,
    pub value: String,
    pub owner: String,
}

/// A window of a collection: `offset` items skipped, at most `limit` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: u64,
    pub limit: u64,
}

impl Page {
    pub const ALL: Page = Page {
        offset: 0,
        limit: u64::MAX,
    };
}

/// One transaction (see [`crate::Store::transaction`]).
///
/// Addressing: a document lives in a collection (a concrete path such as
/// `/groups/5f…/clusters`, or an emulator-internal `__name`) under a key unique in that
/// collection; its *path* is `"{collection}/{key}"`, which is also the `owner` string used for
/// its unique claims. Tree operations treat a key as a single path segment, so keys of documents
/// that own subtrees must not contain `/`.
///
/// Errors: a taken key (`insert`) or a value claimed by another owner (`claim`) fails with
/// [`crate::StoreError::Duplicate`] naming the collection or scope, and leaves the transaction
/// fully usable: the caller may handle the error and continue, commit or roll back. Write
/// operations in an [`crate::Access::Read`] transaction fail with
/// [`crate::StoreError::Unavailable`] on every backend.
pub trait Tx {
    fn get(&mut self, collection: &str, key: &str) -> StoreResult<Option<Record>>;

    /// Documents of one collection in creation order (`seq`), windowed by `page`, and how many
    /// the collection holds in all (independent of the page; both from the same snapshot).
    fn list(&mut self, collection: &str, page: Page) -> StoreResult<(Vec<Record>, u64)>;

    /// Inserts a new document; fails with `Duplicate(collection)` if the key exists.
    fn insert(&mut self, collection: &str, key: &str, doc: &Value) -> StoreResult<Record>;

    /// Replaces an existing document (keeping its sequence); false if there was none.
    fn update(&mut self, collection: &str, key: &str, doc: &Value) -> StoreResult<bool>;

    /// Inserts (new sequence) or replaces (sequence kept).
    fn upsert(&mut self, collection: &str, key: &str, doc: &Value) -> StoreResult<()>;

    /// Deletes one document and releases every claim whose owner is `"{collection}/{key}"`
    /// (in all scopes); false if there was no document.
    fn delete(&mut self, collection: &str, key: &str) -> StoreResult<bool>;

    /// Deletes the subtree rooted at the path `prefix` (trailing `/` ignored) and returns how
    /// many documents went. The subtree is:
    /// - every document whose collection equals `prefix` or starts with `prefix + "/"`
    ///   (a project's `/groups/<id>/clusters`, `/groups/<id>/clusters/c1/onlineArchives`, …),
    /// - the document whose path is `prefix` itself (`delete_tree("/groups/<id>")` also
    ///   removes key `<id>` of collection `/groups`, so the call is complete on its own and
    ///   harmless after the engine deleted that document first).
    ///
    /// Matching is by exact path segments: `/groups/a_c` never touches `/groups/abc` or
    /// `/groups/a_cd` (no wildcard semantics for `_` or `%`). Claims owned by the removed
    /// documents are released. `__` collections are never under an Atlas path.
    fn delete_tree(&mut self, prefix: &str) -> StoreResult<u64>;

    /// Claims `value` in `scope` for the document `owner` (its path, `"{collection}/{key}"`).
    /// Claiming a value one already holds is a no-op; a value held by another owner fails with
    /// `Duplicate(scope)`. Enforced by the database (a primary key), so it holds across several
    /// server processes sharing one database.
    fn claim(&mut self, scope: &str, value: &str, owner: &str) -> StoreResult<()>;

    /// Releases every claim of `owner` in `scope` (a rename: release, then claim the new value).
    fn release(&mut self, scope: &str, owner: &str) -> StoreResult<()>;

    /// Who holds `value` in `scope`.
    fn claimant(&mut self, scope: &str, value: &str) -> StoreResult<Option<String>>;

    /// Every collection path equal to `prefix` or under `prefix + "/"` that holds at least one
    /// document, sorted bytewise (trailing `/` ignored, segment matching as in `delete_tree`).
    fn collections_under(&mut self, prefix: &str) -> StoreResult<Vec<String>>;

    /// Every collection that holds at least one document, internal `__` ones included, sorted
    /// bytewise (state export).
    fn collections(&mut self) -> StoreResult<Vec<String>>;

    /// Every claim, sorted by scope and value (state export).
    fn claims(&mut self) -> StoreResult<Vec<Claim>>;

    /// Deletes every document and claim (state import replaces the whole state). The sequence
    /// is not reset: documents inserted afterwards still get larger ones than any before.
    fn clear(&mut self) -> StoreResult<()>;

    /// A tag of the stored state this transaction has seen, equal in two transactions only if
    /// they saw the same state, so that what is derived from the state alone can be kept under
    /// it (atlas-api's answer cache). `None` once the transaction wrote, and where the backend
    /// cannot tell without reading (PostgreSQL: another instance's commit leaves no trace
    /// here).
    fn snapshot(&self) -> Option<u64> {
        None
    }
}

/// The path of a subtree: `prefix` without trailing `/`, the bounds of "starts with
/// `prefix/`" as a bytewise range (`'0'` follows `'/'`), and the document addressed by the path.
/// Ranges instead of `LIKE` so that `_` and `%` in ids or names are plain characters. Shared by
/// the backends, whose columns compare bytewise (SQLite's `BINARY`, PostgreSQL's `bytea`).
pub(crate) struct Tree<'p> {
    pub(crate) root: &'p str,
    pub(crate) lower: String,
    pub(crate) upper: String,
    pub(crate) node: Option<(&'p str, &'p str)>,
}

impl<'p> Tree<'p> {
    pub(crate) fn new(prefix: &'p str) -> Self {
        let root = prefix.trim_end_matches('/');
        Tree {
            root,
            lower: format!("{root}/"),
            upper: format!("{root}0"),
            node: root.rsplit_once('/'),
        }
    }
}

/// Encoding of the `doc` column, stored per row in `format` on every backend. 1 = the document
/// as JSON text. A later encoding bumps this and teaches the backends' `decode` to read every
/// older one, so rows never need a bulk rewrite; a row with a newer format is refused as
/// `Corrupt`.
pub(crate) const RECORD_FORMAT: i64 = 1;

/// A document as stored: JSON text (record format 1 on every backend).
pub(crate) fn encode(doc: &Value) -> StoreResult<String> {
    serde_json::to_string(doc).map_err(|e| StoreError::Unavailable(format!("encoding: {e}")))
}

/// A `u64` count or offset as the `i64` SQL wants (saturating: `Page::ALL` is "no limit").
pub(crate) fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Refuses a write in a read transaction (a bug in the caller, reported as unavailability).
pub(crate) fn writable(writable: bool, op: &str) -> StoreResult<()> {
    if writable {
        Ok(())
    } else {
        Err(StoreError::Unavailable(format!(
            "{op} attempted in a read transaction"
        )))
    }
}

/// A stored row that cannot be read back.
pub(crate) fn corrupt(collection: &str, key: &str, reason: String) -> StoreError {
    StoreError::Corrupt {
        collection: collection.to_owned(),
        key: key.to_owned(),
        reason,
    }
}

/// A record from a row's columns, whatever the backend: the record format must be this build's
/// and the document JSON.
pub(crate) fn record(
    collection: &str,
    key: String,
    seq: i64,
    format: i64,
    doc: &[u8],
) -> StoreResult<Record> {
    if format != RECORD_FORMAT {
        return Err(corrupt(
            collection,
            &key,
            format!("record format {format}; this build reads format {RECORD_FORMAT}"),
        ));
    }
    let doc = serde_json::from_slice(doc)
        .map_err(|e| corrupt(collection, &key, format!("document is not JSON: {e}")))?;
    Ok(Record {
        collection: collection.to_owned(),
        key,
        doc,
        seq,
    })
}
