//! Flex backups: the daily snapshots, downloads and restore jobs.

use serde_json::json;

use super::common::{Server, advance_clock, assert_atlas_error, assert_valid, set_lifecycle};
use super::{call, cluster, g, rels};

const V: &str = "2024-11-13";

#[tokio::test]
async fn flex_snapshots_downloads_and_restores() {
    let s = Server::new();
    let flex = json!({"name": "fx", "providerSettings": {"backingProviderName": "AWS", "regionName": "US_EAST_1"}});
    assert_eq!(
        call(&s, "POST", &g(&s, "/flexClusters"), V, Some(flex))
            .await
            .status,
        201
    );
    let target = json!({"name": "fx2", "providerSettings": {"backingProviderName": "AWS", "regionName": "US_EAST_1"}});
    assert_eq!(
        call(&s, "POST", &g(&s, "/flexClusters"), V, Some(target))
            .await
            .status,
        201
    );
    cluster(&s, "dedicated", false).await;
    let snapshots = g(&s, "/flexClusters/fx/backup/snapshots");

    // No snapshot before the first daily one; then one a day as the clock moves.
    let none = assert_valid(
        "listGroupFlexClusterBackupSnapshots",
        &call(&s, "GET", &snapshots, V, None).await,
    );
    assert_eq!(none["totalCount"], 0);
    advance_clock(&s, 3 * 86_400 + 600).await;
    // The seed call, as the page shows it: paging parameters and pretty printing.
    let listed = call(
        &s,
        "GET",
        &format!("{snapshots}?includeCount=true&itemsPerPage=2&pageNum=1&pretty=true"),
        V,
        None,
    )
    .await;
    assert!(listed.text().contains("\n  \""), "pretty-printed");
    let listed = assert_valid("listGroupFlexClusterBackupSnapshots", &listed);
    assert_eq!(listed["totalCount"], 3);
    assert_eq!(listed["results"].as_array().unwrap().len(), 2);
    assert!(rels(&listed).contains(&"next".to_owned()));
    // Every field of the seed page's example item, with real values.
    let first = &listed["results"][0];
    for field in [
        "expiration",
        "finishTime",
        "id",
        "links",
        "mongoDBVersion",
        "scheduledTime",
        "startTime",
        "status",
    ] {
        assert!(first.get(field).is_some(), "{field} missing in {first}");
    }
    assert_eq!(first["status"], "COMPLETED");
    let id = first["id"].as_str().unwrap().to_owned();
    let one = assert_valid(
        "getGroupFlexClusterBackupSnapshot",
        &call(&s, "GET", &format!("{snapshots}/{id}"), V, None).await,
    );
    assert_eq!(one["id"], id);

    // Atlas's codes ([D]): unknown flex snapshot, unknown cluster, a dedicated cluster.
    let unknown = call(
        &s,
        "GET",
        &format!("{snapshots}/5f0000000000000000000abc"),
        V,
        None,
    )
    .await;
    assert_atlas_error(&unknown, 404, "TENANT_SNAPSHOT_NOT_FOUND");
    let missing = call(
        &s,
        "GET",
        &g(&s, "/flexClusters/nope/backup/snapshots"),
        V,
        None,
    )
    .await;
    assert_atlas_error(&missing, 404, "CLUSTER_NOT_FOUND");
    let dedicated = call(
        &s,
        "GET",
        &g(&s, "/flexClusters/dedicated/backup/snapshots"),
        V,
        None,
    )
    .await;
    assert_atlas_error(&dedicated, 400, "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API");

    // A download is a completed DOWNLOAD job with its URL.
    let download = call(
        &s,
        "POST",
        &g(&s, "/flexClusters/fx/backup/download"),
        V,
        Some(json!({"snapshotId": id})),
    )
    .await;
    let download = assert_valid("downloadGroupFlexClusterBackup", &download);
    assert_eq!(
        (
            download["deliveryType"].as_str(),
            download["status"].as_str()
        ),
        (Some("DOWNLOAD"), Some("COMPLETED"))
    );

    // Restores progress PENDING → RUNNING (~4 s) → COMPLETED (~1 min) (semantics §8).
    set_lifecycle(&s, "realistic").await;
    let jobs = g(&s, "/flexClusters/fx/backup/restoreJobs");
    let bad_target = json!({"snapshotId": id, "targetDeploymentItemName": "nope"});
    assert_atlas_error(
        &call(&s, "POST", &jobs, V, Some(bad_target)).await,
        404,
        "CLUSTER_NOT_FOUND",
    );
    let bad_snapshot =
        json!({"snapshotId": "5f0000000000000000000abc", "targetDeploymentItemName": "fx2"});
    assert_atlas_error(
        &call(&s, "POST", &jobs, V, Some(bad_snapshot)).await,
        404,
        "TENANT_SNAPSHOT_NOT_FOUND",
    );
    let restore = json!({"snapshotId": id, "targetDeploymentItemName": "fx2"});
    let job = assert_valid(
        "createGroupFlexClusterBackupRestoreJob",
        &call(&s, "POST", &jobs, V, Some(restore)).await,
    );
    assert_eq!(
        (job["status"].as_str(), job["deliveryType"].as_str()),
        (Some("PENDING"), Some("RESTORE"))
    );
    assert_eq!(job["targetDeploymentItemName"], "fx2");
    let job_uri = format!("{jobs}/{}", job["id"].as_str().unwrap());
    advance_clock(&s, 5).await;
    let running = assert_valid(
        "getGroupFlexClusterBackupRestoreJob",
        &call(&s, "GET", &job_uri, V, None).await,
    );
    assert_eq!(running["status"], "RUNNING");
    advance_clock(&s, 60).await;
    let done = assert_valid(
        "getGroupFlexClusterBackupRestoreJob",
        &call(&s, "GET", &job_uri, V, None).await,
    );
    assert_eq!(done["status"], "COMPLETED");
    assert!(done["restoreFinishedDate"].is_string());
    let all = assert_valid(
        "listGroupFlexClusterBackupRestoreJobs",
        &call(&s, "GET", &jobs, V, None).await,
    );
    assert_eq!(all["totalCount"], 2, "the download and the restore");
    let unknown = call(
        &s,
        "GET",
        &format!("{jobs}/5f0000000000000000000abc"),
        V,
        None,
    )
    .await;
    assert_atlas_error(&unknown, 404, "TENANT_RESTORE_NOT_FOUND");
}
