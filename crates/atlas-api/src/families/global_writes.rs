//! Global clusters (`/groups/{groupId}/clusters/{clusterName}/globalWrites`): the managed
//! namespaces (collections sharded on `location` plus a custom shard key) and the custom zone
//! mappings (ISO 3166 location codes to zones) of a `GEOSHARDED` cluster.
//!
//! Zones are the cluster's replication specs grouped by `zoneName` (see the clusters behaviour's
//! canonical storage: every spec has `id`, `zoneId` and `zoneName`). A mapping is stored by
//! `zoneId` and shown, as the spec's descriptions of `customZoneMapping` say, by the replication
//! spec `id` in the 2023-01-01 and 2023-02-01 shapes and by the `zoneId` from 2024-08-05. Mappings
//! can be added but not changed, and are removed all at once (the seed's DELETE), which answers
//! the GeoSharding document with the managed namespaces kept.

use atlas_model::OperationId;
use atlas_store::Record;
use serde_json::{Map, Value, json};

use super::clusters;
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::families::shared::support::invalid;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;

pub struct GlobalWrites;

const OPERATIONS: &[OperationId] = &[
    OperationId::GetGroupClusterGlobalWrites,
    OperationId::CreateGroupClusterGlobalWriteCustomZoneMapping,
    OperationId::DeleteGroupClusterGlobalWriteCustomZoneMapping,
    OperationId::CreateGroupClusterGlobalWriteManagedNamespace,
    OperationId::DeleteGroupClusterGlobalWriteManagedNamespaces,
];

impl Behaviour for GlobalWrites {
    fn name(&self) -> &'static str {
        "global_writes"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        // Reading the cluster settles its lifecycle.
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let (cluster, path) = clusters::current_child(cx, "globalWrites")?;
        let mut state = cx
            .tx
            .get(&path, "")?
            .map(|r| r.doc)
            .unwrap_or_else(|| json!({"managedNamespaces": [], "customZoneMapping": {}}));
        if cx.call.op.id != OperationId::GetGroupClusterGlobalWrites {
            // A cluster that is not global has no zones to write to.
            if cluster.doc["clusterType"] != "GEOSHARDED" {
                return Err(api_error!(INVALID_CLUSTER_CONFIGURATION));
            }
            match cx.call.op.id {
                OperationId::CreateGroupClusterGlobalWriteManagedNamespace => {
                    add_namespace(cx, &mut state)?
                }
                OperationId::DeleteGroupClusterGlobalWriteManagedNamespaces => {
                    remove_namespace(cx, &mut state)?
                }
                OperationId::CreateGroupClusterGlobalWriteCustomZoneMapping => {
                    add_mappings(cx, &cluster, &mut state)?
                }
                _ => state["customZoneMapping"] = json!({}),
            }
            cx.tx.upsert(&path, "", &state)?;
        }
        Ok(Reply::json(
            200,
            cx.render.fit(&shown(cx, &cluster, &state)),
        ))
    }
}

