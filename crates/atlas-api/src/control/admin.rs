//! The emulator's own admin credential: the control token, which the control API and the console
//! require from anywhere but loopback (and from everywhere under `--control token`).
//!
//! It is not an Atlas identity — no Atlas principal, whatever its roles, is an admin of the
//! emulator, and the control token authenticates nothing under `/api/atlas/v2`. It is created on
//! the first start (or set with `--control-token`) and kept in `__meta/control`, so every instance
//! sharing a store accepts the same one; a reset deletes nothing under `__meta`, and snapshots
//! leave it out (it belongs to the deployment, not to the state: an import keeps the token the
//! store had).

use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use atlas_store::{StoreResult, Tx};

/// Where the token is kept.
pub const COLLECTION: &str = "__meta";
pub const KEY: &str = "control";

/// What a token given with `--control-token` must look like: long enough not to be guessed,
/// printable ASCII without spaces (it travels in an `Authorization` header).
pub fn check_format(token: &str) -> Result<(), String> {
    if token.len() < 16 {
        return Err("a control token needs at least 16 characters".into());
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("a control token is printable ASCII without spaces".into());
    }
    Ok(())
}

/// A new random token: `lact_` and 32 random bytes in hex.
fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("lact_{}", hex::encode(bytes))
}

/// The stored token, if there is one.
pub fn load(tx: &mut dyn Tx) -> StoreResult<Option<String>> {
    Ok(tx.get(COLLECTION, KEY)?.and_then(|r| {
        r.doc
            .get("token")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }))
}

/// The stored token, created when there is none; `preset` (from `--control-token`) replaces
/// whatever is stored.
pub fn ensure(tx: &mut dyn Tx, preset: Option<&str>) -> StoreResult<String> {
    let stored = load(tx)?;
    match (preset, stored) {
        (Some(preset), Some(stored)) if preset == stored => Ok(stored),
        (None, Some(stored)) => Ok(stored),
        (preset, _) => {
            let token = preset.map_or_else(generate, str::to_owned);
            tx.upsert(COLLECTION, KEY, &json!({"token": token}))?;
            Ok(token)
        }
    }
}

/// Whether `presented` is the stored token (compared in constant time; no token stored admits
/// nobody).
pub fn verify(tx: &mut dyn Tx, presented: &str) -> StoreResult<bool> {
    Ok(load(tx)?.is_some_and(|token| {
        token.len() == presented.len() && bool::from(token.as_bytes().ct_eq(presented.as_bytes()))
    }))
}

/// Whether a snapshot document is the control token (snapshots leave it out).
pub fn is_token_document(collection: &str, key: &str) -> bool {
    collection == COLLECTION && key == KEY
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_store::Store;
    use atlas_store::sqlite::SqliteStore;

    #[test]
    fn a_token_is_created_once_kept_replaced_by_a_preset_and_verified() {
        let store = SqliteStore::memory().unwrap();
        let store: &dyn Store = &store;
        let first = store.write(|tx| ensure(tx, None)).unwrap();
        assert!(first.starts_with("lact_") && first.len() == 69, "{first}");
        assert!(check_format(&first).is_ok());
        assert_eq!(store.write(|tx| ensure(tx, None)).unwrap(), first);
        assert!(store.read(|tx| verify(tx, &first)).unwrap());
        assert!(!store.read(|tx| verify(tx, "lact_wrong")).unwrap());
        let preset = "a-token-of-my-own-choosing";
        assert_eq!(store.write(|tx| ensure(tx, Some(preset))).unwrap(), preset);
        assert!(!store.read(|tx| verify(tx, &first)).unwrap());
        assert!(store.read(|tx| verify(tx, preset)).unwrap());
        assert!(check_format("short").is_err());
        assert!(check_format("has a space in it, long enough").is_err());
    }
}
