//! Decoded documents of recent `get`s and pages of recent `list`s, kept so a hot key (the clock,
//! the instance secret, a token, an organization, a project) or a polled list (a project's
//! clusters) is not read and decoded from SQLite on every request.
//!
//! Validity is one store-wide *epoch*: every entry belongs to the epoch it was filled in, and the
//! cache holds the entries of one epoch only. The epoch moves whenever the database may have
//! changed:
//! - after a write transaction of this store that wrote anything (on the connection that wrote,
//!   before its lock is released);
//! - when a transaction finds that its connection's `PRAGMA data_version` moved since that
//!   connection's previous transaction: another connection committed — this store's writer (seen
//!   from a reader), another `SqliteStore` on the same file, or another process.
//!
//! The protocol that makes a hit always equal to what the transaction's own snapshot holds: a
//! transaction reads the epoch *before* its snapshot begins, compares `data_version` once the
//! snapshot has begun (bumping the epoch and then using no entry when it moved or is unknown),
//! and then looks up and fills only entries of the epoch it read. Any commit between the
//! snapshot of the filler and that of the reader is seen, by the first transaction on the
//! reader's connection whose snapshot includes it, as a moved `data_version`, and that
//! transaction's bump happens before the reader read its epoch, so the reader's epoch differs
//! (and symmetrically for an entry filled from a newer snapshot than the reader's). A write
//! transaction uses the cache only until its first write (it must read its own writes). A
//! connection's first transaction has no earlier version to compare with, so it always moves the
//! epoch: the reader pool keeping its connections open is what lets the cache live.
//!
//! Bounded: at most [`MAX_ENTRIES`] documents (a listed page counts each of its documents) and
//! [`MAX_TEXT_BYTES`] of their stored JSON text; when either would be exceeded the cache is
//! emptied and refills with what is hot.

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde_json::Value;

use crate::{Page, Record};

/// Most documents held at once.
pub(crate) const MAX_ENTRIES: usize = 4096;

/// Most stored JSON text of the held documents, summed (decoded, a document takes a few times
/// its text; the cache stays within about 16 MiB).
pub(crate) const MAX_TEXT_BYTES: usize = 4 << 20;

/// A cached answer to `get`: the document with its sequence, or that there is none.
#[derive(Clone)]
struct Entry {
    found: Option<(i64, Value)>,
    size: usize,
}

/// A cached answer to `list`: the page's documents (key, sequence, document) and the total.
struct Listed {
    items: Vec<(String, i64, Value)>,
    total: u64,
    size: usize,
}

#[derive(Default)]
struct Held {
    epoch: u64,
    /// collection → key → entry (nested so a lookup borrows `&str`s, allocating nothing).
    /// FxHash rather than SipHash: two lookups per read on every request, and with the map
    /// bounded a crafted collision could only slow a lookup down.
    docs: FxHashMap<String, FxHashMap<String, Entry>>,
    /// collection → (offset, limit) → page.
    lists: FxHashMap<String, FxHashMap<(u64, u64), Listed>>,
    entries: usize,
    bytes: usize,
}

impl Held {
    /// Makes room for `entries` documents of `size` bytes of text, or says there is none.
    fn room(&mut self, epoch: u64, entries: usize, size: usize) -> bool {
        if epoch > self.epoch {
            *self = Held {
                epoch,
                ..Held::default()
            };
        }
        if epoch != self.epoch || size > MAX_TEXT_BYTES / 16 || entries > MAX_ENTRIES / 16 {
            return false;
        }
        if self.entries + entries > MAX_ENTRIES || self.bytes + size > MAX_TEXT_BYTES {
            self.docs.clear();
            self.lists.clear();
            self.entries = 0;
            self.bytes = 0;
        }
        true
    }
}

/// The cache of one store.
#[derive(Default)]
pub(crate) struct DocCache {
    epoch: AtomicU64,
    held: Mutex<Held>,
}

impl DocCache {
    /// The current epoch; read before a transaction's snapshot begins.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The database may have changed: every entry is stale.
    pub(crate) fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Some(answer)` when `collection`/`key` is held for `epoch`.
    pub(crate) fn lookup(&self, epoch: u64, collection: &str, key: &str) -> Option<Option<Record>> {
        let held = self.held();
        if held.epoch != epoch {
            return None;
        }
        let entry = held.docs.get(collection)?.get(key)?;
        Some(entry.found.as_ref().map(|(seq, doc)| Record {
            collection: collection.to_owned(),
            key: key.to_owned(),
            doc: doc.clone(),
            seq: *seq,
        }))
    }

    /// Keeps what a transaction of `epoch` read (`size`: the stored text's length).
    pub(crate) fn fill(
        &self,
        epoch: u64,
        collection: &str,
        key: &str,
        found: Option<&Record>,
        size: usize,
    ) {
        let mut held = self.held();
        if !held.room(epoch, 1, size) {
            return;
        }
        let entry = Entry {
            found: found.map(|r| (r.seq, r.doc.clone())),
            size,
        };
        let held = &mut *held;
        let keys = held.docs.entry(collection.to_owned()).or_default();
        match keys.insert(key.to_owned(), entry) {
            None => held.entries += 1,
            Some(previous) => held.bytes -= previous.size.min(held.bytes),
        }
        held.bytes += size;
    }

    /// `Some((page, total))` when that page of `collection` is held for `epoch`.
    pub(crate) fn lookup_list(
        &self,
        epoch: u64,
        collection: &str,
        page: Page,
    ) -> Option<(Vec<Record>, u64)> {
        let held = self.held();
        if held.epoch != epoch {
            return None;
        }
        let listed = held
            .lists
            .get(collection)?
            .get(&(page.offset, page.limit))?;
        let records = listed
            .items
            .iter()
            .map(|(key, seq, doc)| Record {
                collection: collection.to_owned(),
                key: key.clone(),
                doc: doc.clone(),
                seq: *seq,
            })
            .collect();
        Some((records, listed.total))
    }

    /// Keeps a page a transaction of `epoch` listed (`size`: its stored text's length).
    pub(crate) fn fill_list(
        &self,
        epoch: u64,
        collection: &str,
        page: Page,
        records: &[Record],
        total: u64,
        size: usize,
    ) {
        let mut held = self.held();
        // An empty page still costs an entry, so a flood of them is bounded too.
        let entries = records.len().max(1);
        if !held.room(epoch, entries, size) {
            return;
        }
        let listed = Listed {
            items: records
                .iter()
                .map(|r| (r.key.clone(), r.seq, r.doc.clone()))
                .collect(),
            total,
            size,
        };
        let held = &mut *held;
        let pages = held.lists.entry(collection.to_owned()).or_default();
        if let Some(previous) = pages.insert((page.offset, page.limit), listed) {
            held.bytes -= previous.size.min(held.bytes);
            held.entries -= previous.items.len().max(1).min(held.entries);
        }
        held.entries += entries;
        held.bytes += size;
    }

    /// How many documents are held (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.held().entries
    }
}

/// The cache as one transaction sees it.
pub(crate) struct TxCache<'c> {
    pub(crate) cache: &'c DocCache,
    pub(crate) epoch: u64,
    /// False once the transaction wrote (it must see its own writes) or found the database
    /// changed under the epoch it read.
    pub(crate) usable: bool,
}