/// The GeoSharding document in the served version's shape.
fn shown(cx: &Ctx<'_>, cluster: &Record, state: &Value) -> Value {
    let specs = cluster.doc["replicationSpecs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_zone_id = cx.call.version >= "2024-08-05";
    let mut mapping = Map::new();
    if let Some(stored) = state["customZoneMapping"].as_object() {
        for (location, zone_id) in stored {
            let shown = if by_zone_id {
                Some(zone_id.clone())
            } else {
                // The first replication spec of the zone is the one 2023-02-01 shows for it.
                specs
                    .iter()
                    .find(|s| &s["zoneId"] == zone_id)
                    .map(|s| s["id"].clone())
            };
            if let Some(id) = shown {
                mapping.insert(location.clone(), id);
            }
        }
    }
    json!({
        "customZoneMapping": mapping,
        "managedNamespaces": state["managedNamespaces"],
        "selfManagedSharding": cluster.doc["globalClusterSelfManagedSharding"].as_bool().unwrap_or(false),
    })
}

fn add_namespace(cx: &Ctx<'_>, state: &mut Value) -> Result<(), ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
    let flag = |key: &str| body.get(key).and_then(Value::as_bool).unwrap_or(false);
    let (db, coll) = (text("db"), text("collection"));
    if db.is_empty() || coll.is_empty() || text("customShardKey").is_empty() {
        return Err(invalid(
            "db, collection and customShardKey must not be empty",
        ));
    }
    // MongoDB's shardCollection rules: a hashed shard key is never unique, and only a hashed key
    // takes initial chunks or presplit zones.
    let hashed = flag("isCustomShardKeyHashed");
    if hashed && flag("isShardKeyUnique") {
        return Err(invalid("a hashed custom shard key cannot be unique"));
    }
    if !hashed && (body.get("numInitialChunks").is_some() || flag("presplitHashedZones")) {
        return Err(invalid(
            "numInitialChunks and presplitHashedZones need a hashed custom shard key",
        ));
    }
    let namespaces = state["managedNamespaces"]
        .as_array_mut()
        .ok_or_else(|| ApiError::internal("managed namespaces are not a list"))?;
    if namespaces
        .iter()
        .any(|n| n["db"] == db && n["collection"] == coll)
    {
        return Err(api_error!(
            DUPLICATE_MANAGED_NAMESPACE,
            format!("{db}.{coll}")
        ));
    }
    let mut namespace = json!({
        "collection": coll,
        "customShardKey": text("customShardKey"),
        "db": db,
        "isCustomShardKeyHashed": hashed,
        "isShardKeyUnique": flag("isShardKeyUnique"),
        "presplitHashedZones": flag("presplitHashedZones"),
    });
    if let Some(n) = body.get("numInitialChunks") {
        namespace["numInitialChunks"] = n.clone();
    }
    namespaces.push(namespace);
    Ok(())
}

fn remove_namespace(cx: &Ctx<'_>, state: &mut Value) -> Result<(), ApiError> {
    let db = cx
        .call
        .query_param("db")
        .ok_or_else(|| api_error!(MISSING_QUERY_PARAMETER, "db"))?;
    let coll = cx
        .call
        .query_param("collection")
        .ok_or_else(|| api_error!(MISSING_QUERY_PARAMETER, "collection"))?;
    let namespaces = state["managedNamespaces"]
        .as_array_mut()
        .ok_or_else(|| ApiError::internal("managed namespaces are not a list"))?;
    let before = namespaces.len();
    namespaces.retain(|n| !(n["db"] == db && n["collection"] == coll));
    if namespaces.len() == before {
        return Err(api_error!(
            RESOURCE_NOT_FOUND,
            format!("managed namespace {db}.{coll}")
        ));
    }
    Ok(())
}

fn add_mappings(cx: &Ctx<'_>, cluster: &Record, state: &mut Value) -> Result<(), ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let specs = cluster.doc["replicationSpecs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut mapping = state["customZoneMapping"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for entry in body["customZoneMappings"].as_array().into_iter().flatten() {
        let location = entry["location"].as_str().unwrap_or_default();
        let zone = entry["zone"].as_str().unwrap_or_default();
        if !is_location(location) {
            return Err(api_error!(INVALID_LOCATION_CODE, location));
        }
        // A zone is named by its `zoneName` (accepting its ids too, as clients echo them).
        let zone_id = specs
            .iter()
            .find(|s| s["zoneName"] == zone || s["zoneId"] == zone || s["id"] == zone)
            .and_then(|s| s["zoneId"].as_str())
            .ok_or_else(|| invalid(format!("zone {zone} does not exist in this cluster")))?;
        match mapping.get(location).and_then(Value::as_str) {
            Some(existing) if existing != zone_id => {
                return Err(invalid(format!(
                    "location {location} is already mapped to another zone; remove all custom zone mappings to change it"
                )));
            }
            _ => {
                mapping.insert(location.to_owned(), json!(zone_id));
            }
        }
    }
    state["customZoneMapping"] = Value::Object(mapping);
    Ok(())
}

/// ISO 3166-1 alpha-2 country codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI \
BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ \
GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN \
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS \
MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT \
PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF \
TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 code, optionally with an ISO 3166-2 subdivision (`US-VA`).
fn is_location(code: &str) -> bool {
    let (country, subdivision) = match code.split_once('-') {
        Some((c, s)) => (c, Some(s)),
        None => (code, None),
    };
    let known = country.len() == 2 && COUNTRIES.split_whitespace().any(|c| c == country);
    known
        && subdivision.is_none_or(|s| {
            (1..=3).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_iso_3166_codes() {
        assert_eq!(COUNTRIES.split_whitespace().count(), 249);
        for ok in ["US", "DE", "US-VA", "CA-ON", "FR-75"] {
            assert!(is_location(ok), "{ok}");
        }
        for bad in ["", "XX", "us", "USA", "US-", "US-VIRG", "DE-b"] {
            assert!(!is_location(bad), "{bad}");
        }
    }
}
