//! Rate limiting as Atlas does it (semantics §6): token buckets per endpoint set and scope.
//!
//! Every operation belongs to one endpoint set, derived from its path: project resources by
//! family (`/groups/{groupId}/clusters…` is one set, `…/databaseUsers…` another), organization
//! resources by family, and the few global lists. A set has a capacity, a refill rate per
//! duration, and a scope: one bucket per project (`GROUP`), organization (`ORGANIZATION`),
//! calling principal (`USER`) or address (`IP`). A request takes one token; an empty bucket
//! answers 429 `RATE_LIMITED_TOKEN_BUCKET` with `Retry-After`. Buckets refill continuously at
//! their rate and are stored in `__rateLimits/<set>|<scope key>`, so every instance sharing the
//! store draws from the same bucket.
//!
//! Capacities are the observed ones. Refill rates are observed for 1200 (500 per 60 s) and 300
//! (100 per 60 s); the others are inferred at the same proportion (about 40 % per minute).

use atlas_model::Operation;
use std::sync::atomic::{AtomicI64, Ordering};

use atlas_store::{StoreResult, Tx};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api_error;
use crate::kernel::counters::Counters;
use crate::kernel::error::ApiError;
use crate::kernel::resources::relative;

/// What one bucket is kept per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Ip,
    Group,
    Organization,
    User,
}

impl Scope {
    /// The spec's name of the scope (`RateLimitEndpointSetResponse.scope`).
    pub fn name(self) -> &'static str {
        match self {
            Scope::Ip => "IP",
            Scope::Group => "GROUP",
            Scope::Organization => "ORGANIZATION",
            Scope::User => "USER",
        }
    }
}

/// A set of endpoints sharing bucket parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSet {
    /// Stable id (`groupClusters`), also the bucket prefix.
    pub id: String,
    pub scope: Scope,
    pub capacity: u64,
    pub refill_rate: u64,
    pub refill_seconds: u64,
}

/// The token endpoint's limit: 50 requests per minute per address and client (semantics §4.2).
pub fn token_endpoint() -> EndpointSet {
    EndpointSet {
        id: "oauthToken".into(),
        scope: Scope::Ip,
        capacity: 50,
        refill_rate: 50,
        refill_seconds: 60,
    }
}

/// Capacity and refill per minute of a capacity class.
fn class(capacity: u64) -> (u64, u64) {
    let refill = match capacity {
        1200 => 500, // observed
        300 => 100,  // observed
        other => other * 2 / 5,
    };
    (capacity, refill)
}

/// `clusters` -> `Clusters`.
fn title(family: &str) -> String {
    let mut chars = family.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// The endpoint set of an operation; `None` for the API root and the unauthenticated endpoint.
pub fn endpoint_set(op: &Operation) -> Option<EndpointSet> {
    let rel = relative(op.path);
    let segments: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    let family = |i: usize| {
        segments
            .get(i)
            .map(|s| s.split(':').next().unwrap_or(s))
            .filter(|s| !s.starts_with('{'))
            .unwrap_or("")
    };
    let (id, scope, capacity) = match segments.as_slice() {
        [] | ["unauth", ..] => return None,
        ["groups", g, ..] if g.starts_with('{') => {
            let family = family(2);
            let capacity = if rel.contains("/search/indexes") || rel.contains("/fts/indexes") {
                500
            } else {
                match family {
                    "clusters" | "databaseUsers" | "sampleDatasetLoad" => 10_000,
                    "privateEndpoint" => 4000,
                    "customDBRoles" | "cloudProviderAccess" => 2000,
                    "processes" | "events" => 300,
                    _ => 1200,
                }
            };
            let name = if capacity == 500 {
                "SearchIndexes".to_owned()
            } else if family.is_empty() {
                "Project".to_owned()
            } else {
                title(family)
            };
            (format!("group{name}"), Scope::Group, capacity)
        }
        ["groups", ..] => ("userGroups".to_owned(), Scope::User, 1200),
        ["orgs", o, ..] if o.starts_with('{') => {
            let family = family(2);
            let capacity = if family == "teams" { 1200 } else { 500 };
            let name = if family.is_empty() {
                "Organization".to_owned()
            } else {
                title(family)
            };
            (format!("org{name}"), Scope::Organization, capacity)
        }
        ["orgs"] => ("userOrgs".to_owned(), Scope::User, 300),
        ["users", ..] => ("userUsers".to_owned(), Scope::User, 2500),
        ["federationSettings", _, "identityProviders", ..] => {
            ("userIdentityProviders".to_owned(), Scope::User, 300)
        }
        ["federationSettings", ..] => ("userFederationSettings".to_owned(), Scope::User, 500),
        ["alertConfigs", ..] => ("userAlertConfigMatchers".to_owned(), Scope::User, 300),
        [first, ..] => (format!("user{}", title(first)), Scope::User, 1200),
    };
    let (capacity, refill_rate) = class(capacity);
    Some(EndpointSet {
        id,
        scope,
        capacity,
        refill_rate,
        refill_seconds: 60,
    })
}

const BUCKETS: &str = "__rateLimits";

/// A request let through: what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub limit: u64,
    pub remaining: u64,
}

