//! Admission: what happens to a request before its operation runs, in Atlas's order (semantics
//! §3.4): authentication (401 challenge) → API access list (403) → [version negotiation, done by
//! the HTTP layer: 406] → resolving the addressed project or organization → rate limit (429).
//! Roles are checked later, inside the operation's own transaction (`crate::authorize`).
//!
//! All of it runs in one write transaction that commits whatever the verdict: the nonce count of
//! a Digest request, an access-list entry's usage and a bucket's token stay spent even when the
//! operation then fails, as they do in Atlas.

use atlas_model::Operation;
use atlas_store::{Access, Tx};
use time::OffsetDateTime;

use crate::credentials::{self, Presented, Verdict};
use crate::engine::paths::segment;
use crate::error::ApiError;
use crate::principal::Principal;
use crate::ratelimit::{self, Scope};
use crate::{Atlas, api_access_list};

/// What admission needs to know about a request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub presented: &'a Presented,
    /// The caller's address (the peer, or the trusted client-address header).
    pub client_ip: &'a str,
    /// The routed operation and its raw (still encoded) path parameters, if the path names one.
    pub op: Option<(&'static Operation, &'a [(&'static str, String)])>,
    /// The request path as sent (for the 429 detail).
    pub path: &'a str,
    /// Whether version negotiation succeeded; a 406 answers before any rate limit.
    pub negotiated: bool,
    /// Whether rate limits are enforced (`--rate-limit off` turns them off).
    pub rate_limits: bool,
}

/// The verdict.
#[derive(Debug, Clone)]
pub enum Admission {
    /// Answer the Digest challenge; `stale` when the credentials were right but the nonce is spent.
    Challenge { stale: bool },
    /// An Atlas error before the operation runs (403 access list, 429).
    Refused(ApiError),
    /// Go on as `principal`, adding `headers` (`RateLimit-*`) to whatever the operation answers.
    Admitted {
        principal: Principal,
        headers: Vec<(&'static str, String)>,
    },
}

impl Atlas {
    /// Admits or refuses one request (blocking: runs a write transaction).
    pub fn admit(&self, request: &Request<'_>) -> Result<Admission, ApiError> {
        self.transaction(Access::Write, |tx| {
            let now = crate::clock::now(tx)?;
            admit(tx, request, now)
        })
    }
}

fn admit(
    tx: &mut dyn Tx,
    request: &Request<'_>,
    now: OffsetDateTime,
) -> Result<Admission, ApiError> {
    let open = request.op.is_some_and(|(op, _)| !op.authenticated);
    let principal = if open {
        Principal::Anonymous
    } else {
        match credentials::authenticate(tx, request.method, request.presented, now)? {
            Verdict::Valid(principal) => principal,
            Verdict::Stale => return Ok(Admission::Challenge { stale: true }),
            Verdict::Invalid => return Ok(Admission::Challenge { stale: false }),
        }
    };
    if let Err(e) = api_access_list::admit(tx, &principal, request.client_ip, now) {
        return Ok(Admission::Refused(e));
    }
    let mut headers = Vec::new();
    if let (true, true, Some((op, params))) = (request.rate_limits, request.negotiated, request.op)
        && let Some(set) = ratelimit::endpoint_set(op)
        && let Some(key) = scope_key(tx, set.scope, params, &principal, request.client_ip)?
    {
        match ratelimit::take(tx, &set, &key, now)? {
            Ok(allowed) => headers = allowed.headers(),
            Err(exhausted) => {
                return Ok(Admission::Refused(ratelimit::exhausted_error(
                    &set,
                    request.path,
                    exhausted,
                )));
            }
        }
    }
    Ok(Admission::Admitted { principal, headers })
}

/// The bucket key of a scope; `None` when the addressed project or organization does not exist
/// (its 404 comes later and carries no rate-limit headers, as recorded).
fn scope_key(
    tx: &mut dyn Tx,
    scope: Scope,
    params: &[(&'static str, String)],
    principal: &Principal,
    client_ip: &str,
) -> Result<Option<String>, ApiError> {
    let param = |name: &str| {
        params.iter().find(|(n, _)| *n == name).map(|(_, raw)| {
            percent_encoding::percent_decode_str(raw)
                .decode_utf8_lossy()
                .into_owned()
        })
    };
    let existing = |tx: &mut dyn Tx,
                    collection: &str,
                    id: Option<String>|
     -> Result<Option<String>, ApiError> {
        match id {
            Some(id) if tx.get(collection, &segment(&id))?.is_some() => Ok(Some(id)),
            _ => Ok(None),
        }
    };
    match scope {
        Scope::Group => existing(tx, "/groups", param("groupId")),
        Scope::Organization => existing(tx, "/orgs", param("orgId")),
        Scope::User => Ok(Some(principal.label())),
        Scope::Ip => Ok(Some(client_ip.to_owned())),
    }
}
