//! One stored cluster, four API shapes.
//!
//! The stored (canonical) form is the 2024-08-05 shape: one replication spec per shard, each with
//! its `id`, `zoneId` and `zoneName`, hardware specs carrying `diskSizeGB`. Requests in
//! 2023-02-01 (`numShards` per spec, `diskSizeGB` on the cluster) and 2023-01-01 (the legacy
//! `providerSettings`/`regionsConfig` shape) are converted into it; answers in those versions
//! are converted back, and a cluster those versions cannot represent (shards of one zone that
//! differ: asymmetric) is refused with `ASYMMETRIC_SHARD_UNSUPPORTED`, as Atlas does.

use serde_json::{Map, Value, json};

use super::catalog;

/// A cluster shape that an older version cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asymmetric;

/// Default disk size per instance size, in GB (Atlas's defaults for the tier on AWS).
pub fn default_disk_gb(instance_size: &str) -> f64 {
    catalog::default_disk_gb("AWS", instance_size)
}

fn is_tenant(region_config: &Value) -> bool {
    region_config.get("providerName").and_then(Value::as_str) == Some("TENANT")
}

/// The disk size a shard's hardware gets when a region config names none: the size another of
/// its region configs names, else the smallest default of their providers for the first
/// electable size.
fn shard_default_disk(spec: &Value) -> Option<f64> {
    let rcs = spec.get("regionConfigs").and_then(Value::as_array)?;
    if let Some(sent) = rcs.iter().find_map(|rc| {
        rc.pointer("/electableSpecs/diskSizeGB")
            .and_then(Value::as_f64)
    }) {
        return Some(sent);
    }
    let size = rcs
        .iter()
        .find_map(|rc| {
            rc.pointer("/electableSpecs/instanceSize")
                .and_then(Value::as_str)
        })
        .unwrap_or("M10");
    Some(catalog::shard_disk_gb(rcs, size))
}

/// Completes one region config the way Atlas shows it: every hardware spec has an instance size,
/// node count and disk size, plus the provider's volume fields (AWS IOPS and volume type, Azure
/// IOPS and throughput); read-only and analytics specs mirror the electable hardware with no
/// nodes when not sent. `disk_gb` is the cluster-wide size (2023-02-01, legacy), `shard_disk`
/// the shard's default when nothing names one.
fn complete_region_config(rc: &mut Value, disk_gb: Option<f64>, shard_disk: Option<f64>) {
    let tenant = is_tenant(rc);
    let provider = rc
        .get("providerName")
        .and_then(Value::as_str)
        .unwrap_or("AWS")
        .to_owned();
    let Value::Object(map) = rc else { return };
    let mut electable = map.remove("electableSpecs").unwrap_or_else(|| json!({}));
    let size = electable
        .get("instanceSize")
        .and_then(Value::as_str)
        .unwrap_or(if tenant { "M0" } else { "M10" })
        .to_owned();
    let disk = disk_gb
        .or_else(|| electable.get("diskSizeGB").and_then(Value::as_f64))
        .or(shard_disk)
        .unwrap_or_else(|| catalog::default_disk_gb(&provider, &size));
    let defaults = catalog::hardware_defaults(&provider);
    if let Value::Object(e) = &mut electable {
        e.insert("instanceSize".into(), json!(size));
        if !tenant {
            e.entry("nodeCount").or_insert(json!(3));
        }
        e.insert("diskSizeGB".into(), json!(disk));
        for (key, value) in &defaults {
            e.entry(*key).or_insert(value.clone());
        }
    }
    map.insert("electableSpecs".into(), electable.clone());
    if tenant {
        return;
    }
    map.entry("priority").or_insert(json!(7));
    for name in ["readOnlySpecs", "analyticsSpecs"] {
        let mut spec = map.remove(name).unwrap_or_else(|| json!({"nodeCount": 0}));
        if let Value::Object(s) = &mut spec {
            s.entry("instanceSize").or_insert(json!(size));
            s.entry("nodeCount").or_insert(json!(0));
            s.insert("diskSizeGB".into(), json!(disk));
            for (key, _) in &defaults {
                if let Some(v) = electable.get(*key) {
                    s.entry(*key).or_insert(v.clone());
                }
            }
        }
        map.insert(name.into(), spec);
    }
}

