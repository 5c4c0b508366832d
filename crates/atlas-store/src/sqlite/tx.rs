//! [`Tx`] over one SQLite connection inside an open transaction: the SQL of every store
//! operation and the decoding of rows (which never panics on bad data).
//!
//! Conflicts are detected with `INSERT … ON CONFLICT DO NOTHING` and the change count rather
//! than by catching a constraint error: the statement succeeds, nothing is rolled back, so a
//! `Duplicate` leaves the transaction exactly as it was (no savepoint needed). This is race
//! free because the check runs inside the write transaction, and SQLite has one writer at a
//! time across all processes (write transactions start with `BEGIN IMMEDIATE`).

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::cache::TxCache;
use crate::tx::{RECORD_FORMAT, Tree, clamp, corrupt, encode};
use crate::{Claim, Page, Record, StoreError, StoreResult, Tx};

pub(crate) struct SqliteTx<'c> {
    pub(crate) conn: &'c Connection,
    pub(crate) writable: bool,
    /// The store's document cache as this transaction may use it (`cache.rs`).
    pub(crate) cache: TxCache<'c>,
    /// Whether this transaction wrote anything (its commit then moves the cache's epoch).
    pub(crate) dirty: bool,
}

impl SqliteTx<'_> {
    fn writing(&mut self, op: &str) -> StoreResult<()> {
        crate::tx::writable(self.writable, op)?;
        // From here on the transaction reads its own writes, which no other may see yet.
        self.cache.usable = false;
        self.dirty = true;
        Ok(())
    }
}

/// Decodes `seq, format, doc` at columns `at..at+3` of a row of `collection`/`key`.
fn decode(row: &Row<'_>, at: usize, collection: &str, key: String) -> StoreResult<Record> {
    let kind = |what: &str, v: ValueRef<'_>| {
        corrupt(collection, &key, format!("{what} is {:?}", v.data_type()))
    };
    let seq = match row.get_ref(at)? {
        ValueRef::Integer(seq) => seq,
        other => return Err(kind("seq", other)),
    };
    let format = match row.get_ref(at + 1)? {
        ValueRef::Integer(format) => format,
        other => return Err(kind("format", other)),
    };
    match row.get_ref(at + 2)? {
        ValueRef::Text(text) => crate::tx::record(collection, key, seq, format, text),
        other => Err(kind("document", other)),
    }
}

fn text(value: ValueRef<'_>, collection: &str, what: &str) -> StoreResult<String> {
    match value {
        ValueRef::Text(t) => String::from_utf8(t.to_vec()).map_err(|_| StoreError::Corrupt {
            collection: collection.to_owned(),
            key: String::new(),
            reason: format!("{what} is not UTF-8"),
        }),
        other => Err(StoreError::Corrupt {
            collection: collection.to_owned(),
            key: String::new(),
            reason: format!("{what} is {:?}", other.data_type()),
        }),
    }
}

