//! Clusters across API versions, lifecycles under every policy, the clients' polling flows,
//! flex clusters and the events that record it all. Every answer is checked against the spec's
//! schema for the served version.

mod common;

use common::{Answer, Server, advance_clock, assert_atlas_error, assert_valid, set_lifecycle, v};
use serde_json::{Value, json};

fn shard(size: &str) -> Value {
    json!({"zoneName": "Zone 1", "regionConfigs": [{
        "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
        "electableSpecs": {"instanceSize": size, "nodeCount": 3}
    }]})
}

fn clusters_uri(s: &Server) -> String {
    format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id)
}

async fn create(s: &Server, name: &str, shards: Vec<Value>) -> Value {
    let kind = if shards.len() > 1 {
        "SHARDED"
    } else {
        "REPLICASET"
    };
    let body = json!({"name": name, "clusterType": kind, "replicationSpecs": shards});
    let answer = s
        .call(
            "POST",
            &clusters_uri(s),
            Some(&v("2024-10-23")),
            Some(&body),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_valid("createGroupCluster", &answer)
}

async fn get(s: &Server, name: &str, version: &str) -> Answer {
    s.call(
        "GET",
        &format!("{}/{name}", clusters_uri(s)),
        Some(&v(version)),
        None,
    )
    .await
}

async fn state(s: &Server, name: &str) -> String {
    let answer = get(s, name, "2024-08-05").await;
    if answer.status == 404 {
        return answer.json()["errorCode"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    assert_valid("getGroupCluster", &answer)["stateName"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn one_cluster_in_every_version() {
    let s = Server::new();
    let created = create(&s, "multi", vec![shard("M30"), shard("M30")]).await;
    assert_eq!(created["stateName"], "CREATING");
    assert_eq!(created["replicationSpecs"].as_array().unwrap().len(), 2);
    // Recorded (TestIndependendShardScalingCluster): a dedicated cluster has no host strings
    // while it is created; the first read after shows them.
    assert!(created["connectionStrings"].get("standardSrv").is_none());
    let _ = get(&s, "multi", "2024-08-05").await;
    assert!(
        get(&s, "multi", "2024-08-05").await.json()["connectionStrings"]["standardSrv"]
            .as_str()
            .unwrap()
            .starts_with("mongodb+srv://multi.")
    );
    assert_eq!(created["mongoDBMajorVersion"], "8.0");
    assert!(
        created["mongoDBVersion"]
            .as_str()
            .unwrap()
            .starts_with("8.0.")
    );

    let v2 = assert_valid("getGroupCluster", &get(&s, "multi", "2023-02-01").await);
    let specs = v2["replicationSpecs"].as_array().unwrap();
    assert_eq!(specs.len(), 1);
    assert_eq!(specs[0]["numShards"], 2);
    assert_eq!(v2["diskSizeGB"], 40.0);
    assert_eq!(v2["id"], created["id"]);

    let legacy = assert_valid("getGroupCluster", &get(&s, "multi", "2023-01-01").await);
    assert_eq!(legacy["numShards"], 2);
    assert_eq!(legacy["providerSettings"]["instanceSizeName"], "M30");
    assert_eq!(legacy["providerSettings"]["regionName"], "US_EAST_1");
    assert!(
        legacy["mongoURI"]
            .as_str()
            .unwrap()
            .starts_with("mongodb://")
    );

    let current = assert_valid("getGroupCluster", &get(&s, "multi", "2024-08-05").await);
    assert_eq!(
        current["replicationSpecs"][0]["zoneId"],
        current["replicationSpecs"][1]["zoneId"]
    );
    assert_ne!(
        current["replicationSpecs"][0]["id"],
        current["replicationSpecs"][1]["id"]
    );
}

#[tokio::test]
async fn asymmetric_shards_need_the_newer_api() {
    // Recorded client behaviour: the Terraform provider and the Atlas CLI read a cluster with
    // 2023-02-01 and expect ASYMMETRIC_SHARD_UNSUPPORTED when shards differ (semantics §3.3).
    let s = Server::new();
    create(&s, "asym", vec![shard("M30"), shard("M40")]).await;
    assert_atlas_error(
        &get(&s, "asym", "2023-02-01").await,
        400,
        "ASYMMETRIC_SHARD_UNSUPPORTED",
    );
    assert_atlas_error(
        &get(&s, "asym", "2023-01-01").await,
        400,
        "ASYMMETRIC_SHARD_UNSUPPORTED",
    );
    let current = assert_valid("getGroupCluster", &get(&s, "asym", "2024-08-05").await);
    assert_eq!(
        current["replicationSpecs"][1]["regionConfigs"][0]["electableSpecs"]["instanceSize"],
        "M40"
    );
    let scaling = s
        .call(
            "GET",
            &format!("{}/asym/autoScalingConfiguration", clusters_uri(&s)),
            Some(&v("2024-08-05")),
            None,
        )
        .await;
    assert_eq!(
        assert_valid("autoGroupClusterScalingConfiguration", &scaling)["autoScalingMode"],
        "INDEPENDENT_SHARD_SCALING"
    );
}

#[tokio::test]
async fn create_in_old_versions_reads_in_new_ones() {
    let s = Server::new();
    let body = json!({
        "name": "legacy", "clusterType": "REPLICASET", "diskSizeGB": 100,
        "providerSettings": {"providerName": "AWS", "instanceSizeName": "M20", "regionName": "EU_WEST_1"}
    });
    let answer = s
        .call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2023-01-01")),
            Some(&body),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_valid("createGroupCluster", &answer);
    let current = assert_valid("getGroupCluster", &get(&s, "legacy", "2024-08-05").await);
    let electable = &current["replicationSpecs"][0]["regionConfigs"][0]["electableSpecs"];
    assert_eq!(electable["instanceSize"], "M20");
    assert_eq!(electable["diskSizeGB"], 100.0);
    assert_eq!(
        current["replicationSpecs"][0]["regionConfigs"][0]["regionName"],
        "EU_WEST_1"
    );

    let body = json!({"name": "adv", "clusterType": "SHARDED", "replicationSpecs": [
        {"numShards": 3, "regionConfigs": [{"providerName": "GCP", "regionName": "CENTRAL_US", "priority": 7,
            "electableSpecs": {"instanceSize": "M30", "nodeCount": 3}}]}]});
    let answer = s
        .call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2023-02-01")),
            Some(&body),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let current = assert_valid("getGroupCluster", &get(&s, "adv", "2024-08-05").await);
    assert_eq!(current["replicationSpecs"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn instant_lifecycle_shows_each_transition_once() {
    // The Atlas CLI's watchers need the first poll after a create to read CREATING and after a
    // delete to read DELETING, then CLUSTER_NOT_FOUND; never a DELETED state (semantics §8).
    let s = Server::new();
    create(&s, "c1", vec![shard("M10")]).await;
    assert_eq!(state(&s, "c1").await, "CREATING");
    assert_eq!(state(&s, "c1").await, "IDLE");
    assert_eq!(state(&s, "c1").await, "IDLE");
    let patch = s
        .call(
            "PATCH",
            &format!("{}/c1", clusters_uri(&s)),
            Some(&v("2024-10-23")),
            Some(&json!({"backupEnabled": true})),
        )
        .await;
    assert_eq!(
        assert_valid("updateGroupCluster", &patch)["stateName"],
        "UPDATING"
    );
    assert_eq!(state(&s, "c1").await, "UPDATING");
    assert_eq!(state(&s, "c1").await, "IDLE");
    let deleted = s
        .call(
            "DELETE",
            &format!("{}/c1", clusters_uri(&s)),
            Some(&v("2023-02-01")),
            None,
        )
        .await;
    assert_eq!(deleted.status, 202);
    assert_eq!(deleted.json(), json!({}));
    assert_eq!(state(&s, "c1").await, "DELETING");
    assert_eq!(state(&s, "c1").await, "CLUSTER_NOT_FOUND");
    // The name is free again once the cluster is gone.
    create(&s, "c1", vec![shard("M10")]).await;
}

#[tokio::test]
async fn lifecycle_policies_name_only_declared_kinds() {
    // The kinds are declared once (kernel/lifecycle/kinds.rs): a misspelt kind is refused
    // instead of silently doing nothing, and nothing is stored.
    let s = Server::new();
    let refused = s
        .anonymous(
            "POST",
            "/__localatlas/lifecycle",
            None,
            Some(&json!({"kinds": {"clusters": "manual"}})),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(
        refused.text().contains("unknown lifecycle kind"),
        "{}",
        refused.text()
    );
    let state = s
        .anonymous("GET", "/__localatlas/lifecycle", None, None)
        .await
        .json();
    assert_eq!(state["kinds"], json!({}));
    let accepted = s
        .anonymous(
            "POST",
            "/__localatlas/lifecycle",
            None,
            Some(&json!({"kinds": {"sampleDataset": "manual", "cluster": "realistic"}})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
}

#[tokio::test]
async fn manual_lifecycle_waits_for_the_clock() {
    let s = Server::new();
    set_lifecycle(&s, "manual").await;
    create(&s, "m1", vec![shard("M10")]).await;
    for _ in 0..3 {
        assert_eq!(state(&s, "m1").await, "CREATING");
    }
    advance_clock(&s, 1).await;
    assert_eq!(state(&s, "m1").await, "IDLE");
    s.call(
        "DELETE",
        &format!("{}/m1", clusters_uri(&s)),
        Some(&v("2023-02-01")),
        None,
    )
    .await;
    assert_eq!(state(&s, "m1").await, "DELETING");
    assert_eq!(state(&s, "m1").await, "DELETING");
    let advanced = s
        .anonymous("POST", "/__localatlas/lifecycle/advance", None, None)
        .await;
    assert_eq!(advanced.status, 200);
    assert_eq!(state(&s, "m1").await, "CLUSTER_NOT_FOUND");
}

#[tokio::test]
async fn realistic_lifecycle_follows_the_injected_clock() {
    let s = Server::new();
    set_lifecycle(&s, "realistic").await;
    create(&s, "r1", vec![shard("M10")]).await;
    advance_clock(&s, 300).await;
    assert_eq!(state(&s, "r1").await, "CREATING");
    advance_clock(&s, 301).await;
    assert_eq!(state(&s, "r1").await, "IDLE");
    // A kind can be overridden while others keep the default.
    let answer = s
        .anonymous(
            "POST",
            "/__localatlas/lifecycle",
            None,
            Some(&json!({"kinds": {"cluster": "instant"}})),
        )
        .await;
    assert_eq!(answer.json()["kinds"]["cluster"], "instant");
    s.call(
        "DELETE",
        &format!("{}/r1", clusters_uri(&s)),
        Some(&v("2023-02-01")),
        None,
    )
    .await;
    assert_eq!(state(&s, "r1").await, "DELETING");
    assert_eq!(state(&s, "r1").await, "CLUSTER_NOT_FOUND");
}

/// Polls the way Terraform and the Atlas CLI do until `done` or a bound.
async fn poll_until(s: &Server, name: &str, done: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..40 {
        let st = state(s, name).await;
        let finished = st == done;
        seen.push(st);
        if finished {
            return seen;
        }
        // A realistic or manual server needs time moved; an instant one settles by itself.
        advance_clock(s, 60).await;
    }
    panic!("{name} never reached {done}: {seen:?}");
}

#[tokio::test]
async fn create_poll_update_poll_delete_in_every_mode() {
    for mode in ["instant", "realistic", "manual"] {
        let s = Server::new();
        set_lifecycle(&s, mode).await;
        create(&s, "tf", vec![shard("M10")]).await;
        let seen = poll_until(&s, "tf", "IDLE").await;
        assert_eq!(seen[0], "CREATING", "{mode}: {seen:?}");
        let uri = format!("{}/tf", clusters_uri(&s));
        let body = json!({"replicationSpecs": [shard("M20")]});
        let patch = s
            .call("PATCH", &uri, Some(&v("2024-10-23")), Some(&body))
            .await;
        assert_eq!(
            assert_valid("updateGroupCluster", &patch)["stateName"],
            "UPDATING"
        );
        let seen = poll_until(&s, "tf", "IDLE").await;
        assert_eq!(seen[0], "UPDATING", "{mode}: {seen:?}");
        let current = assert_valid("getGroupCluster", &get(&s, "tf", "2024-08-05").await);
        assert_eq!(
            current["replicationSpecs"][0]["regionConfigs"][0]["electableSpecs"]["instanceSize"],
            "M20"
        );
        assert_eq!(
            s.call("DELETE", &uri, Some(&v("2023-02-01")), None)
                .await
                .status,
            202
        );
        let seen = poll_until(&s, "tf", "CLUSTER_NOT_FOUND").await;
        assert_eq!(seen[0], "DELETING", "{mode}: {seen:?}");
    }
}

#[tokio::test]
async fn cluster_rules() {
    let s = Server::new();
    create(&s, "rules", vec![shard("M10")]).await;
    let uri = format!("{}/rules", clusters_uri(&s));
    let accept = v("2024-10-23");
    // Termination protection blocks deletion until disabled.
    s.call(
        "PATCH",
        &uri,
        Some(&accept),
        Some(&json!({"terminationProtectionEnabled": true})),
    )
    .await;
    let refused = s.call("DELETE", &uri, Some(&v("2023-02-01")), None).await;
    assert_atlas_error(
        &refused,
        400,
        "CANNOT_TERMINATE_CLUSTER_WHEN_TERMINATION_PROTECTION_ENABLED",
    );
    s.call(
        "PATCH",
        &uri,
        Some(&accept),
        Some(&json!({"terminationProtectionEnabled": false})),
    )
    .await;
    // Pause, refuse changes while paused, resume.
    let both = s
        .call(
            "PATCH",
            &uri,
            Some(&accept),
            Some(&json!({"paused": true, "backupEnabled": true})),
        )
        .await;
    assert_atlas_error(&both, 409, "CANNOT_UPDATE_AND_PAUSE_CLUSTER");
    let paused = s
        .call("PATCH", &uri, Some(&accept), Some(&json!({"paused": true})))
        .await;
    assert_eq!(assert_valid("updateGroupCluster", &paused)["paused"], true);
    let change = s
        .call(
            "PATCH",
            &uri,
            Some(&accept),
            Some(&json!({"backupEnabled": true})),
        )
        .await;
    assert_atlas_error(&change, 409, "CANNOT_UPDATE_PAUSED_CLUSTER");
    let resumed = s
        .call(
            "PATCH",
            &uri,
            Some(&accept),
            Some(&json!({"paused": false})),
        )
        .await;
    assert_eq!(
        assert_valid("updateGroupCluster", &resumed)["paused"],
        false
    );
    // Deleting twice.
    assert_eq!(
        s.call("DELETE", &uri, Some(&v("2023-02-01")), None)
            .await
            .status,
        202
    );
    let again = s.call("DELETE", &uri, Some(&v("2023-02-01")), None).await;
    assert_atlas_error(&again, 400, "CLUSTER_ALREADY_REQUESTED_DELETION");
    // Unknown clusters.
    let missing = get(&s, "nope", "2024-08-05").await;
    assert_atlas_error(&missing, 404, "CLUSTER_NOT_FOUND");
    assert_eq!(
        missing.json()["parameters"],
        json!(["nope", s.boot.project_id])
    );
}

#[tokio::test]
async fn flex_and_dedicated_clusters_refuse_each_other() {
    let s = Server::new();
    let flex_uri = format!("/api/atlas/v2/groups/{}/flexClusters", s.boot.project_id);
    let accept = v("2024-11-13");
    let body = json!({"name": "flexy", "providerSettings": {"backingProviderName": "AWS", "regionName": "US_EAST_1"}});
    let created = s.call("POST", &flex_uri, Some(&accept), Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        assert_valid("createGroupFlexCluster", &created)["stateName"],
        "CREATING"
    );
    // Recorded: the CLI deletes through /clusters first and falls back on this code (§9).
    let wrong_api = get(&s, "flexy", "2024-08-05").await;
    assert_atlas_error(&wrong_api, 400, "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API");
    assert_eq!(
        wrong_api.json()["detail"],
        "Flex cluster flexy cannot be used in the Cluster API."
    );
    // Recorded (TestFlexBackup): the same answer for every cluster-API method on a flex cluster.
    for (method, body) in [("PATCH", Some(json!({"paused": false}))), ("DELETE", None)] {
        let answer = s
            .call(
                method,
                &format!("{}/flexy", clusters_uri(&s)),
                Some(&v("2023-02-01")),
                body.as_ref(),
            )
            .await;
        assert_atlas_error(&answer, 400, "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API");
    }
    create(&s, "dedicated", vec![shard("M10")]).await;
    let other = s
        .call("GET", &format!("{flex_uri}/dedicated"), Some(&accept), None)
        .await;
    assert_atlas_error(&other, 400, "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API");
    // Names are unique across both APIs.
    let dup = s
        .call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2024-10-23")),
            Some(&json!({"name": "flexy", "replicationSpecs": [shard("M10")]})),
        )
        .await;
    assert_atlas_error(&dup, 400, "DUPLICATE_CLUSTER_NAME");
    let dup = s
        .call("POST", &flex_uri, Some(&accept), Some(&json!({"name": "dedicated", "providerSettings": {"backingProviderName": "AWS", "regionName": "US_EAST_1"}})))
        .await;
    assert_atlas_error(&dup, 400, "DUPLICATE_CLUSTER_NAME");
    // Flex deletion: 204, then DELETING, then gone.
    let list = s.call("GET", &flex_uri, Some(&accept), None).await;
    assert_eq!(
        assert_valid("listGroupFlexClusters", &list)["totalCount"],
        1
    );
    let deleted = s
        .call("DELETE", &format!("{flex_uri}/flexy"), Some(&accept), None)
        .await;
    assert_eq!(deleted.status, 204);
    let reads: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..2 {
            let a = s
                .call("GET", &format!("{flex_uri}/flexy"), Some(&accept), None)
                .await;
            v.push(
                a.json()["stateName"]
                    .as_str()
                    .or(a.json()["errorCode"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        v
    };
    assert_eq!(reads, ["DELETING", "CLUSTER_NOT_FOUND"]);
}

#[tokio::test]
async fn events_record_who_did_what_newest_first() {
    let s = Server::new();
    create(&s, "ev", vec![shard("M10")]).await;
    s.call(
        "DELETE",
        &format!("{}/ev", clusters_uri(&s)),
        Some(&v("2023-02-01")),
        None,
    )
    .await;
    let uri = format!("/api/atlas/v2/groups/{}/events", s.boot.project_id);
    let events = assert_valid("listGroupEvents", &s.get(&uri).await);
    let kinds: Vec<&str> = events["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventTypeName"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["CLUSTER_DELETE_SUBMITTED", "CLUSTER_CREATED"]);
    assert_eq!(
        events["results"][0]["publicKey"],
        s.boot.public_key.as_str()
    );
    let filtered = s
        .get(&format!("{uri}?eventType=CLUSTER_CREATED"))
        .await
        .json();
    assert_eq!(filtered["totalCount"], 1);
    let id = filtered["results"][0]["id"].as_str().unwrap().to_owned();
    let one = s.get(&format!("{uri}/{id}")).await;
    assert_eq!(
        assert_valid("getGroupEvent", &one)["eventTypeName"],
        "CLUSTER_CREATED"
    );
}

#[tokio::test]
async fn search_indexes_progress_and_disappear() {
    // Recorded: POST search index (2024-05-30) answers 201 PENDING with queryable false, then
    // READY; deletion goes through DELETING (semantics §8).
    let s = Server::new();
    create(&s, "si", vec![shard("M10")]).await;
    let uri = format!("{}/si/search/indexes", clusters_uri(&s));
    let accept = v("2024-05-30");
    let body = json!({"database": "db", "collectionName": "coll", "name": "default",
        "definition": {"mappings": {"dynamic": true}}});
    let created = s.call("POST", &uri, Some(&accept), Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let index = assert_valid("createGroupClusterSearchIndex", &created);
    assert_eq!(index["status"], "PENDING");
    let id = index["indexID"].as_str().expect("indexID").to_owned();
    let status = |a: Answer| {
        a.json()["status"]
            .as_str()
            .or(a.json()["errorCode"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let item = format!("{uri}/{id}");
    assert_eq!(
        status(s.call("GET", &item, Some(&accept), None).await),
        "PENDING"
    );
    assert_eq!(
        status(s.call("GET", &item, Some(&accept), None).await),
        "READY"
    );
    assert_eq!(
        s.call("DELETE", &item, Some(&accept), None).await.status,
        204
    );
    assert_eq!(
        status(s.call("GET", &item, Some(&accept), None).await),
        "DELETING"
    );
    let gone = s.call("GET", &item, Some(&accept), None).await;
    assert_eq!(gone.status, 404, "{}", gone.text());
}

#[tokio::test]
async fn processes_follow_the_topology_with_measurements() {
    let s = Server::new();
    create(&s, "procs", vec![shard("M10")]).await;
    let base = format!("/api/atlas/v2/groups/{}/processes", s.boot.project_id);
    let list = assert_valid("listGroupProcesses", &s.get(&base).await);
    assert_eq!(list["totalCount"], 3);
    let id = list["results"][0]["id"].as_str().unwrap().to_owned();
    assert!(
        id.starts_with("procs-shard-00-00.") && id.ends_with(":27017"),
        "{id}"
    );
    assert_eq!(list["results"][0]["typeName"], "REPLICA_PRIMARY");
    let one = assert_valid("getGroupProcess", &s.get(&format!("{base}/{id}")).await);
    assert_eq!(one["hostname"], id.trim_end_matches(":27017"));
    let m = s
        .get(&format!(
            "{base}/{id}/measurements?granularity=PT5M&period=PT1H&m=CONNECTIONS&m=OPCOUNTER_QUERY"
        ))
        .await;
    let m = assert_valid("getGroupProcessMeasurements", &m);
    let series = m["measurements"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[1]["units"], "SCALAR_PER_SECOND");
    // The cluster is minutes old: only points since its creation exist.
    assert!(series[0]["dataPoints"].as_array().unwrap().len() <= 2);
    advance_clock(&s, 3600).await;
    let m = s
        .get(&format!(
            "{base}/{id}/measurements?granularity=PT5M&period=PT1H&m=CONNECTIONS"
        ))
        .await
        .json();
    assert!(m["measurements"][0]["dataPoints"].as_array().unwrap().len() >= 12);
    let bad = s
        .get(&format!(
            "{base}/{id}/measurements?granularity=PT7M&period=PT1H"
        ))
        .await;
    assert_atlas_error(&bad, 400, "INVALID_QUERY_PARAMETER");
    let disks = assert_valid(
        "listGroupProcessDisks",
        &s.get(&format!("{base}/{id}/disks")).await,
    );
    assert_eq!(disks["results"][0]["partitionName"], "data");
    let missing = s.get(&format!("{base}/nohost.mongodb.net:27017")).await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn access_list_entries_by_address_or_block() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/accessList", s.boot.project_id);
    let body =
        json!([{"ipAddress": "192.0.2.10", "comment": "office"}, {"cidrBlock": "198.51.100.0/24"}]);
    let created = s
        .call("POST", &uri, Some(common::JSON_2023), Some(&body))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        assert_valid("createGroupAccessListEntry", &created)["totalCount"],
        2
    );
    let by_ip = assert_valid(
        "getGroupAccessListEntry",
        &s.get(&format!("{uri}/192.0.2.10")).await,
    );
    assert_eq!(by_ip["cidrBlock"], "192.0.2.10/32");
    let by_block = s.get(&format!("{uri}/192.0.2.10%2F32")).await;
    assert_eq!(by_block.json()["comment"], "office");
    let status = s.get(&format!("{uri}/198.51.100.0%2F24/status")).await;
    assert_eq!(
        assert_valid("getGroupAccessListStatus", &status)["STATUS"],
        "ACTIVE"
    );
    let bad = s
        .call(
            "POST",
            &uri,
            Some(common::JSON_2023),
            Some(&json!([{"cidrBlock": "10.0.0.0/99"}])),
        )
        .await;
    assert_atlas_error(&bad, 400, "INVALID_IP_ADDRESS_OR_CIDR_NOTATION");
    assert_eq!(
        s.call(
            "DELETE",
            &format!("{uri}/198.51.100.0%2F24"),
            Some(common::JSON_2023),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(s.get(&uri).await.json()["totalCount"], 1);
}

#[tokio::test]
async fn flex_snapshots_appear_daily_as_the_clock_advances() {
    let s = Server::new();
    let flex_uri = format!("/api/atlas/v2/groups/{}/flexClusters", s.boot.project_id);
    let accept = v("2024-11-13");
    let body = json!({"name": "fs", "providerSettings": {"backingProviderName": "AWS", "regionName": "US_EAST_1"}});
    assert_eq!(
        s.call("POST", &flex_uri, Some(&accept), Some(&body))
            .await
            .status,
        201
    );
    let snaps = format!("{flex_uri}/fs/backup/snapshots");
    let first = assert_valid(
        "listGroupFlexClusterBackupSnapshots",
        &s.call("GET", &snaps, Some(&accept), None).await,
    );
    assert_eq!(first["totalCount"], 0);
    advance_clock(&s, 3 * 86_400 + 600).await;
    let later = assert_valid(
        "listGroupFlexClusterBackupSnapshots",
        &s.call("GET", &snaps, Some(&accept), None).await,
    );
    assert_eq!(later["totalCount"], 3);
    let newest = &later["results"][0];
    assert_eq!(newest["status"], "COMPLETED");
    assert!(newest["expiration"].is_string() && newest["mongoDBVersion"].is_string());
    let id = newest["id"].as_str().unwrap().to_owned();
    let one = s
        .call("GET", &format!("{snaps}/{id}"), Some(&accept), None)
        .await;
    assert_eq!(
        assert_valid("getGroupFlexClusterBackupSnapshot", &one)["id"],
        id.as_str()
    );
    // Paging over derived snapshots.
    let page = s
        .call(
            "GET",
            &format!("{snaps}?itemsPerPage=1&pageNum=2"),
            Some(&accept),
            None,
        )
        .await
        .json();
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_ne!(page["results"][0]["id"], id.as_str());
    // Eight days of retention: the oldest drop off.
    advance_clock(&s, 10 * 86_400).await;
    let kept = s.call("GET", &snaps, Some(&accept), None).await.json();
    assert_eq!(kept["totalCount"], 8);
    let download = s
        .call(
            "POST",
            &format!("{flex_uri}/fs/backup/download"),
            Some(&accept),
            Some(&json!({"snapshotId": kept["results"][0]["id"]})),
        )
        .await;
    assert_eq!(
        assert_valid("downloadGroupFlexClusterBackup", &download)["deliveryType"],
        "DOWNLOAD"
    );
    let unknown = s
        .call(
            "GET",
            &format!(
                "/api/atlas/v2/groups/{}/flexClusters/nope/backup/snapshots",
                s.boot.project_id
            ),
            Some(&accept),
            None,
        )
        .await;
    assert_atlas_error(&unknown, 404, "CLUSTER_NOT_FOUND");
}

#[tokio::test]
async fn regions_and_tiers_come_from_one_catalogue() {
    let s = Server::new();
    let uri = format!(
        "{}/provider/regions?providers=GCP&tier=M30",
        clusters_uri(&s)
    );
    let catalogue = assert_valid("listGroupClusterProviderRegions", &s.get(&uri).await);
    assert_eq!(catalogue["totalCount"], 1);
    assert_eq!(catalogue["results"][0]["provider"], "GCP");
    let sizes = catalogue["results"][0]["instanceSizes"].as_array().unwrap();
    assert_eq!(sizes.len(), 1);
    let regions: Vec<&str> = sizes[0]["availableRegions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(regions.contains(&"CENTRAL_US"));
    // An AWS cluster in a GCP region is refused, naming the attribute (the CLI matches it).
    let mut wrong = shard("M10");
    wrong["regionConfigs"][0]["regionName"] = json!("CENTRAL_US");
    let body = json!({"name": "wrong", "replicationSpecs": [wrong]});
    let answer = s
        .call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2024-10-23")),
            Some(&body),
        )
        .await;
    assert_atlas_error(&answer, 400, "INVALID_ATTRIBUTE");
    assert!(
        answer.json()["detail"]
            .as_str()
            .unwrap()
            .contains("regionName")
    );
    let bogus = json!({"name": "bogus", "replicationSpecs": [shard("M7")]});
    let answer = s
        .call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2024-10-23")),
            Some(&bogus),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text());
}

#[tokio::test]
async fn all_clusters_of_the_caller_s_projects() {
    let s = Server::new();
    create(&s, "d1", vec![shard("M10")]).await;
    create(&s, "d2", vec![shard("M30"), shard("M30")]).await;
    let all = assert_valid("listClusterDetails", &s.get("/api/atlas/v2/clusters").await);
    assert_eq!(all["totalCount"], 1);
    let clusters = all["results"][0]["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 2);
    assert_eq!(clusters[1]["type"], "SHARDED_CLUSTER");
}

#[tokio::test]
async fn cloud_backups_follow_the_schedule_and_on_demand_requests() {
    let s = Server::new();
    let body = json!({"name": "bk", "backupEnabled": true, "replicationSpecs": [shard("M10")]});
    assert_eq!(
        s.call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2024-10-23")),
            Some(&body)
        )
        .await
        .status,
        201
    );
    let snaps = format!("{}/bk/backup/snapshots", clusters_uri(&s));
    let taken = s
        .call(
            "POST",
            &snaps,
            Some(common::JSON_2023),
            Some(&json!({"description": "before upgrade", "retentionInDays": 3})),
        )
        .await;
    let taken = assert_valid("takeGroupClusterBackupSnapshots", &taken);
    assert_eq!(taken["status"], "queued");
    assert_eq!(taken["snapshotType"], "onDemand");
    advance_clock(&s, 2 * 86_400 + 60).await;
    let list = assert_valid("listGroupClusterBackupSnapshots", &s.get(&snaps).await);
    assert_eq!(list["totalCount"], 3, "{list}");
    let kinds: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["snapshotType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["scheduled", "scheduled", "onDemand"]);
    let scheduled = list["results"][0]["id"].as_str().unwrap().to_owned();
    let one = assert_valid(
        "getGroupClusterBackupSnapshot",
        &s.get(&format!("{snaps}/{scheduled}")).await,
    );
    assert_eq!(one["status"], "completed");
    // Change a scheduled snapshot's retention, then delete it.
    let patch = s
        .call(
            "PATCH",
            &format!("{snaps}/{scheduled}"),
            Some(common::JSON_2023),
            Some(&json!({"retentionUnit": "DAYS", "retentionValue": 30})),
        )
        .await;
    assert_eq!(patch.status, 200, "{}", patch.text());
    assert_eq!(
        s.call(
            "DELETE",
            &format!("{snaps}/{scheduled}"),
            Some(common::JSON_2023),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(s.get(&snaps).await.json()["totalCount"], 2);
    // The on-demand snapshot expires after its three days.
    advance_clock(&s, 86_400).await;
    let kinds: Vec<String> = s.get(&snaps).await.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["snapshotType"].as_str().unwrap().to_owned())
        .collect();
    assert!(!kinds.contains(&"onDemand".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn a_project_closes_once_its_clusters_are_gone() {
    // Semantics §9: DELETE project with clusters → 409 CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_CLUSTERS.
    let s = Server::new();
    let created = s
        .call(
            "POST",
            "/api/atlas/v2/groups",
            Some(common::JSON_2023),
            Some(&json!({"name": "closing", "orgId": s.boot.org_id})),
        )
        .await
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    let clusters = format!("/api/atlas/v2/groups/{id}/clusters");
    let body = json!({"name": "c", "replicationSpecs": [shard("M10")]});
    assert_eq!(
        s.call("POST", &clusters, Some(&v("2024-10-23")), Some(&body))
            .await
            .status,
        201
    );
    let project = format!("/api/atlas/v2/groups/{id}");
    assert_atlas_error(
        &s.call("DELETE", &project, Some(common::JSON_2023), None)
            .await,
        409,
        "CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_CLUSTERS",
    );
    assert_eq!(
        s.call(
            "DELETE",
            &format!("{clusters}/c"),
            Some(&v("2023-02-01")),
            None
        )
        .await
        .status,
        202
    );
    // Instant lifecycle: the deletion completes once it has been seen, even by the close itself.
    let first = s
        .call("DELETE", &project, Some(common::JSON_2023), None)
        .await;
    let second = s
        .call("DELETE", &project, Some(common::JSON_2023), None)
        .await;
    assert!(
        first.status == 202 || second.status == 202,
        "{} / {}",
        first.text(),
        second.text()
    );
}

#[tokio::test]
async fn custom_actions_show_in_later_reads() {
    let s = Server::new();
    // A free cluster upgraded to a dedicated one through the legacy tenantUpgrade.
    let free = json!({"name": "free", "replicationSpecs": [{"regionConfigs": [{
        "providerName": "TENANT", "backingProviderName": "AWS", "regionName": "US_EAST_1", "priority": 7,
        "electableSpecs": {"instanceSize": "M0"}}]}]});
    assert_eq!(
        s.call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2024-10-23")),
            Some(&free)
        )
        .await
        .status,
        201
    );
    state(&s, "free").await;
    let upgrade = json!({"name": "free", "providerSettings": {"providerName": "AWS", "instanceSizeName": "M10", "regionName": "US_EAST_1"}});
    let answer = s
        .call(
            "POST",
            &format!("{}/tenantUpgrade", clusters_uri(&s)),
            Some(common::JSON_2023),
            Some(&upgrade),
        )
        .await;
    let legacy = assert_valid("upgradeGroupClusterTenantUpgrade", &answer);
    assert_eq!(legacy["stateName"], "UPDATING");
    assert_eq!(legacy["providerSettings"]["instanceSizeName"], "M10");
    let current = assert_valid("getGroupCluster", &get(&s, "free", "2024-08-05").await);
    assert_eq!(
        current["replicationSpecs"][0]["regionConfigs"][0]["providerName"],
        "AWS"
    );
    // Restart primaries shows UPDATING, FCV pinning shows its expiry.
    assert_eq!(state(&s, "free").await, "IDLE");
    let uri = format!("{}/free", clusters_uri(&s));
    let restart = s
        .call(
            "POST",
            &format!("{uri}/restartPrimaries"),
            Some(&v("2023-02-01")),
            None,
        )
        .await;
    assert_eq!(restart.status, 200, "{}", restart.text());
    assert_eq!(state(&s, "free").await, "UPDATING");
    let pin = s
        .call(
            "POST",
            &format!("{uri}:pinFeatureCompatibilityVersion"),
            Some(&v("2024-05-30")),
            Some(&json!({"expirationDate": "2027-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(pin.status, 204, "{}", pin.text());
    let current = assert_valid("getGroupCluster", &get(&s, "free", "2024-08-05").await);
    assert_eq!(
        current["featureCompatibilityVersionExpirationDate"],
        "2027-01-01T00:00:00Z"
    );
}

#[tokio::test]
async fn database_users_and_custom_roles() {
    let s = Server::new();
    let users = format!("/api/atlas/v2/groups/{}/databaseUsers", s.boot.project_id);
    // The spec requires `groupId` in the body too (clients send it).
    let body = json!({"groupId": s.boot.project_id, "databaseName": "admin", "username": "app", "password": "s3cret-pass",
        "roles": [{"databaseName": "admin", "roleName": "readWriteAnyDatabase"}]});
    let created = s
        .call("POST", &users, Some(common::JSON_2023), Some(&body))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let user = assert_valid("createGroupDatabaseUser", &created);
    assert!(
        user.get("password").is_none(),
        "secrets are never echoed: {user}"
    );
    // X.509 users live in $external with a DN as their name (URL-encoded in the path).
    let x509 = json!({"groupId": s.boot.project_id, "databaseName": "$external", "username": "CN=app,O=example", "x509Type": "CUSTOMER",
        "roles": [{"databaseName": "admin", "roleName": "read"}]});
    assert_eq!(
        s.call("POST", &users, Some(common::JSON_2023), Some(&x509))
            .await
            .status,
        201
    );
    let fetched = s
        .get(&format!("{users}/%24external/CN%3Dapp%2CO%3Dexample"))
        .await;
    assert_eq!(
        assert_valid("getGroupDatabaseUser", &fetched)["username"],
        "CN=app,O=example"
    );
    let dup = s
        .call("POST", &users, Some(common::JSON_2023), Some(&body))
        .await;
    assert_eq!(dup.status, 409, "{}", dup.text());
    assert_eq!(s.get(&users).await.json()["totalCount"], 2);
    assert_eq!(
        s.call(
            "DELETE",
            &format!("{users}/admin/app"),
            Some(common::JSON_2023),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(s.get(&format!("{users}/admin/app")).await.status, 404);

    let roles = format!(
        "/api/atlas/v2/groups/{}/customDBRoles/roles",
        s.boot.project_id
    );
    let role = json!({"roleName": "reporting", "actions": [{"action": "FIND", "resources": [{"db": "sales", "collection": "orders", "cluster": false}]}]});
    let created = s
        .call("POST", &roles, Some(common::JSON_2023), Some(&role))
        .await;
    assert_eq!(created.status, 202, "{}", created.text());
    let listed = s.get(&roles).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(
        s.get(&format!("{roles}/reporting")).await.json()["roleName"],
        "reporting"
    );
}

#[tokio::test]
async fn organization_events_record_projects() {
    let s = Server::new();
    let created = s
        .call(
            "POST",
            "/api/atlas/v2/groups",
            Some(common::JSON_2023),
            Some(&json!({"name": "evp", "orgId": s.boot.org_id})),
        )
        .await
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    s.call(
        "DELETE",
        &format!("/api/atlas/v2/groups/{id}"),
        Some(common::JSON_2023),
        None,
    )
    .await;
    let events = s
        .get(&format!("/api/atlas/v2/orgs/{}/events", s.boot.org_id))
        .await;
    let events = assert_valid("listOrgEvents", &events);
    let kinds: Vec<&str> = events["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventTypeName"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["GROUP_DELETED", "GROUP_CREATED"]);
    assert_eq!(events["results"][0]["groupId"], id.as_str());
}

/// The region configs of the first replication spec of a cluster document.
fn region_configs(doc: &Value) -> Vec<Value> {
    doc["replicationSpecs"][0]["regionConfigs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn cluster_documents_derive_what_atlas_fills_in() {
    // Recorded (TestRestores, TestClustersFlags, 2023-02-01 POST then 2024-08-05 reads): every
    // region config gets its autoscaling switched off, read-only and analytics specs mirroring
    // the electable size with no nodes, AWS volume fields; 2024-08-05 adds the effective specs
    // and effectiveReplicationSpecs; 2023-02-01 shows no featureCompatibilityVersion; replica
    // sets show no config server fields; no host strings while CREATING.
    let s = Server::new();
    let body = json!({"name": "derived", "clusterType": "REPLICASET", "diskSizeGB": 30.0,
        "replicationSpecs": [{"numShards": 1, "zoneName": "Zone 1", "regionConfigs": [{
            "priority": 7, "regionName": "US_EAST_1", "providerName": "AWS",
            "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
    let created = s
        .call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2023-02-01")),
            Some(&body),
        )
        .await;
    let created = assert_valid("createGroupCluster", &created);
    assert_eq!(created["connectionStrings"], json!({}));
    assert!(created.get("featureCompatibilityVersion").is_none());
    assert!(created.get("configServerManagementMode").is_none());
    assert!(created.get("configServerType").is_none());
    assert!(created.get("replicaSetScalingStrategy").is_none());
    let rc = &region_configs(&created)[0];
    assert_eq!(rc["autoScaling"]["compute"]["enabled"], false);
    assert_eq!(rc["autoScaling"]["compute"]["scaleDownEnabled"], false);
    assert_eq!(rc["autoScaling"]["diskGB"]["enabled"], false);
    for spec in ["readOnlySpecs", "analyticsSpecs"] {
        assert_eq!(rc[spec]["instanceSize"], "M10", "{spec}");
        assert_eq!(rc[spec]["nodeCount"], 0, "{spec}");
        assert_eq!(rc[spec]["diskIOPS"], 3000, "{spec}");
        assert_eq!(rc[spec]["ebsVolumeType"], "STANDARD", "{spec}");
    }

    let current = assert_valid("getGroupCluster", &get(&s, "derived", "2024-08-05").await);
    assert_eq!(current["stateName"], "CREATING");
    assert_eq!(current["featureCompatibilityVersion"], "8.0");
    let rc = &region_configs(&current)[0];
    for (configured, effective) in [
        ("electableSpecs", "effectiveElectableSpecs"),
        ("readOnlySpecs", "effectiveReadOnlySpecs"),
        ("analyticsSpecs", "effectiveAnalyticsSpecs"),
    ] {
        assert_eq!(rc[configured], rc[effective], "{effective}");
        assert_eq!(rc[effective]["diskSizeGB"], 30.0);
    }
    let effective = &current["effectiveReplicationSpecs"][0];
    assert_eq!(effective["id"], current["replicationSpecs"][0]["id"]);
    assert_eq!(
        effective["zoneId"],
        current["replicationSpecs"][0]["zoneId"]
    );
    let erc = &effective["regionConfigs"][0];
    assert_eq!(erc["electableSpecs"]["nodeCount"], 3);
    assert_eq!(erc["autoScaling"]["diskGB"]["enabled"], false);
    assert!(erc.get("effectiveElectableSpecs").is_none());
    // Once created, the host strings show.
    let idle = assert_valid("getGroupCluster", &get(&s, "derived", "2024-08-05").await);
    assert_eq!(idle["stateName"], "IDLE");
    assert!(idle["connectionStrings"]["standard"].is_string());
    assert!(idle["connectionStrings"]["standardSrv"].is_string());
}

#[tokio::test]
async fn sharded_clusters_derive_config_servers_disks_and_autoscaling() {
    // Recorded (TestAccMockableAdvancedCluster_symmetricSharded, 2024-10-23): FIXED_TO_DEDICATED
    // shows configServerType DEDICATED, kept after a change to ATLAS_MANAGED; an AWS + Azure
    // shard of M10 gets 8 GB disks everywhere, Azure its IOPS and throughput; sharded clusters
    // show their private endpoint strings. A diskGB autoscaling sent on is kept
    // (TestAccMockableAdvancedCluster_shardedAddAnalyticsAndAutoScaling), compute filled in.
    let s = Server::new();
    let spec = json!({"zoneName": "Zone 1", "regionConfigs": [
        {"providerName": "AWS", "regionName": "EU_WEST_1", "priority": 7,
         "electableSpecs": {"instanceSize": "M10", "nodeCount": 3},
         "analyticsSpecs": {"instanceSize": "M10", "nodeCount": 1},
         "autoScaling": {"compute": {}, "diskGB": {"enabled": true}}},
        {"providerName": "AZURE", "regionName": "US_EAST_2", "priority": 6,
         "electableSpecs": {"instanceSize": "M10", "nodeCount": 2}}]});
    let body = json!({"name": "multicloud", "clusterType": "SHARDED",
        "configServerManagementMode": "FIXED_TO_DEDICATED",
        "replicationSpecs": [spec.clone(), spec]});
    let created = s
        .call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2024-10-23")),
            Some(&body),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = assert_valid("createGroupCluster", &created);
    assert_eq!(created["configServerType"], "DEDICATED");
    assert_eq!(created["connectionStrings"], json!({"privateEndpoint": []}));
    let rcs = region_configs(&created);
    let (aws, azure) = (&rcs[0], &rcs[1]);
    assert_eq!(aws["electableSpecs"]["diskSizeGB"], 8.0);
    assert_eq!(aws["analyticsSpecs"]["nodeCount"], 1);
    assert_eq!(aws["autoScaling"]["diskGB"]["enabled"], true);
    assert_eq!(aws["autoScaling"]["compute"]["enabled"], false);
    assert_eq!(azure["electableSpecs"]["diskSizeGB"], 8.0);
    assert_eq!(azure["electableSpecs"]["diskIOPS"], 3500);
    assert_eq!(azure["readOnlySpecs"]["diskThroughput"], 125);
    assert!(azure["electableSpecs"].get("ebsVolumeType").is_none());
    assert_eq!(azure["autoScaling"]["diskGB"]["enabled"], false);

    let patch = s
        .call(
            "PATCH",
            &format!("{}/multicloud", clusters_uri(&s)),
            Some(&v("2024-10-23")),
            Some(&json!({"configServerManagementMode": "ATLAS_MANAGED"})),
        )
        .await;
    let patched = assert_valid("updateGroupCluster", &patch);
    assert_eq!(patched["configServerManagementMode"], "ATLAS_MANAGED");
    assert_eq!(patched["configServerType"], "DEDICATED");

    // An AWS-only sharded cluster managed by Atlas: embedded config servers, PrivateLink map.
    let created = create(&s, "awsonly", vec![shard("M30"), shard("M30")]).await;
    assert_eq!(created["configServerManagementMode"], "ATLAS_MANAGED");
    assert_eq!(created["configServerType"], "EMBEDDED");
    assert_eq!(created["connectionStrings"]["awsPrivateLinkSrv"], json!({}));
    assert_eq!(
        region_configs(&created)[0]["electableSpecs"]["diskSizeGB"],
        40.0
    );
}

#[tokio::test]
async fn dedicated_clusters_create_the_project_network_containers() {
    // Recorded (TestAccMockableAdvancedCluster_replicasetAdvConfigUpdate,
    // _shardedAddAnalyticsAndAutoScaling, _symmetricSharded): after a cluster is created the
    // project lists one provisioned container per AWS region (192.168.248.0/21 first, the next
    // region 192.168.240.0/21) and one per Azure region, filtered by providerName.
    let s = Server::new();
    let containers = format!("/api/atlas/v2/groups/{}/containers", s.boot.project_id);
    let list = |provider: &'static str| {
        let uri = format!("{containers}?providerName={provider}");
        let s = &s;
        async move {
            let answer = s.call("GET", &uri, Some(&v("2023-01-01")), None).await;
            assert_valid("listGroupContainers", &answer)
        }
    };
    assert_eq!(list("AWS").await["totalCount"], 0);
    create(&s, "first", vec![shard("M10")]).await;
    create(&s, "second", vec![shard("M30")]).await;
    let aws = list("AWS").await;
    assert_eq!(aws["totalCount"], 1, "{aws}");
    let container = &aws["results"][0];
    assert_eq!(container["regionName"], "US_EAST_1");
    assert_eq!(container["atlasCidrBlock"], "192.168.248.0/21");
    assert_eq!(container["provisioned"], true);
    assert!(container["vpcId"].as_str().unwrap().starts_with("vpc-"));

    let body = json!({"name": "elsewhere", "clusterType": "REPLICASET", "replicationSpecs": [
        {"zoneName": "Zone 1", "regionConfigs": [
            {"providerName": "AWS", "regionName": "EU_WEST_1", "priority": 7,
             "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}},
            {"providerName": "AZURE", "regionName": "US_EAST_2", "priority": 6,
             "electableSpecs": {"instanceSize": "M10", "nodeCount": 2}}]}]});
    let created = s
        .call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2024-10-23")),
            Some(&body),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let aws = list("AWS").await;
    assert_eq!(aws["totalCount"], 2);
    assert_eq!(aws["results"][1]["regionName"], "EU_WEST_1");
    assert_eq!(aws["results"][1]["atlasCidrBlock"], "192.168.240.0/21");
    let azure = list("AZURE").await;
    assert_eq!(azure["totalCount"], 1);
    assert_eq!(azure["results"][0]["region"], "US_EAST_2");
    assert!(azure["results"][0]["vnetName"].is_string());
    assert_eq!(list("GCP").await["totalCount"], 0);

    // One container by id, and every provider's at once.
    let id = aws["results"][0]["id"].as_str().unwrap().to_owned();
    let one = s
        .call(
            "GET",
            &format!("{containers}/{id}"),
            Some(&v("2023-01-01")),
            None,
        )
        .await;
    assert_eq!(assert_valid("getGroupContainer", &one)["id"], id.as_str());
    let all = s
        .call(
            "GET",
            &format!("{containers}/all"),
            Some(&v("2023-01-01")),
            None,
        )
        .await;
    assert_eq!(assert_valid("listGroupContainerAll", &all)["totalCount"], 3);

    // A container created explicitly is served the same way, and reused by a cluster there.
    let explicit = s
        .call(
            "POST",
            &containers,
            Some(&v("2023-01-01")),
            Some(&json!({"providerName": "AWS", "regionName": "AP_SOUTHEAST_2", "atlasCidrBlock": "10.8.0.0/21"})),
        )
        .await;
    assert!(explicit.status.is_success(), "{}", explicit.text());
    let mut sydney = shard("M10");
    sydney["regionConfigs"][0]["regionName"] = json!("AP_SOUTHEAST_2");
    create(&s, "sydney", vec![sydney]).await;
    let aws = list("AWS").await;
    assert_eq!(aws["totalCount"], 3, "{aws}");
    assert!(
        aws["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["atlasCidrBlock"] == "10.8.0.0/21")
    );
}

#[tokio::test]
async fn process_args_answer_every_option() {
    // Recorded (TestClustersFlags at 2023-01-01, TestAccMockableAdvancedCluster_
    // replicasetAdvConfigUpdate at 2024-08-05): the whole document of options, unset ones with
    // their default or null; a PATCH changes what it names and answers the whole document; the
    // TLS options are the cluster's advancedConfiguration.
    let s = Server::new();
    create(&s, "args", vec![shard("M10")]).await;
    let uri = format!("{}/args/processArgs", clusters_uri(&s));
    let legacy = s.call("GET", &uri, Some(&v("2023-01-01")), None).await;
    let legacy = assert_valid("getGroupClusterProcessArgs", &legacy);
    assert_eq!(legacy["javascriptEnabled"], true);
    assert_eq!(legacy["minimumEnabledTlsProtocol"], "TLS1_2");
    assert_eq!(legacy["noTableScan"], false);
    assert_eq!(legacy["tlsCipherConfigMode"], "DEFAULT");
    assert_eq!(legacy["customOpensslCipherConfigTls12"], json!([]));
    // Atlas shows the unset options as null; the spec declares most of them non-nullable, so
    // a schema-valid answer leaves those out (the conformance walk checks every answer).
    for key in ["sampleSizeBIConnector", "transactionLifetimeLimitSeconds"] {
        assert!(legacy.get(key).is_none_or(Value::is_null), "{key}");
    }
    let patch = s
        .call(
            "PATCH",
            &uri,
            Some(&v("2024-08-05")),
            Some(&json!({"noTableScan": true, "defaultMaxTimeMS": 65, "minimumEnabledTlsProtocol": "TLS1_3"})),
        )
        .await;
    let patched = assert_valid("updateGroupClusterProcessArgs", &patch);
    assert_eq!(patched["noTableScan"], true);
    assert_eq!(patched["defaultMaxTimeMS"], 65);
    assert_eq!(patched["javascriptEnabled"], true);
    assert_eq!(patched["queryStatsLogVerbosity"], 1);
    assert!(patched.get("failIndexKeyTooLong").is_none());
    let read = s
        .call("GET", &uri, Some(&v("2024-08-05")), None)
        .await
        .json();
    assert_eq!(read, patched);
    let cluster = get(&s, "args", "2024-08-05").await.json();
    assert_eq!(
        cluster["advancedConfiguration"]["minimumEnabledTlsProtocol"],
        "TLS1_3"
    );
    let missing = s
        .call(
            "GET",
            &format!("{}/nope/processArgs", clusters_uri(&s)),
            Some(&v("2024-08-05")),
            None,
        )
        .await;
    assert_atlas_error(&missing, 404, "CLUSTER_NOT_FOUND");
}

#[tokio::test]
async fn shared_tier_clusters_show_their_size_and_srv_string_at_once() {
    // Recorded (TestClustersM0Flags, 2023-02-01 POST then reads): an M0 answers its creation
    // with its SRV string only and `effectiveInstanceSize`; the first read shows both strings.
    let s = Server::new();
    let body = json!({"name": "free", "clusterType": "REPLICASET", "replicationSpecs": [
        {"numShards": 1, "zoneName": "Zone 1", "regionConfigs": [{"priority": 7,
            "regionName": "US_EAST_1", "providerName": "TENANT", "backingProviderName": "AWS",
            "electableSpecs": {"instanceSize": "M0"}}]}]});
    let created = s
        .call(
            "POST",
            &clusters_uri(&s),
            Some(&v("2023-02-01")),
            Some(&body),
        )
        .await;
    let created = assert_valid("createGroupCluster", &created);
    let strings = created["connectionStrings"].as_object().unwrap();
    assert!(strings.contains_key("standardSrv"));
    assert!(!strings.contains_key("standard"));
    let rc = &region_configs(&created)[0];
    assert_eq!(rc["electableSpecs"]["effectiveInstanceSize"], "M0");
    assert!(rc.get("autoScaling").is_none());
    let read = assert_valid("getGroupCluster", &get(&s, "free", "2024-08-05").await);
    assert!(read["connectionStrings"]["standard"].is_string());
    assert_eq!(
        read["effectiveReplicationSpecs"][0]["regionConfigs"][0]["electableSpecs"]["effectiveInstanceSize"],
        "M0"
    );
}