/// Canonical replication specs from 2024-08-05/2024-10-23 ones: ids filled, specs completed.
/// `ids` hands out new ObjectIds; `zone_ids` keeps one id per zone name.
pub fn from_current(specs: &[Value], ids: &mut dyn FnMut() -> String) -> Vec<Value> {
    let mut zones: Vec<(String, String)> = Vec::new();
    specs
        .iter()
        .map(|spec| {
            let mut spec = spec.clone();
            let zone_name = spec
                .get("zoneName")
                .and_then(Value::as_str)
                .unwrap_or("Zone 1")
                .to_owned();
            let zone_id = match zones.iter().find(|(z, _)| *z == zone_name) {
                Some((_, id)) => id.clone(),
                None => {
                    let id = ids();
                    zones.push((zone_name.clone(), id.clone()));
                    id
                }
            };
            if let Value::Object(map) = &mut spec {
                if !map.get("id").is_some_and(Value::is_string) {
                    map.insert("id".into(), json!(ids()));
                }
                map.insert("zoneId".into(), json!(zone_id));
                map.insert("zoneName".into(), json!(zone_name));
                let shard_disk = shard_default_disk(&Value::Object(map.clone()));
                if let Some(Value::Array(rcs)) = map.get_mut("regionConfigs") {
                    for rc in rcs.iter_mut() {
                        complete_region_config(rc, None, shard_disk);
                    }
                }
            }
            spec
        })
        .collect()
}

/// Canonical specs from 2023-02-01 ones (`numShards` per spec, `diskSizeGB` on the cluster).
pub fn from_2023_02(
    specs: &[Value],
    disk_gb: Option<f64>,
    ids: &mut dyn FnMut() -> String,
) -> Vec<Value> {
    let mut expanded = Vec::new();
    for spec in specs {
        let shards = spec
            .get("numShards")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1);
        for _ in 0..shards {
            let mut one = spec.clone();
            if let Value::Object(map) = &mut one {
                map.remove("numShards");
                map.remove("id");
                let shard_disk = shard_default_disk(&Value::Object(map.clone()));
                if let Some(Value::Array(rcs)) = map.get_mut("regionConfigs") {
                    for rc in rcs.iter_mut() {
                        complete_region_config(rc, disk_gb, shard_disk);
                    }
                }
            }
            expanded.push(one);
        }
    }
    from_current(&expanded, ids)
}

