//! Flex cluster snapshots (`/groups/{groupId}/flexClusters/{name}/backup/snapshots`) and their
//! download. Flex clusters are backed up daily by their schedule; the snapshots are derived from
//! the cluster's creation time and the injected clock, so they appear as the clock advances and
//! several instances agree without a background worker. Each is kept for its retention period.
//! A download is recorded as a `DOWNLOAD` restore job of the cluster ([`super::flex_restores`]).

use atlas_model::OperationId;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::flex_clusters;
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paging::Paging;
use atlas_model::API_PREFIX;

/// One snapshot a day, kept eight days (flex backup policy).
const EVERY: Duration = Duration::DAY;
const RETENTION: Duration = Duration::days(8);
/// How long taking one snapshot lasts.
const TAKES: Duration = Duration::minutes(3);

pub struct FlexBackups;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupFlexClusterBackupSnapshots,
    OperationId::GetGroupFlexClusterBackupSnapshot,
    OperationId::DownloadGroupFlexClusterBackup,
];

impl Behaviour for FlexBackups {
    fn name(&self) -> &'static str {
        "flex_backups"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        // Reading the cluster settles its lifecycle.
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let name = cx.call.path_param("name").unwrap_or_default().to_owned();
        let cluster = flex_clusters::current(cx, &name)?;
        let snapshots = snapshots(cx, &cluster.doc, &name);
        match cx.call.op.id {
            OperationId::ListGroupFlexClusterBackupSnapshots => {
                let paging = Paging::of(cx.call);
                let total = snapshots.len() as u64;
                let body = paging.body(cx.call, paging.slice(snapshots), total);
                Ok(Reply::json(200, cx.render.fit_owned(body)))
            }
            OperationId::GetGroupFlexClusterBackupSnapshot => {
                let id = cx.call.path_param("snapshotId").unwrap_or_default();
                let snapshot = find(&snapshots, id, &name)?;
                Ok(Reply::json(200, cx.render.fit(&snapshot)))
            }
            _ => {
                let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
                let id = body
                    .get("snapshotId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let snapshot = find(&snapshots, id, &name)?;
                if snapshot["status"] != "COMPLETED" {
                    return Err(api_error!(
                        CANNOT_START_RESTORE_JOB_FOR_INCOMPLETE_CLUSTER_SNAPSHOT
                    ));
                }
                let group = cx.scope.group_id.clone().unwrap_or_default();
                let job_id = ids::object_id(cx.now.get());
                let job = json!({
                    "id": job_id,
                    "deliveryType": "DOWNLOAD",
                    "expirationDate": atlas_timestamp(cx.now.get() + Duration::hours(4)),
                    "instanceName": name,
                    "projectId": group,
                    "restoreScheduledDate": atlas_timestamp(cx.now.get()),
                    "restoreFinishedDate": atlas_timestamp(cx.now.get()),
                    "snapshotFinishedDate": snapshot["finishTime"],
                    "snapshotId": id,
                    "snapshotUrl": format!("https://backup-downloads.localatlas.invalid/flex/{group}/{name}/{id}.tar.gz"),
                    "status": "COMPLETED",
                });
                // A download is a restore job too: it is listed with the cluster's jobs.
                let jobs = super::shared::flex_restore_jobs::collection(&group, &name);
                cx.tx.insert(&jobs, &job_id, &job)?;
                let job = super::shared::flex_restore_jobs::with_link(cx, &jobs, job);
                Ok(Reply::json(cx.render.status(), cx.render.fit(&job)))
            }
        }
    }
}

/// The snapshot `id` of the flex cluster `name`, or Atlas's 404 for tenant snapshots.
pub(crate) fn find(snapshots: &[Value], id: &str, name: &str) -> Result<Value, ApiError> {
    snapshots
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .ok_or_else(|| api_error!(TENANT_SNAPSHOT_NOT_FOUND, id, name))
}

/// The snapshots the daily schedule has produced by now and still keeps, newest first.
pub(crate) fn snapshots(cx: &Ctx<'_>, cluster: &Value, name: &str) -> Vec<Value> {
    let created = cluster
        .get("createDate")
        .and_then(Value::as_str)
        .and_then(|c| OffsetDateTime::parse(c, &Rfc3339).ok())
        .unwrap_or(cx.now.get());
    let cluster_id = cluster
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = cluster
        .get("mongoDBVersion")
        .cloned()
        .unwrap_or(json!("8.0.12"));
    let group = cx.scope.group_id.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    let mut k: i32 = 1;
    loop {
        let scheduled = created + EVERY * k;
        if scheduled > cx.now.get() {
            break;
        }
        k += 1;
        let expiration = scheduled + RETENTION;
        if expiration <= cx.now.get() {
            continue;
        }
        let finished = scheduled + TAKES;
        let id = ids::derived(scheduled, &[cluster_id.as_bytes()]);
        let mut snapshot = json!({
            "id": id,
            "scheduledTime": atlas_timestamp(scheduled),
            "startTime": atlas_timestamp(scheduled),
            "expiration": atlas_timestamp(expiration),
            "mongoDBVersion": version,
            "status": if finished <= cx.now.get() { "COMPLETED" } else { "RUNNING" },
            "links": [{"href": format!("{}{API_PREFIX}/groups/{group}/flexClusters/{name}/backup/snapshots/{id}", cx.call.origin.base_url), "rel": "self"}],
        });
        if finished <= cx.now.get() {
            snapshot["finishTime"] = json!(atlas_timestamp(finished));
        }
        out.push(snapshot);
    }
    out.reverse();
    out
}
