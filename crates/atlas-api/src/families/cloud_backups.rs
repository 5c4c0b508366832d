//! Cloud backup snapshots of dedicated replica-set clusters
//! (`/groups/{groupId}/clusters/{clusterName}/backup/snapshots`).
//!
//! Scheduled snapshots come from the backup schedule: while `backupEnabled` is on, one a day,
//! kept seven days (Atlas's default policy), derived from when backup was enabled and the
//! injected clock. On-demand snapshots are stored documents that go `queued` → `completed`.
//! Deleting or changing the retention of a scheduled snapshot stores what changed (a
//! tombstone or the new expiry) next to the on-demand ones.

use atlas_model::OperationId;
use atlas_store::{Page, Record};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::clusters::{self, topology};
use super::shared::backups::BACKUP_SINCE;
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle::kinds;
use crate::kernel::lifecycle::{self, Settled};
use crate::kernel::paging::Paging;
use atlas_model::API_PREFIX;

/// The default policy: a daily snapshot kept a week.
const EVERY: Duration = Duration::DAY;
const RETENTION: Duration = Duration::days(7);

pub struct CloudBackups;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupClusterBackupSnapshots,
    OperationId::TakeGroupClusterBackupSnapshots,
    OperationId::GetGroupClusterBackupSnapshot,
    OperationId::UpdateGroupClusterBackupSnapshot,
    OperationId::DeleteGroupClusterBackupSnapshot,
];

impl Behaviour for CloudBackups {
    fn name(&self) -> &'static str {
        "cloud_backups"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let (cluster, collection) = clusters::current_child(cx, "backup/snapshots")?;
        if cx.call.op.id == OperationId::TakeGroupClusterBackupSnapshots {
            return take(cx, &cluster, &collection);
        }
        let snapshots = all(cx, &cluster, &collection)?;
        if cx.call.op.id == OperationId::ListGroupClusterBackupSnapshots {
            let paging = Paging::of(cx.call);
            let total = snapshots.len() as u64;
            let body = paging.body(cx.call, paging.slice(snapshots), total);
            return Ok(Reply::json(200, cx.render.fit_owned(body)));
        }
        let id = cx
            .call
            .path_param("snapshotId")
            .unwrap_or_default()
            .to_owned();
        let Some(mut snapshot) = snapshots.into_iter().find(|s| s["id"] == id.as_str()) else {
            return Err(api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()));
        };
        match cx.call.op.id {
            OperationId::GetGroupClusterBackupSnapshot => {
                Ok(Reply::json(200, cx.render.fit(&snapshot)))
            }
            OperationId::UpdateGroupClusterBackupSnapshot => {
                let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
                let value = body
                    .get("retentionValue")
                    .and_then(Value::as_i64)
                    .unwrap_or(7);
                let days = match body.get("retentionUnit").and_then(Value::as_str) {
                    Some("WEEKS") => value * 7,
                    Some("MONTHS") => value * 30,
                    Some("YEARS") => value * 365,
                    _ => value,
                };
                let created = parse(&snapshot["createdAt"]).unwrap_or(cx.now.get());
                snapshot["expiresAt"] = json!(atlas_timestamp(created + Duration::days(days)));
                cx.tx.upsert(&collection, &id, &stored_form(&snapshot))?;
                Ok(Reply::json(200, cx.render.fit(&snapshot)))
            }
            _ => {
                cx.tx
                    .upsert(&collection, &id, &json!({"id": id, "__deleted": true}))?;
                Ok(Reply::empty(cx.render.status()))
            }
        }
    }
}