/// Canonical specs from a legacy (2023-01-01) cluster document.
pub fn from_legacy(body: &Value, ids: &mut dyn FnMut() -> String) -> Vec<Value> {
    let settings = body
        .get("providerSettings")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let provider = settings
        .get("providerName")
        .and_then(Value::as_str)
        .unwrap_or("AWS");
    let size = settings
        .get("instanceSizeName")
        .and_then(Value::as_str)
        .unwrap_or("M10");
    let disk_gb = body.get("diskSizeGB").and_then(Value::as_f64);
    let auto_scaling = legacy_auto_scaling(body, &settings);
    let region_config = |region: &str,
                         electable: u64,
                         priority: u64,
                         read_only: u64,
                         analytics: u64| {
        let mut rc = json!({
            "providerName": provider,
            "regionName": region,
            "priority": priority,
            "electableSpecs": {"instanceSize": size, "nodeCount": electable},
            "readOnlySpecs": {"instanceSize": size, "nodeCount": read_only},
            "analyticsSpecs": {"instanceSize": size, "nodeCount": analytics},
        });
        if provider == "TENANT" {
            rc = json!({
                "providerName": "TENANT",
                "backingProviderName": settings.get("backingProviderName").cloned().unwrap_or(json!("AWS")),
                "regionName": region,
                "priority": 7,
                "electableSpecs": {"instanceSize": size},
            });
        } else {
            if let Some(iops) = settings.get("diskIOPS") {
                rc["electableSpecs"]["diskIOPS"] = iops.clone();
            }
            if let Some(a) = &auto_scaling {
                rc["autoScaling"] = a.clone();
            }
        }
        complete_region_config(&mut rc, disk_gb, None);
        rc
    };
    let mut specs = Vec::new();
    match body.get("replicationSpecs").and_then(Value::as_array) {
        Some(legacy) if !legacy.is_empty() => {
            for spec in legacy {
                let shards = spec
                    .get("numShards")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .max(1);
                let regions: Vec<Value> = spec
                    .get("regionsConfig")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(region, r)| {
                                let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
                                region_config(
                                    region,
                                    n("electableNodes"),
                                    n("priority"),
                                    n("readOnlyNodes"),
                                    n("analyticsNodes"),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                for _ in 0..shards {
                    specs.push(json!({"zoneName": spec.get("zoneName").cloned().unwrap_or(json!("Zone 1")), "regionConfigs": regions}));
                }
            }
        }
        _ => {
            let region = settings
                .get("regionName")
                .and_then(Value::as_str)
                .unwrap_or("US_EAST_1");
            let nodes = body
                .get("replicationFactor")
                .and_then(Value::as_u64)
                .unwrap_or(3);
            let shards = body
                .get("numShards")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            for _ in 0..shards {
                specs.push(json!({"zoneName": "Zone 1", "regionConfigs": [region_config(region, nodes, 7, 0, 0)]}));
            }
        }
    }
    from_current(&specs, ids)
}

fn legacy_auto_scaling(body: &Value, settings: &Value) -> Option<Value> {
    let cluster = body.get("autoScaling")?;
    let mut compute = cluster.get("compute").cloned().unwrap_or_else(|| json!({}));
    if let Some(bounds) = settings.get("autoScaling").and_then(|a| a.get("compute"))
        && let (Value::Object(c), Value::Object(b)) = (&mut compute, bounds)
    {
        for (k, v) in b {
            c.insert(k.clone(), v.clone());
        }
    }
    let disk = cluster
        .get("diskGBEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some(json!({"compute": compute, "diskGB": {"enabled": disk}}))
}

/// Region configs with the disk size removed from hardware specs (2023-02-01 keeps it on the
/// cluster), for comparing and for rendering grouped specs.
fn without_disk(region_configs: &Value) -> Value {
    let mut rcs = region_configs.clone();
    if let Value::Array(list) = &mut rcs {
        for rc in list {
            for name in ["electableSpecs", "readOnlySpecs", "analyticsSpecs"] {
                if let Some(Value::Object(spec)) = rc.get_mut(name) {
                    spec.remove("diskSizeGB");
                }
            }
        }
    }
    rcs
}

/// The cluster's disk size (the first hardware spec's), as 2023-02-01 and legacy show it.
pub fn disk_gb(specs: &[Value]) -> Option<f64> {
    specs
        .first()?
        .get("regionConfigs")?
        .get(0)?
        .get("electableSpecs")?
        .get("diskSizeGB")?
        .as_f64()
}

/// Groups canonical specs into 2023-02-01 ones (`numShards`); asymmetric shards cannot be shown.
pub fn to_2023_02(specs: &[Value]) -> Result<Vec<Value>, Asymmetric> {
    let disk = disk_gb(specs);
    let mut groups: Vec<Value> = Vec::new();
    for spec in specs {
        let zone = spec.get("zoneName").cloned().unwrap_or(Value::Null);
        let regions = spec.get("regionConfigs").cloned().unwrap_or(json!([]));
        let own_disk = disk_gb(std::slice::from_ref(spec));
        if own_disk != disk {
            return Err(Asymmetric);
        }
        match groups.iter_mut().find(|g| g["zoneName"] == zone) {
            Some(group) => {
                if group["regionConfigs"] != without_disk(&regions) {
                    return Err(Asymmetric);
                }
                let n = group["numShards"].as_u64().unwrap_or(1) + 1;
                group["numShards"] = json!(n);
            }
            None => groups.push(json!({
                "id": spec.get("id").cloned().unwrap_or(Value::Null),
                "numShards": 1,
                "zoneId": spec.get("zoneId").cloned().unwrap_or(Value::Null),
                "zoneName": zone,
                "regionConfigs": without_disk(&regions),
            })),
        }
    }
    Ok(groups)
}

/// The legacy (2023-01-01) fields of a canonical cluster: `providerSettings`, `numShards`,
/// `replicationFactor`, `replicationSpecs` with `regionsConfig`, `diskSizeGB`, `autoScaling`.
pub fn to_legacy(specs: &[Value]) -> Result<Map<String, Value>, Asymmetric> {
    let grouped = to_2023_02(specs)?;
    let first = specs
        .first()
        .and_then(|s| s.get("regionConfigs"))
        .and_then(|r| r.get(0))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let provider = first.get("providerName").cloned().unwrap_or(json!("AWS"));
    let electable = first
        .get("electableSpecs")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut settings = json!({
        "providerName": provider,
        "regionName": first.get("regionName").cloned().unwrap_or(json!("US_EAST_1")),
        "instanceSizeName": electable.get("instanceSize").cloned().unwrap_or(json!("M10")),
    });
    if is_tenant(&first) {
        settings["backingProviderName"] = first
            .get("backingProviderName")
            .cloned()
            .unwrap_or(json!("AWS"));
    } else if let Some(iops) = electable.get("diskIOPS") {
        settings["diskIOPS"] = iops.clone();
    }
    let mut out = Map::new();
    if let Some(compute) = first.get("autoScaling").and_then(|a| a.get("compute")) {
        let bounds: Map<String, Value> = ["minInstanceSize", "maxInstanceSize"]
            .iter()
            .filter_map(|k| compute.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        if !bounds.is_empty() {
            settings["autoScaling"] = json!({"compute": bounds});
        }
        let flags: Map<String, Value> = ["enabled", "scaleDownEnabled"]
            .iter()
            .filter_map(|k| compute.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        let disk = first["autoScaling"]["diskGB"]["enabled"]
            .as_bool()
            .unwrap_or(false);
        out.insert(
            "autoScaling".into(),
            json!({"compute": flags, "diskGBEnabled": disk}),
        );
    }
    let legacy_specs: Vec<Value> = grouped
        .iter()
        .map(|g| {
            let regions: Map<String, Value> = g["regionConfigs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|rc| {
                    let n = |spec: &str| rc[spec]["nodeCount"].as_u64().unwrap_or(0);
                    let region = rc["regionName"].as_str().unwrap_or("US_EAST_1").to_owned();
                    let electable = if is_tenant(rc) { 3 } else { n("electableSpecs") };
                    (
                        region,
                        json!({
                            "electableNodes": electable,
                            "priority": rc.get("priority").cloned().unwrap_or(json!(7)),
                            "readOnlyNodes": n("readOnlySpecs"),
                            "analyticsNodes": n("analyticsSpecs"),
                        }),
                    )
                })
                .collect();
            json!({"id": g["id"], "numShards": g["numShards"], "zoneName": g["zoneName"], "regionsConfig": regions})
        })
        .collect();
    let replication_factor = legacy_specs
        .first()
        .and_then(|s| s["regionsConfig"].as_object())
        .map(|m| {
            m.values()
                .filter_map(|r| r["electableNodes"].as_u64())
                .sum::<u64>()
        })
        .unwrap_or(3);
    out.insert("providerSettings".into(), settings);
    out.insert("numShards".into(), json!(specs.len()));
    out.insert("replicationFactor".into(), json!(replication_factor));
    if let Some(first_spec) = legacy_specs.first() {
        out.insert(
            "replicationSpec".into(),
            first_spec["regionsConfig"].clone(),
        );
    }
    out.insert("replicationSpecs".into(), Value::Array(legacy_specs));
    if let Some(disk) = disk_gb(specs) {
        out.insert("diskSizeGB".into(), json!(disk));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("{n:024x}")
        }
    }

    fn spec(size: &str) -> Value {
        json!({"zoneName": "Zone 1", "regionConfigs": [{
            "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
            "electableSpecs": {"instanceSize": size, "nodeCount": 3}
        }]})
    }

    #[test]
    fn current_specs_get_ids_and_complete_hardware() {
        let specs = from_current(&[spec("M30"), spec("M30")], &mut ids());
        assert_eq!(specs.len(), 2);
        assert_ne!(specs[0]["id"], specs[1]["id"]);
        assert_eq!(specs[0]["zoneId"], specs[1]["zoneId"]);
        let e = &specs[0]["regionConfigs"][0]["electableSpecs"];
        assert_eq!(e["diskSizeGB"], 40.0);
        assert_eq!(e["ebsVolumeType"], "STANDARD");
        assert_eq!(
            specs[0]["regionConfigs"][0]["readOnlySpecs"]["nodeCount"],
            0
        );
    }

    #[test]
    fn num_shards_expand_and_group_back() {
        let mut old = spec("M30");
        old["numShards"] = json!(3);
        let canonical = from_2023_02(&[old], Some(100.0), &mut ids());
        assert_eq!(canonical.len(), 3);
        assert_eq!(disk_gb(&canonical), Some(100.0));
        let back = to_2023_02(&canonical).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0]["numShards"], 3);
        assert!(
            back[0]["regionConfigs"][0]["electableSpecs"]
                .get("diskSizeGB")
                .is_none()
        );
    }

    #[test]
    fn asymmetric_shards_cannot_be_shown_in_2023_02() {
        let canonical = from_current(&[spec("M30"), spec("M40")], &mut ids());
        assert_eq!(to_2023_02(&canonical), Err(Asymmetric));
        assert_eq!(to_legacy(&canonical), Err(Asymmetric));
    }

    #[test]
    fn legacy_round_trip() {
        let body = json!({
            "name": "c", "clusterType": "SHARDED", "numShards": 2, "diskSizeGB": 50,
            "providerSettings": {"providerName": "AWS", "instanceSizeName": "M40", "regionName": "EU_WEST_1"},
        });
        let canonical = from_legacy(&body, &mut ids());
        assert_eq!(canonical.len(), 2);
        assert_eq!(canonical[0]["regionConfigs"][0]["regionName"], "EU_WEST_1");
        let legacy = to_legacy(&canonical).unwrap();
        assert_eq!(legacy["numShards"], 2);
        assert_eq!(legacy["providerSettings"]["instanceSizeName"], "M40");
        assert_eq!(legacy["diskSizeGB"], 50.0);
        assert_eq!(
            legacy["replicationSpecs"][0]["regionsConfig"]["EU_WEST_1"]["electableNodes"],
            3
        );
    }
}
