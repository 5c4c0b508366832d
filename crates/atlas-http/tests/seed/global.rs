//! Global clusters: managed namespaces and custom zone mappings.

use serde_json::{Value, json};

use super::common::{Server, assert_atlas_error, assert_valid};
use super::{call, cluster, g};

const V: &str = "2024-08-05";

/// Zone name → (2024-08-05 `zoneId`, 2023-02-01 replication spec `id`) of a cluster.
async fn zones(s: &Server, name: &str) -> Vec<(String, String, String)> {
    let current = call(
        s,
        "GET",
        &g(s, &format!("/clusters/{name}")),
        "2024-08-05",
        None,
    )
    .await
    .json();
    let legacy = call(
        s,
        "GET",
        &g(s, &format!("/clusters/{name}")),
        "2023-02-01",
        None,
    )
    .await
    .json();
    let zone_id = |zone: &Value| {
        current["replicationSpecs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["zoneName"] == *zone)
            .unwrap()["zoneId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    legacy["replicationSpecs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|spec| {
            (
                spec["zoneName"].as_str().unwrap().to_owned(),
                zone_id(&spec["zoneName"]),
                spec["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn global_writes_of_a_geosharded_cluster() {
    let s = Server::new();
    cluster(&s, "geo", true).await;
    cluster(&s, "plain", false).await;
    let base = g(&s, "/clusters/geo/globalWrites");

    // A cluster that is not global has no zones: its writes are refused, its reads empty.
    let plain = g(&s, "/clusters/plain/globalWrites");
    let ns = json!({"db": "shop", "collection": "customers", "customShardKey": "city"});
    let refused = call(
        &s,
        "POST",
        &format!("{plain}/managedNamespaces"),
        V,
        Some(ns.clone()),
    )
    .await;
    assert_atlas_error(&refused, 400, "INVALID_CLUSTER_CONFIGURATION");
    let empty = assert_valid(
        "getGroupClusterGlobalWrites",
        &call(&s, "GET", &plain, V, None).await,
    );
    assert_eq!(
        empty,
        json!({"customZoneMapping": {}, "managedNamespaces": [], "selfManagedSharding": false})
    );
    let unknown = call(&s, "GET", &g(&s, "/clusters/nope/globalWrites"), V, None).await;
    assert_atlas_error(&unknown, 404, "CLUSTER_NOT_FOUND");

    // Managed namespaces: added once each ([D] DUPLICATE_MANAGED_NAMESPACE), with MongoDB's
    // shard key rules (a hashed key is never unique).
    let added = call(
        &s,
        "POST",
        &format!("{base}/managedNamespaces"),
        V,
        Some(ns.clone()),
    )
    .await;
    let added = assert_valid("createGroupClusterGlobalWriteManagedNamespace", &added);
    assert_eq!(
        added["managedNamespaces"][0],
        json!({"collection": "customers", "customShardKey": "city",
        "db": "shop", "isCustomShardKeyHashed": false, "isShardKeyUnique": false, "presplitHashedZones": false})
    );
    let twice = call(
        &s,
        "POST",
        &format!("{base}/managedNamespaces"),
        V,
        Some(ns.clone()),
    )
    .await;
    assert_atlas_error(&twice, 400, "DUPLICATE_MANAGED_NAMESPACE");
    assert_eq!(
        twice.json()["detail"],
        "Managed Namespace shop.customers already exists."
    );
    let hashed = json!({"db": "shop", "collection": "events", "customShardKey": "device",
        "isCustomShardKeyHashed": true, "isShardKeyUnique": true});
    let hashed = call(
        &s,
        "POST",
        &format!("{base}/managedNamespaces"),
        V,
        Some(hashed),
    )
    .await;
    assert_atlas_error(&hashed, 400, "VALIDATION_ERROR");
    let second = json!({"db": "shop", "collection": "events", "customShardKey": "device",
        "isCustomShardKeyHashed": true, "numInitialChunks": 8, "presplitHashedZones": true});
    assert_valid(
        "createGroupClusterGlobalWriteManagedNamespace",
        &call(
            &s,
            "POST",
            &format!("{base}/managedNamespaces"),
            V,
            Some(second),
        )
        .await,
    );

    // Custom zone mappings: ISO 3166 location codes to zones of the cluster.
    let bad = json!({"customZoneMappings": [{"location": "XX", "zone": "Zone 1"}]});
    let bad = call(
        &s,
        "POST",
        &format!("{base}/customZoneMapping"),
        V,
        Some(bad),
    )
    .await;
    assert_atlas_error(&bad, 400, "INVALID_LOCATION_CODE");
    let no_zone = json!({"customZoneMappings": [{"location": "US", "zone": "Zone 9"}]});
    let no_zone = call(
        &s,
        "POST",
        &format!("{base}/customZoneMapping"),
        V,
        Some(no_zone),
    )
    .await;
    assert_atlas_error(&no_zone, 400, "VALIDATION_ERROR");
    let mapping = json!({"customZoneMappings": [{"location": "US-VA", "zone": "Zone 1"}, {"location": "DE", "zone": "Zone 2"}]});
    let mapped = call(
        &s,
        "POST",
        &format!("{base}/customZoneMapping"),
        V,
        Some(mapping),
    )
    .await;
    let mapped = assert_valid("createGroupClusterGlobalWriteCustomZoneMapping", &mapped);

    // The spec: the mapping points at the zone's `zoneId` from 2024-08-05 and at the replication
    // spec `id` before (GeoSharding vs GeoSharding20240805 descriptions).
    let zones = zones(&s, "geo").await;
    let (zone1, zone2) = (&zones[0], &zones[1]);
    assert_eq!(
        mapped["customZoneMapping"],
        json!({"US-VA": zone1.1, "DE": zone2.1})
    );
    let old = call(&s, "GET", &base, "2023-02-01", None).await;
    let old = assert_valid("getGroupClusterGlobalWrites", &old);
    assert_eq!(
        old["customZoneMapping"],
        json!({"US-VA": zone1.2, "DE": zone2.2})
    );
    let remap = json!({"customZoneMappings": [{"location": "DE", "zone": "Zone 1"}]});
    let remap = call(
        &s,
        "POST",
        &format!("{base}/customZoneMapping"),
        V,
        Some(remap),
    )
    .await;
    assert_atlas_error(&remap, 400, "VALIDATION_ERROR");

    // The seed DELETE clears the mappings and answers the document with the namespaces kept.
    let cleared = call(&s, "DELETE", &format!("{base}/customZoneMapping"), V, None).await;
    assert_eq!(cleared.status, 200);
    let cleared = assert_valid("deleteGroupClusterGlobalWriteCustomZoneMapping", &cleared);
    assert_eq!(cleared["customZoneMapping"], json!({}));
    assert_eq!(cleared["managedNamespaces"].as_array().unwrap().len(), 2);
    let read = assert_valid(
        "getGroupClusterGlobalWrites",
        &call(&s, "GET", &base, V, None).await,
    );
    assert_eq!(read, cleared);

    // A namespace is removed by its `db` and `collection` query parameters.
    let removed = call(
        &s,
        "DELETE",
        &format!("{base}/managedNamespaces?db=shop&collection=events"),
        V,
        None,
    )
    .await;
    let removed = assert_valid("deleteGroupClusterGlobalWriteManagedNamespaces", &removed);
    assert_eq!(removed["managedNamespaces"].as_array().unwrap().len(), 1);
    let again = call(
        &s,
        "DELETE",
        &format!("{base}/managedNamespaces?db=shop&collection=events"),
        V,
        None,
    )
    .await;
    assert_atlas_error(&again, 404, "RESOURCE_NOT_FOUND");
    let missing = call(
        &s,
        "DELETE",
        &format!("{base}/managedNamespaces?db=shop"),
        V,
        None,
    )
    .await;
    assert_atlas_error(&missing, 400, "MISSING_QUERY_PARAMETER");
}