impl Allowed {
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("RateLimit-Limit", self.limit.to_string()),
            ("RateLimit-Remaining", self.remaining.to_string()),
        ]
    }
}

/// An empty bucket: how long until it holds a token again (whole seconds, rounded down as the
/// recorded "Please retry after 0 seconds" at 500 tokens per minute shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    pub retry_after: u64,
}

/// Takes one token from the bucket of `set` for `scope_key`.
///
/// Integer arithmetic: a bucket holds `units`, one token being `refill_seconds * 1000` units, so
/// refilling `refill_rate` tokens per `refill_seconds` adds exactly `refill_rate` units per
/// millisecond and no rounding ever loses or invents a token.
pub fn take(
    tx: &mut dyn Tx,
    counters: &Counters,
    set: &EndpointSet,
    scope_key: &str,
    now: OffsetDateTime,
) -> Result<Result<Allowed, Exhausted>, ApiError> {
    let key = format!("{}|{scope_key}", set.id);
    let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let token = u128::from(set.refill_seconds.max(1)) * 1000;
    let full = u128::from(set.capacity) * token;
    let rate = u128::from(set.refill_rate.max(1));
    sweep_once_a_minute(tx, counters, now_ms)?;
    let outcome = counters.modify(tx, BUCKETS, &key, |stored| {
        let field = |name: &str| stored.and_then(|doc| doc.get(name));
        let units = field("units")
            .and_then(Value::as_str)
            .and_then(|u| u.parse::<u128>().ok())
            .unwrap_or(full);
        let at = field("at").and_then(Value::as_i64).unwrap_or(now_ms);
        // A clock set back never adds tokens.
        let elapsed = u128::try_from(now_ms.saturating_sub(at)).unwrap_or(0);
        let units = units.saturating_add(elapsed.saturating_mul(rate)).min(full);
        let (units, outcome) = if units < token {
            let wait_ms = (token - units).div_ceil(rate);
            let retry_after = u64::try_from(wait_ms / 1000).unwrap_or(u64::MAX);
            (units, Err(Exhausted { retry_after }))
        } else {
            let left = units - token;
            let remaining = u64::try_from(left / token).unwrap_or(u64::MAX);
            (
                left,
                Ok(Allowed {
                    limit: set.capacity,
                    remaining,
                }),
            )
        };
        // When the bucket will be full again: from then on it is the same as no bucket.
        let full_at =
            now_ms.saturating_add(i64::try_from((full - units) / rate).unwrap_or(i64::MAX));
        let bucket = json!({"units": units.to_string(), "at": now_ms, "fullAt": full_at});
        (bucket, outcome)
    })?;
    Ok(outcome)
}

/// The minute (epoch ms / 60,000) of the last sweep in this process.
static SWEPT_MINUTE: AtomicI64 = AtomicI64::new(i64::MIN);

/// Sweeps the buckets at most once a minute (per process), so the table holds the callers of
/// the last refill period instead of every address, user and project ever seen.
fn sweep_once_a_minute(tx: &mut dyn Tx, counters: &Counters, now_ms: i64) -> StoreResult<()> {
    let minute = now_ms.div_euclid(60_000);
    if SWEPT_MINUTE.swap(minute, Ordering::Relaxed) == minute {
        return Ok(());
    }
    sweep(tx, counters, now_ms)
}

/// Drops the buckets that are full again by `now_ms`: a full bucket and no bucket answer alike.
fn sweep(tx: &mut dyn Tx, counters: &Counters, now_ms: i64) -> StoreResult<()> {
    counters.retain(tx, BUCKETS, |bucket| {
        bucket
            .get("fullAt")
            .and_then(Value::as_i64)
            .is_none_or(|full_at| full_at > now_ms)
    })
}

/// The 429 of an empty bucket (recorded body, semantics §6): the request path without its
/// leading slash and with `%2F` decoded, then the wait, capacity, refill rate and duration as
/// numbers.
pub fn exhausted_error(set: &EndpointSet, request_path: &str, e: Exhausted) -> ApiError {
    let path = request_path
        .trim_start_matches('/')
        .replace("%2F", "/")
        .replace("%2f", "/");
    api_error!(
        RATE_LIMITED_TOKEN_BUCKET,
        path,
        e.retry_after,
        set.capacity,
        set.refill_rate,
        set.refill_seconds
    )
    .with_header("RateLimit-Limit", set.capacity.to_string())
    .with_header("RateLimit-Remaining", "0")
    .with_header("Retry-After", e.retry_after.to_string())
}

