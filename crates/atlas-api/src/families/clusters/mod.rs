//! Clusters (`/groups/{groupId}/clusters`): one stored cluster served in every API version
//! (2023-01-01 legacy, 2023-02-01, 2024-08-05, requests in 2024-10-23), with the lifecycle clients
//! poll for: `CREATING` → `IDLE`, `UPDATING` → `IDLE`, `DELETING` → gone (404
//! `CLUSTER_NOT_FOUND`, never a `DELETED` state), plus pause/resume, termination protection,
//! feature-compatibility pins and employee access grants.
//!
//! Names are unique across clusters and flex clusters of a project (a store claim in scope
//! `clusterName:<groupId>`, shared with [`super::flex_clusters`]); each API refuses the other's
//! clusters the way clients rely on (`CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API`).

pub mod catalog;
mod process_args;
mod render;
pub mod shape;
pub mod topology;

use atlas_model::OperationId;
use atlas_store::{Page, Record, StoreError};
use serde_json::{Map, Value, json};

use super::events::project_event;
use super::network_containers;
use super::shared::backups::BACKUP_SINCE;
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

pub use render::render;

/// The store claim scope that keeps cluster names unique within a project.
pub fn name_scope(group_id: &str) -> String {
    format!("clusterName:{group_id}")
}

/// The MongoDB release a new cluster gets for a major version.
pub fn full_version(major: &str) -> String {
    match major {
        "6.0" => "6.0.24",
        "7.0" => "7.0.21",
        _ => "8.0.12",
    }
    .to_owned()
}

pub struct Clusters;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupClusters,
    OperationId::CreateGroupCluster,
    OperationId::GetGroupCluster,
    OperationId::UpdateGroupCluster,
    OperationId::DeleteGroupCluster,
    OperationId::GetGroupClusterStatus,
    OperationId::AutoGroupClusterScalingConfiguration,
    OperationId::PinGroupClusterFeatureCompatibilityVersion,
    OperationId::UnpinGroupClusterFeatureCompatibilityVersion,
    OperationId::GrantGroupClusterMongoDbEmployeeAccess,
    OperationId::RevokeGroupClusterMongoDbEmployeeAccess,
    OperationId::ListGroupClusterProviderRegions,
    OperationId::ListClusterDetails,
    OperationId::RestartGroupClusterPrimaries,
    OperationId::UpgradeGroupClusterTenantUpgrade,
    OperationId::GetGroupClusterProcessArgs,
    OperationId::UpdateGroupClusterProcessArgs,
];

impl Behaviour for Clusters {
    fn name(&self) -> &'static str {
        "clusters"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        true
    }

    /// A change sends back the replication specs it read: their ids say which spec is which.
    fn reads_echoed_read_only(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        match cx.call.op.id {
            OperationId::ListGroupClusters => list(cx),
            OperationId::CreateGroupCluster => create(cx),
            OperationId::GetGroupCluster => {
                let cluster = current(cx)?;
                Ok(Reply::json(200, render(cx, &cluster)?))
            }
            OperationId::UpdateGroupCluster => update(cx),
            OperationId::DeleteGroupCluster => delete(cx),
            OperationId::GetGroupClusterStatus => {
                let cluster = current(cx)?;
                let pending = lifecycle::pending(&cluster.doc).is_some();
                let status = if pending { "PENDING" } else { "APPLIED" };
                Ok(Reply::json(
                    200,
                    cx.render.fit(&json!({"changeStatus": status})),
                ))
            }
            OperationId::ListGroupClusterProviderRegions => Ok(regions(cx)),
            OperationId::ListClusterDetails => details(cx),
            OperationId::RestartGroupClusterPrimaries => {
                let mut cluster = current(cx)?;
                // A rolling restart: the cluster shows UPDATING until it is done.
                kinds::cluster::UPDATE.begin(cx.tx, &mut cluster.doc, cx.now.get())?;
                cx.tx
                    .update(&cluster.collection, &cluster.key, &cluster.doc)?;
                project_event(cx, "CLUSTER_UPDATE_SUBMITTED", event_details(&cluster.key))?;
                Ok(Reply::json(200, json!({})))
            }
            OperationId::UpgradeGroupClusterTenantUpgrade => tenant_upgrade(cx),
            // Answered whole. Atlas shows the options never set as `null`; where the spec
            // declares them non-nullable, fitting leaves them out (a schema-valid answer).
            OperationId::GetGroupClusterProcessArgs => {
                let cluster = current(cx)?;
                let doc = process_args::document(&cluster.doc, cx.call.version);
                Ok(Reply::json(200, cx.render.fit_owned(doc)))
            }
            OperationId::UpdateGroupClusterProcessArgs => {
                let mut cluster = current(cx)?;
                let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
                process_args::apply(&mut cluster.doc, &body);
                cx.tx
                    .update(&cluster.collection, &cluster.key, &cluster.doc)?;
                let doc = process_args::document(&cluster.doc, cx.call.version);
                Ok(Reply::json(200, cx.render.fit_owned(doc)))
            }
            OperationId::AutoGroupClusterScalingConfiguration => {
                let cluster = current(cx)?;
                Ok(Reply::json(
                    200,
                    cx.render
                        .fit(&json!({"autoScalingMode": scaling_mode(&cluster.doc)})),
                ))
            }
            _ => action(cx),
        }
    }
}

