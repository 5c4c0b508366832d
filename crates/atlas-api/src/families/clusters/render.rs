//! A stored cluster as the served version shows it: computed fields (connection strings, feature
//! compatibility version, config server type, links, the autoscaling and effective hardware of
//! each region config) added, topology converted for 2023-02-01 and the legacy 2023-01-01 shape.
//!
//! Everything here is derived from the cluster's own stored configuration at every read, so a
//! PATCH that changes the configuration changes what is derived from it.

use atlas_store::Record;
use serde_json::{Map, Value, json};

use super::shape::{self, Asymmetric};
use super::topology;
use crate::api_error;
use crate::engine::Ctx;
use crate::kernel::error::ApiError;
use atlas_model::API_PREFIX;

/// The internal field keeping the config server type a sharded cluster runs with (it survives
/// a change of `configServerManagementMode` to `ATLAS_MANAGED`).
pub const CONFIG_SERVER_TYPE: &str = "__configServerType";

/// The config server type a management mode gives, `previous` being the type before the
/// change. Recorded (`TestAccMockableAdvancedCluster_symmetricSharded`): `FIXED_TO_DEDICATED`
/// shows `DEDICATED`, and a later change to `ATLAS_MANAGED` keeps `DEDICATED`;
/// `ATLAS_MANAGED` from the start shows `EMBEDDED` (`TestIndependendShardScalingCluster`).
pub fn config_server_type(mode: Option<&str>, previous: Option<&str>) -> &'static str {
    match (mode, previous) {
        (Some("FIXED_TO_DEDICATED"), _) => "DEDICATED",
        (Some("FIXED_TO_EMBEDDED"), _) => "EMBEDDED",
        (_, Some("DEDICATED")) => "DEDICATED",
        _ => "EMBEDDED",
    }
}

/// The cluster rendered and fitted to the served version's schema.
pub fn render(cx: &Ctx<'_>, record: &Record) -> Result<Value, ApiError> {
    let doc = bare(cx, record)?;
    Ok(cx.render.fit(&doc))
}

fn is_tenant_config(rc: &Value) -> bool {
    rc.get("providerName").and_then(Value::as_str) == Some("TENANT")
}

/// The autoscaling Atlas shows for a region config: what the client set, completed with
/// everything off (recorded for every cluster created without it, e.g. `TestRestores`; a
/// `diskGB.enabled` sent true stays true, `TestAccMockableAdvancedCluster_replicasetAdvConfigUpdate`).
fn complete_auto_scaling(current: Option<&Value>) -> Value {
    let mut scaling = json!({
        "compute": {"enabled": false, "scaleDownEnabled": false, "predictiveEnabled": false},
        "diskGB": {"enabled": false},
    });
    if let Some(Value::Object(sent)) = current {
        for (key, value) in sent {
            match (scaling.get_mut(key), value) {
                (Some(Value::Object(base)), Value::Object(fields)) => {
                    for (k, v) in fields {
                        if !v.is_null() {
                            base.insert(k.clone(), v.clone());
                        }
                    }
                }
                _ => {
                    scaling[key] = value.clone();
                }
            }
        }
    }
    scaling
}

/// Region configs as every version (2023-02-01 on) shows them: dedicated ones with their
/// autoscaling, tenant ones with the `effectiveInstanceSize` they run
/// (`TestClustersM0Flags`).
fn complete_region_configs(specs: &mut [Value]) {
    for rc in specs
        .iter_mut()
        .filter_map(|s| s.get_mut("regionConfigs").and_then(Value::as_array_mut))
        .flatten()
    {
        if is_tenant_config(rc) {
            if let Some(Value::Object(e)) = rc.get_mut("electableSpecs")
                && let Some(size) = e.get("instanceSize").cloned()
            {
                e.entry("effectiveInstanceSize").or_insert(size);
            }
            continue;
        }
        let scaling = complete_auto_scaling(rc.get("autoScaling"));
        rc["autoScaling"] = scaling;
    }
}