/// Drops every bucket (reset).
pub fn clear(tx: &mut dyn Tx, counters: &Counters) -> Result<(), ApiError> {
    Ok(counters.clear(tx, BUCKETS)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_model::OperationId;
    use atlas_store::Store;
    use atlas_store::sqlite::SqliteStore;

    fn set_of(op: OperationId) -> EndpointSet {
        endpoint_set(op.op()).unwrap()
    }

    #[test]
    fn sets_follow_the_recorded_capacities() {
        let clusters = set_of(OperationId::CreateGroupCluster);
        assert_eq!((clusters.capacity, clusters.scope), (10_000, Scope::Group));
        let users = set_of(OperationId::CreateGroupDatabaseUser);
        assert_eq!(users.capacity, 10_000);
        assert_ne!(users.id, clusters.id, "independent counters (§6)");
        let alerts = set_of(OperationId::ListGroupAlertConfigs);
        assert_eq!((alerts.capacity, alerts.refill_rate), (1200, 500));
        let orgs = set_of(OperationId::ListOrgs);
        assert_eq!(
            (orgs.capacity, orgs.refill_rate, orgs.scope),
            (300, 100, Scope::User)
        );
        assert_eq!(set_of(OperationId::ListOrgApiKeys).capacity, 500);
        assert_eq!(set_of(OperationId::ListOrgTeams).capacity, 1200);
        assert_eq!(set_of(OperationId::GetUser).capacity, 2500);
        assert_eq!(set_of(OperationId::CreateGroup).capacity, 1200);
        assert!(endpoint_set(OperationId::GetSystemStatus.op()).is_none());
    }

    #[test]
    fn buckets_count_down_refuse_and_refill() {
        buckets_in(&Counters::in_memory());
        buckets_in(&Counters::Stored);
    }

    fn buckets_in(counters: &Counters) {
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::memory().unwrap());
        let set = EndpointSet {
            id: "test".into(),
            scope: Scope::User,
            capacity: 3,
            refill_rate: 1,
            refill_seconds: 10,
        };
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let take_at = |t: OffsetDateTime| {
            store
                .write(|tx| {
                    take(tx, counters, &set, "k", t)
                        .map_err(|_| atlas_store::StoreError::Unavailable("x".into()))
                })
                .unwrap()
        };
        assert_eq!(
            take_at(t0),
            Ok(Allowed {
                limit: 3,
                remaining: 2
            })
        );
        assert_eq!(
            take_at(t0),
            Ok(Allowed {
                limit: 3,
                remaining: 1
            })
        );
        assert_eq!(
            take_at(t0),
            Ok(Allowed {
                limit: 3,
                remaining: 0
            })
        );
        assert_eq!(take_at(t0), Err(Exhausted { retry_after: 10 }));
        let later = t0 + time::Duration::seconds(4);
        assert_eq!(take_at(later), Err(Exhausted { retry_after: 6 }));
        let refilled = t0 + time::Duration::seconds(10);
        assert_eq!(
            take_at(refilled),
            Ok(Allowed {
                limit: 3,
                remaining: 0
            })
        );
        // Swept once full again (3 tokens × 10 s after the last take), not before.
        let ms = |t: OffsetDateTime| t.unix_timestamp() * 1000;
        let swept_at = |t: OffsetDateTime| {
            store
                .write(|tx| {
                    sweep(tx, counters, ms(t))?;
                    counters.is_empty(tx, BUCKETS)
                })
                .unwrap()
        };
        assert!(!swept_at(refilled + time::Duration::seconds(29)));
        assert!(swept_at(refilled + time::Duration::seconds(30)));
    }

    #[test]
    fn the_429_body_matches_the_recorded_one() {
        // [F] {"detail":"Rate limit exceeded for api/atlas/v2/groups/6abb0aac4c7c90ca62ed9c23/alertConfigs.
        // Please retry after 0 seconds. Request capacity: 1200. Refill rate: 500 per 60 seconds. For more
        // information, see: http://dochub.mongodb.org/core/atlas-api-rate-limit.","error":429,
        // "errorCode":"RATE_LIMITED_TOKEN_BUCKET","parameters":["api/atlas/v2/groups/6abb…/alertConfigs",0,1200,500,60],
        // "reason":"Too Many Requests"}
        let set = set_of(OperationId::ListGroupAlertConfigs);
        let e = exhausted_error(
            &set,
            "/api/atlas/v2/groups/6abb0aac4c7c90ca62ed9c23/alertConfigs",
            Exhausted { retry_after: 0 },
        );
        assert_eq!(
            serde_json::to_string(&e.body()).unwrap(),
            r#"{"detail":"Rate limit exceeded for api/atlas/v2/groups/6abb0aac4c7c90ca62ed9c23/alertConfigs. Please retry after 0 seconds. Request capacity: 1200. Refill rate: 500 per 60 seconds. For more information, see: http://dochub.mongodb.org/core/atlas-api-rate-limit.","error":429,"errorCode":"RATE_LIMITED_TOKEN_BUCKET","parameters":["api/atlas/v2/groups/6abb0aac4c7c90ca62ed9c23/alertConfigs",0,1200,500,60],"reason":"Too Many Requests"}"#
        );
        assert!(e.headers().contains(&("Retry-After", "0".to_owned())));
    }
}
