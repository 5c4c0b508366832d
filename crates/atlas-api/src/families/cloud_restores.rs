//! Restore jobs of dedicated clusters' cloud backups
//! (`/groups/{groupId}/clusters/{clusterName}/backup/restoreJobs`).
//!
//! A job restores one of the cluster's snapshots (on-demand or scheduled, as cloud backups list
//! them): into a target cluster (`automated`) or as a download. Atlas shows no state enum, only
//! outcome flags (semantics §8, filled by the kernel's defaults) and what it derives: the
//! snapshot's time as `timestamp`, the target's deployment name, links to the snapshot, cluster
//! and project, and once done `finishedAt` (automated) or the download's URL and its expiry.
//! Evidence: atlas-cli TestRestores at 2023-01-01 — an automated job asked at 03:36:19 finished
//! at 03:40:10; a download asked at 03:40:36 was ready at 03:44:52 and kept an hour.

use atlas_model::OperationId;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::cloud_backups;
use super::clusters::{self, topology};
use super::shared::support::href;
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle::{self, Settled, kinds};
use crate::kernel::paging::Paging;
use crate::kernel::paths::segment;

/// Seconds until an automated restore finishes, and until a download is ready.
const AUTOMATED_SECONDS: i64 = 231;
const DOWNLOAD_SECONDS: i64 = 256;
/// How long a download URL stays valid.
const DOWNLOAD_KEPT: Duration = Duration::HOUR;

/// Hidden fields: the job's progress and when it was asked for (epoch seconds).
const STATE: &str = "__state";
const REQUESTED_AT: &str = "__requestedAt";

/// The restore job's run, on a hidden field: Atlas shows no state for these jobs.
const RUN: kinds::Step = kinds::restore_job::FLEX_RESTORE
    .on_field(STATE)
    .shown_as("RUNNING");

pub struct CloudRestores;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupClusterBackupRestoreJobs,
    OperationId::CreateGroupClusterBackupRestoreJob,
    OperationId::GetGroupClusterBackupRestoreJob,
    OperationId::CancelGroupClusterBackupRestoreJob,
];

impl Behaviour for CloudRestores {
    fn name(&self) -> &'static str {
        "cloud_restores"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let (cluster, jobs) = clusters::current_child(cx, "backup/restoreJobs")?;
        match cx.call.op.id {
            OperationId::CreateGroupClusterBackupRestoreJob => create(cx, &cluster, &jobs),
            OperationId::ListGroupClusterBackupRestoreJobs => {
                let records = lifecycle::settle_all(cx.tx, cx.lifecycle, &jobs, &cx.now)?;
                let paging = Paging::of(cx.call);
                let total = records.len() as u64;
                let mut results = Vec::new();
                for record in paging.slice(records) {
                    let doc = shown(cx, &jobs, &record.key, record.doc)?;
                    results.push(with_links(cx, &jobs, doc));
                }
                let body = paging.body(cx.call, results, total);
                Ok(Reply::json(200, cx.render.fit_owned(body)))
            }
            _ => {
                let id = cx
                    .call
                    .path_param("restoreJobId")
                    .unwrap_or_default()
                    .to_owned();
                let key = segment(&id);
                let missing = || api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str());
                let Some(record) = cx.tx.get(&jobs, &key)? else {
                    return Err(missing());
                };
                let Settled::Present(doc) =
                    lifecycle::settle(cx.tx, cx.lifecycle, &jobs, &key, record.doc, &cx.now)?
                else {
                    return Err(missing().keeping_writes());
                };
                let mut doc = shown(cx, &jobs, &key, doc)?;
                if cx.call.op.id == OperationId::CancelGroupClusterBackupRestoreJob {
                    doc["cancelled"] = json!(true);
                    cx.tx.update(&jobs, &key, &doc)?;
                    return Ok(Reply::empty(cx.render.status()));
                }
                Ok(Reply::json(
                    200,
                    cx.render.fit_owned(with_links(cx, &jobs, doc)),
                ))
            }
        }
    }
}

