//! Events: what was done, by whom, recorded as Atlas events (`/groups/{id}/events`,
//! `/orgs/{id}/events`), listed newest first with Atlas's filters.
//!
//! Behaviours call [`record`] in the same transaction as the change, so an event exists exactly
//! when its change was committed.

use atlas_model::OperationId;
use atlas_store::{Page, Record, Tx};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::{Call, Reply};
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paging::Paging;
use crate::kernel::principal::Principal;
use atlas_model::API_PREFIX;

/// Where an event belongs.
pub enum Target<'a> {
    Project { group_id: &'a str, org_id: &'a str },
    Organization { org_id: &'a str },
}

/// Records one event caused by `call` (its principal and address) at `now`.
pub fn record(
    tx: &mut dyn Tx,
    call: &Call,
    now: OffsetDateTime,
    target: Target<'_>,
    event_type: &str,
    details: Map<String, Value>,
) -> Result<(), ApiError> {
    let id = ids::object_id(now);
    let mut doc = details;
    doc.insert("id".into(), json!(id));
    doc.insert("created".into(), json!(atlas_timestamp(now)));
    doc.insert("eventTypeName".into(), json!(event_type));
    doc.insert("isGlobalAdmin".into(), json!(false));
    doc.insert("remoteAddress".into(), json!(call.origin.client_ip));
    match &call.principal {
        Principal::ApiKey { id, public_key, .. } => {
            doc.insert("apiKeyId".into(), json!(id));
            doc.insert("publicKey".into(), json!(public_key));
        }
        Principal::ServiceAccount { client_id, .. } => {
            doc.insert("username".into(), json!(client_id));
        }
        Principal::User { id, username } => {
            doc.insert("userId".into(), json!(id));
            doc.insert("username".into(), json!(username));
        }
        Principal::Anonymous => {}
    }
    let collection = match target {
        Target::Project { group_id, org_id } => {
            doc.insert("groupId".into(), json!(group_id));
            doc.insert("orgId".into(), json!(org_id));
            format!("/groups/{group_id}/events")
        }
        Target::Organization { org_id } => {
            doc.insert("orgId".into(), json!(org_id));
            format!("/orgs/{org_id}/events")
        }
    };
    tx.insert(&collection, &id, &Value::Object(doc))?;
    Ok(())
}

/// Records a project event for the call's project scope.
pub fn project_event(
    cx: &mut Ctx<'_>,
    event_type: &str,
    details: Map<String, Value>,
) -> Result<(), ApiError> {
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let org = cx.scope.org_id.clone().unwrap_or_default();
    record(
        cx.tx,
        cx.call,
        cx.now.get(),
        Target::Project {
            group_id: &group,
            org_id: &org,
        },
        event_type,
        details,
    )
}

pub struct Events;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupEvents,
    OperationId::GetGroupEvent,
    OperationId::ListOrgEvents,
    OperationId::GetOrgEvent,
];

impl Behaviour for Events {
    fn name(&self) -> &'static str {
        "events"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let collection = match (&cx.scope.group_id, &cx.scope.org_id) {
            (Some(group), _) if cx.call.path_param("groupId").is_some() => {
                format!("/groups/{group}/events")
            }
            (_, Some(org)) => format!("/orgs/{org}/events"),
            _ => return Err(ApiError::internal("events without a scope")),
        };
        match cx.call.op.id {
            OperationId::ListGroupEvents | OperationId::ListOrgEvents => list(cx, &collection),
            _ => {
                let id = cx.call.path_param("eventId").unwrap_or_default().to_owned();
                let record = cx
                    .tx
                    .get(&collection, &id)?
                    .ok_or_else(|| api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()))?;
                Ok(Reply::json(200, cx.render.fit(&with_link(cx, &record))))
            }
        }
    }
}

fn with_link(cx: &Ctx<'_>, record: &Record) -> Value {
    let mut doc = record.doc.clone();
    doc["links"] = json!([{
        "href": format!("{}{API_PREFIX}{}/{}", cx.call.origin.base_url, record.collection, record.key),
        "rel": "self",
    }]);
    doc
}

fn parse_date(value: Option<&str>) -> Option<OffsetDateTime> {
    value.and_then(|v| OffsetDateTime::parse(v, &Rfc3339).ok())
}

fn list(cx: &mut Ctx<'_>, collection: &str) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let wanted: Vec<&str> = cx.call.query_values("eventType").collect();
    let excluded: Vec<&str> = cx.call.query_values("excludedEventType").collect();
    let clusters: Vec<&str> = cx.call.query_values("clusterNames").collect();
    let min = parse_date(cx.call.query_param("minDate"));
    let max = parse_date(cx.call.query_param("maxDate"));
    let (records, _) = cx.tx.list(collection, Page::ALL)?;
    let matching: Vec<Record> = records
        .into_iter()
        .rev() // newest first
        .filter(|r| {
            let kind = r
                .doc
                .get("eventTypeName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let created = parse_date(r.doc.get("created").and_then(Value::as_str));
            let cluster = r.doc.get("clusterName").and_then(Value::as_str);
            (wanted.is_empty() || wanted.contains(&kind))
                && !excluded.contains(&kind)
                && (clusters.is_empty() || cluster.is_some_and(|c| clusters.contains(&c)))
                && min.is_none_or(|m| created.is_some_and(|c| c >= m))
                && max.is_none_or(|m| created.is_some_and(|c| c <= m))
        })
        .collect();
    let total = matching.len() as u64;
    let items: Vec<Value> = paging
        .slice(&matching)
        .into_iter()
        .map(|r| with_link(cx, r))
        .collect();
    Ok(Reply::json(
        200,
        cx.render.fit_owned(paging.body(cx.call, items, total)),
    ))
}
