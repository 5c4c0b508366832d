//! Atlas Stream Processing (`/groups/{groupId}/streams...`): stream instances (workspaces) with
//! their data process region, tier and hostnames; their connections ([`connections`]); their
//! stream processors ([`processors`]); their audit and operational logs ([`logs`]); and the
//! project-level networking of streams ([`networking`]).
//!
//! Recorded shapes (Atlas CLI e2e snapshots, April 2025): an instance is usable at once (POST 200
//! with `_id`, `dataProcessRegion`, `groupId`, `hostnames`, `name`, `streamConfig.tier`; no state
//! field, semantics §8) and deleting it answers 202 `{}`. Deleting an instance takes its
//! connections and processors with it.

mod connections;
mod logs;
mod networking;
mod processors;

use atlas_model::OperationId;
use atlas_store::{Page, Record};
use serde_json::{Value, json};

use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::families::shared::support::stable_tag;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paging::Paging;
use crate::kernel::paths::segment;
use atlas_model::API_PREFIX;

pub struct Streams;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupStreamWorkspaces,
    OperationId::CreateGroupStreamWorkspace,
    OperationId::GetGroupStreamWorkspace,
    OperationId::UpdateGroupStreamWorkspace,
    OperationId::DeleteGroupStreamWorkspace,
    OperationId::WithGroupStreamSampleConnections,
    OperationId::DownloadGroupStreamAuditLogs,
    OperationId::DownloadGroupStreamOperationalLogs,
    OperationId::ListGroupStreamConnections,
    OperationId::CreateGroupStreamConnection,
    OperationId::GetGroupStreamConnection,
    OperationId::UpdateGroupStreamConnection,
    OperationId::DeleteGroupStreamConnection,
    OperationId::ListGroupStreamConnectionFailoverConnections,
    OperationId::CreateGroupStreamConnectionFailoverConnection,
    OperationId::GetGroupStreamConnectionFailoverConnection,
    OperationId::UpdateGroupStreamConnectionFailoverConnection,
    OperationId::DeleteGroupStreamConnectionFailoverConnection,
    OperationId::CreateGroupStreamProcessor,
    OperationId::GetGroupStreamProcessor,
    OperationId::UpdateGroupStreamProcessor,
    OperationId::DeleteGroupStreamProcessor,
    OperationId::StartGroupStreamProcessor,
    OperationId::StartGroupStreamProcessorWith,
    OperationId::StopGroupStreamProcessor,
    OperationId::GetGroupStreamProcessors,
    OperationId::GetGroupStreamAccountDetails,
    OperationId::ListGroupStreamActiveVpcPeeringConnections,
    OperationId::ListGroupStreamPrivateLinkConnections,
    OperationId::CreateGroupStreamPrivateLinkConnection,
    OperationId::GetGroupStreamPrivateLinkConnection,
    OperationId::UpdateGroupStreamPrivateLinkConnection,
    OperationId::DeleteGroupStreamPrivateLinkConnection,
    OperationId::ListGroupStreamVpcPeeringConnections,
    OperationId::DeleteGroupStreamVpcPeeringConnection,
    OperationId::AcceptGroupStreamVpcPeeringConnection,
    OperationId::RejectGroupStreamVpcPeeringConnection,
];

impl Behaviour for Streams {
    fn name(&self) -> &'static str {
        "streams"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        // Reading a processor re-evaluates whether its connections still exist.
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        use OperationId as Op;
        match cx.call.op.id {
            Op::ListGroupStreamWorkspaces => list(cx),
            Op::CreateGroupStreamWorkspace => create(cx, false),
            Op::WithGroupStreamSampleConnections => create(cx, true),
            Op::GetGroupStreamWorkspace => {
                let instance = current(cx)?;
                Ok(Reply::json(200, cx.render.fit(&shown(cx, &instance.doc))))
            }
            Op::UpdateGroupStreamWorkspace => update(cx),
            Op::DeleteGroupStreamWorkspace => {
                let instance = current(cx)?;
                cx.tx.delete(&instance.collection, &instance.key)?;
                cx.tx
                    .delete_tree(&format!("{}/{}", instance.collection, instance.key))?;
                // Recorded: 202 with `{}` (semantics §7.5).
                Ok(Reply::json(cx.render.status(), json!({})))
            }
            Op::DownloadGroupStreamAuditLogs | Op::DownloadGroupStreamOperationalLogs => {
                let instance = current(cx)?;
                logs::download(cx, &instance)
            }
            Op::GetGroupStreamAccountDetails
            | Op::ListGroupStreamActiveVpcPeeringConnections
            | Op::ListGroupStreamPrivateLinkConnections
            | Op::CreateGroupStreamPrivateLinkConnection
            | Op::GetGroupStreamPrivateLinkConnection
            | Op::UpdateGroupStreamPrivateLinkConnection
            | Op::DeleteGroupStreamPrivateLinkConnection
            | Op::ListGroupStreamVpcPeeringConnections
            | Op::DeleteGroupStreamVpcPeeringConnection
            | Op::AcceptGroupStreamVpcPeeringConnection
            | Op::RejectGroupStreamVpcPeeringConnection => networking::handle(cx),
            Op::CreateGroupStreamProcessor
            | Op::GetGroupStreamProcessor
            | Op::UpdateGroupStreamProcessor
            | Op::DeleteGroupStreamProcessor
            | Op::StartGroupStreamProcessor
            | Op::StartGroupStreamProcessorWith
            | Op::StopGroupStreamProcessor
            | Op::GetGroupStreamProcessors => {
                let instance = current(cx)?;
                processors::handle(cx, &instance)
            }
            _ => {
                let instance = current(cx)?;
                connections::handle(cx, &instance)
            }
        }
    }
}