impl Tx for SqliteTx<'_> {
    /// The cache's epoch, while the transaction may use the cache: it read the epoch before its
    /// snapshot began, found the database unchanged since (`cache.rs`), and has not written.
    fn snapshot(&self) -> Option<u64> {
        (self.cache.usable && !self.dirty).then_some(self.cache.epoch)
    }

    fn get(&mut self, collection: &str, key: &str) -> StoreResult<Option<Record>> {
        let cache = &self.cache;
        if cache.usable
            && let Some(hit) = cache.cache.lookup(cache.epoch, collection, key)
        {
            return Ok(hit);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, format, doc FROM docs WHERE collection = ?1 AND key = ?2",
        )?;
        let mut rows = stmt.query(params![collection, key])?;
        let (found, size) = match rows.next()? {
            Some(row) => {
                let size = match row.get_ref(2)? {
                    ValueRef::Text(text) => text.len(),
                    _ => 0,
                };
                (Some(decode(row, 0, collection, key.to_owned())?), size)
            }
            None => (None, 0),
        };
        if cache.usable {
            // An absent document costs its key (bounded like the rest).
            let size = size.max(collection.len() + key.len());
            cache
                .cache
                .fill(cache.epoch, collection, key, found.as_ref(), size);
        }
        Ok(found)
    }

    fn list(&mut self, collection: &str, page: Page) -> StoreResult<(Vec<Record>, u64)> {
        let cache = &self.cache;
        if cache.usable
            && let Some(hit) = cache.cache.lookup_list(cache.epoch, collection, page)
        {
            return Ok(hit);
        }
        let total: i64 = self
            .conn
            .prepare_cached("SELECT n FROM counts WHERE collection = ?1")?
            .query_row([collection], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let total = u64::try_from(total).unwrap_or(0);
        let mut out = Vec::new();
        let mut size = collection.len();
        if page.limit == 0 || page.offset >= total {
            if cache.usable {
                cache
                    .cache
                    .fill_list(cache.epoch, collection, page, &out, total, size);
            }
            return Ok((out, total));
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, seq, format, doc FROM docs WHERE collection = ?1 \
             ORDER BY seq LIMIT ?2 OFFSET ?3",
        )?;
        let mut rows = stmt.query(params![collection, clamp(page.limit), clamp(page.offset)])?;
        while let Some(row) = rows.next()? {
            let key = text(row.get_ref(0)?, collection, "key")?;
            if let ValueRef::Text(doc) = row.get_ref(3)? {
                size += doc.len() + key.len();
            }
            out.push(decode(row, 1, collection, key)?);
        }
        if cache.usable {
            cache
                .cache
                .fill_list(cache.epoch, collection, page, &out, total, size);
        }
        Ok((out, total))
    }

    fn insert(&mut self, collection: &str, key: &str, doc: &Value) -> StoreResult<Record> {
        self.writing("insert")?;
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO docs (collection, key, format, doc) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (collection, key) DO NOTHING",
            )?
            .execute(params![collection, key, RECORD_FORMAT, encode(doc)?])?;
        if inserted == 0 {
            return Err(StoreError::Duplicate(collection.to_owned()));
        }
        Ok(Record {
            collection: collection.to_owned(),
            key: key.to_owned(),
            doc: doc.clone(),
            seq: self.conn.last_insert_rowid(),
        })
    }

    fn update(&mut self, collection: &str, key: &str, doc: &Value) -> StoreResult<bool> {
        self.writing("update")?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE docs SET format = ?3, doc = ?4 WHERE collection = ?1 AND key = ?2",
            )?
            .execute(params![collection, key, RECORD_FORMAT, encode(doc)?])?;
        Ok(changed > 0)
    }

    fn upsert(&mut self, collection: &str, key: &str, doc: &Value) -> StoreResult<()> {
        self.writing("upsert")?;
        self.conn
            .prepare_cached(
                "INSERT INTO docs (collection, key, format, doc) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (collection, key) \
                 DO UPDATE SET format = excluded.format, doc = excluded.doc",
            )?
            .execute(params![collection, key, RECORD_FORMAT, encode(doc)?])?;
        Ok(())
    }

    fn delete(&mut self, collection: &str, key: &str) -> StoreResult<bool> {
        self.writing("delete")?;
        let deleted = self
            .conn
            .prepare_cached("DELETE FROM docs WHERE collection = ?1 AND key = ?2")?
            .execute(params![collection, key])?;
        self.conn
            .prepare_cached("DELETE FROM uniques WHERE owner = ?1")?
            .execute([format!("{collection}/{key}")])?;
        Ok(deleted > 0)
    }

    fn delete_tree(&mut self, prefix: &str) -> StoreResult<u64> {
        self.writing("delete_tree")?;
        let tree = Tree::new(prefix);
        // `?4`/`?5` NULL when the path has no parent: `collection = NULL` matches nothing.
        let (parent, last) = tree.node.unzip();
        let subtree = "(collection = ?1 OR (collection >= ?2 AND collection < ?3) \
                        OR (collection = ?4 AND key = ?5))";
        // Claims first, while the owners are still there to be named.
        self.conn
            .prepare_cached(&format!(
                "DELETE FROM uniques WHERE owner IN \
                 (SELECT collection || '/' || key FROM docs WHERE {subtree})"
            ))?
            .execute(params![tree.root, tree.lower, tree.upper, parent, last])?;
        let deleted = self
            .conn
            .prepare_cached(&format!("DELETE FROM docs WHERE {subtree}"))?
            .execute(params![tree.root, tree.lower, tree.upper, parent, last])?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }

    fn claim(&mut self, scope: &str, value: &str, owner: &str) -> StoreResult<()> {
        self.writing("claim")?;
        let claimed = self
            .conn
            .prepare_cached(
                "INSERT INTO uniques (scope, value, owner) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (scope, value) DO NOTHING",
            )?
            .execute(params![scope, value, owner])?;
        if claimed > 0 || self.claimant(scope, value)?.as_deref() == Some(owner) {
            Ok(())
        } else {
            Err(StoreError::Duplicate(scope.to_owned()))
        }
    }

    fn release(&mut self, scope: &str, owner: &str) -> StoreResult<()> {
        self.writing("release")?;
        self.conn
            .prepare_cached("DELETE FROM uniques WHERE owner = ?1 AND scope = ?2")?
            .execute(params![owner, scope])?;
        Ok(())
    }

    fn claimant(&mut self, scope: &str, value: &str) -> StoreResult<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT owner FROM uniques WHERE scope = ?1 AND value = ?2")?;
        let mut rows = stmt.query(params![scope, value])?;
        match rows.next()? {
            Some(row) => text(row.get_ref(0)?, "__uniques", "owner").map(Some),
            None => Ok(None),
        }
    }

    fn collections_under(&mut self, prefix: &str) -> StoreResult<Vec<String>> {
        let tree = Tree::new(prefix);
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT collection FROM docs \
             WHERE collection = ?1 OR (collection >= ?2 AND collection < ?3) \
             ORDER BY collection",
        )?;
        let mut rows = stmt.query(params![tree.root, tree.lower, tree.upper])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(text(row.get_ref(0)?, tree.root, "collection")?);
        }
        Ok(out)
    }

    fn collections(&mut self) -> StoreResult<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT collection FROM docs ORDER BY collection")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(text(row.get_ref(0)?, "", "collection")?);
        }
        Ok(out)
    }

    fn claims(&mut self) -> StoreResult<Vec<Claim>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT scope, value, owner FROM uniques ORDER BY scope, value")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(Claim {
                scope: text(row.get_ref(0)?, "__uniques", "scope")?,
                value: text(row.get_ref(1)?, "__uniques", "value")?,
                owner: text(row.get_ref(2)?, "__uniques", "owner")?,
            });
        }
        Ok(out)
    }

    fn clear(&mut self) -> StoreResult<()> {
        self.writing("clear")?;
        self.conn
            .execute_batch("DELETE FROM uniques; DELETE FROM docs;")?;
        Ok(())
    }
}
