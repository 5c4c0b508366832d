//! Credentials: programmatic API keys (HTTP Digest), service accounts and their OAuth tokens.
//!
//! Secrets are never stored. An API key keeps only its Digest `HA1 = MD5(publicKey:realm:private)`
//! (all Digest verification needs); a service-account secret keeps its SHA-256; an access token
//! keeps the SHA-256 of the token. The internal collections are:
//! - `__apiKeys/<publicKey>`: `{id, orgId, ha1}`
//! - `__serviceAccounts/<clientId>`: `{orgId, secrets: [{id, sha256, expiresAt}]}`
//! - `__tokens/<subject>` keyed by `sha256(token)`: `{kind, clientId|userId, orgId, secretId,
//!   expiresAt}` (epoch seconds); the subject (client id or user id) is the token's `sub` claim,
//!   so a subject's tokens can be counted (100 active per service account) and dropped together.
//! - `__nonces/<issue minute>` keyed by nonce: the `nc` values a Digest nonce was used with, so a
//!   replayed request fails on every instance sharing the store.
//! - `__meta/secret`: the instance's HMAC key for Digest nonces and token signatures, shared by
//!   every instance on the same store.
//!
//! Everything here that verifies a request writes (nonce counts), so it runs in a write
//! transaction: the admission stage's (`crate::stages::admission`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest as _, Md5};
use rand::RngExt as _;
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use atlas_store::{Page, StoreResult, Tx};

use crate::kernel::counters::Counters;
use crate::kernel::principal::Principal;

/// The Digest realm Atlas announces (semantics §4.1).
pub const REALM: &str = "MMS Public API";

/// Lifetime of an access token (semantics §4.2).
pub const TOKEN_SECONDS: i64 = 3600;

/// How long a Digest nonce is accepted after it was issued. Atlas's rule is unknown (semantics
/// §10.8); a .NET client was seen reusing one for up to an hour, the Go SDK takes a new one per
/// request. Five minutes with `stale=true` afterwards keeps both working (clients retry a stale
/// challenge without asking for credentials again, RFC 2617 §3.2.1).
pub const NONCE_SECONDS: i64 = 300;

/// Active access tokens one service account may hold (semantics §4.2).
pub const MAX_ACTIVE_TOKENS: usize = 100;

const API_KEYS: &str = "__apiKeys";
const SERVICE_ACCOUNTS: &str = "__serviceAccounts";
const TOKENS: &str = "__tokens";
const NONCES: &str = "__nonces";
const META: &str = "__meta";

/// The `nc` values below the highest one seen that are still tracked per nonce: a request may
/// overtake another that uses the same nonce, but not by more than this.
const NC_WINDOW: u64 = 64;

type HmacSha256 = Hmac<Sha256>;

/// What verifying a presented token or nonce computed that depends only on it and the instance
/// secret: its HMAC check (and for a token, the SHA-256 that keys its record). Kept so a client
/// that sends the same token or nonce again costs a lookup, not two hashes. Everything that can
/// change — revocation, expiry, the account, the key, the nonce counts — is still read from the
/// store (whose own cache follows every write) on every request; an entry is used only with the
/// secret it was computed under, so a replaced secret (a new store, an import) verifies anew.
/// Bounded: at most [`VERIFIED_MAX`] entries per kind, emptied when full.
mod verified {
    use rustc_hash::FxHashMap;
    use std::sync::{Mutex, OnceLock, PoisonError};

    pub(super) const VERIFIED_MAX: usize = 1024;

    /// presented text → (secret it was checked under, what the check found).
    type Checked<V> = FxHashMap<String, (Vec<u8>, V)>;

    pub(super) struct Memo<V: Clone>(OnceLock<Mutex<Checked<V>>>);

    impl<V: Clone> Memo<V> {
        pub(super) const fn new() -> Self {
            Memo(OnceLock::new())
        }

        fn map(&self) -> std::sync::MutexGuard<'_, Checked<V>> {
            self.0
                .get_or_init(Mutex::default)
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        }

