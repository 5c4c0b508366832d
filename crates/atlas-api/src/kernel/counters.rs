//! Counters: the small, hot state every authenticated request updates before its operation runs
//! — the used nonce counts of Digest nonces and the rate-limit token buckets.
//!
//! Where they live decides whether a GET writes to the database. In the store, every request
//! is a write transaction (a WAL append, a commit, and every pooled reader's page cache
//! invalidated) even when the operation only reads; in memory, reads stay reads. So an embedded
//! store keeps them in this process's memory, and a store that several instances share keeps
//! them in the store, so all instances spend from the same buckets and refuse the same replayed
//! nonce counts. Either way they are soft state: losing them (a restart) refills the buckets and
//! forgets which counts of still-valid nonces were used, which clients never notice.
//!
//! A counter is a JSON value under a key in a named table; tables are named like collections
//! (`__nonces/<minute>`, `__rateLimits`) so the stored form keeps its layout.

use rustc_hash::FxHashMap;
use std::sync::{Mutex, PoisonError};

use atlas_store::{Access, Page, StoreResult, Tx};
use serde_json::Value;

type Tables = FxHashMap<String, FxHashMap<String, Value>>;

/// Where the counters live.
#[derive(Debug)]
pub enum Counters {
    /// In this process (embedded stores).
    Memory(Mutex<Tables>),
    /// In the store, written inside the admission's transaction (shared stores).
    Stored,
}

impl Counters {
    pub fn in_memory() -> Counters {
        Counters::Memory(Mutex::new(FxHashMap::default()))
    }

    /// What the transaction that updates counters must be: a write only when they are stored.
    pub fn access(&self) -> Access {
        match self {
            Counters::Memory(_) => Access::Read,
            Counters::Stored => Access::Write,
        }
    }

    /// Replaces the counter `table`/`key` with what `update` makes of its current value, as one
    /// atomic step, and returns `update`'s verdict.
    pub fn modify<R>(
        &self,
        tx: &mut dyn Tx,
        table: &str,
        key: &str,
        update: impl FnOnce(Option<&Value>) -> (Value, R),
    ) -> StoreResult<R> {
        match self {
            Counters::Memory(tables) => {
                let mut tables = tables.lock().unwrap_or_else(PoisonError::into_inner);
                let table = tables.entry(table.to_owned()).or_default();
                let (value, verdict) = update(table.get(key));
                table.insert(key.to_owned(), value);
                Ok(verdict)
            }
            Counters::Stored => {
                let current = tx.get(table, key)?;
                let (value, verdict) = update(current.as_ref().map(|r| &r.doc));
                tx.upsert(table, key, &value)?;
                Ok(verdict)
            }
        }
    }

    /// Whether `table` holds no counter.
    pub fn is_empty(&self, tx: &mut dyn Tx, table: &str) -> StoreResult<bool> {
        match self {
            Counters::Memory(tables) => Ok(tables
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(table)
                .is_none_or(FxHashMap::is_empty)),
            Counters::Stored => {
                let (_, total) = tx.list(
                    table,
                    Page {
                        offset: 0,
                        limit: 0,
                    },
                )?;
                Ok(total == 0)
            }
        }
    }

    /// Drops the tables under `prefix` (`prefix/…`) that `doomed` names.
    pub fn drop_tables(
        &self,
        tx: &mut dyn Tx,
        prefix: &str,
        doomed: impl Fn(&str) -> bool,
    ) -> StoreResult<()> {
        match self {
            Counters::Memory(tables) => {
                let under = format!("{prefix}/");
                tables
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|name, _| !(name.starts_with(&under) && doomed(name)));
                Ok(())
            }
            Counters::Stored => {
                for table in tx.collections_under(prefix)? {
                    if doomed(&table) {
                        tx.delete_tree(&table)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Keeps only the counters of `table` that `keep` accepts.
    pub fn retain(
        &self,
        tx: &mut dyn Tx,
        table: &str,
        keep: impl Fn(&Value) -> bool,
    ) -> StoreResult<()> {
        match self {
            Counters::Memory(tables) => {
                if let Some(counters) = tables
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_mut(table)
                {
                    counters.retain(|_, value| keep(value));
                }
                Ok(())
            }
            Counters::Stored => {
                let (counters, _) = tx.list(table, Page::ALL)?;
                for counter in counters.iter().filter(|c| !keep(&c.doc)) {
                    tx.delete(table, &counter.key)?;
                }
                Ok(())
            }
        }
    }

    /// Empties `table`.
    pub fn clear(&self, tx: &mut dyn Tx, table: &str) -> StoreResult<()> {
        match self {
            Counters::Memory(tables) => {
                tables
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(table);
                Ok(())
            }
            Counters::Stored => {
                let (counters, _) = tx.list(table, Page::ALL)?;
                for counter in counters {
                    tx.delete(table, &counter.key)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_store::Store;
    use atlas_store::sqlite::SqliteStore;
    use serde_json::json;

    /// Both places behave the same: modify sees the previous value, tables drop and clear.
    #[test]
    fn memory_and_stored_counters_agree() {
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::memory().unwrap());
        for counters in [Counters::in_memory(), Counters::Stored] {
            store
                .write(|tx| {
                    assert!(counters.is_empty(tx, "__t/1")?);
                    let first = counters.modify(tx, "__t/1", "a", |v| (json!(1), v.cloned()))?;
                    assert_eq!(first, None);
                    let second = counters.modify(tx, "__t/1", "a", |v| (json!(2), v.cloned()))?;
                    assert_eq!(second, Some(json!(1)));
                    counters.modify(tx, "__t/2", "b", |_| (json!(0), ()))?;
                    assert!(!counters.is_empty(tx, "__t/1")?);
                    counters.drop_tables(tx, "__t", |name| name.ends_with("/1"))?;
                    assert!(counters.is_empty(tx, "__t/1")?);
                    assert!(!counters.is_empty(tx, "__t/2")?);
                    counters.clear(tx, "__t/2")?;
                    assert!(counters.is_empty(tx, "__t/2")?);
                    Ok(())
                })
                .unwrap();
        }
    }

    #[test]
    fn only_stored_counters_need_a_write_transaction() {
        assert_eq!(Counters::in_memory().access(), Access::Read);
        assert_eq!(Counters::Stored.access(), Access::Write);
    }
}
