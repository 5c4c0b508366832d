//! Credentials: programmatic API keys (HTTP Digest), service accounts and their OAuth tokens.
//!
//! Secrets are never stored. An API key keeps only its Digest `HA1 = MD5(publicKey:realm:private)`
//! (all Digest verification needs); a service-account secret keeps its SHA-256; an access token
//! keeps the SHA-256 of the token. The internal collections are:
//! - `__apiKeys/<publicKey>`: `{id, orgId, ha1}`
//! - `__serviceAccounts/<clientId>`: `{orgId, secrets: [{id, sha256, expiresAt}]}`
//! - `__tokens/<sha256(token)>`: `{clientId, orgId, expiresAt}` (epoch seconds)
//! - `__meta/secret`: the instance's HMAC key for Digest nonces and token signatures, shared by
//!   every instance on the same store.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest as _, Md5};
use rand::RngExt as _;
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use atlas_store::{StoreResult, Tx};

use crate::principal::Principal;

/// The Digest realm Atlas announces (semantics §4.1).
pub const REALM: &str = "MMS Public API";

/// Lifetime of an access token (semantics §4.2).
pub const TOKEN_SECONDS: i64 = 3600;

/// How long a Digest nonce is accepted after it was issued.
pub const NONCE_SECONDS: i64 = 300;

const API_KEYS: &str = "__apiKeys";
const SERVICE_ACCOUNTS: &str = "__serviceAccounts";
const TOKENS: &str = "__tokens";
const META: &str = "__meta";

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex MD5.
pub fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(<Sha256 as sha2::Digest>::digest(text.as_bytes()))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC accepts keys of any length.
        Err(_) => Vec::new(),
    }
}

/// The instance secret (created on first use, stored so every instance on the store agrees).
pub fn instance_secret(tx: &mut dyn Tx) -> StoreResult<Vec<u8>> {
    if let Some(record) = tx.get(META, "secret")?
        && let Some(key) = record.doc.get("key").and_then(Value::as_str)
        && let Ok(bytes) = hex::decode(key)
    {
        return Ok(bytes);
    }
    let key: [u8; 32] = rand::rng().random();
    tx.upsert(META, "secret", &json!({"key": hex::encode(key)}))?;
    Ok(key.to_vec())
}

/// Stores the Digest credential of an API key.
pub fn store_api_key(
    tx: &mut dyn Tx,
    id: &str,
    public_key: &str,
    private_key: &str,
    org_id: &str,
) -> StoreResult<()> {
    let ha1 = md5_hex(&format!("{public_key}:{REALM}:{private_key}"));
    tx.upsert(
        API_KEYS,
        public_key,
        &json!({"id": id, "orgId": org_id, "ha1": ha1}),
    )
}

/// Removes an API key's credential (it fails on its next request).
pub fn remove_api_key(tx: &mut dyn Tx, public_key: &str) -> StoreResult<bool> {
    tx.delete(API_KEYS, public_key)
}

/// Stores (adds) a secret of a service account.
pub fn store_service_account_secret(
    tx: &mut dyn Tx,
    client_id: &str,
    org_id: &str,
    secret_id: &str,
    secret: &str,
    expires_at: i64,
) -> StoreResult<()> {
    let mut doc = tx
        .get(SERVICE_ACCOUNTS, client_id)?
        .map(|r| r.doc)
        .unwrap_or_else(|| json!({"orgId": org_id, "secrets": []}));
    let entry = json!({"id": secret_id, "sha256": sha256_hex(secret), "expiresAt": expires_at});
    if let Some(secrets) = doc.get_mut("secrets").and_then(Value::as_array_mut) {
        secrets.retain(|s| s.get("id").and_then(Value::as_str) != Some(secret_id));
        secrets.push(entry);
    }
    tx.upsert(SERVICE_ACCOUNTS, client_id, &doc)
}

/// The parts of a Digest `Authorization` header that verification needs.
#[derive(Debug, Clone, Default)]
pub struct DigestResponse {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
    pub response: String,
}

/// The outcome of checking credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid(Principal),
    /// Well-formed and correct but the nonce is too old: challenge again with `stale=true`.
    Stale,
    Invalid,
}

/// A fresh nonce: issue time and an HMAC over it, 32 base64 characters as Atlas sends.
pub fn new_nonce(secret: &[u8], now: OffsetDateTime) -> String {
    let issued = now.unix_timestamp().to_be_bytes();
    let salt: [u8; 4] = rand::rng().random();
    let mut body = issued.to_vec();
    body.extend_from_slice(&salt);
    let mac = hmac(secret, &body);
    body.extend_from_slice(&mac[..12]);
    STANDARD_NO_PAD.encode(body)
}

/// Whether `nonce` was issued by this store's instances, and whether it is still fresh.
fn nonce_state(secret: &[u8], nonce: &str, now: OffsetDateTime) -> Option<bool> {
    let bytes = STANDARD_NO_PAD.decode(nonce).ok()?;
    if bytes.len() != 24 {
        return None;
    }
    let mac = hmac(secret, &bytes[..12]);
    if !bool::from(mac[..12].ct_eq(&bytes[12..])) {
        return None;
    }
    let issued = i64::from_be_bytes(bytes[..8].try_into().ok()?);
    Some(now.unix_timestamp() - issued <= NONCE_SECONDS)
}