        /// The value for `presented` under `secret`, computed by `check` on a miss.
        pub(super) fn get(&self, secret: &[u8], presented: &str, check: impl FnOnce() -> V) -> V {
            if let Some((under, value)) = self.map().get(presented)
                && under.as_slice() == secret
            {
                return value.clone();
            }
            let value = check();
            let mut map = self.map();
            if map.len() >= VERIFIED_MAX {
                map.clear();
            }
            map.insert(presented.to_owned(), (secret.to_vec(), value.clone()));
            value
        }
    }
}

/// Tokens checked: their subject (`None`: not signed by this secret) and SHA-256.
static TOKENS_CHECKED: verified::Memo<(Option<String>, String)> = verified::Memo::new();

/// Nonces checked: when they were issued (`None`: not issued under this secret).
static NONCES_CHECKED: verified::Memo<Option<i64>> = verified::Memo::new();

/// Lower-case hex MD5.
pub fn md5_hex(text: &str) -> String {
    md5_hex_of(&[text])
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
    let ha1 = digest_ha1(public_key, private_key);
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

/// Removes one secret of a service account: it can mint no token, and the tokens minted with it
/// stop working on their next request.
pub fn remove_service_account_secret(
    tx: &mut dyn Tx,
    client_id: &str,
    secret_id: &str,
) -> StoreResult<()> {
    let Some(mut record) = tx.get(SERVICE_ACCOUNTS, client_id)? else {
        return Ok(());
    };
    if let Some(secrets) = record.doc.get_mut("secrets").and_then(Value::as_array_mut) {
        secrets.retain(|s| s.get("id").and_then(Value::as_str) != Some(secret_id));
    }
    tx.update(SERVICE_ACCOUNTS, client_id, &record.doc)?;
    Ok(())
}

/// Removes a service account's credential and every token it holds.
pub fn remove_service_account(tx: &mut dyn Tx, client_id: &str) -> StoreResult<()> {
    tx.delete(SERVICE_ACCOUNTS, client_id)?;
    revoke_subject(tx, client_id)
}

/// Drops every token of a subject (a client id or a user id).
pub fn revoke_subject(tx: &mut dyn Tx, subject: &str) -> StoreResult<()> {
    tx.delete_tree(&token_collection(subject)).map(|_| ())
}

/// Removes every credential of an organization's keys and service accounts (the organization is
/// being deleted): none of them authenticates afterwards.
pub fn remove_org_credentials(tx: &mut dyn Tx, org_id: &str) -> StoreResult<()> {
    let (keys, _) = tx.list(&format!("/orgs/{org_id}/apiKeys"), Page::ALL)?;
    for key in keys {
        if let Some(public) = key.doc.get("publicKey").and_then(Value::as_str) {
            remove_api_key(tx, public)?;
        }
    }
    let (accounts, _) = tx.list(&format!("/orgs/{org_id}/serviceAccounts"), Page::ALL)?;
    for account in accounts {
        remove_service_account(tx, &account.key)?;
    }
    Ok(())
}

/// The credentials a request presented (its `Authorization` header).
#[derive(Debug, Clone)]
pub enum Presented {
    Digest(DigestResponse),
    Bearer(String),
    Basic {
        user: String,
        password: String,
    },
    /// An `Authorization` header that could not be parsed: what was wrong with it.
    Malformed(&'static str),
    None,
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

/// The `name=value` / `name="value"` parameters of a Digest header after its scheme (an
/// `Authorization` a client sends, or a `WWW-Authenticate` challenge), names in lower case,
/// quotes removed and backslash escapes honoured. Shared by the server's parsing and the replay
/// client's.
pub fn digest_params(text: &str) -> Result<Vec<(String, String)>, &'static str> {
    const UNPARSED: &str = "Digest fields are not key=value pairs";
    let mut params = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').ok_or(UNPARSED)?;
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => value.push(c),
                }
            }
            (
                value,
                &quoted[end.ok_or("Digest field with an unclosed quote")? + 1..],
            )
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.push((name.trim().to_ascii_lowercase(), value));
        rest = remainder.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(params)
}

