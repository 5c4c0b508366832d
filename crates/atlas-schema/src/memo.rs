//! Remembered fits: the answer of [`crate::Schemas::fit`] for a (schema, document) pair seen
//! before.
//!
//! Fitting a stored document to a version's response schema walks the schema for every value of
//! the document; a list of 100 clusters spends most of its time there, and clients poll the same
//! resources over and over (Terraform and the Atlas CLI wait for `IDLE` that way). A fit depends
//! only on the schema and the document, plus the hints when something had to be synthesized
//! (a missing required attribute, an example): only fits that synthesized nothing are kept, so a
//! remembered answer is exactly what fitting again would give. A hit is confirmed by comparing
//! the whole document, never by its hash alone.
//!
//! The memory is bounded: past [`BUDGET_BYTES`] of remembered documents (estimated from their
//! in-memory size) everything is forgotten at once, which is cheap and keeps no bookkeeping per
//! hit.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use rustc_hash::{FxBuildHasher, FxHasher};
use serde_json::Value;

/// Roughly how many bytes of documents and fits are remembered before all are forgotten.
const BUDGET_BYTES: usize = 16 << 20;

/// Documents larger than this are not kept whole (they would crowd out everything else); the
/// items of their arrays still are (a page of 100 clusters is remembered cluster by cluster).
const LARGEST_KEPT: usize = 256 << 10;

/// What a `serde_json::Value` occupies besides its strings' text, and what an object entry adds
/// (its share of a B-tree node: key `String` plus `Value`, with the node's slack).
const VALUE_BYTES: usize = 32;
const ENTRY_BYTES: usize = 80;

/// A document as looked up: its hash and estimated size in memory.
#[derive(Clone, Copy)]
pub(crate) struct Fingerprint {
    hash: u64,
    bytes: usize,
}

struct Entry {
    doc: Value,
    fitted: Value,
}

#[derive(Default)]
struct Inner {
    /// (schema node address, document hash) -> remembered fits with that hash.
    entries: HashMap<(usize, u64), Vec<Arc<Entry>>, FxBuildHasher>,
    bytes: usize,
}

/// The remembered fits of one [`crate::Schemas`] instance.
#[derive(Default)]
pub(crate) struct FitMemo {
    inner: Mutex<Inner>,
}

impl FitMemo {
    /// The remembered fit of `doc` to the schema at `node`, if there is one.
    pub(crate) fn get(&self, node: usize, print: Fingerprint, doc: &Value) -> Option<Value> {
        let candidates: Vec<Arc<Entry>> = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .get(&(node, print.hash))?
            .clone();
        // Compared and copied outside the lock: other requests need not wait for this one.
        candidates
            .iter()
            .find(|e| e.doc == *doc)
            .map(|e| e.fitted.clone())
    }

    /// Remembers that `doc` fits the schema at `node` as `fitted`.
    pub(crate) fn put(&self, node: usize, print: Fingerprint, doc: &Value, fitted: &Value) {
        if print.bytes > LARGEST_KEPT {
            return;
        }
        let entry = Arc::new(Entry {
            doc: doc.clone(),
            fitted: fitted.clone(),
        });
        let cost = print.bytes * 2;
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.bytes + cost > BUDGET_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
        }
        let slot = inner.entries.entry((node, print.hash)).or_default();
        if slot.iter().any(|e| e.doc == *doc) {
            return;
        }
        slot.push(entry);
        inner.bytes += cost;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.entries.values().map(Vec::len).sum()
    }
}

/// The hash and approximate text size of a document, in one walk.
pub(crate) fn fingerprint(doc: &Value) -> Fingerprint {
    let mut hasher = FxHasher::default();
    let bytes = feed(doc, &mut hasher);
    Fingerprint {
        hash: hasher.finish(),
        bytes,
    }
}

fn feed(value: &Value, h: &mut FxHasher) -> usize {
    VALUE_BYTES
        + match value {
            Value::Null => {
                0u8.hash(h);
                0
            }
            Value::Bool(b) => {
                1u8.hash(h);
                b.hash(h);
                0
            }
            Value::Number(n) => {
                2u8.hash(h);
                // Equal numbers hash alike; a miss on representation only costs a refit.
                n.as_u64()
                    .map(|u| u.hash(h))
                    .or_else(|| n.as_i64().map(|i| i.hash(h)))
                    .unwrap_or_else(|| n.as_f64().unwrap_or_default().to_bits().hash(h));
                0
            }
            Value::String(s) => {
                3u8.hash(h);
                s.hash(h);
                s.len()
            }
            Value::Array(items) => {
                4u8.hash(h);
                items.len().hash(h);
                items.iter().map(|i| feed(i, h)).sum::<usize>()
            }
            Value::Object(map) => {
                5u8.hash(h);
                map.len().hash(h);
                map.iter()
                    .map(|(k, v)| {
                        k.hash(h);
                        ENTRY_BYTES + k.len() + feed(v, h)
                    })
                    .sum::<usize>()
            }
        }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_documents_hit_and_different_ones_miss() {
        let memo = FitMemo::default();
        let doc = json!({"name": "a", "n": 1, "tags": [true, null]});
        let print = fingerprint(&doc);
        assert!(memo.get(1, print, &doc).is_none());
        memo.put(1, print, &doc, &json!({"name": "a"}));
        assert_eq!(memo.get(1, print, &doc), Some(json!({"name": "a"})));
        // Another schema node, or another document under a colliding hash, is not a hit.
        assert!(memo.get(2, print, &doc).is_none());
        let other = json!({"name": "b", "n": 1, "tags": [true, null]});
        assert!(memo.get(1, print, &other).is_none());
        assert_ne!(fingerprint(&other).hash, print.hash);
    }

    #[test]
    fn the_budget_forgets_everything_at_once() {
        let memo = FitMemo::default();
        let big = json!({"text": "x".repeat(100_000)});
        let print = fingerprint(&big);
        assert!(print.bytes >= 100_000);
        let rounds = BUDGET_BYTES / (2 * print.bytes) + 2;
        for node in 0..rounds {
            memo.put(node, print, &big, &big);
        }
        assert!(memo.len() < rounds, "never forgot: {}", memo.len());
        let huge = json!({"text": "x".repeat(LARGEST_KEPT + 1)});
        let before = memo.len();
        memo.put(usize::MAX, fingerprint(&huge), &huge, &huge);
        assert_eq!(memo.len(), before, "oversized documents are not kept");
    }
}