/// The collection of a project's clusters.
fn collection(cx: &Ctx<'_>) -> String {
    format!(
        "/groups/{}/clusters",
        cx.scope.group_id.as_deref().unwrap_or_default()
    )
}

/// The cluster the path names, settled for this read, or Atlas's 404/400.
pub fn current(cx: &mut Ctx<'_>) -> Result<Record, ApiError> {
    let name = cx
        .call
        .path_param("clusterName")
        .unwrap_or_default()
        .to_owned();
    load(cx, name)
}

/// The cluster the path names (as [`current`]) and the store path of its `child` collection
/// (`backup/snapshots`, `search/indexes` ...): where the resources a family keeps under a
/// cluster live, so they go with it.
pub fn current_child(cx: &mut Ctx<'_>, child: &str) -> Result<(Record, String), ApiError> {
    let cluster = current(cx)?;
    let path = format!("{}/{}/{child}", cluster.collection, cluster.key);
    Ok((cluster, path))
}

/// The cluster `name`, settled for this read, or Atlas's 404/400.
pub fn load(cx: &mut Ctx<'_>, name: String) -> Result<Record, ApiError> {
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let collection = collection(cx);
    if let Some(record) = lifecycle::get_settled(cx.tx, cx.lifecycle, &collection, &name, &cx.now)?
    {
        return Ok(record);
    }
    // The CLI relies on this code to fall back to the flex API (semantics §9).
    if cx
        .tx
        .get(&format!("/groups/{group}/flexClusters"), &name)?
        .is_some()
    {
        return Err(api_error!(
            CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API,
            name.as_str()
        ));
    }
    Err(api_error!(CLUSTER_NOT_FOUND, name.as_str(), group.as_str()).keeping_writes())
}

fn list(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let collection = collection(cx);
    let visible = lifecycle::settle_all(cx.tx, cx.lifecycle, &collection, &cx.now)?;
    let total = visible.len() as u64;
    let mut results = Vec::new();
    for record in paging.slice(&visible) {
        results.push(render::bare(cx, record)?);
    }
    Ok(Reply::json(
        200,
        cx.render.fit_owned(paging.body(cx.call, results, total)),
    ))
}