/// The collection of a project's stream instances.
fn collection(cx: &Ctx<'_>) -> String {
    format!(
        "/groups/{}/streams",
        cx.scope.group_id.as_deref().unwrap_or_default()
    )
}

/// The instance the path names, or Atlas's 404.
fn current(cx: &mut Ctx<'_>) -> Result<Record, ApiError> {
    let name = cx
        .call
        .path_param("tenantName")
        .unwrap_or_default()
        .to_owned();
    let group = cx.scope.group_id.clone().unwrap_or_default();
    cx.tx.get(&collection(cx), &segment(&name))?.ok_or_else(|| {
        api_error!(
            STREAM_TENANT_NOT_FOUND_FOR_NAME,
            name.as_str(),
            group.as_str()
        )
    })
}

/// The store path of an instance's sub-collection (`connections`, `processor` ...).
fn under(instance: &Record, what: &str) -> String {
    format!("{}/{}/{what}", instance.collection, instance.key)
}

/// A self link for a store path.
fn link(cx: &Ctx<'_>, path: &str) -> Value {
    json!([{"href": format!("{}{API_PREFIX}{path}", cx.call.origin.base_url), "rel": "self"}])
}

fn shown(cx: &Ctx<'_>, doc: &Value) -> Value {
    let mut doc = doc.clone();
    let name = doc["name"].as_str().unwrap_or_default().to_owned();
    doc["links"] = link(cx, &format!("{}/{}", collection(cx), segment(&name)));
    doc
}

/// How many stream instances the project has (a project with any cannot be closed).
pub fn instance_count(cx: &mut Ctx<'_>) -> Result<u64, ApiError> {
    let empty = Page {
        offset: 0,
        limit: 0,
    };
    Ok(cx.tx.list(&collection(cx), empty)?.1)
}

fn list(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let (records, total) = cx.tx.list(&collection(cx), paging.window())?;
    let results = records.iter().map(|r| shown(cx, &r.doc)).collect();
    Ok(Reply::json(
        200,
        cx.render.fit(&paging.body(cx.call, results, total)),
    ))
}

/// The hostname clients connect to: the instance id, a stable five-letter tag and the region
/// (recorded: `atlas-stream-<id>-iixmh.virginia-usa.a.query.mongodb-dev.net`).
fn hostname(id: &str, region: &str) -> String {
    let tag = stable_tag(id);
    let region = region.to_ascii_lowercase().replace('_', "-");
    format!("atlas-stream-{id}-{tag}.{region}.a.query.mongodb.net")
}

fn create(cx: &mut Ctx<'_>, with_samples: bool) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    if name.is_empty() {
        return Err(api_error!(
            VALIDATION_ERROR,
            "the stream instance needs a name"
        ));
    }
    let region = match body.get("dataProcessRegion").filter(|r| r.is_object()) {
        Some(r) => json!({"cloudProvider": r["cloudProvider"], "region": r["region"]}),
        None => json!({"cloudProvider": "AWS", "region": "VIRGINIA_USA"}),
    };
    let mut config = body
        .get("streamConfig")
        .filter(|c| c.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    if config.get("tier").is_none() {
        config["tier"] = json!("SP30");
    }
    let id = ids::object_id(cx.now.get());
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let mut doc = json!({
        "_id": id,
        "name": name,
        "groupId": group,
        "dataProcessRegion": region,
        "streamConfig": config,
        "hostnames": [hostname(&id, region["region"].as_str().unwrap_or_default())],
    });
    if let Some(failover) = body.get("failoverRegions").filter(|f| f.is_array()) {
        doc["failoverRegions"] = failover.clone();
    }
    let collection = collection(cx);
    if cx.tx.get(&collection, &segment(&name))?.is_some() {
        return Err(api_error!(RESOURCE_ALREADY_EXISTS, name.as_str()));
    }
    let record = cx.tx.insert(&collection, &segment(&name), &doc)?;
    let samples = body
        .pointer("/sampleConnections/solar")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if with_samples || samples {
        connections::add_sample(cx, &record)?;
    }
    logs::audit(cx, &record, "createStreamInstance", None)?;
    Ok(Reply::json(
        cx.render.status(),
        cx.render.fit(&shown(cx, &doc)),
    ))
}

fn update(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let mut instance = current(cx)?;
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let doc = &mut instance.doc;
    for key in ["cloudProvider", "region"] {
        if let Some(v) = body.get(key) {
            doc["dataProcessRegion"][key] = v.clone();
        }
    }
    if let Some(Value::Object(config)) = body.get("streamConfig") {
        for (k, v) in config {
            doc["streamConfig"][k] = v.clone();
        }
    }
    if let Some(failover) = body.get("failoverRegions") {
        doc["failoverRegions"] = failover.clone();
    }
    let id = doc["_id"].as_str().unwrap_or_default().to_owned();
    let region = doc["dataProcessRegion"]["region"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    doc["hostnames"] = json!([hostname(&id, &region)]);
    cx.tx
        .update(&instance.collection, &instance.key, &instance.doc)?;
    logs::audit(cx, &instance, "modifyStreamInstance", None)?;
    Ok(Reply::json(200, cx.render.fit(&shown(cx, &instance.doc))))
}

/// `now` as Atlas writes it, for the documents of this family.
fn timestamp(cx: &Ctx<'_>) -> String {
    atlas_timestamp(cx.now.get())
}