/// The outcome of checking credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid(Principal),
    /// Correct credentials, but the nonce is too old or this `nc` was used already: challenge
    /// again with `stale=true`, so a client retries with a fresh nonce.
    Stale(Refusal),
    Invalid(Refusal),
}

/// Why credentials were not accepted. Atlas's 401 says only "You are not authorized for this
/// resource." (its body is kept as recorded); this is what the server logs at `info` next to it.
/// It names public identifiers (a key's public key, a client id) and never a secret: no private
/// key, client secret, token or Digest response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header: a Digest client's first request, which the challenge answers.
    Missing,
    /// An `Authorization` header that could not be parsed (what was wrong with it).
    Malformed(&'static str),
    /// HTTP Basic, which Atlas takes only on the token endpoints (`/api/oauth/token`).
    Basic,
    /// A Digest nonce this store's instances did not issue: made up, cut short, or from a server
    /// on another store (a `memory` store restarted, say).
    UnknownNonce,
    /// A Digest `username` that is no API key's public key (never created, or deleted).
    UnknownKey { public_key: String },
    /// A Digest `realm` other than Atlas's.
    WrongRealm { realm: String },
    /// The Digest `response` does not match: the private key is not this public key's, or the
    /// client hashed another method or URI than it sent.
    BadResponse { public_key: String },
    /// A right Digest response for another request-target than this request's (a captured
    /// `Authorization` header replayed on another path: RFC 7616 §3.4.6).
    WrongUri { public_key: String, uri: String },
    /// A right Digest response on a nonce older than [`NONCE_SECONDS`].
    NonceExpired {
        public_key: String,
        age_seconds: i64,
    },
    /// A right Digest response whose nonce count was used already (a replay).
    NonceReplayed { public_key: String, nc: u64 },
    /// A Bearer token this store's instances did not sign (cut short, made up, or another
    /// server's).
    TokenUnknown,
    /// A signed Bearer token with no record: revoked (`/api/oauth/revoke`, a reset, a deleted
    /// subject).
    TokenRevoked { subject: String },
    /// A Bearer token past its expiry ([`TOKEN_SECONDS`] after it was issued).
    TokenExpired { subject: String },
    /// A user's session token whose user was removed.
    UserRemoved { subject: String },
    /// A service-account token whose account was deleted.
    AccountRemoved { subject: String },
    /// A service-account token whose secret was deleted.
    SecretRemoved { subject: String },
}