/// Converts a request body of the served version into canonical fields and replication specs.
fn canonical_specs(cx: &Ctx<'_>, body: &Value, existing: Option<&Value>) -> Option<Vec<Value>> {
    let now = cx.now.get();
    let mut next_id = || ids::object_id(now);
    match cx.call.version {
        "2023-01-01" => {
            let touches_topology = [
                "providerSettings",
                "numShards",
                "replicationSpecs",
                "replicationFactor",
                "diskSizeGB",
            ]
            .iter()
            .any(|k| body.get(*k).is_some());
            touches_topology.then(|| {
                // A partial legacy update keeps what it does not mention.
                let mut merged = existing.map(legacy_view).unwrap_or_else(|| json!({}));
                crate::kernel::render::merge_patch(&mut merged, body);
                shape::from_legacy(&merged, &mut next_id)
            })
        }
        "2023-02-01" => {
            let specs = body.get("replicationSpecs").and_then(Value::as_array);
            let disk = body.get("diskSizeGB").and_then(Value::as_f64);
            match (specs, disk, existing) {
                (Some(specs), _, _) => Some(shape::from_2023_02(specs, disk, &mut next_id)),
                (None, Some(disk), Some(old)) => {
                    let specs = old
                        .get("replicationSpecs")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let grouped = shape::to_2023_02(&specs).ok()?;
                    Some(shape::from_2023_02(&grouped, Some(disk), &mut next_id))
                }
                _ => None,
            }
        }
        _ => body
            .get("replicationSpecs")
            .and_then(Value::as_array)
            .map(|specs| shape::from_current(specs, &mut next_id)),
    }
}

