//! Admission: what happens to a request before its operation runs, in Atlas's order (semantics
//! §3.4): authentication (401 challenge) → API access list (403) → [version negotiation, done by
//! the HTTP layer: 406] → resolving the addressed project or organization → rate limit (429).
//! Roles are checked later, inside the operation's own transaction (`crate::authorize`).
//!
//! It reads in one transaction, and what it spends stays spent whatever the verdict and even
//! when the operation then fails, as in Atlas: the nonce count of a Digest request and a
//! bucket's token are [`Counters`] (in memory for an embedded store, so admitting a GET writes
//! nothing to the database), and an access-list entry's usage is recorded in a write
//! transaction of its own, only when an access list let the request in.

use atlas_model::Operation;

use crate::call::{Call, Reply};
use atlas_store::{Access, Tx};
use time::OffsetDateTime;

use crate::counters::Counters;
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
    /// Admits or refuses one request (blocking: runs store transactions).
    pub fn admit(&self, request: &Request<'_>) -> Result<Admission, ApiError> {
        let now = self.clock.now();
        let (admission, used) = self.transaction(self.counters.access(), |tx| {
            admit(tx, &self.counters, request, now)
        })?;
        if let Some(used) = used {
            self.transaction(Access::Write, |tx| {
                api_access_list::record_use(tx, &used, request.client_ip, now)
            })?;
        }
        Ok(admission)
    }
}

impl Atlas {
    /// Admits a request and runs the call `prepare` makes of the verdict, both in one
    /// transaction when admission writes nothing to the store (counters in memory): a GET is
    /// then one read transaction. `prepare` answers early (`Err`) for a refusal, a challenge, or
    /// a request that cannot become a call (unknown route, version, malformed input). What the
    /// call writes is rolled back when it fails; what admission spent never is.
    pub fn serve<R>(
        &self,
        request: &Request<'_>,
        prepare: impl FnOnce(Result<Admission, ApiError>) -> Result<Call, R>,
    ) -> Result<Result<Reply, ApiError>, R> {
        let Some((op, _)) = request
            .op
            .filter(|_| self.counters.access() == Access::Read)
        else {
            // Admission writes (shared counters): its own transaction commits what it spent.
            let call = prepare(self.admit(request))?;
            return Ok(self.execute(&call));
        };
        let now = self.clock.now();
        let mut prepare = Some(prepare);
        let mut early = None;
        let mut used = None;
        let mut deferred = None;
        let answered = self.transaction(self.access_of(op), |tx| {
            let verdict = admit(tx, &self.counters, request, now).map(|(admission, entry)| {
                used = entry;
                admission
            });
            let prepare = prepare
                .take()
                .ok_or_else(|| ApiError::internal("served twice"))?;
            match prepare(verdict) {
                Ok(call) if used.is_none() => self.engine.execute(tx, &call, now).map(Some),
                // The call sees its own use of the access-list entry (the entry's count includes
                // the request that lists it), so it runs after that use is recorded.
                Ok(call) => {
                    deferred = Some(call);
                    Ok(None)
                }
                Err(response) => {
                    early = Some(response);
                    Ok(None)
                }
            }
        });
        if let Some(used) = used
            && let Err(e) = self.transaction(Access::Write, |tx| {
                api_access_list::record_use(tx, &used, request.client_ip, now)
            })
        {
            return Ok(Err(e));
        }
        if let Some(call) = deferred {
            return Ok(self.execute(&call));
        }
        match (answered, early) {
            (_, Some(response)) => Err(response),
            (Ok(Some(reply)), None) => Ok(Ok(reply)),
            (Err(e), None) => Ok(Err(e)),
            (Ok(None), None) => Ok(Err(ApiError::internal("no answer"))),
        }
    }
}

/// The verdict, and the access-list entry whose use to record.
fn admit(
    tx: &mut dyn Tx,
    counters: &Counters,
    request: &Request<'_>,
    now: OffsetDateTime,
) -> Result<(Admission, Option<api_access_list::Admitted>), ApiError> {
    let open = request.op.is_some_and(|(op, _)| !op.authenticated);
    let principal = if open {
        Principal::Anonymous
    } else {
        match credentials::authenticate(tx, counters, request.method, request.presented, now)? {
            Verdict::Valid(principal) => principal,
            Verdict::Stale => return Ok((Admission::Challenge { stale: true }, None)),
            Verdict::Invalid => return Ok((Admission::Challenge { stale: false }, None)),
        }
    };
    let used = match api_access_list::admit(tx, &principal, request.client_ip) {
        Ok(used) => used,
        Err(e) => return Ok((Admission::Refused(e), None)),
    };
    let mut headers = Vec::new();
    if let (true, true, Some((op, params))) = (request.rate_limits, request.negotiated, request.op)
        && let Some(set) = ratelimit::endpoint_set(op)
        && let Some(key) = scope_key(tx, set.scope, params, &principal, request.client_ip)?
    {
        match ratelimit::take(tx, counters, &set, &key, now)? {
            Ok(allowed) => headers = allowed.headers(),
            Err(exhausted) => {
                let refused = ratelimit::exhausted_error(&set, request.path, exhausted);
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