fn create(cx: &mut Ctx<'_>, cluster: &atlas_store::Record, jobs: &str) -> Result<Reply, ApiError> {
    let mut job = match cx.call.body.clone() {
        Some(Value::Object(map)) => Value::Object(map),
        _ => json!({}),
    };
    if let Some(snapshot_id) = job.get("snapshotId").and_then(Value::as_str) {
        let snapshots_of = format!("{}/{}/backup/snapshots", cluster.collection, cluster.key);
        let snapshots = cloud_backups::all(cx, cluster, &snapshots_of)?;
        // No recorded refusal names an unknown snapshot: the generic 404 (semantics §3).
        let Some(snapshot) = snapshots.into_iter().find(|s| s["id"] == snapshot_id) else {
            return Err(api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()));
        };
        if snapshot["status"] != "completed" {
            return Err(api_error!(
                CANNOT_START_RESTORE_JOB_FOR_INCOMPLETE_CLUSTER_SNAPSHOT
            ));
        }
        job["timestamp"] = snapshot["createdAt"].clone();
    }
    if let Some(target) = job.get("targetClusterName").and_then(Value::as_str) {
        let group = match job.get("targetGroupId").and_then(Value::as_str) {
            Some(g) => g.to_owned(),
            None => cx.scope.group_id.clone().unwrap_or_default(),
        };
        let found = cx.tx.get(
            &format!("/groups/{}/clusters", segment(&group)),
            &segment(target),
        )?;
        if let Some(name) = found.and_then(|t| deployment_name(&t.doc, &group)) {
            job["targetDeploymentItemName"] = json!(name);
        }
    }
    let id = ids::object_id(cx.now.get());
    job["id"] = json!(id);
    job[REQUESTED_AT] = json!(cx.now.get().unix_timestamp());
    let seconds = if job["deliveryType"] == "download" {
        DOWNLOAD_SECONDS
    } else {
        AUTOMATED_SECONDS
    };
    RUN.lasting(seconds).begin(cx.tx, &mut job, cx.now.get())?;
    cx.tx.insert(jobs, &id, &job)?;
    Ok(Reply::json(
        cx.render.status(),
        cx.render.fit_owned(with_links(cx, jobs, job)),
    ))
}

/// `atlas-<6>`: the target's replica sets without their shard suffix, stable per cluster.
fn deployment_name(target: &Value, group: &str) -> Option<String> {
    let replica_set = topology::processes(target, group)
        .into_iter()
        .find_map(|p| p.replica_set)?;
    let end = replica_set
        .find("-shard-")
        .or_else(|| replica_set.find("-config-"))
        .unwrap_or(replica_set.len());
    Some(replica_set[..end].to_owned())
}

/// The job as a read shows it: once done, when it finished (automated) or where to download it.
fn shown(cx: &mut Ctx<'_>, jobs: &str, key: &str, mut job: Value) -> Result<Value, ApiError> {
    let done = job[STATE] == RUN.to && job["cancelled"] != true;
    let Some(requested) = job
        .get(REQUESTED_AT)
        .and_then(Value::as_i64)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
    else {
        return Ok(job);
    };
    if !done || job.get("finishedAt").is_some() || job.get("expiresAt").is_some() {
        return Ok(job);
    }
    if job["deliveryType"] == "download" {
        // Ready when its realistic duration was over, or now if the policy was quicker.
        let ready = (requested + Duration::seconds(DOWNLOAD_SECONDS)).min(cx.now.get());
        let id = job["id"].as_str().unwrap_or_default().to_owned();
        let group = cx.scope.group_id.clone().unwrap_or_default();
        let token = ids::derived(ready, &[id.as_bytes(), b"download"]);
        let snapshot = job["snapshotId"].as_str().unwrap_or_default().to_owned();
        job["deliveryUrl"] = json!([format!(
            "https://restore-{id}.{}.mongodb.net:27017/{token}/restore-{snapshot}.tar.gz",
            topology::suffix(&group)
        )]);
        job["expiresAt"] = json!(atlas_timestamp(ready + DOWNLOAD_KEPT));
    } else {
        let finished = (requested + Duration::seconds(AUTOMATED_SECONDS)).min(cx.now.get());
        job["finishedAt"] = json!(atlas_timestamp(finished));
    }
    cx.tx.update(jobs, key, &job)?;
    Ok(job)
}

/// `self`, then the snapshot restored, the cluster and the project (as Atlas lists them).
fn with_links(cx: &Ctx<'_>, jobs: &str, mut job: Value) -> Value {
    let base = href(cx, "");
    let id = job["id"].as_str().unwrap_or_default();
    let cluster = jobs.trim_end_matches("/backup/restoreJobs");
    let group = format!(
        "/groups/{}",
        segment(cx.scope.group_id.as_deref().unwrap_or_default())
    );
    let mut links = vec![json!({"href": format!("{base}{jobs}/{id}"), "rel": "self"})];
    if let Some(snapshot) = job.get("snapshotId").and_then(Value::as_str) {
        links.push(json!({
            "href": format!("{base}{cluster}/backup/snapshots/{}", segment(snapshot)),
            "rel": "https://cloud.mongodb.com/snapshot",
        }));
    }
    links.push(
        json!({"href": format!("{base}{cluster}"), "rel": "https://cloud.mongodb.com/cluster"}),
    );
    links.push(json!({"href": format!("{base}{group}"), "rel": "https://cloud.mongodb.com/group"}));
    job["links"] = json!(links);
    job
}