/// The legacy fields of a stored cluster, for merging partial legacy updates.
fn legacy_view(doc: &Value) -> Value {
    let specs = doc
        .get("replicationSpecs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut view = shape::to_legacy(&specs)
        .map(Value::Object)
        .unwrap_or_else(|_| json!({}));
    view["clusterType"] = doc
        .get("clusterType")
        .cloned()
        .unwrap_or(json!("REPLICASET"));
    view
}

/// Fields of a request that are version-specific topology, not stored as such.
const TOPOLOGY_FIELDS: &[&str] = &[
    "replicationSpecs",
    "diskSizeGB",
    "numShards",
    "providerSettings",
    "replicationFactor",
    "autoScaling",
    "replicationSpec",
];

fn is_tenant(doc: &Value) -> bool {
    doc.pointer("/replicationSpecs/0/regionConfigs/0/providerName")
        .and_then(Value::as_str)
        == Some("TENANT")
}

fn create(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let Some(specs) = canonical_specs(cx, &body, None).filter(|s| !s.is_empty()) else {
        let missing = if cx.call.version == "2023-01-01" {
            "providerSettings"
        } else {
            "replicationSpecs"
        };
        return Err(api_error!(MISSING_ATTRIBUTE, missing));
    };
    catalog::check(&specs).map_err(|attribute| api_error!(INVALID_ATTRIBUTE, attribute))?;
    let collection = collection(cx);
    match cx
        .tx
        .claim(&name_scope(&group), &name, &format!("{collection}/{name}"))
    {
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
    let mut doc: Map<String, Value> = body
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !TOPOLOGY_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let cluster_type = if specs.len() > 1 {
        "SHARDED"
    } else {
        "REPLICASET"
    };
    doc.entry("clusterType").or_insert(json!(cluster_type));
    let major = doc
        .get("mongoDBMajorVersion")
        .and_then(Value::as_str)
        .unwrap_or("8.0")
        .to_owned();
    doc.insert("mongoDBMajorVersion".into(), json!(major));
    doc.insert("mongoDBVersion".into(), json!(full_version(&major)));
    doc.insert("id".into(), json!(ids::object_id(cx.now.get())));
    doc.insert("groupId".into(), json!(group));
    doc.insert("createDate".into(), json!(atlas_timestamp(cx.now.get())));
    doc.insert("replicationSpecs".into(), Value::Array(specs));
    // What Atlas shows unless the client said otherwise (paused, backup, TLS, BI Connector,
    // labels ...) is not stored here: the defaults table (kernel/defaults) fills every answer.
    if doc.get("backupEnabled").and_then(Value::as_bool) == Some(true) {
        doc.insert(BACKUP_SINCE.into(), json!(cx.now.get().unix_timestamp()));
    }
    settle_config_server_type(&mut doc);
    let mut doc = Value::Object(doc);
    (if is_tenant(&doc) {
        kinds::cluster::TENANT_CREATE
    } else {
        kinds::cluster::CREATE
    })
    .begin(cx.tx, &mut doc, cx.now.get())?;
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
    ensure_containers(cx, &doc)?;
    project_event(cx, "CLUSTER_CREATED", event_details(&name))?;
    let record = Record {
        collection,
        key: name,
        doc,
        seq: 0,
    };
    Ok(Reply::json(cx.render.status(), render(cx, &record)?))
}

/// Keeps the config server type a sharded cluster runs with, from its management mode and the
/// type it had (see [`render::config_server_type`]); replica sets have none.
fn settle_config_server_type(doc: &mut Map<String, Value>) {
    if doc.get("clusterType").and_then(Value::as_str) == Some("REPLICASET") {
        doc.remove(render::CONFIG_SERVER_TYPE);
        return;
    }
    let mode = doc
        .get("configServerManagementMode")
        .and_then(Value::as_str);
    let previous = doc.get(render::CONFIG_SERVER_TYPE).and_then(Value::as_str);
    let kind = render::config_server_type(mode, previous);
    doc.insert(render::CONFIG_SERVER_TYPE.into(), json!(kind));
}

/// The project's network container for each provider and region a dedicated cluster runs in,
/// created as Atlas creates them with the cluster (see [`network_containers`]).
fn ensure_containers(cx: &mut Ctx<'_>, doc: &Value) -> Result<(), ApiError> {
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let placements: Vec<(String, String)> = doc
        .get("replicationSpecs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("regionConfigs").and_then(Value::as_array))
        .flatten()
        .filter_map(|rc| {
            let provider = rc.get("providerName").and_then(Value::as_str)?;
            let region = rc.get("regionName").and_then(Value::as_str)?;
            Some((provider.to_owned(), region.to_owned()))
        })
        .collect();
    for (provider, region) in placements {
        network_containers::ensure(cx, &group, &provider, &region)?;
    }
    Ok(())
}

fn event_details(name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("clusterName".into(), json!(name));
    m
}

fn update(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let mut cluster = current(cx)?;
    let name = cluster.key.clone();
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    if cluster.doc.get("stateName").and_then(Value::as_str) == Some("DELETING") {
        return Err(api_error!(
            CLUSTER_ALREADY_REQUESTED_DELETION,
            name.as_str()
        ));
    }
    let paused = cluster
        .doc
        .get("paused")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let wants_pause = body.get("paused").and_then(Value::as_bool);
    let other_changes = body
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k != "paused"));
    match wants_pause {
        Some(true) if other_changes => {
            return Err(api_error!(CANNOT_UPDATE_AND_PAUSE_CLUSTER, name.as_str()));
        }
        Some(true) if paused => return Err(api_error!(CLUSTER_ALREADY_PAUSED, name.as_str())),
        Some(false) => {}
        _ if paused && other_changes => {
            return Err(api_error!(CANNOT_UPDATE_PAUSED_CLUSTER, name.as_str()));
        }
        _ => {}
    }
    let specs = canonical_specs(cx, &body, Some(&cluster.doc));
    if let Some(specs) = &specs {
        catalog::check(specs).map_err(|attribute| api_error!(INVALID_ATTRIBUTE, attribute))?;
    }
    let Value::Object(doc) = &mut cluster.doc else {
        return Err(ApiError::internal("stored cluster is not an object"));
    };
    for (key, value) in body.as_object().into_iter().flatten() {
        if TOPOLOGY_FIELDS.contains(&key.as_str()) || key == "name" {
            continue;
        }
        doc.insert(key.clone(), value.clone());
    }
    if let Some(specs) = specs {
        if specs.len() > 1 && doc.get("clusterType").and_then(Value::as_str) == Some("REPLICASET") {
            doc.insert("clusterType".into(), json!("SHARDED"));
        }
        doc.insert("replicationSpecs".into(), Value::Array(specs));
    }
    // Scheduled snapshots count from when backup was (last) turned on.
    match body.get("backupEnabled").and_then(Value::as_bool) {
        Some(true) if !doc.contains_key(BACKUP_SINCE) => {
            doc.insert(BACKUP_SINCE.into(), json!(cx.now.get().unix_timestamp()));
        }
        Some(false) => {
            doc.remove(BACKUP_SINCE);
        }
        _ => {}
    }
    if let Some(major) = body.get("mongoDBMajorVersion").and_then(Value::as_str) {
        doc.insert("mongoDBVersion".into(), json!(full_version(major)));
    }
    settle_config_server_type(doc);
    let collection = cluster.collection.clone();
    kinds::cluster::UPDATE.begin(cx.tx, &mut cluster.doc, cx.now.get())?;
    cx.tx.update(&collection, &name, &cluster.doc)?;
    ensure_containers(cx, &cluster.doc)?;
    project_event(cx, "CLUSTER_UPDATE_SUBMITTED", event_details(&name))?;
    Ok(Reply::json(200, render(cx, &cluster)?))
}

fn delete(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let mut cluster = current(cx)?;
    let name = cluster.key.clone();
    let group = cx.scope.group_id.clone().unwrap_or_default();
    if cluster.doc.get("stateName").and_then(Value::as_str) == Some("DELETING") {
        return Err(api_error!(
            CLUSTER_ALREADY_REQUESTED_DELETION,
            name.as_str()
        ));
    }
    if cluster
        .doc
        .get("terminationProtectionEnabled")
        .and_then(Value::as_bool)
        == Some(true)
    {
        // Recorded: the parameter is one sentence naming the cluster and the project.
        let sentence = format!(
            "Cannot terminate cluster {name} in group {group} because termination protection is enabled."
        );
        return Err(api_error!(
            CANNOT_TERMINATE_CLUSTER_WHEN_TERMINATION_PROTECTION_ENABLED,
            sentence
        ));
    }
    (if is_tenant(&cluster.doc) {
        kinds::cluster::TENANT_DELETE
    } else {
        kinds::cluster::DELETE
    })
    .begin(cx.tx, &mut cluster.doc, cx.now.get())?;
    cx.tx.update(&cluster.collection, &name, &cluster.doc)?;
    project_event(cx, "CLUSTER_DELETE_SUBMITTED", event_details(&name))?;
    // Recorded: DELETE answers 202 with the body `{}`.
    Ok(Reply::json(cx.render.status(), json!({})))
}

/// `CLUSTER_WIDE_SCALING` unless shards scale independently (different sizes or bounds).
fn scaling_mode(doc: &Value) -> &'static str {
    let specs = doc
        .get("replicationSpecs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let first = specs.first().map(|s| s["regionConfigs"].clone());
    let uniform = specs
        .iter()
        .all(|s| Some(s["regionConfigs"].clone()) == first);
    if uniform {
        "CLUSTER_WIDE_SCALING"
    } else {
        "INDEPENDENT_SHARD_SCALING"
    }
}

/// The cluster's custom methods; their effects show in later reads.
fn action(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let mut cluster = current(cx)?;
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let Value::Object(doc) = &mut cluster.doc else {
        return Err(ApiError::internal("stored cluster is not an object"));
    };
    match cx.call.op.id {
        OperationId::PinGroupClusterFeatureCompatibilityVersion => {
            let major = doc
                .get("mongoDBMajorVersion")
                .and_then(Value::as_str)
                .unwrap_or("8.0")
                .to_owned();
            let expires = body
                .get("expirationDate")
                .cloned()
                .unwrap_or_else(|| json!(atlas_timestamp(cx.now.get() + time::Duration::weeks(4))));
            doc.insert("featureCompatibilityVersion".into(), json!(major));
            doc.insert("featureCompatibilityVersionExpirationDate".into(), expires);
        }
        OperationId::UnpinGroupClusterFeatureCompatibilityVersion => {
            doc.remove("featureCompatibilityVersionExpirationDate");
        }
        OperationId::GrantGroupClusterMongoDbEmployeeAccess => {
            doc.insert("mongoDBEmployeeAccessGrant".into(), body.clone());
        }
        OperationId::RevokeGroupClusterMongoDbEmployeeAccess => {
            doc.remove("mongoDBEmployeeAccessGrant");
        }
        _ => return Err(ApiError::internal("operation not served by clusters")),
    }
    cx.tx
        .update(&cluster.collection, &cluster.key, &cluster.doc)?;
    Ok(Reply::empty(cx.render.status()))
}

/// `GET /clusters/provider/regions`: the providers' regions per instance size, filtered by the
/// `providers` and `tier` query parameters.
fn regions(cx: &Ctx<'_>) -> Reply {
    let wanted: Vec<&str> = cx.call.query_values("providers").collect();
    let tier = cx.call.query_param("tier");
    let results: Vec<Value> = catalog::providers()
        .iter()
        .filter(|p| wanted.is_empty() || wanted.contains(&p.name))
        .map(|p| {
            let sizes: Vec<Value> = p
                .sizes
                .iter()
                .filter(|s| tier.is_none_or(|t| t == s.as_str()))
                .map(|s| {
                    let regions: Vec<Value> = p
                        .regions
                        .iter()
                        .enumerate()
                        .map(|(i, r)| json!({"name": r, "default": i == 0}))
                        .collect();
                    json!({"name": s, "availableRegions": regions})
                })
                .collect();
            json!({"provider": p.name, "instanceSizes": sizes})
        })
        .collect();
    let paging = Paging::of(cx.call);
    let total = results.len() as u64;
    Reply::json(
        200,
        cx.render
            .fit(&paging.body(cx.call, paging.slice(results), total)),
    )
}

/// `GET /clusters`: every project the caller can see, with its clusters summarized.
fn details(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let (groups, _) = cx.tx.list("/groups", Page::ALL)?;
    let mut results = Vec::new();
    for group in &groups {
        // Only the projects the caller may see (its roles decide, crate::stages::authorize).
        if !crate::stages::authorize::can_see_group(cx.tx, &cx.call.principal, &group.doc)? {
            continue;
        }
        let org_id = group
            .doc
            .get("orgId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let org_name = cx
            .tx
            .get("/orgs", &org_id)?
            .and_then(|o| o.doc.get("name").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        let (clusters, _) = cx
            .tx
            .list(&format!("/groups/{}/clusters", group.key), Page::ALL)?;
        let summaries: Vec<Value> = clusters
            .iter()
            .map(|c| {
                let sharded = c.doc.get("clusterType").and_then(Value::as_str) != Some("REPLICASET");
                json!({
                    "alertCount": 0, "authEnabled": true, "availability": "available",
                    "backupEnabled": c.doc.get("backupEnabled").cloned().unwrap_or(json!(false)),
                    "clusterId": c.doc.get("id"), "dataSizeBytes": 0, "name": c.key,
                    "nodeCount": topology::processes(&c.doc, &group.key).len(),
                    "sslEnabled": true, "type": if sharded { "SHARDED_CLUSTER" } else { "REPLICA_SET" },
                    "versions": [c.doc.get("mongoDBVersion").cloned().unwrap_or(json!("8.0.12"))],
                })
            })
            .collect();
        results.push(json!({
            "groupId": group.key, "groupName": group.doc.get("name"), "orgId": org_id, "orgName": org_name,
            "planType": "Atlas", "tags": [], "clusters": summaries,
        }));
    }
    let paging = Paging::of(cx.call);
    let total = results.len() as u64;
    Ok(Reply::json(
        200,
        cx.render
            .fit(&paging.body(cx.call, paging.slice(results), total)),
    ))
}

/// `POST /clusters/tenantUpgrade` (legacy shape): a shared-tier cluster becomes the dedicated
/// cluster the body describes; it shows `UPDATING` for the ~25 minutes Atlas takes.
fn tenant_upgrade(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut cluster = load(cx, name.clone())?;
    if !is_tenant(&cluster.doc) {
        return Err(api_error!(INVALID_ATTRIBUTE, "providerSettings"));
    }
    let now = cx.now.get();
    let specs = shape::from_legacy(&body, &mut || ids::object_id(now));
    catalog::check(&specs).map_err(|attribute| api_error!(INVALID_ATTRIBUTE, attribute))?;
    cluster.doc["replicationSpecs"] = Value::Array(specs);
    kinds::cluster::TIER_UPGRADE.begin(cx.tx, &mut cluster.doc, cx.now.get())?;
    cx.tx.update(&cluster.collection, &name, &cluster.doc)?;
    ensure_containers(cx, &cluster.doc)?;
    project_event(cx, "CLUSTER_UPDATE_SUBMITTED", event_details(&name))?;
    Ok(Reply::json(200, render(cx, &cluster)?))
}
