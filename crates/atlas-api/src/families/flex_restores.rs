//! Flex restore jobs (`/groups/{groupId}/flexClusters/{name}/backup/restoreJobs`): restoring a
//! completed snapshot of a flex cluster into a cluster of the same or another project. A job
//! shows `PENDING`, then `RUNNING` after a few seconds, then `COMPLETED` about a minute after it
//! was asked for (semantics §8: restore POST 200 `PENDING` → `RUNNING` ~4 s → `COMPLETED` ~1 min),
//! with the lifecycle policies of [`crate::kernel::lifecycle`]. Snapshot downloads are listed here too,
//! as `DOWNLOAD` jobs.

use atlas_model::OperationId;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::shared::flex_restore_jobs::{collection, with_link};
use super::{flex_backups, flex_clusters};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle;
use crate::kernel::lifecycle::kinds;
use crate::kernel::paging::Paging;
use crate::kernel::paths::segment;

/// Seconds until a restore completes, and until it shows `RUNNING`.
const RESTORE_SECONDS: i64 = 60;
const RUNNING_AFTER: i64 = 4;

pub struct FlexRestores;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupFlexClusterBackupRestoreJobs,
    OperationId::CreateGroupFlexClusterBackupRestoreJob,
    OperationId::GetGroupFlexClusterBackupRestoreJob,
];

impl Behaviour for FlexRestores {
    fn name(&self) -> &'static str {
        "flex_restores"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let name = cx.call.path_param("name").unwrap_or_default().to_owned();
        let cluster = flex_clusters::current(cx, &name)?;
        let group = cx.scope.group_id.clone().unwrap_or_default();
        let jobs = collection(&group, &name);
        match cx.call.op.id {
            OperationId::ListGroupFlexClusterBackupRestoreJobs => {
                let records = lifecycle::settle_all(cx.tx, cx.lifecycle, &jobs, &cx.now)?;
                let paging = Paging::of(cx.call);
                let total = records.len() as u64;
                let mut results = Vec::new();
                for record in paging.slice(records) {
                    let doc = shown(cx, &jobs, &record.key, record.doc)?;
                    results.push(with_link(cx, &jobs, doc));
                }
                Ok(Reply::json(
                    200,
                    cx.render.fit(&paging.body(cx.call, results, total)),
                ))
            }
            OperationId::GetGroupFlexClusterBackupRestoreJob => {
                let id = cx
                    .call
                    .path_param("restoreJobId")
                    .unwrap_or_default()
                    .to_owned();
                let missing = || api_error!(TENANT_RESTORE_NOT_FOUND, id.as_str(), name.as_str());
                let record =
                    lifecycle::get_settled(cx.tx, cx.lifecycle, &jobs, &segment(&id), &cx.now)?
                        .ok_or_else(|| missing().keeping_writes())?;
                let doc = shown(cx, &jobs, &record.key, record.doc)?;
                Ok(Reply::json(200, cx.render.fit(&with_link(cx, &jobs, doc))))
            }
            _ => {
                let snapshots = flex_backups::snapshots(cx, &cluster.doc, &name);
                create(cx, &name, &jobs, &snapshots)
            }
        }
    }
}

fn create(
    cx: &mut Ctx<'_>,
    name: &str,
    jobs: &str,
    snapshots: &[Value],
) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
    let snapshot = flex_backups::find(snapshots, text("snapshotId"), name)?;
    if snapshot["status"] != "COMPLETED" {
        return Err(api_error!(
            CANNOT_START_RESTORE_JOB_FOR_INCOMPLETE_CLUSTER_SNAPSHOT
        ));
    }
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let target_group = match text("targetProjectId") {
        "" => group.clone(),
        other => other.to_owned(),
    };
    let target = text("targetDeploymentItemName").to_owned();
    check_target(cx, &target_group, &target)?;
    let id = ids::object_id(cx.now.get());
    let mut job = json!({
        "id": id,
        "deliveryType": "RESTORE",
        "expirationDate": atlas_timestamp(cx.now.get() + Duration::days(1)),
        "instanceName": name,
        "projectId": group,
        "restoreScheduledDate": atlas_timestamp(cx.now.get()),
        "snapshotFinishedDate": snapshot["finishTime"],
        "snapshotId": snapshot["id"],
        "targetDeploymentItemName": target,
        "targetProjectId": target_group,
    });
    kinds::restore_job::FLEX_RESTORE.begin(cx.tx, &mut job, cx.now.get())?;
    cx.tx.insert(jobs, &id, &job)?;
    Ok(Reply::json(
        cx.render.status(),
        cx.render.fit(&with_link(cx, jobs, job)),
    ))
}

/// The target must be an existing cluster (flex or dedicated, not sharded) of a project.
fn check_target(cx: &mut Ctx<'_>, group: &str, target: &str) -> Result<(), ApiError> {
    if cx.tx.get("/groups", &segment(group))?.is_none() {
        return Err(api_error!(GROUP_NOT_FOUND, group));
    }
    let key = segment(target);
    if cx
        .tx
        .get(&format!("/groups/{group}/flexClusters"), &key)?
        .is_some()
    {
        return Ok(());
    }
    match cx.tx.get(&format!("/groups/{group}/clusters"), &key)? {
        Some(cluster) if cluster.doc["clusterType"] == "REPLICASET" => Ok(()),
        Some(_) => Err(api_error!(TENANT_RESTORE_INCOMPATIBLE_TOPOLOGY)),
        None => Err(api_error!(CLUSTER_NOT_FOUND, target, group)),
    }
}

/// The job as a read shows it: `RUNNING` once started, and its finish time once completed.
fn shown(cx: &mut Ctx<'_>, jobs: &str, key: &str, mut job: Value) -> Result<Value, ApiError> {
    if let Some(t) = lifecycle::pending(&job) {
        if cx.now.get().unix_timestamp() - t.started_at >= RUNNING_AFTER {
            job["status"] = json!("RUNNING");
        }
    } else if job["status"] == "COMPLETED" && job.get("restoreFinishedDate").is_none() {
        // Finished when its realistic duration was over, or now if the policy was quicker.
        let scheduled = job["restoreScheduledDate"]
            .as_str()
            .and_then(|s| {
                OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
            })
            .unwrap_or(cx.now.get());
        let finished = (scheduled + Duration::seconds(RESTORE_SECONDS)).min(cx.now.get());
        job["restoreFinishedDate"] = json!(atlas_timestamp(finished));
        cx.tx.update(jobs, key, &job)?;
    }
    Ok(job)
}
