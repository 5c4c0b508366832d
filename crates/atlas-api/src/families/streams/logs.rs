//! The logs of a stream instance: the audit log (every change made through the API to the
//! instance, its connections and processors) and the operational log (processor state changes),
//! recorded in the change's transaction and downloaded as real gzip files
//! (`/streams/{tenantName}/auditLogs`, `/streams/{tenantName}:downloadOperationalLogs`), filtered
//! by processor (`spName`) and by a time window in epoch seconds (`startDate`, `endDate`;
//! the last 24 hours by default). File names follow the spec's descriptions:
//! `[tenantName]_[spName]_[startTime]_[endTime]_audit.log` and `..._queries.gz`.

use atlas_model::OperationId;
use atlas_store::{Page, Record};
use serde_json::{Value, json};

use super::under;
use crate::api_error;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::download;
use crate::kernel::error::ApiError;
use crate::kernel::ids;

fn record(
    cx: &mut Ctx<'_>,
    instance: &Record,
    kind: &str,
    mut entry: Value,
) -> Result<(), ApiError> {
    let id = ids::object_id(cx.now.get());
    entry["t"] = json!({"$date": super::timestamp(cx)});
    entry["epoch"] = json!(cx.now.get().unix_timestamp());
    entry["kind"] = json!(kind);
    entry["tenant"] = instance.doc["name"].clone();
    cx.tx.insert(&under(instance, "logs"), &id, &entry)?;
    Ok(())
}

/// Records an API change in the audit log (`processor`: the stream processor it concerns).
pub(super) fn audit(
    cx: &mut Ctx<'_>,
    instance: &Record,
    action: &str,
    processor: Option<&str>,
) -> Result<(), ApiError> {
    let entry = json!({
        "atype": action,
        "user": cx.call.principal.label(),
        "remoteAddress": cx.call.origin.client_ip,
        "spName": processor,
    });
    record(cx, instance, "audit", entry)
}

/// Records a processor state change in the operational log.
pub(super) fn operational(
    cx: &mut Ctx<'_>,
    instance: &Record,
    processor: &Value,
    event: &str,
) -> Result<(), ApiError> {
    let entry = json!({
        "s": if event == "failed" { "E" } else { "I" },
        "c": "STREAMS",
        "msg": format!("stream processor {event}"),
        "spName": processor["name"],
        "attr": {"processorId": processor["_id"], "state": processor["state"], "error": processor["__failure"]},
    });
    record(cx, instance, "operational", entry)
}

/// The download of either log.
pub(super) fn download(cx: &mut Ctx<'_>, instance: &Record) -> Result<Reply, ApiError> {
    let audit = cx.call.op.id == OperationId::DownloadGroupStreamAuditLogs;
    let now = cx.now.get().unix_timestamp();
    let param = |name: &str| {
        cx.call
            .query_param(name)
            .and_then(|v| v.parse::<i64>().ok())
    };
    let end = param("endDate").unwrap_or(now);
    let start = param("startDate").unwrap_or(end - 86_400);
    if start > end {
        return Err(api_error!(START_DATE_AFTER_END_DATE));
    }
    let processor = cx.call.query_param("spName").map(str::to_owned);
    let kind = if audit { "audit" } else { "operational" };
    let (entries, _) = cx.tx.list(&under(instance, "logs"), Page::ALL)?;
    let mut lines = String::new();
    for entry in entries {
        let doc = entry.doc;
        let at = doc["epoch"].as_i64().unwrap_or(0);
        let wanted = doc["kind"] == kind
            && (start..=end).contains(&at)
            && processor
                .as_deref()
                .is_none_or(|p| doc["spName"].as_str() == Some(p));
        if wanted {
            let mut line = doc.clone();
            if let Value::Object(map) = &mut line {
                map.remove("epoch");
                map.remove("kind");
            }
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
    }
    let tenant = instance.doc["name"].as_str().unwrap_or_default();
    let sp = processor.as_deref().unwrap_or("all");
    let name = if audit {
        format!("{tenant}_{sp}_{start}_{end}_audit.log.gz")
    } else {
        format!("{tenant}_{sp}_{start}_{end}_queries.gz")
    };
    Ok(download::gzip_reply(
        cx.render.status(),
        lines.as_bytes(),
        &name,
    ))
}