impl Refusal {
    /// A short stable name for log fields and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Missing => "no_credentials",
            Refusal::Malformed(_) => "malformed_header",
            Refusal::Basic => "basic_not_accepted",
            Refusal::UnknownNonce => "unknown_nonce",
            Refusal::UnknownKey { .. } => "unknown_key",
            Refusal::WrongRealm { .. } => "wrong_realm",
            Refusal::BadResponse { .. } => "bad_digest_response",
            Refusal::WrongUri { .. } => "wrong_digest_uri",
            Refusal::NonceExpired { .. } => "stale_nonce",
            Refusal::NonceReplayed { .. } => "replayed_nonce",
            Refusal::TokenUnknown => "unknown_token",
            Refusal::TokenRevoked { .. } => "revoked_token",
            Refusal::TokenExpired { .. } => "expired_token",
            Refusal::UserRemoved { .. } => "user_removed",
            Refusal::AccountRemoved { .. } => "service_account_removed",
            Refusal::SecretRemoved { .. } => "secret_removed",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Missing => write!(
                f,
                "no Authorization header (a Digest client's first request; send an API key with \
                 Digest, e.g. curl --digest -u PUBLIC:PRIVATE, or a service account's token as Bearer)"
            ),
            Refusal::Malformed(what) => write!(f, "malformed Authorization header: {what}"),
            Refusal::Basic => write!(
                f,
                "HTTP Basic is accepted only by /api/oauth/token; use Digest with an API key \
                 (curl --digest -u PUBLIC:PRIVATE) or a Bearer token"
            ),
            Refusal::UnknownNonce => write!(
                f,
                "Digest nonce not issued by this server (or by another server on this store); \
                 the client must answer a fresh challenge"
            ),
            Refusal::UnknownKey { public_key } => {
                write!(
                    f,
                    "unknown API key: no key has the public key {public_key:?}"
                )
            }
            Refusal::WrongRealm { realm } => {
                write!(f, "Digest realm {realm:?} is not {REALM:?}")
            }
            Refusal::BadResponse { public_key } => write!(
                f,
                "bad Digest response for API key {public_key:?}: wrong private key, or hashed \
                 with another method or URI than the request's"
            ),
            Refusal::WrongUri { public_key, uri } => write!(
                f,
                "API key {public_key}: the Digest response is for {uri:?}, not this request"
            ),
            Refusal::NonceExpired {
                public_key,
                age_seconds,
            } => write!(
                f,
                "stale Digest nonce for API key {public_key:?}: issued {age_seconds} s ago, \
                 accepted for {NONCE_SECONDS} s; challenged again with stale=true"
            ),
            Refusal::NonceReplayed { public_key, nc } => write!(
                f,
                "replayed Digest nonce for API key {public_key:?}: nonce count {nc:08x} was used \
                 already; challenged again with stale=true"
            ),
            Refusal::TokenUnknown => write!(
                f,
                "Bearer token not signed by this server (cut short, or from a server on another store)"
            ),
            Refusal::TokenRevoked { subject } => {
                write!(
                    f,
                    "revoked Bearer token of {subject:?} (revoked, or the server was reset)"
                )
            }
            Refusal::TokenExpired { subject } => write!(
                f,
                "expired Bearer token of {subject:?} (tokens last {TOKEN_SECONDS} s; get a new one \
                 from /api/oauth/token)"
            ),
            Refusal::UserRemoved { subject } => {
                write!(f, "Bearer token of removed user {subject:?}")
            }
            Refusal::AccountRemoved { subject } => {
                write!(f, "Bearer token of deleted service account {subject:?}")
            }
            Refusal::SecretRemoved { subject } => write!(
                f,
                "Bearer token of service account {subject:?} minted with a secret since deleted"
            ),
        }
    }
}

/// Checks whatever credentials a request presented for `method`.
pub fn authenticate(
    tx: &mut dyn Tx,
    counters: &Counters,
    method: &str,
    target: &str,
    presented: &Presented,
    now: OffsetDateTime,
) -> StoreResult<Verdict> {
    match presented {
        Presented::Digest(d) => verify_digest(tx, counters, method, target, d, now),
        Presented::Bearer(token) => Ok(match verify_token(tx, token, now)? {
            Ok(principal) => Verdict::Valid(principal),
            Err(refusal) => Verdict::Invalid(refusal),
        }),
        Presented::Basic { .. } => Ok(Verdict::Invalid(Refusal::Basic)),
        Presented::Malformed(what) => Ok(Verdict::Invalid(Refusal::Malformed(what))),
        Presented::None => Ok(Verdict::Invalid(Refusal::Missing)),
    }
}

/// Whether a Digest `uri` names `target`, the request's path and query as sent (clients send
/// the request-target; a proxy-style absolute URI names it too).
pub fn digest_uri_names(uri: &str, target: &str) -> bool {
    let path = match uri.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => uri,
    };
    path == target
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

/// When `nonce` was issued, if this store's instances issued it.
fn nonce_issued(secret: &[u8], nonce: &str) -> Option<i64> {
    let bytes = STANDARD_NO_PAD.decode(nonce).ok()?;
    if bytes.len() != 24 {
        return None;
    }
    let mac = hmac(secret, &bytes[..12]);
    if !bool::from(mac[..12].ct_eq(&bytes[12..])) {
        return None;
    }
    Some(i64::from_be_bytes(bytes[..8].try_into().ok()?))
}

