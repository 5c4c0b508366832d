//! Rate-limit introspection (`GET /rateLimits`, `GET /rateLimits/{endpointSetId}`): the endpoint
//! sets localatlas enforces (`crate::stages::admission::throttle`), each with its capacity, refill, scope and
//! operations, so what a client reads is what it will be held to.

use std::collections::BTreeMap;

use atlas_model::{OPERATIONS, OperationId};
use serde_json::{Value, json};

use super::shared::support::{entity, list, param};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::stages::admission::throttle::{self, EndpointSet};

pub struct RateLimits;

/// The schema's bound on the endpoints listed per set.
const MAX_ENDPOINTS: usize = 100;

impl Behaviour for RateLimits {
    fn name(&self) -> &'static str {
        "rate_limits"
    }

    fn operations(&self) -> &'static [OperationId] {
        &[OperationId::ListRateLimits, OperationId::GetRateLimit]
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let sets = endpoint_sets();
        if cx.call.op.id == OperationId::GetRateLimit {
            let id = param(cx.call, "endpointSetId");
            let shown = sets
                .get(&id)
                .map(|(set, endpoints)| view(set, endpoints))
                .ok_or_else(|| api_error!(RESOURCE_NOT_FOUND, id))?;
            return Ok(entity(cx, &shown));
        }
        let name = cx.call.query_param("name").filter(|n| !n.is_empty());
        let path = cx
            .call
            .query_param("endpointPath")
            .filter(|p| !p.is_empty());
        let items = sets
            .values()
            .filter(|(set, _)| name.is_none_or(|n| n == set.id))
            .filter(|(_, endpoints)| path.is_none_or(|p| endpoints.iter().any(|(_, e)| *e == p)))
            .map(|(set, endpoints)| view(set, endpoints))
            .collect();
        Ok(list(cx, items))
    }
}

/// The operations of a set, as (method, path).
type Endpoints = Vec<(&'static str, &'static str)>;

/// Every endpoint set with its operations, by id.
fn endpoint_sets() -> BTreeMap<String, (EndpointSet, Endpoints)> {
    let mut sets: BTreeMap<String, (EndpointSet, Endpoints)> = BTreeMap::new();
    for op in &OPERATIONS {
        if let Some(set) = throttle::endpoint_set(op) {
            sets.entry(set.id.clone())
                .or_insert_with(|| (set, Vec::new()))
                .1
                .push((op.method.as_str(), op.path));
        }
    }
    sets
}

fn view(set: &EndpointSet, endpoints: &[(&str, &str)]) -> Value {
    let value = |v: u64| json!({"value": v, "defaultValue": v});
    json!({
        "endpointSetId": set.id,
        "endpointSetName": set.id,
        "scope": set.scope.name(),
        "capacity": value(set.capacity),
        "refillRate": value(set.refill_rate),
        "refillDurationSeconds": value(set.refill_seconds),
        "endpoints": endpoints
            .iter()
            .take(MAX_ENDPOINTS)
            .map(|(method, path)| json!({"method": method, "path": path}))
            .collect::<Vec<_>>(),
    })
}
