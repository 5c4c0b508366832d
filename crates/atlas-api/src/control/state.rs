//! Snapshots of the whole state, so a team can prepare a state once and load it in every CI job
//! (`GET`/`POST /__localatlas/state`, `localatlas export`/`import`).
//!
//! A snapshot is every stored document (Atlas resources and localatlas's own: credentials,
//! tokens, the instance secret, the clock, lifecycle settings, rate-limit buckets) in creation
//! order, and every unique claim:
//!
//! ```json
//! {"format": "localatlas-state", "version": 1,
//!  "documents": [{"collection": "/groups", "key": "6b0…", "doc": {…}}, …],
//!  "claims": [{"scope": "/orgs/6b0…/groupNames", "value": "p1", "owner": "/groups/6b0…"}, …]}
//! ```
//!
//! The control token (`crate::control::admin`) is left out: it belongs to the deployment, not to
//! the state, so an import keeps the token the store had and a snapshot handed around carries no
//! admin credential.
//!
//! It works the same on every store, through the `Tx` trait only, so a snapshot taken from a
//! SQLite file loads into PostgreSQL and back. Importing replaces everything in one transaction:
//! a snapshot that does not load (a duplicate key, a claim held twice) leaves the state as it was.

use atlas_store::{Page, StoreError, Tx};
use serde_json::{Map, Value, json};

use crate::ApiError;
use crate::control::admin;

pub const FORMAT: &str = "localatlas-state";
pub const VERSION: u64 = 1;

/// The whole state as a snapshot.
pub fn export(tx: &mut dyn Tx) -> Result<Value, ApiError> {
    let mut records = Vec::new();
    for collection in tx.collections()? {
        records.extend(
            tx.list(&collection, Page::ALL)?
                .0
                .into_iter()
                .filter(|r| !admin::is_token_document(&r.collection, &r.key)),
        );
    }
    // Creation order across collections, so an import hands out sequences in the same order.
    records.sort_by_key(|r| r.seq);
    let documents: Vec<Value> = records
        .into_iter()
        .map(|r| json!({"collection": r.collection, "key": r.key, "doc": r.doc}))
        .collect();
    let claims: Vec<Value> = tx
        .claims()?
        .into_iter()
        .map(|c| json!({"scope": c.scope, "value": c.value, "owner": c.owner}))
        .collect();
    Ok(json!({
        "format": FORMAT,
        "version": VERSION,
        "documents": documents,
        "claims": claims,
    }))
}

/// Why a snapshot was refused.
fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::with_detail(
        crate::kernel::error_codes::VALIDATION_ERROR,
        format!("not a localatlas state snapshot: {}", detail.into()),
        vec![],
    )
}

fn text<'a>(item: &'a Map<String, Value>, field: &str, at: usize) -> Result<&'a str, ApiError> {
    item.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("item {at} has no string `{field}`")))
}

fn items<'a>(snapshot: &'a Value, field: &str) -> Result<Vec<&'a Map<String, Value>>, ApiError> {
    let list = snapshot
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("`{field}` is not an array")))?;
    list.iter()
        .enumerate()
        .map(|(at, item)| {
            item.as_object()
                .ok_or_else(|| invalid(format!("{field} item {at} is not an object")))
        })
        .collect()
}

/// Replaces the whole state with `snapshot`; answers how many documents and claims it loaded.
pub fn import(tx: &mut dyn Tx, snapshot: &Value) -> Result<Value, ApiError> {
    if snapshot.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(invalid(format!("`format` is not \"{FORMAT}\"")));
    }
    match snapshot.get("version").and_then(Value::as_u64) {
        Some(VERSION) => {}
        other => {
            return Err(invalid(format!(
                "version {other:?}; this localatlas reads version {VERSION}"
            )));
        }
    }
    let documents = items(snapshot, "documents")?;
    let claims = items(snapshot, "claims")?;
    let token = admin::load(tx)?;
    tx.clear()?;
    if let Some(token) = token {
        admin::ensure(tx, Some(&token))?;
    }
    for (at, item) in documents.iter().enumerate() {
        let (collection, key) = (text(item, "collection", at)?, text(item, "key", at)?);
        if admin::is_token_document(collection, key) {
            continue;
        }
        let doc = item.get("doc").unwrap_or(&Value::Null);
        match tx.insert(collection, key, doc) {
            Err(StoreError::Duplicate(_)) => {
                return Err(invalid(format!(
                    "document {collection}/{key} appears twice"
                )));
            }
            other => other?,
        };
    }
    for (at, item) in claims.iter().enumerate() {
        let (scope, value) = (text(item, "scope", at)?, text(item, "value", at)?);
        match tx.claim(scope, value, text(item, "owner", at)?) {
            Err(StoreError::Duplicate(_)) => {
                return Err(invalid(format!("{scope}: {value:?} is claimed twice")));
            }
            other => other?,
        }
    }
    Ok(json!({"status": "imported", "documents": documents.len(), "claims": claims.len()}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_store::Store;
    use atlas_store::sqlite::SqliteStore;

    #[test]
    fn a_snapshot_round_trips_in_creation_order_and_a_bad_one_changes_nothing() {
        let store = SqliteStore::memory().unwrap();
        let store: &dyn Store = &store;
        store
            .write(|tx| {
                tx.insert("/groups", "b", &json!({"name": "second"}))?;
                tx.insert("__internal", "x", &json!([1, 2]))?;
                tx.insert("/groups", "a", &json!({"name": "third"}))?;
                tx.claim("names", "second", "/groups/b")
            })
            .unwrap();
        let snapshot = store.read(|tx| Ok(export(tx))).unwrap().unwrap();
        let keys: Vec<&str> = snapshot["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["b", "x", "a"]);

        let other = SqliteStore::memory().unwrap();
        let other: &dyn Store = &other;
        other
            .write(|tx| tx.insert("/groups", "stale", &json!({})))
            .unwrap();
        let loaded = other
            .write(|tx| Ok(import(tx, &snapshot)))
            .unwrap()
            .unwrap();
        assert_eq!(loaded["documents"], 3);
        let again = other.read(|tx| Ok(export(tx))).unwrap().unwrap();
        assert_eq!(again, snapshot);

        let mut broken = snapshot.clone();
        broken["claims"]
            .as_array_mut()
            .unwrap()
            .push(json!({"scope": "names", "value": "second", "owner": "/groups/a"}));
        let mut refused = 0;
        for bad in [
            broken,
            json!({"format": "other"}),
            json!({"format": FORMAT, "version": 2}),
            json!({"format": FORMAT, "version": 1, "documents": [{"key": 1}], "claims": []}),
        ] {
            // `import` fails inside the transaction, which then rolls back.
            let outcome = other.write(|tx| match import(tx, &bad) {
                Ok(_) => Ok(true),
                Err(_) => Err(StoreError::Unavailable("refused".into())),
            });
            assert!(outcome.is_err(), "{bad}");
            refused += 1;
        }
        assert_eq!(refused, 4);
        assert_eq!(other.read(|tx| Ok(export(tx))).unwrap().unwrap(), snapshot);
    }
}
