//! Restore jobs of dedicated clusters' cloud backups, as recorded in the conformance corpus
//! sequence `cli/atlas_backup_restores/TestRestores` (2023-01-01): the restored snapshot's
//! time, the links Atlas lists, `finishedAt` once done, and download URLs once ready.

mod common;

use common::{Server, advance_clock, assert_atlas_error, assert_valid, set_lifecycle, v};
use serde_json::{Value, json};

fn clusters_uri(s: &Server) -> String {
    format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id)
}

async fn create_cluster(s: &Server, name: &str) -> Value {
    let body = json!({"name": name, "backupEnabled": true, "replicationSpecs": [{
        "zoneName": "Zone 1", "regionConfigs": [{
            "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
            "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}
        }]
    }]});
    let answer = s
        .call(
            "POST",
            &clusters_uri(s),
            Some(&v("2024-10-23")),
            Some(&body),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()
}

fn rels(job: &Value) -> Vec<(String, String)> {
    job["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["rel"].as_str().unwrap().to_owned(),
                l["href"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn restore_jobs_show_what_atlas_derives_test_restores() {
    let s = Server::new();
    set_lifecycle(&s, "realistic").await;
    create_cluster(&s, "source").await;
    create_cluster(&s, "target").await;
    let source = format!("{}/source", clusters_uri(&s));
    let snaps = format!("{source}/backup/snapshots");
    let jobs = format!("{source}/backup/restoreJobs");
    let taken = assert_valid(
        "takeGroupClusterBackupSnapshots",
        &s.call(
            "POST",
            &snaps,
            Some(common::JSON_2023),
            Some(&json!({"description": "test-snapshot", "retentionInDays": 1})),
        )
        .await,
    );
    let snapshot = taken["id"].as_str().unwrap().to_owned();

    // A snapshot still being taken cannot be restored yet; an unknown one is not found.
    let early = s
        .call(
            "POST",
            &jobs,
            Some(common::JSON_2023),
            Some(&json!({"deliveryType": "download", "snapshotId": snapshot})),
        )
        .await;
    assert_atlas_error(
        &early,
        409,
        "CANNOT_START_RESTORE_JOB_FOR_INCOMPLETE_CLUSTER_SNAPSHOT",
    );
    let unknown = s
        .call(
            "POST",
            &jobs,
            Some(common::JSON_2023),
            Some(&json!({"deliveryType": "download", "snapshotId": "0123456789abcdef01234567"})),
        )
        .await;
    assert_atlas_error(&unknown, 404, "RESOURCE_NOT_FOUND");
    advance_clock(&s, 3600).await;
    let completed = assert_valid(
        "getGroupClusterBackupSnapshot",
        &s.get(&format!("{snaps}/{snapshot}")).await,
    );
    assert_eq!(completed["status"], "completed");

    // Automated restore into another cluster (recorded step 20).
    let request = json!({
        "deliveryType": "automated", "snapshotId": snapshot,
        "targetClusterName": "target", "targetGroupId": s.boot.project_id,
    });
    let answer = s
        .call("POST", &jobs, Some(common::JSON_2023), Some(&request))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let job = assert_valid("createGroupClusterBackupRestoreJob", &answer);
    assert_eq!(job["timestamp"], completed["createdAt"]);
    assert_eq!(job["cancelled"], false);
    assert!(job.get("finishedAt").is_none(), "{job}");
    // Recorded (TestRestores): a restore with no point in time answers its desiredTimestamp
    // with every part null (`time` is not in the spec; an overlay adds it).
    assert_eq!(
        job["desiredTimestamp"],
        json!({"date": null, "increment": null, "time": null}),
        "{job}"
    );
    // Atlas also shows `targetDeploymentItemName` (`atlas-72ck1q`, the target's replica sets'
    // name; the spec lacks it, an overlay adds it), the same for every job onto that cluster.
    let deployment = job["targetDeploymentItemName"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(deployment.starts_with("atlas-"), "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let links = rels(&job);
    let kinds: Vec<&str> = links.iter().map(|(rel, _)| rel.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "self",
            "https://cloud.mongodb.com/snapshot",
            "https://cloud.mongodb.com/cluster",
            "https://cloud.mongodb.com/group",
        ]
    );
    assert!(links[0].1.ends_with(&format!("{jobs}/{id}")));
    assert!(links[1].1.ends_with(&format!("{snaps}/{snapshot}")));
    assert!(links[2].1.ends_with(&source));
    assert!(
        links[3]
            .1
            .ends_with(&format!("/api/atlas/v2/groups/{}", s.boot.project_id))
    );

    // Finished about four minutes later (recorded steps 23 and 25), the same on every read.
    advance_clock(&s, 600).await;
    let one = assert_valid(
        "getGroupClusterBackupRestoreJob",
        &s.get(&format!("{jobs}/{id}")).await,
    );
    let finished = one["finishedAt"].as_str().unwrap().to_owned();
    let list = assert_valid("listGroupClusterBackupRestoreJobs", &s.get(&jobs).await);
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["results"][0]["finishedAt"], finished.as_str());
    assert_eq!(list["results"][0]["links"].as_array().unwrap().len(), 4);

    // A download (recorded steps 29-32): no target, a URL once ready, kept an hour.
    let answer = s
        .call(
            "POST",
            &jobs,
            Some(common::JSON_2023),
            Some(&json!({"deliveryType": "download", "snapshotId": snapshot})),
        )
        .await;
    let download = assert_valid("createGroupClusterBackupRestoreJob", &answer);
    assert!(download.get("targetDeploymentItemName").is_none());
    assert_eq!(download["deliveryUrl"], json!([]));
    let download_id = download["id"].as_str().unwrap().to_owned();
    advance_clock(&s, 600).await;
    let ready = assert_valid(
        "getGroupClusterBackupRestoreJob",
        &s.get(&format!("{jobs}/{download_id}")).await,
    );
    let url = ready["deliveryUrl"][0].as_str().unwrap();
    assert!(
        url.ends_with(&format!("/restore-{snapshot}.tar.gz")),
        "{url}"
    );
    assert!(ready["expiresAt"].is_string() && ready.get("finishedAt").is_none());

    // Cancelling keeps the job, marked cancelled.
    let cancel = s
        .call(
            "DELETE",
            &format!("{jobs}/{id}"),
            Some(common::JSON_2023),
            None,
        )
        .await;
    assert!(cancel.status.is_success(), "{}", cancel.text());
    let cancelled = s.get(&format!("{jobs}/{id}")).await.json();
    assert_eq!(cancelled["cancelled"], true);
    let missing = s.get(&format!("{jobs}/0123456789abcdef01234567")).await;
    assert_atlas_error(&missing, 404, "RESOURCE_NOT_FOUND");
}
