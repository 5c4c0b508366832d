//! Online archives end to end.

use serde_json::json;

use super::common::{Server, advance_clock, assert_atlas_error, assert_valid, set_lifecycle};
use super::{call, cluster, download, g, gunzip, rels};

const V: &str = "2023-01-01";

#[tokio::test]
async fn online_archives_from_creation_to_deletion() {
    let s = Server::new();
    cluster(&s, "oa", false).await;
    let archives = g(&s, "/clusters/oa/onlineArchives");
    let body = json!({"dbName": "shop", "collName": "orders", "collectionType": "STANDARD",
        "criteria": {"type": "DATE", "dateField": "created", "dateFormat": "ISODATE", "expireAfterDays": 30},
        "partitionFields": [{"fieldName": "customer", "order": 0}]});

    // Seed page: an archive belongs to an existing cluster (404 CLUSTER_NOT_FOUND otherwise).
    let none = call(
        &s,
        "POST",
        &g(&s, "/clusters/nope/onlineArchives"),
        V,
        Some(body.clone()),
    )
    .await;
    assert_atlas_error(&none, 404, "CLUSTER_NOT_FOUND");
    // A DATE criteria names its date field; TIMESERIES collections archive by an ISODATE date;
    // at most three partition fields with DATE (seed page, `partitionFields`).
    let mut bad = body.clone();
    bad["criteria"] = json!({"type": "DATE", "dateFormat": "ISODATE"});
    assert_atlas_error(
        &call(&s, "POST", &archives, V, Some(bad)).await,
        400,
        "VALIDATION_ERROR",
    );
    let mut bad = body.clone();
    bad["collectionType"] = json!("TIMESERIES");
    bad["criteria"] = json!({"type": "CUSTOM", "query": "{\"status\": \"done\"}"});
    assert_atlas_error(
        &call(&s, "POST", &archives, V, Some(bad)).await,
        400,
        "VALIDATION_ERROR",
    );
    let mut bad = body.clone();
    bad["partitionFields"] = json!([{"fieldName": "a", "order": 0}, {"fieldName": "b", "order": 1}, {"fieldName": "c", "order": 2}]);
    assert_atlas_error(
        &call(&s, "POST", &archives, V, Some(bad)).await,
        400,
        "VALIDATION_ERROR",
    );

    // Recorded create answer: 200 PENDING, paused false, the DEFAULT schedule and the cluster's
    // region as data process region (Atlas CLI e2e snapshot).
    set_lifecycle(&s, "manual").await;
    let created = call(&s, "POST", &archives, V, Some(body.clone())).await;
    assert_eq!(created.status, 200);
    let a = assert_valid("createGroupClusterOnlineArchive", &created);
    assert_eq!(a["state"], "PENDING");
    assert_eq!(a["paused"], false);
    assert_eq!(a["clusterName"], "oa");
    assert_eq!(a["schedule"], json!({"type": "DEFAULT"}));
    assert_eq!(
        a["dataProcessRegion"],
        json!({"cloudProvider": "AWS", "region": "US_EAST_1"})
    );
    assert_eq!(
        a["partitionFields"][0],
        json!({"fieldName": "created", "fieldType": "date", "order": 0})
    );
    assert_eq!(a["partitionFields"][1]["fieldName"], "customer");
    assert!(a["dataSetName"].as_str().unwrap().contains("shop$orders"));
    let id = a["_id"].as_str().unwrap().to_owned();
    let one = format!("{archives}/{id}");

    // Recorded: pausing a PENDING archive is 409, resuming it 400 (CLI e2e snapshots).
    let pause = call(&s, "PATCH", &one, V, Some(json!({"paused": true}))).await;
    assert_atlas_error(&pause, 409, "ONLINE_ARCHIVE_MUST_BE_ACTIVE_TO_PAUSE");
    assert_eq!(
        pause.json()["detail"],
        "An archive must be in an active state in order to be paused."
    );
    let resume = call(&s, "PATCH", &one, V, Some(json!({"paused": false}))).await;
    assert_atlas_error(&resume, 400, "ONLINE_ARCHIVE_CANNOT_MODIFY_FIELD");
    // Recorded: changing expireAfterDays of a PENDING archive is fine.
    let updated = call(
        &s,
        "PATCH",
        &one,
        V,
        Some(json!({"criteria": {"type": "DATE", "expireAfterDays": 45}})),
    )
    .await;
    let updated = assert_valid("updateGroupClusterOnlineArchive", &updated);
    assert_eq!(updated["criteria"]["expireAfterDays"], 45);
    assert_eq!(updated["state"], "PENDING");
    let immutable = call(
        &s,
        "PATCH",
        &one,
        V,
        Some(json!({"criteria": {"type": "DATE", "dateField": "other"}})),
    )
    .await;
    assert_atlas_error(&immutable, 400, "ONLINE_ARCHIVE_CANNOT_MODIFY_FIELD");

    advance_clock(&s, 60).await;
    let active = assert_valid(
        "getGroupClusterOnlineArchive",
        &call(&s, "GET", &one, V, None).await,
    );
    assert_eq!(active["state"], "ACTIVE");
    // One active archive per collection.
    let second = call(&s, "POST", &archives, V, Some(body.clone())).await;
    assert_atlas_error(&second, 400, "VALIDATION_ERROR");

    // Pause: PAUSING, then PAUSED.
    let pausing = assert_valid(
        "updateGroupClusterOnlineArchive",
        &call(&s, "PATCH", &one, V, Some(json!({"paused": true}))).await,
    );
    assert_eq!(
        (pausing["state"].as_str(), pausing["paused"].as_bool()),
        (Some("PAUSING"), Some(true))
    );
    advance_clock(&s, 30).await;
    let paused = call(&s, "GET", &one, V, None).await.json();
    assert_eq!(paused["state"], "PAUSED");

    // With the first one paused, the collection takes another archive; the first cannot resume.
    let other = call(&s, "POST", &archives, V, Some(body.clone())).await;
    let other_id = assert_valid("createGroupClusterOnlineArchive", &other)["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resume = call(&s, "PATCH", &one, V, Some(json!({"paused": false}))).await;
    assert_atlas_error(&resume, 400, "VALIDATION_ERROR");

    // The list pages like every Atlas list.
    let page = call(
        &s,
        "GET",
        &format!("{archives}?itemsPerPage=1&pageNum=1"),
        V,
        None,
    )
    .await;
    let page = assert_valid("listGroupClusterOnlineArchives", &page);
    assert_eq!(page["totalCount"], 2);
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert!(rels(&page).contains(&"next".to_owned()));

    // The query logs are a real gzip of JSON lines, one per archive and hour.
    advance_clock(&s, 7200).await;
    let logs = download(&s, &format!("{archives}/queryLogs.gz"), V).await;
    let text = gunzip(&logs);
    assert!(!text.is_empty());
    for line in text.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["attr"]["ns"], "shop.orders");
    }
    let window = "startDate=1800000000&endDate=1700000000";
    let backwards = download(&s, &format!("{archives}/queryLogs.gz?{window}"), V).await;
    assert_atlas_error(&backwards, 400, "START_DATE_AFTER_END_DATE");

    // Semantics §7.5 and §8: DELETE answers 200 `{}`, then the archive is a 404
    // RESOURCE_NOT_FOUND naming it ("Online archive with id ...").
    let deleted = call(&s, "DELETE", &format!("{archives}/{other_id}"), V, None).await;
    assert_eq!((deleted.status.as_u16(), deleted.json()), (200, json!({})));
    let gone = call(&s, "GET", &format!("{archives}/{other_id}"), V, None).await;
    assert_atlas_error(&gone, 404, "RESOURCE_NOT_FOUND");
    assert_eq!(
        gone.json()["detail"],
        format!("Cannot find resource Online archive with id {other_id}.")
    );
    let resumed = assert_valid(
        "updateGroupClusterOnlineArchive",
        &call(&s, "PATCH", &one, V, Some(json!({"paused": false}))).await,
    );
    assert_eq!(resumed["state"], "ACTIVE");
}
