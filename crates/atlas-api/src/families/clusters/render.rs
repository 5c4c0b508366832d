//! A stored cluster as the served version shows it: computed fields (connection strings, feature
//! compatibility version, config server type, links) added, topology converted for 2023-02-01
//! and the legacy 2023-01-01 shape.

use atlas_store::Record;
use serde_json::{Value, json};

use super::shape::{self, Asymmetric};
use super::topology;
use crate::api_error;
use crate::engine::Ctx;
use crate::kernel::error::ApiError;
use atlas_model::API_PREFIX;

/// The cluster rendered and fitted to the served version's schema.
pub fn render(cx: &Ctx<'_>, record: &Record) -> Result<Value, ApiError> {
    let doc = bare(cx, record)?;
    Ok(cx.render.fit(&doc))
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
    map.retain(|k, _| !k.starts_with("__"));
    let name = record.key.as_str();
    let href = format!(
        "{}{API_PREFIX}/groups/{group}/clusters/{name}",
        cx.call.origin.base_url
    );
    map.insert("links".into(), json!([{"href": href, "rel": "self"}]));
    map.insert("connectionStrings".into(), connection_strings);
    let major = map
        .get("mongoDBMajorVersion")
        .and_then(Value::as_str)
        .unwrap_or("8.0")
        .to_owned();
    map.entry("featureCompatibilityVersion")
        .or_insert(json!(major));
    if map.get("clusterType").and_then(Value::as_str) != Some("REPLICASET") {
        map.insert("configServerType".into(), json!("EMBEDDED"));
    }
    // Only the older shapes rebuild the replication specs; the current ones keep them as stored.
    let specs = |map: &serde_json::Map<String, Value>| {
        map.get("replicationSpecs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let asymmetric =
        |_: Asymmetric| api_error!(ASYMMETRIC_SHARD_UNSUPPORTED, name, cx.call.version);
    match cx.call.version {
        "2023-02-01" => {
            let specs = specs(map);
            let grouped = shape::to_2023_02(&specs).map_err(asymmetric)?;
            map.insert("replicationSpecs".into(), Value::Array(grouped));
            if let Some(disk) = shape::disk_gb(&specs) {
                map.insert("diskSizeGB".into(), json!(disk));
            }
        }
        "2023-01-01" => {
            let specs = specs(map);
            let legacy = shape::to_legacy(&specs).map_err(asymmetric)?;
            map.remove("replicationSpecs");
            map.extend(legacy);
            let standard = map["connectionStrings"]["standard"].clone();
            let srv = map["connectionStrings"]["standardSrv"].clone();
            map.insert("mongoURI".into(), standard.clone());
            map.insert("mongoURIWithOptions".into(), standard);
            map.insert("srvAddress".into(), srv);
            if let Some(created) = map.get("createDate").cloned() {
                map.insert("mongoURIUpdated".into(), created);
            }
        }
        _ => {}
    }
    Ok(doc)
}