fn nonce_collection(issued: i64) -> String {
    format!("{NONCES}/{}", issued.div_euclid(60))
}

/// Records that `nonce` was used with `nc`; false when that count was seen before (a replay) or
/// is too far behind the highest one.
fn record_nonce_use(
    tx: &mut dyn Tx,
    counters: &Counters,
    nonce: &str,
    issued: i64,
    nc: u64,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let table = nonce_collection(issued);
    if counters.is_empty(tx, &table)? {
        prune_nonces(tx, counters, now)?;
    }
    counters.modify(tx, &table, nonce, |record| {
        let field = |name: &str| {
            record
                .and_then(|r| r.get(name))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let (max, window) = (field("max"), field("window"));
        match advance_window(max, window, nc) {
            Some((max, window)) => (json!({"max": max, "window": window}), true),
            None => (json!({"max": max, "window": window}), false),
        }
    })
}

/// The sliding window of used `nc` values after using `nc`: the highest count and a bitmask of
/// the [`NC_WINDOW`] counts below it (bit `i` = count `max - 1 - i` used). `None`: a replay.
fn advance_window(max: u64, window: u64, nc: u64) -> Option<(u64, u64)> {
    if nc == 0 {
        return None;
    }
    if nc > max {
        let shift = nc - max;
        let moved = if shift >= NC_WINDOW {
            0
        } else {
            window << shift
        };
        let previous = if max > 0 && shift <= NC_WINDOW {
            1u64 << (shift - 1)
        } else {
            0
        };
        return Some((nc, moved | previous));
    }
    let behind = max - nc;
    if behind == 0 || behind > NC_WINDOW {
        return None;
    }
    let bit = 1u64 << (behind - 1);
    (window & bit == 0).then_some((max, window | bit))
}

/// Drops the use records of nonces that can no longer be accepted; runs when the first nonce
/// of an issue minute is used, so about once a minute.
fn prune_nonces(tx: &mut dyn Tx, counters: &Counters, now: OffsetDateTime) -> StoreResult<()> {
    let oldest_live = (now.unix_timestamp() - NONCE_SECONDS).div_euclid(60) - 1;
    counters.drop_tables(tx, NONCES, |table| {
        let minute = table.rsplit('/').next().and_then(|m| m.parse::<i64>().ok());
        minute.is_some_and(|m| m < oldest_live)
    })
}

/// RFC 2617's `HA1` for the localatlas realm: what is stored instead of a key's secret.
pub fn digest_ha1(user: &str, password: &str) -> String {
    md5_hex(&format!("{user}:{REALM}:{password}"))
}

/// RFC 2617's `response` (MD5): with `(nc, cnonce, qop)` when the client counts requests, the
/// legacy form without them otherwise. Computed the same way by the server and by clients.
pub fn digest_response(
    ha1: &str,
    nonce: &str,
    counted: Option<(&str, &str, &str)>,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = md5_hex_of(&[method, uri]);
    match counted {
        Some((nc, cnonce, qop)) => md5_hex_of(&[ha1, nonce, nc, cnonce, qop, &ha2]),
        None => md5_hex_of(&[ha1, nonce, &ha2]),
    }
}

/// Lower-case hex MD5 of `parts` joined by `:`, hashed as they are (every Digest request
/// computes two; joining them in a `String` first cost as much as the hashing).
fn md5_hex_of(parts: &[&str]) -> String {
    let mut md5 = Md5::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            md5.update(b":");
        }
        md5.update(part.as_bytes());
    }
    hex::encode(md5.finalize())
}

/// The `Authorization` value a Digest client sends for request number `nc` on `nonce`
/// (`qop=auth`), or, with `nc` `None`, the legacy form without `qop`: what the tests and the
/// benchmark's clients send.
pub fn digest_authorization(
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    nc: Option<u32>,
) -> String {
    let ha1 = digest_ha1(user, password);
    let head =
        format!("Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\"");
    match nc {
        Some(nc) => {
            let (nc, cnonce) = (format!("{nc:08x}"), "0a4f113b");
            let response = digest_response(&ha1, nonce, Some((&nc, cnonce, "auth")), method, uri);
            format!(
                "{head}, algorithm=MD5, response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\""
            )
        }
        None => {
            let response = digest_response(&ha1, nonce, None, method, uri);
            format!("{head}, response=\"{response}\"")
        }
    }
}