/// The hardware each region config runs on (2024-08-05 on): `effective*Specs` mirror the
/// configured specs (no autoscaling has moved them), and `effectiveReplicationSpecs` repeats the
/// replication specs without them (recorded in every 2024-08-05 read of `TestRestores`).
fn effective_specs(specs: &mut [Value]) -> Vec<Value> {
    let effective: Vec<Value> = specs.to_vec();
    for rc in specs
        .iter_mut()
        .filter_map(|s| s.get_mut("regionConfigs").and_then(Value::as_array_mut))
        .flatten()
    {
        if is_tenant_config(rc) {
            continue;
        }
        for (configured, shown) in [
            ("electableSpecs", "effectiveElectableSpecs"),
            ("readOnlySpecs", "effectiveReadOnlySpecs"),
            ("analyticsSpecs", "effectiveAnalyticsSpecs"),
        ] {
            if let Some(spec) = rc.get(configured).cloned() {
                rc[shown] = spec;
            }
        }
    }
    effective
}

/// The connection strings a cluster shows in its state. Recorded: a dedicated cluster shows
/// none while `CREATING` (`TestRestores`); a shared-tier one answers its creation with its SRV
/// string only and shows both from the first read on (`TestClustersM0Flags`); a sharded cluster
/// always shows its (empty) private endpoint strings, and an AWS-only one the AWS PrivateLink
/// map (`TestIndependendShardScalingCluster`, `TestAccMockableAdvancedCluster_symmetricSharded`).
fn visible_connection_strings(all: &Value, doc: &Map<String, Value>, creation: bool) -> Value {
    let specs: Vec<&Value> = doc
        .get("replicationSpecs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|s| {
            s.get("regionConfigs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .collect();
    let tenant = specs.first().is_some_and(|rc| is_tenant_config(rc));
    let all_aws = !specs.is_empty()
        && specs
            .iter()
            .all(|rc| rc.get("providerName").and_then(Value::as_str) == Some("AWS"));
    let sharded = doc.get("clusterType").and_then(Value::as_str) != Some("REPLICASET");
    let creating = doc.get("stateName").and_then(Value::as_str) == Some("CREATING");
    let mut out = Map::new();
    if sharded {
        if all_aws {
            out.insert("awsPrivateLinkSrv".into(), json!({}));
        }
        out.insert("privateEndpoint".into(), json!([]));
    }
    let (standard, srv) = if tenant {
        (!creation, true)
    } else {
        (!creating, !creating)
    };
    if standard {
        out.insert("standard".into(), all["standard"].clone());
    }
    if srv {
        out.insert("standardSrv".into(), all["standardSrv"].clone());
    }
    Value::Object(out)
}

/// The cluster in the served version's shape, before fitting (list items are fitted with the
/// page).
pub fn bare(cx: &Ctx<'_>, record: &Record) -> Result<Value, ApiError> {
    let group = cx.scope.group_id.as_deref().unwrap_or_default();
    let mut doc = record.doc.clone();
    // Read from the stored document as it is (the topology reads no internal `__` fields), so
    // no second copy of the cluster is needed.
    let connection_strings = topology::connection_strings(&doc, group);
    let Value::Object(map) = &mut doc else {
        return Err(ApiError::internal("stored cluster is not an object"));
    };
    let stored_server_type = map
        .get(CONFIG_SERVER_TYPE)
        .and_then(Value::as_str)
        .map(str::to_owned);
    map.retain(|k, _| !k.starts_with("__"));
    let name = record.key.as_str();
    let href = format!(
        "{}{API_PREFIX}/groups/{group}/clusters/{name}",
        cx.call.origin.base_url
    );
    map.insert(
        "links".into(),
        json!([
            {"href": href, "rel": "self"},
            {"href": format!("{href}/backup/restoreJobs"), "rel": "https://cloud.mongodb.com/restoreJobs"},
            {"href": format!("{href}/backup/snapshots"), "rel": "https://cloud.mongodb.com/snapshots"},
        ]),
    );
    let creation = cx.call.op.id == atlas_model::OperationId::CreateGroupCluster;
    let visible = visible_connection_strings(&connection_strings, map, creation);
    map.insert("connectionStrings".into(), visible);
    let major = map
        .get("mongoDBMajorVersion")
        .and_then(Value::as_str)
        .unwrap_or("8.0")
        .to_owned();
    // Recorded: 2023-02-01 answers carry no feature compatibility version unless pinned.
    if cx.call.version != "2023-02-01" {
        map.entry("featureCompatibilityVersion")
            .or_insert(json!(major));
    }
    if map.get("clusterType").and_then(Value::as_str) == Some("REPLICASET") {
        // Recorded: replica sets show neither config server field.
        map.remove("configServerManagementMode");
        map.remove("configServerType");
    } else {
        let mode = map
            .entry("configServerManagementMode")
            .or_insert(json!("ATLAS_MANAGED"))
            .as_str()
            .map(str::to_owned);
        let kind = config_server_type(mode.as_deref(), stored_server_type.as_deref());
        map.insert("configServerType".into(), json!(kind));
    }
    // Only the older shapes rebuild the replication specs; the current ones keep them as stored.
    let mut specs = map
        .get("replicationSpecs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    complete_region_configs(&mut specs);
    let asymmetric =
        |_: Asymmetric| api_error!(ASYMMETRIC_SHARD_UNSUPPORTED, name, cx.call.version);
    match cx.call.version {
        "2023-02-01" => {
            let grouped = shape::to_2023_02(&specs).map_err(asymmetric)?;
            map.insert("replicationSpecs".into(), Value::Array(grouped));
            if let Some(disk) = shape::disk_gb(&specs) {
                map.insert("diskSizeGB".into(), json!(disk));
            }
        }
        "2023-01-01" => {
            let legacy = shape::to_legacy(&specs).map_err(asymmetric)?;
            map.remove("replicationSpecs");
            map.extend(legacy);
            complete_legacy(map);
            let standard = connection_strings["standard"].clone();
            let srv = connection_strings["standardSrv"].clone();
            map.insert("connectionStrings".into(), connection_strings);
            let hosts = standard
                .as_str()
                .and_then(|s| s.split("/?").next())
                .map(|s| json!(s))
                .unwrap_or_else(|| standard.clone());
            map.insert("mongoURI".into(), hosts);
            map.insert("mongoURIWithOptions".into(), standard);
            map.insert("srvAddress".into(), srv);
            if let Some(created) = map.get("createDate").cloned() {
                map.insert("mongoURIUpdated".into(), created);
            }
        }
        _ => {
            let effective = effective_specs(&mut specs);
            map.insert("replicationSpecs".into(), Value::Array(specs));
            map.insert("effectiveReplicationSpecs".into(), Value::Array(effective));
            // Recorded `CORE` for every cluster of the CLI's 2024-08-05 reads.
            map.entry("effectiveDatabaseEdition")
                .or_insert(json!("CORE"));
        }
    }
    Ok(doc)
}

/// The legacy fields Atlas derives (recorded answer of `POST /clusters/tenantUpgrade`,
/// `TestAccMockableAdvancedCluster_tenantUpgrade`): the cluster-wide autoscaling switches (off
/// unless set), the compute bounds (null unless set), the effective instance size and
/// `providerBackupEnabled`.
fn complete_legacy(map: &mut Map<String, Value>) {
    let scaling = map.entry("autoScaling").or_insert_with(|| json!({}));
    if let Value::Object(s) = scaling {
        let compute = s.entry("compute").or_insert_with(|| json!({}));
        if let Value::Object(c) = compute {
            for key in ["enabled", "scaleDownEnabled", "predictiveEnabled"] {
                c.entry(key).or_insert(json!(false));
            }
        }
        s.entry("diskGBEnabled").or_insert(json!(false));
    }
    if let Some(Value::Object(settings)) = map.get_mut("providerSettings") {
        if let Some(size) = settings.get("instanceSizeName").cloned() {
            settings.entry("effectiveInstanceSizeName").or_insert(size);
        }
        let bounds = settings
            .entry("autoScaling")
            .or_insert_with(|| json!({"compute": {}}));
        if let Some(Value::Object(c)) = bounds.get_mut("compute") {
            for key in ["minInstanceSize", "maxInstanceSize"] {
                c.entry(key).or_insert(Value::Null);
            }
        }
    }
    let backup = map.get("backupEnabled").cloned().unwrap_or(json!(false));
    map.entry("providerBackupEnabled").or_insert(backup);
}
