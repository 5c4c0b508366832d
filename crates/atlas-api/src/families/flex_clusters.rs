//! Flex clusters (`/groups/{groupId}/flexClusters`): create, list, get, update, delete and
//! upgrade to a dedicated cluster, with their lifecycle (`CREATING` → `IDLE` within seconds,
//! delete answers 204 then `DELETING` → 404 `CLUSTER_NOT_FOUND`, semantics §8).
//!
//! Names share the project's cluster name claim with dedicated clusters; a dedicated cluster
//! addressed here is refused with `CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API`.

use atlas_model::OperationId;
use atlas_store::{Record, StoreError};
use serde_json::{Value, json};

use super::clusters::{self, topology};
use super::events::project_event;
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle;
use crate::kernel::lifecycle::kinds;
use crate::kernel::paging::Paging;
use atlas_model::API_PREFIX;

pub struct FlexClusters;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupFlexClusters,
    OperationId::CreateGroupFlexCluster,
    OperationId::GetGroupFlexCluster,
    OperationId::UpdateGroupFlexCluster,
    OperationId::DeleteGroupFlexCluster,
    OperationId::TenantGroupFlexClusterUpgrade,
];

impl Behaviour for FlexClusters {
    fn name(&self) -> &'static str {
        "flex_clusters"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        match cx.call.op.id {
            OperationId::ListGroupFlexClusters => list(cx),
            OperationId::CreateGroupFlexCluster => create(cx),
            OperationId::GetGroupFlexCluster => {
                let name = cx.call.path_param("name").unwrap_or_default().to_owned();
                let flex = current(cx, &name)?;
                Ok(Reply::json(200, render(cx, &flex)))
            }
            OperationId::UpdateGroupFlexCluster => update(cx),
            OperationId::DeleteGroupFlexCluster => delete(cx),
            _ => upgrade(cx),
        }
    }
}

fn collection(cx: &Ctx<'_>) -> String {
    format!(
        "/groups/{}/flexClusters",
        cx.scope.group_id.as_deref().unwrap_or_default()
    )
}

/// The flex cluster `name`, settled for this read, or Atlas's 404/400.
pub fn current(cx: &mut Ctx<'_>, name: &str) -> Result<Record, ApiError> {
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let collection = collection(cx);
    if let Some(record) = lifecycle::get_settled(cx.tx, cx.lifecycle, &collection, name, &cx.now)? {
        return Ok(record);
    }
    if cx
        .tx
        .get(&format!("/groups/{group}/clusters"), name)?
        .is_some()
    {
        return Err(api_error!(CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API, name));
    }
    Err(api_error!(CLUSTER_NOT_FOUND, name, group.as_str()).keeping_writes())
}

fn bare(cx: &Ctx<'_>, record: &Record) -> Value {
    let group = cx.scope.group_id.as_deref().unwrap_or_default();
    let mut doc = record.doc.clone();
    if let Value::Object(map) = &mut doc {
        map.retain(|k, _| !k.starts_with("__"));
        let suffix = topology::suffix(group);
        let host = record.key.to_ascii_lowercase();
        map.insert(
            "connectionStrings".into(),
            json!({
                "standard": format!("mongodb://{host}-shard-00-00.{suffix}.mongodb.net:27017,{host}-shard-00-01.{suffix}.mongodb.net:27017,{host}-shard-00-02.{suffix}.mongodb.net:27017/?ssl=true&authSource=admin"),
                "standardSrv": format!("mongodb+srv://{host}.{suffix}.mongodb.net"),
            }),
        );
        map.insert(
            "links".into(),
            json!([{"href": format!("{}{API_PREFIX}/groups/{group}/flexClusters/{}", cx.call.origin.base_url, record.key), "rel": "self"}]),
        );
    }
    doc
}

fn render(cx: &Ctx<'_>, record: &Record) -> Value {
    cx.render.fit(&bare(cx, record))
}

fn list(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let collection = collection(cx);
    let visible = lifecycle::settle_all(cx.tx, cx.lifecycle, &collection, &cx.now)?;
    let total = visible.len() as u64;
    let results: Vec<Value> = paging
        .slice(&visible)
        .into_iter()
        .map(|r| bare(cx, r))
        .collect();
    Ok(Reply::json(
        200,
        cx.render.fit_owned(paging.body(cx.call, results, total)),
    ))
}