fn parse(v: &Value) -> Option<OffsetDateTime> {
    v.as_str()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

/// What is stored for a snapshot: the document without its links.
fn stored_form(snapshot: &Value) -> Value {
    let mut doc = snapshot.clone();
    if let Value::Object(map) = &mut doc {
        map.remove("links");
    }
    doc
}

fn base(cx: &Ctx<'_>, cluster: &Record) -> Value {
    let group = cx.scope.group_id.as_deref().unwrap_or_default();
    let provider = cluster
        .doc
        .pointer("/replicationSpecs/0/regionConfigs/0/providerName")
        .cloned()
        .unwrap_or(json!("AWS"));
    let replica_set = topology::processes(&cluster.doc, group)
        .first()
        .and_then(|p| p.replica_set.clone())
        .unwrap_or_default();
    json!({
        "cloudProvider": provider,
        "copyRegions": [],
        "mongodVersion": cluster.doc.get("mongoDBVersion").cloned().unwrap_or(json!("8.0.12")),
        "replicaSetName": replica_set,
        "storageSizeBytes": 1_073_741_824u64,
        "type": "replicaSet",
    })
}

fn with_link(cx: &Ctx<'_>, collection: &str, mut snapshot: Value) -> Value {
    let id = snapshot["id"].as_str().unwrap_or_default().to_owned();
    snapshot["links"] = json!([{"href": format!("{}{API_PREFIX}{collection}/{id}", cx.call.origin.base_url), "rel": "self"}]);
    snapshot
}

fn take(cx: &mut Ctx<'_>, cluster: &Record, collection: &str) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let days = body
        .get("retentionInDays")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let id = ids::object_id(cx.now.get());
    let mut snapshot = base(cx, cluster);
    for (key, value) in [
        ("id", json!(id)),
        ("createdAt", json!(atlas_timestamp(cx.now.get()))),
        (
            "expiresAt",
            json!(atlas_timestamp(cx.now.get() + Duration::days(days))),
        ),
        (
            "description",
            body.get("description").cloned().unwrap_or(json!("")),
        ),
        // Atlas's frequency enum has no on-demand value: on-demand snapshots have none.
        ("snapshotType", json!("onDemand")),
    ] {
        snapshot[key] = value;
    }
    kinds::snapshot::TAKE.begin(cx.tx, &mut snapshot, cx.now.get())?;
    cx.tx.insert(collection, &id, &snapshot)?;
    Ok(Reply::json(
        cx.render.status(),
        cx.render.fit(&with_link(cx, collection, snapshot)),
    ))
}

/// Every snapshot the cluster has now, newest first (restore jobs look theirs up here).
pub(super) fn all(
    cx: &mut Ctx<'_>,
    cluster: &Record,
    collection: &str,
) -> Result<Vec<Value>, ApiError> {
    let (stored, _) = cx.tx.list(collection, Page::ALL)?;
    let mut out = Vec::new();
    let mut overridden = Vec::new();
    for record in stored {
        overridden.push(record.key.clone());
        if record.doc.get("__deleted").is_some() {
            continue;
        }
        if let Settled::Present(doc) = lifecycle::settle(
            cx.tx,
            cx.lifecycle,
            collection,
            &record.key,
            record.doc,
            &cx.now,
        )? {
            out.push(doc);
        }
    }
    if let Some(since) = cluster.doc.get(BACKUP_SINCE).and_then(Value::as_i64)
        && cluster.doc.get("backupEnabled").and_then(Value::as_bool) == Some(true)
    {
        let start = OffsetDateTime::from_unix_timestamp(since).unwrap_or(cx.now.get());
        let cluster_id = cluster
            .doc
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let template = base(cx, cluster);
        let mut k: i32 = 1;
        while start + EVERY * k <= cx.now.get() {
            let at = start + EVERY * k;
            k += 1;
            let id = ids::derived(at, &[cluster_id.as_bytes(), b"scheduled"]);
            if at + RETENTION <= cx.now.get() || overridden.contains(&id) {
                continue;
            }
            let mut snapshot = template.clone();
            for (key, value) in [
                ("id", json!(id)),
                ("createdAt", json!(atlas_timestamp(at))),
                ("expiresAt", json!(atlas_timestamp(at + RETENTION))),
                ("frequencyType", json!("daily")),
                ("snapshotType", json!("scheduled")),
                ("status", json!("completed")),
            ] {
                snapshot[key] = value;
            }
            out.push(snapshot);
        }
    }
    out.retain(|s| parse(&s["expiresAt"]).is_none_or(|e| e > cx.now.get()));
    out.sort_by(|a, b| b["createdAt"].as_str().cmp(&a["createdAt"].as_str()));
    Ok(out
        .into_iter()
        .map(|s| with_link(cx, collection, s))
        .collect())
}
