//! The hosts a cluster's topology implies: host names, connection strings, and the processes the
//! `/processes` views list.
//!
//! Atlas names hosts `<cluster>-shard-<shard>-<node>.<project suffix>.mongodb.net` (lower case),
//! with mongod on 27017 and, for sharded clusters, mongos on 27016 and config servers under
//! `<cluster>-config-00-<node>`. The project suffix is five characters stable per project.

use serde_json::{Value, json};

const DOMAIN: &str = "mongodb.net";

/// Five lowercase alphanumerics derived from an id (the per-project host suffix Atlas uses).
pub fn suffix(id: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..5)
        .map(|i| char::from(ALPHABET[((h >> (i * 8)) % 36) as usize]))
        .collect()
}

/// One process of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub hostname: String,
    pub port: u16,
    /// `REPLICA_PRIMARY`, `REPLICA_SECONDARY`, `SHARD_MONGOS`, `SHARD_CONFIG_PRIMARY` ...
    pub type_name: &'static str,
    pub replica_set: Option<String>,
    pub shard: Option<String>,
}

impl Process {
    pub fn id(&self) -> String {
        format!("{}:{}", self.hostname, self.port)
    }
}

fn nodes_of(spec: &Value) -> u64 {
    spec.get("regionConfigs")
        .and_then(Value::as_array)
        .map(|rcs| {
            rcs.iter()
                .map(|rc| {
                    ["electableSpecs", "readOnlySpecs", "analyticsSpecs"]
                        .iter()
                        .filter_map(|s| {
                            rc.get(*s)
                                .and_then(|h| h.get("nodeCount"))
                                .and_then(Value::as_u64)
                        })
                        .sum::<u64>()
                })
                .sum::<u64>()
        })
        .unwrap_or(3)
        .max(3)
}

/// The name of a cluster as it appears in host names.
fn host_label(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// `atlas-<6>-shard-<n>` replica set names, stable per cluster id.
fn replica_set(cluster_id: &str, shard: usize) -> String {
    format!(
        "atlas-{}{}-shard-{shard}",
        suffix(cluster_id),
        &suffix(&format!("{cluster_id}x"))[..1]
    )
}

/// Every process of a cluster, from its canonical document.
pub fn processes(cluster: &Value, group_id: &str) -> Vec<Process> {
    let name = host_label(
        cluster
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("cluster"),
    );
    let id = cluster
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sharded = cluster
        .get("clusterType")
        .and_then(Value::as_str)
        .unwrap_or("REPLICASET")
        != "REPLICASET";
    let domain = format!("{}.{DOMAIN}", suffix(group_id));
    let specs = cluster
        .get("replicationSpecs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (shard, spec) in specs.iter().enumerate() {
        let rs = replica_set(id, shard);
        for node in 0..nodes_of(spec) {
            let hostname = format!("{name}-shard-{shard:02}-{node:02}.{domain}");
            out.push(Process {
                hostname: hostname.clone(),
                port: 27017,
                type_name: if node == 0 {
                    "REPLICA_PRIMARY"
                } else {
                    "REPLICA_SECONDARY"
                },
                replica_set: Some(rs.clone()),
                shard: sharded.then(|| rs.clone()),
            });
            if sharded {
                out.push(Process {
                    hostname,
                    port: 27016,
                    type_name: "SHARD_MONGOS",
                    replica_set: None,
                    shard: None,
                });
            }
        }
    }
    if sharded {
        let rs = format!("atlas-{}-config-0", suffix(id));
        for node in 0..3 {
            out.push(Process {
                hostname: format!("{name}-config-00-{node:02}.{domain}"),
                port: 27017,
                type_name: if node == 0 {
                    "SHARD_CONFIG_PRIMARY"
                } else {
                    "SHARD_CONFIG_SECONDARY"
                },
                replica_set: Some(rs.clone()),
                shard: None,
            });
        }
    }
    out
}

/// The cluster's `connectionStrings` document.
pub fn connection_strings(cluster: &Value, group_id: &str) -> Value {
    let name = host_label(
        cluster
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("cluster"),
    );
    let domain = format!("{}.{DOMAIN}", suffix(group_id));
    let procs = processes(cluster, group_id);
    let sharded = procs.iter().any(|p| p.type_name == "SHARD_MONGOS");
    let (hosts, options): (Vec<String>, String) = if sharded {
        (
            procs
                .iter()
                .filter(|p| p.type_name == "SHARD_MONGOS")
                .map(Process::id)
                .collect(),
            "ssl=true&authSource=admin".to_owned(),
        )
    } else {
        let rs = procs
            .first()
            .and_then(|p| p.replica_set.clone())
            .unwrap_or_default();
        (
            procs.iter().map(Process::id).collect(),
            format!("ssl=true&authSource=admin&replicaSet={rs}"),
        )
    };
    json!({
        "standard": format!("mongodb://{}/?{options}", hosts.join(",")),
        "standardSrv": format!("mongodb+srv://{name}.{domain}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(kind: &str, shards: usize) -> Value {
        let spec = json!({"regionConfigs": [{"electableSpecs": {"nodeCount": 3}, "readOnlySpecs": {"nodeCount": 0}}]});
        json!({"name": "Cluster0", "id": "6a793f7f0000000000000001", "clusterType": kind, "replicationSpecs": vec![spec; shards]})
    }

    #[test]
    fn replica_sets_list_three_mongods() {
        let c = cluster("REPLICASET", 1);
        let procs = processes(&c, "6a793f7f00000000000000aa");
        assert_eq!(procs.len(), 3);
        assert!(procs[0].hostname.starts_with("cluster0-shard-00-00."));
        assert!(procs[0].hostname.ends_with(".mongodb.net"));
        let cs = connection_strings(&c, "6a793f7f00000000000000aa");
        let standard = cs["standard"].as_str().unwrap();
        assert!(standard.starts_with("mongodb://cluster0-shard-00-00."));
        assert!(standard.contains("replicaSet=atlas-"));
        assert!(
            cs["standardSrv"]
                .as_str()
                .unwrap()
                .starts_with("mongodb+srv://cluster0.")
        );
    }

    #[test]
    fn sharded_clusters_add_mongos_and_config_servers() {
        let procs = processes(&cluster("SHARDED", 2), "6a793f7f00000000000000aa");
        assert_eq!(
            procs
                .iter()
                .filter(|p| p.type_name == "SHARD_MONGOS")
                .count(),
            6
        );
        assert_eq!(
            procs
                .iter()
                .filter(|p| p.type_name.starts_with("SHARD_CONFIG"))
                .count(),
            3
        );
        assert_eq!(suffix("x").len(), 5);
        assert_eq!(suffix("x"), suffix("x"));
    }
}