/// Verifies a Digest response (RFC 2617, MD5, `qop=auth` or none) for `method`, and records the
/// nonce's use so the same request cannot be replayed.
pub fn verify_digest(
    tx: &mut dyn Tx,
    counters: &Counters,
    method: &str,
    target: &str,
    d: &DigestResponse,
    now: OffsetDateTime,
) -> StoreResult<Verdict> {
    let secret = instance_secret(tx)?;
    let issued = NONCES_CHECKED.get(&secret, &d.nonce, || nonce_issued(&secret, &d.nonce));
    let Some(issued) = issued else {
        return Ok(Verdict::Invalid(Refusal::UnknownNonce));
    };
    let public_key = d.username.clone();
    let Some(record) = tx.get(API_KEYS, &d.username)? else {
        return Ok(Verdict::Invalid(Refusal::UnknownKey { public_key }));
    };
    let ha1 = record
        .doc
        .get("ha1")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let counted = match (&d.qop, &d.nc, &d.cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) => Some((nc.as_str(), cnonce.as_str(), qop.as_str())),
        _ => None,
    };
    let expected = digest_response(ha1, &d.nonce, counted, method, &d.uri);
    if d.realm != REALM {
        return Ok(Verdict::Invalid(Refusal::WrongRealm {
            realm: d.realm.clone(),
        }));
    }
    if !bool::from(
        expected
            .as_bytes()
            .ct_eq(d.response.to_ascii_lowercase().as_bytes()),
    ) {
        return Ok(Verdict::Invalid(Refusal::BadResponse { public_key }));
    }
    if !digest_uri_names(&d.uri, target) {
        return Ok(Verdict::Invalid(Refusal::WrongUri {
            public_key,
            uri: d.uri.clone(),
        }));
    }
    let age_seconds = now.unix_timestamp() - issued;
    if age_seconds > NONCE_SECONDS {
        return Ok(Verdict::Stale(Refusal::NonceExpired {
            public_key,
            age_seconds,
        }));
    }
    // Without `qop` there is no count: such a nonce is good for one request.
    let nc = match (&d.qop, &d.nc) {
        (Some(_), Some(nc)) => u64::from_str_radix(nc, 16).unwrap_or(0),
        _ => 1,
    };
    if !record_nonce_use(tx, counters, &d.nonce, issued, nc, now)? {
        return Ok(Verdict::Stale(Refusal::NonceReplayed { public_key, nc }));
    }
    let field = |name: &str| {
        record
            .doc
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Verdict::Valid(Principal::ApiKey {
        id: field("id"),
        public_key: d.username.clone(),
        org_id: field("orgId"),
    }))
}

/// A service account whose client credentials were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub org_id: String,
    /// The secret that matched (its tokens die with it).
    pub secret_id: String,
}

/// Checks a service account's client id and secret (HTTP Basic on the token endpoint).
pub fn verify_client(
    tx: &mut dyn Tx,
    client_id: &str,
    secret: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<Client>> {
    let Some(record) = tx.get(SERVICE_ACCOUNTS, client_id)? else {
        return Ok(None);
    };
    let hash = sha256_hex(secret);
    let matched = record
        .doc
        .get("secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| {
            let stored = s.get("sha256").and_then(Value::as_str).unwrap_or_default();
            let expires = s
                .get("expiresAt")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX);
            bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) && expires > now.unix_timestamp()
        });
    Ok(matched.map(|s| Client {
        client_id: client_id.to_owned(),
        org_id: record
            .doc
            .get("orgId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        secret_id: s
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    }))
}

fn token_collection(subject: &str) -> String {
    format!("{TOKENS}/{subject}")
}