/// Verifies a Digest response (RFC 2617, MD5, `qop=auth` or none) for `method`.
pub fn verify_digest(
    tx: &mut dyn Tx,
    method: &str,
    d: &DigestResponse,
    now: OffsetDateTime,
) -> StoreResult<Verdict> {
    let secret = instance_secret(tx)?;
    let Some(fresh) = nonce_state(&secret, &d.nonce, now) else {
        return Ok(Verdict::Invalid);
    };
    let Some(record) = tx.get(API_KEYS, &d.username)? else {
        return Ok(Verdict::Invalid);
    };
    let ha1 = record
        .doc
        .get("ha1")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ha2 = md5_hex(&format!("{method}:{}", d.uri));
    let expected = match (&d.qop, &d.nc, &d.cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) => {
            md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", d.nonce))
        }
        _ => md5_hex(&format!("{ha1}:{}:{ha2}", d.nonce)),
    };
    if d.realm != REALM
        || !bool::from(
            expected
                .as_bytes()
                .ct_eq(d.response.to_ascii_lowercase().as_bytes()),
        )
    {
        return Ok(Verdict::Invalid);
    }
    if !fresh {
        return Ok(Verdict::Stale);
    }
    Ok(Verdict::Valid(Principal::ApiKey {
        id: record
            .doc
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        public_key: d.username.clone(),
        org_id: record
            .doc
            .get("orgId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    }))
}

/// Checks a service account's client id and secret (HTTP Basic on the token endpoint).
pub fn verify_client(
    tx: &mut dyn Tx,
    client_id: &str,
    secret: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<String>> {
    let Some(record) = tx.get(SERVICE_ACCOUNTS, client_id)? else {
        return Ok(None);
    };
    let hash = sha256_hex(secret);
    let valid = record
        .doc
        .get("secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| {
            let stored = s.get("sha256").and_then(Value::as_str).unwrap_or_default();
            let expires = s
                .get("expiresAt")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX);
            bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) && expires > now.unix_timestamp()
        });
    Ok(valid.then(|| {
        record
            .doc
            .get("orgId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }))
}

/// Mints an access token for a verified service account and records it.
pub fn issue_token(
    tx: &mut dyn Tx,
    client_id: &str,
    org_id: &str,
    now: OffsetDateTime,
) -> StoreResult<String> {
    let secret = instance_secret(tx)?;
    let iat = now.unix_timestamp();
    let exp = iat + TOKEN_SECONDS;
    let jti = crate::ids::uuid();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "aud": "api://admin", "cid": client_id, "exp": exp, "iat": iat,
        "iss": "https://localatlas/oauth", "jti": jti, "sub": client_id,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(hmac(&secret, signing_input.as_bytes()));
    let token = format!("{signing_input}.{signature}");
    tx.insert(
        TOKENS,
        &sha256_hex(&token),
        &json!({"clientId": client_id, "orgId": org_id, "expiresAt": exp}),
    )?;
    Ok(token)
}

/// The service account a Bearer token authenticates, if it is known, unrevoked and unexpired.
pub fn verify_token(
    tx: &mut dyn Tx,
    token: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<Principal>> {
    let Some(record) = tx.get(TOKENS, &sha256_hex(token))? else {
        return Ok(None);
    };
    let expires = record
        .doc
        .get("expiresAt")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if expires <= now.unix_timestamp() {
        return Ok(None);
    }
    let field = |name: &str| {
        record
            .doc
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    // A token outlives nothing: deleting the account removes its credential, and with it access.
    if tx.get(SERVICE_ACCOUNTS, &field("clientId"))?.is_none() {
        return Ok(None);
    }
    Ok(Some(Principal::ServiceAccount {
        client_id: field("clientId"),
        org_id: field("orgId"),
    }))
}

/// Revokes a token; revoking an unknown token is not an error (RFC 7009).
pub fn revoke_token(tx: &mut dyn Tx, token: &str) -> StoreResult<()> {
    tx.delete(TOKENS, &sha256_hex(token)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_response() {
        // RFC 2617 §3.5: the worked example (realm "testrealm@host.com", qop auth).
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let response = md5_hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn nonces_are_32_base64_chars_and_expire() {
        let secret = [7u8; 32];
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let nonce = new_nonce(&secret, now);
        assert_eq!(nonce.len(), 32);
        assert_eq!(nonce_state(&secret, &nonce, now), Some(true));
        let later = now + time::Duration::seconds(NONCE_SECONDS + 1);
        assert_eq!(nonce_state(&secret, &nonce, later), Some(false));
        assert_eq!(nonce_state(&[8u8; 32], &nonce, now), None);
        assert_eq!(nonce_state(&secret, "not-a-nonce", now), None);
    }
}
