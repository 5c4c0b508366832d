//! `GET/PATCH /groups/{groupId}/clusters/{clusterName}/processArgs`: the cluster's advanced
//! configuration options, always answered whole.
//!
//! Atlas answers every option, set or not: the ones never set show their default or `null`
//! (recorded `TestClustersFlags` at 2023-01-01 and
//! `TestAccMockableAdvancedCluster_replicasetAdvConfigUpdate` at 2024-08-05); a PATCH changes what
//! it names and answers the whole document. The TLS options are the cluster's own
//! `advancedConfiguration` (a cluster PATCH of `advancedConfiguration.tlsCipherConfigMode` shows
//! here, recorded in the same Terraform sequence), so they are read from and written to it; the
//! other options live in the cluster document under an internal field.

use serde_json::{Map, Value, json};

/// Internal field of the stored cluster holding the options set through processArgs.
const STORED: &str = "__processArgs";

/// The options the cluster's `advancedConfiguration` holds.
const TLS_OPTIONS: &[&str] = &[
    "customOpensslCipherConfigTls12",
    "customOpensslCipherConfigTls13",
    "minimumEnabledTlsProtocol",
    "tlsCipherConfigMode",
];

/// Every option of a version with its value when never set.
fn defaults(version: &str) -> Map<String, Value> {
    let mut all = json!({
        "changeStreamOptionsPreAndPostImagesExpireAfterSeconds": null,
        "chunkMigrationConcurrency": null,
        "customOpensslCipherConfigTls12": [],
        "customOpensslCipherConfigTls13": [],
        "defaultMaxTimeMS": null,
        "defaultWriteConcern": null,
        "javascriptEnabled": true,
        "minimumEnabledTlsProtocol": "TLS1_2",
        "noTableScan": false,
        "oplogMinRetentionHours": null,
        "oplogSizeMB": null,
        "queryStatsLogVerbosity": null,
        "sampleRefreshIntervalBIConnector": null,
        "sampleSizeBIConnector": null,
        "tlsCipherConfigMode": "DEFAULT",
        "transactionLifetimeLimitSeconds": null,
    });
    if version < "2024-08-05" {
        // The legacy document also carries the read concern and the key-length switch.
        all["defaultReadConcern"] = Value::Null;
        all["failIndexKeyTooLong"] = Value::Null;
    } else {
        all["queryStatsLogVerbosity"] = json!(1);
    }
    match all {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The whole processArgs document of a stored cluster in `version`.
pub fn document(cluster: &Value, version: &str) -> Value {
    let mut doc = defaults(version);
    let sources = [cluster.get("advancedConfiguration"), cluster.get(STORED)];
    for source in sources.into_iter().flatten().filter_map(Value::as_object) {
        for (key, value) in source {
            if let Some(slot) = doc.get_mut(key) {
                *slot = value.clone();
            }
        }
    }
    Value::Object(doc)
}

/// Applies a processArgs PATCH body to a stored cluster: TLS options to its
/// `advancedConfiguration`, the others to the internal field.
pub fn apply(cluster: &mut Value, body: &Value) {
    let Some(changes) = body.as_object() else {
        return;
    };
    let Value::Object(doc) = cluster else { return };
    for (key, value) in changes {
        let target = if TLS_OPTIONS.contains(&key.as_str()) {
            "advancedConfiguration"
        } else {
            STORED
        };
        let slot = doc.entry(target).or_insert_with(|| json!({}));
        if !slot.is_object() {
            *slot = json!({});
        }
        if let Value::Object(map) = slot {
            map.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_options_show_their_defaults_per_version() {
        let cluster = json!({"name": "c"});
        let legacy = document(&cluster, "2023-01-01");
        assert_eq!(legacy["javascriptEnabled"], true);
        assert!(legacy.get("defaultReadConcern").is_some());
        assert_eq!(legacy["queryStatsLogVerbosity"], Value::Null);
        let current = document(&cluster, "2024-08-05");
        assert!(current.get("failIndexKeyTooLong").is_none());
        assert_eq!(current["queryStatsLogVerbosity"], 1);
    }

    #[test]
    fn tls_options_are_the_clusters_advanced_configuration() {
        let mut cluster = json!({"advancedConfiguration": {"tlsCipherConfigMode": "CUSTOM"}});
        apply(
            &mut cluster,
            &json!({"noTableScan": true, "minimumEnabledTlsProtocol": "TLS1_3"}),
        );
        assert_eq!(
            cluster["advancedConfiguration"]["minimumEnabledTlsProtocol"],
            "TLS1_3"
        );
        let doc = document(&cluster, "2024-08-05");
        assert_eq!(doc["tlsCipherConfigMode"], "CUSTOM");
        assert_eq!(doc["noTableScan"], true);
        assert_eq!(doc["minimumEnabledTlsProtocol"], "TLS1_3");
    }
}