/// A signed JWT-shaped token for `subject` (clients treat it as opaque, semantics §4.2).
fn sign_token(secret: &[u8], subject: &str, iat: i64, exp: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "aud": "api://admin", "cid": subject, "exp": exp, "iat": iat,
        "iss": "https://localatlas/oauth", "jti": crate::kernel::ids::uuid(), "sub": subject,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(hmac(secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// The `sub` of a token this store's instances signed.
fn token_subject(secret: &[u8], token: &str) -> Option<String> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let given = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let expected = hmac(secret, signing_input.as_bytes());
    if !bool::from(expected.ct_eq(&given)) {
        return None;
    }
    let payload = signing_input.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// The outcome of a token request from a verified client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    Token(String),
    /// The account already holds [`MAX_ACTIVE_TOKENS`] unexpired tokens.
    LimitReached,
}

/// Mints an access token for a verified service account and records it, unless the account
/// holds its maximum of active tokens (expired ones are dropped first).
pub fn issue_token(tx: &mut dyn Tx, client: &Client, now: OffsetDateTime) -> StoreResult<Issued> {
    let collection = token_collection(&client.client_id);
    let (tokens, _) = tx.list(&collection, Page::ALL)?;
    let mut active = 0;
    for token in tokens {
        if expired(&token.doc, now) {
            tx.delete(&collection, &token.key)?;
        } else {
            active += 1;
        }
    }
    if active >= MAX_ACTIVE_TOKENS {
        return Ok(Issued::LimitReached);
    }
    let doc = json!({
        "kind": "serviceAccount", "clientId": client.client_id, "orgId": client.org_id,
        "secretId": client.secret_id,
    });
    issue(tx, &client.client_id, doc, now).map(Issued::Token)
}

/// Mints a session token for a MongoDB Cloud user (the control API's stand-in for the Atlas
/// CLI's login); it lasts as long as a service-account token.
pub fn issue_user_token(
    tx: &mut dyn Tx,
    user_id: &str,
    username: &str,
    now: OffsetDateTime,
) -> StoreResult<String> {
    let doc = json!({"kind": "user", "userId": user_id, "username": username});
    issue(tx, user_id, doc, now)
}

fn issue(
    tx: &mut dyn Tx,
    subject: &str,
    mut doc: Value,
    now: OffsetDateTime,
) -> StoreResult<String> {
    let secret = instance_secret(tx)?;
    let iat = now.unix_timestamp();
    let exp = iat + TOKEN_SECONDS;
    let token = sign_token(&secret, subject, iat, exp);
    doc["expiresAt"] = json!(exp);
    tx.insert(&token_collection(subject), &sha256_hex(&token), &doc)?;
    Ok(token)
}

/// Whether a token record's `expiresAt` (epoch seconds) has passed.
fn expired(doc: &Value, now: OffsetDateTime) -> bool {
    doc.get("expiresAt").and_then(Value::as_i64).unwrap_or(0) <= now.unix_timestamp()
}

/// The principal a Bearer token authenticates, if it is known, unrevoked and unexpired, and its
/// account (and, for a service account, the secret it was minted with) still exists; else why not.
pub fn verify_token(
    tx: &mut dyn Tx,
    token: &str,
    now: OffsetDateTime,
) -> StoreResult<Result<Principal, Refusal>> {
    let secret = instance_secret(tx)?;
    let (subject, hash) = TOKENS_CHECKED.get(&secret, token, || {
        (token_subject(&secret, token), sha256_hex(token))
    });
    let Some(subject) = subject else {
        return Ok(Err(Refusal::TokenUnknown));
    };
    let Some(record) = tx.get(&token_collection(&subject), &hash)? else {
        return Ok(Err(Refusal::TokenRevoked { subject }));
    };
    if expired(&record.doc, now) {
        return Ok(Err(Refusal::TokenExpired { subject }));
    }
    let field = |name: &str| {
        record
            .doc
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if field("kind") == "user" {
        // A removed user's session ends with it.
        if tx.get("/users", &field("userId"))?.is_none() {
            return Ok(Err(Refusal::UserRemoved { subject }));
        }
        return Ok(Ok(Principal::User {
            id: field("userId"),
            username: field("username"),
        }));
    }
    // A token outlives nothing: deleting the account or the secret it was minted with removes
    // the credential, and with it access.
    let Some(account) = tx.get(SERVICE_ACCOUNTS, &field("clientId"))? else {
        return Ok(Err(Refusal::AccountRemoved { subject }));
    };
    let secret_id = field("secretId");
    let secret_alive = account
        .doc
        .get("secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| s.get("id").and_then(Value::as_str) == Some(secret_id.as_str()));
    if !secret_alive {
        return Ok(Err(Refusal::SecretRemoved { subject }));
    }
    Ok(Ok(Principal::ServiceAccount {
        client_id: field("clientId"),
        org_id: field("orgId"),
    }))
}

/// Revokes a token of `client_id`; revoking an unknown token, or another client's, changes
/// nothing and is not an error (RFC 7009 §2.2).
pub fn revoke_token(tx: &mut dyn Tx, client_id: &str, token: &str) -> StoreResult<()> {
    let secret = instance_secret(tx)?;
    if token_subject(&secret, token).as_deref() == Some(client_id) {
        tx.delete(&token_collection(client_id), &sha256_hex(token))?;
    }
    Ok(())
}

/// The subjects holding tokens (for reset).
pub fn token_subjects(tx: &mut dyn Tx) -> StoreResult<Vec<String>> {
    Ok(tx
        .collections_under(TOKENS)?
        .into_iter()
        .filter_map(|c| c.strip_prefix(&format!("{TOKENS}/")).map(str::to_owned))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_response() {
        // RFC 2617 §3.5: the worked example (realm "testrealm@host.com", qop auth).
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let response = digest_response(
            &ha1,
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(("00000001", "0a4f113b", "auth")),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn nonces_are_32_base64_chars_and_carry_their_issue_time() {
        let secret = [7u8; 32];
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let nonce = new_nonce(&secret, now);
        assert_eq!(nonce.len(), 32);
        assert_eq!(nonce_issued(&secret, &nonce), Some(1_800_000_000));
        assert_eq!(nonce_issued(&[8u8; 32], &nonce), None);
        assert_eq!(nonce_issued(&secret, "not-a-nonce"), None);
    }

    #[test]
    fn each_nonce_count_is_accepted_once() {
        // In order.
        let (max, window) = advance_window(0, 0, 1).unwrap();
        let (max, window) = advance_window(max, window, 2).unwrap();
        assert_eq!(advance_window(max, window, 2), None);
        assert_eq!(advance_window(max, window, 1), None);
        // Overtaken: 5 arrives before 3 and 4, which are still accepted once.
        let (max, window) = advance_window(max, window, 5).unwrap();
        let (max, window) = advance_window(max, window, 3).unwrap();
        let (max, window) = advance_window(max, window, 4).unwrap();
        assert_eq!(advance_window(max, window, 3), None);
        assert_eq!(advance_window(max, window, 4), None);
        assert_eq!(advance_window(max, window, 0), None);
        // Far behind the window is refused; a big jump forgets the old counts.
        let (max, window) = advance_window(max, window, 500).unwrap();
        assert_eq!(advance_window(max, window, 500 - NC_WINDOW - 1), None);
        assert!(advance_window(max, window, 500 - NC_WINDOW).is_some());
    }

    #[test]
    fn tokens_name_their_subject_and_reject_forgeries() {
        let secret = [9u8; 32];
        let token = sign_token(&secret, "mdb_sa_id_x", 1, 2);
        assert_eq!(
            token_subject(&secret, &token).as_deref(),
            Some("mdb_sa_id_x")
        );
        assert_eq!(token_subject(&[1u8; 32], &token), None);
        assert_eq!(token_subject(&secret, "a.b.c"), None);
        assert_eq!(token_subject(&secret, "garbage"), None);
    }
}
