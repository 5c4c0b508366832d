//! Admission: what happens to a request before its operation runs, in Atlas's order (semantics
//! §3.4): authentication (401 challenge) → API access list (403) → [version negotiation, done by
//! the HTTP layer: 406] → resolving the addressed project or organization → rate limit (429).
//! Roles are checked later, inside the operation's own transaction (`crate::stages::authorize`).
//!
//! It reads in one transaction, and what it spends stays spent whatever the verdict and even
//! when the operation then fails, as in Atlas: the nonce count of a Digest request and a
//! bucket's token are [`Counters`] (in memory for an embedded store, so admitting a GET writes
//! nothing to the database), and an access-list entry's usage is recorded in a write
//! transaction of its own, only when an access list let the request in.

pub mod address_check;
pub mod throttle;

use atlas_model::Operation;

use atlas_store::Tx;
use time::OffsetDateTime;

use crate::identity::credentials::{self, Presented, Refusal, Verdict};
use crate::kernel::counters::Counters;
use crate::kernel::error::ApiError;
use crate::kernel::paths::segment;
use crate::kernel::principal::Principal;

use throttle::Scope;

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
    /// The request-target as sent (path and query): what a Digest response must be for.
    pub target: &'a str,
    /// Whether version negotiation succeeded; a 406 answers before any rate limit.
    pub negotiated: bool,
    /// Whether rate limits are enforced (`--rate-limit off` turns them off).
    pub rate_limits: bool,
}

/// The verdict.
#[derive(Debug, Clone)]
pub enum Admission {
    /// Answer the Digest challenge; `stale` when the credentials were right but the nonce is spent.
    /// `reason` is why the credentials were not accepted, for the log (the 401 body stays
    /// Atlas's).
    Challenge { stale: bool, reason: Refusal },
    /// An Atlas error before the operation runs (403 access list, 429).
    Refused(ApiError),
    /// Go on as `principal`, adding `headers` (`RateLimit-*`) to whatever the operation answers.
    Admitted {
        principal: Principal,
        headers: Vec<(&'static str, String)>,
    },
}

/// The verdict, and the access-list entry whose use to record.
pub fn admit(
    tx: &mut dyn Tx,
    counters: &Counters,
    request: &Request<'_>,
    now: OffsetDateTime,
) -> Result<(Admission, Option<address_check::Admitted>), ApiError> {
    let open = request.op.is_some_and(|(op, _)| !op.authenticated);
    let principal = if open {
        Principal::Anonymous
    } else {
        match credentials::authenticate(
            tx,
            counters,
            request.method,
            request.target,
            request.presented,
            now,
        )? {
            Verdict::Valid(principal) => principal,
            Verdict::Stale(reason) => {
                return Ok((
                    Admission::Challenge {
                        stale: true,
                        reason,
                    },
                    None,
                ));
            }
            Verdict::Invalid(reason) => {
                return Ok((
                    Admission::Challenge {
                        stale: false,
                        reason,
                    },
                    None,
                ));
            }
        }
    };
    let used = match address_check::admit(tx, &principal, request.client_ip) {
        Ok(used) => used,
        Err(e) => return Ok((Admission::Refused(e), None)),
    };
    let mut headers = Vec::new();
    if let (true, true, Some((op, params))) = (request.rate_limits, request.negotiated, request.op)
        && let Some(set) = throttle::endpoint_set(op)
        && let Some(key) = scope_key(tx, set.scope, params, &principal, request.client_ip)?
    {
        match throttle::take(tx, counters, &set, &key, now)? {
            Ok(allowed) => headers = allowed.headers(),
            Err(exhausted) => {
                let refused = throttle::exhausted_error(&set, request.path, exhausted);
                return Ok((Admission::Refused(refused), used));
            }
        }
    }
    Ok((Admission::Admitted { principal, headers }, used))
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