fn create(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let collection = collection(cx);
    match cx.tx.claim(
        &clusters::name_scope(&group),
        &name,
        &format!("{collection}/{name}"),
    ) {
        Ok(()) => {}
        Err(StoreError::Duplicate(_)) => {
            return Err(api_error!(
                DUPLICATE_CLUSTER_NAME,
                name.as_str(),
                group.as_str()
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let settings = body
        .get("providerSettings")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut doc = json!({
        "id": ids::object_id(cx.now.get()),
        "name": name,
        "groupId": group,
        "createDate": atlas_timestamp(cx.now.get()),
        "clusterType": "REPLICASET",
        "mongoDBVersion": clusters::full_version("8.0"),
        "versionReleaseSystem": "LTS",
        "backupSettings": {"enabled": true},
        "providerSettings": {
            "backingProviderName": settings.get("backingProviderName").cloned().unwrap_or(json!("AWS")),
            "regionName": settings.get("regionName").cloned().unwrap_or(json!("US_EAST_1")),
            "providerName": "FLEX",
            "diskSizeGB": 5.0,
        },
        "tags": body.get("tags").cloned().unwrap_or(json!([])),
        "terminationProtectionEnabled": body.get("terminationProtectionEnabled").cloned().unwrap_or(json!(false)),
    });
    kinds::flex_cluster::CREATE.begin(cx.tx, &mut doc, cx.now.get())?;
    // The claim is owned by this document's path, so a re-created name collides here.
    match cx.tx.insert(&collection, &name, &doc) {
        Ok(_) => {}
        Err(StoreError::Duplicate(_)) => {
            return Err(api_error!(
                DUPLICATE_CLUSTER_NAME,
                name.as_str(),
                group.as_str()
            ));
        }
        Err(e) => return Err(e.into()),
    }
    project_event(
        cx,
        "CLUSTER_CREATED",
        [("clusterName".to_owned(), json!(name))]
            .into_iter()
            .collect(),
    )?;
    let record = Record {
        collection,
        key: name,
        doc,
        seq: 0,
    };
    Ok(Reply::json(cx.render.status(), render(cx, &record)))
}

fn update(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let name = cx.call.path_param("name").unwrap_or_default().to_owned();
    let mut flex = current(cx, &name)?;
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    for key in ["tags", "terminationProtectionEnabled"] {
        if let Some(v) = body.get(key) {
            flex.doc[key] = v.clone();
        }
    }
    kinds::flex_cluster::UPDATE.begin(cx.tx, &mut flex.doc, cx.now.get())?;
    cx.tx.update(&flex.collection, &name, &flex.doc)?;
    Ok(Reply::json(200, render(cx, &flex)))
}

fn delete(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let name = cx.call.path_param("name").unwrap_or_default().to_owned();
    let mut flex = current(cx, &name)?;
    if flex.doc.get("stateName").and_then(Value::as_str) == Some("DELETING") {
        return Err(api_error!(
            CLUSTER_ALREADY_REQUESTED_DELETION,
            name.as_str()
        ));
    }
    if flex
        .doc
        .get("terminationProtectionEnabled")
        .and_then(Value::as_bool)
        == Some(true)
    {
        let group = cx.scope.group_id.clone().unwrap_or_default();
        let sentence = format!(
            "Cannot terminate cluster {name} in group {group} because termination protection is enabled."
        );
        return Err(api_error!(
            CANNOT_TERMINATE_CLUSTER_WHEN_TERMINATION_PROTECTION_ENABLED,
            sentence
        ));
    }
    kinds::flex_cluster::DELETE.begin(cx.tx, &mut flex.doc, cx.now.get())?;
    cx.tx.update(&flex.collection, &name, &flex.doc)?;
    project_event(
        cx,
        "CLUSTER_DELETE_SUBMITTED",
        [("clusterName".to_owned(), json!(name))]
            .into_iter()
            .collect(),
    )?;
    Ok(Reply::empty(cx.render.status()))
}

/// `POST /flexClusters:tenantUpgrade`: the flex cluster becomes a dedicated cluster of the same
/// name (its document moves to the clusters collection, `UPDATING` while it converts).
fn upgrade(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let flex = current(cx, &name)?;
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let settings = &flex.doc["providerSettings"];
    let provider = body
        .pointer("/providerSettings/backingProviderName")
        .or_else(|| settings.get("backingProviderName"))
        .cloned()
        .unwrap_or(json!("AWS"));
    let region = settings
        .get("regionName")
        .cloned()
        .unwrap_or(json!("US_EAST_1"));
    let size = body
        .pointer("/providerSettings/instanceSizeName")
        .cloned()
        .unwrap_or(json!("M10"));
    let mut next_id = || ids::object_id(cx.now.get());
    let specs = clusters::shape::from_current(
        &[
            json!({"regionConfigs": [{"providerName": provider, "regionName": region, "priority": 7,
            "electableSpecs": {"instanceSize": size, "nodeCount": 3}}]}),
        ],
        &mut next_id,
    );
    let mut dedicated = json!({
        "id": flex.doc["id"], "name": name, "groupId": group, "createDate": flex.doc["createDate"],
        "clusterType": "REPLICASET", "mongoDBMajorVersion": "8.0", "mongoDBVersion": clusters::full_version("8.0"),
        "paused": false, "backupEnabled": false, "terminationProtectionEnabled": flex.doc["terminationProtectionEnabled"],
        "tags": flex.doc["tags"], "versionReleaseSystem": "LTS", "replicationSpecs": specs,
    });
    kinds::cluster::TIER_UPGRADE.begin(cx.tx, &mut dedicated, cx.now.get())?;
    // The name claim moves with the document: release the flex owner, claim for the cluster.
    cx.tx.delete(&flex.collection, &name)?;
    let clusters_collection = format!("/groups/{group}/clusters");
    cx.tx.claim(
        &clusters::name_scope(&group),
        &name,
        &format!("{clusters_collection}/{name}"),
    )?;
    cx.tx.insert(&clusters_collection, &name, &dedicated)?;
    Ok(Reply::json(
        cx.render.status(),
        cx.render.fit(&bare(
            cx,
            &Record {
                doc: flex.doc,
                ..flex
            },
        )),
    ))
}
