//! Stream processors of an instance (`/streams/{tenantName}/processor[s]`): created (the seed
//! POST) with a pipeline that starts with `$source` and ends with `$merge` or `$emit`, every
//! `connectionName` it mentions naming a connection of the instance, and an optional dead letter
//! queue on an existing Cluster connection (400 otherwise); states `CREATED` → `STARTED`
//! (`:start`, `:startWith`) → `STOPPED` (`:stop`), and `FAILED` when a connection it uses has been
//! deleted while it runs (semantics §8: free-form `CREATED, STARTED, STOPPED, FAILED`). A running
//! processor's statistics grow with the injected clock; it must be stopped before it is changed.

use atlas_model::OperationId;
use atlas_store::Record;
use serde_json::{Value, json};

use super::{connections, link, logs, under};
use crate::api_error;
use crate::engine::Ctx;
use crate::families::shared::support::invalid;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paging::Paging;
use crate::kernel::paths::segment;

/// Messages a running processor reads per second, and their average size in bytes.
const RATE: i64 = 1;
const MESSAGE_BYTES: i64 = 260;

pub(super) fn handle(cx: &mut Ctx<'_>, instance: &Record) -> Result<Reply, ApiError> {
    let collection = under(instance, "processor");
    use OperationId as Op;
    match cx.call.op.id {
        Op::CreateGroupStreamProcessor => create(cx, instance, &collection),
        Op::GetGroupStreamProcessors => {
            let (records, _) = cx.tx.list(&collection, atlas_store::Page::ALL)?;
            let paging = Paging::of(cx.call);
            let total = records.len() as u64;
            let mut results = Vec::new();
            for record in paging.slice(records) {
                let record = settled(cx, instance, &collection, record)?;
                results.push(with_stats(cx, &collection, &record.doc));
            }
            Ok(Reply::json(
                200,
                cx.render.fit(&paging.body(cx.call, results, total)),
            ))
        }
        Op::GetGroupStreamProcessor => {
            let record = current(cx, instance, &collection)?;
            Ok(Reply::json(
                200,
                cx.render.fit(&with_stats(cx, &collection, &record.doc)),
            ))
        }
        Op::UpdateGroupStreamProcessor => modify(cx, instance, &collection),
        Op::DeleteGroupStreamProcessor => {
            let record = current(cx, instance, &collection)?;
            cx.tx.delete(&collection, &record.key)?;
            logs::audit(cx, instance, "dropStreamProcessor", name_of(&record.doc))?;
            Ok(Reply::empty(cx.render.status()))
        }
        Op::StopGroupStreamProcessor => {
            let mut record = current(cx, instance, &collection)?;
            if record.doc["state"] == "STARTED" {
                stop(cx, &mut record.doc, "STOPPED");
                cx.tx.update(&collection, &record.key, &record.doc)?;
                logs::audit(cx, instance, "stopStreamProcessor", name_of(&record.doc))?;
                logs::operational(cx, instance, &record.doc, "stopped")?;
            }
            Ok(Reply::json(cx.render.status(), json!({})))
        }
        _ => {
            let mut record = current(cx, instance, &collection)?;
            if record.doc["state"] != "STARTED" {
                if let Some(tier) = cx.call.body.as_ref().and_then(|b| b.get("tier")) {
                    record.doc["tier"] = tier.clone();
                }
                record.doc["state"] = json!("STARTED");
                record.doc["__startedAt"] = json!(cx.now.get().unix_timestamp());
                record.doc["__lastStateChange"] = json!(super::timestamp(cx));
                record.doc["__failure"] = Value::Null;
                cx.tx.update(&collection, &record.key, &record.doc)?;
                logs::audit(cx, instance, "startStreamProcessor", name_of(&record.doc))?;
                logs::operational(cx, instance, &record.doc, "started")?;
                // A connection deleted while it was stopped makes it fail at once.
                settled(cx, instance, &collection, record)?;
            }
            Ok(Reply::json(cx.render.status(), json!({})))
        }
    }
}

fn name_of(doc: &Value) -> Option<&str> {
    doc["name"].as_str()
}

/// The processor the path names, settled for this read, or a 404.
fn current(cx: &mut Ctx<'_>, instance: &Record, collection: &str) -> Result<Record, ApiError> {
    let name = cx.call.path_param("processorName").unwrap_or_default();
    let record = cx
        .tx
        .get(collection, &segment(name))?
        .ok_or_else(|| api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()))?;
    settled(cx, instance, collection, record)
}

/// A running processor whose connection is gone has failed.
fn settled(
    cx: &mut Ctx<'_>,
    instance: &Record,
    collection: &str,
    mut record: Record,
) -> Result<Record, ApiError> {
    if record.doc["state"] != "STARTED" {
        return Ok(record);
    }
    let mut missing = None;
    for name in connection_names(&record.doc) {
        if connections::find(cx, instance, &name)?.is_none() {
            missing = Some(name);
            break;
        }
    }
    if let Some(name) = missing {
        stop(cx, &mut record.doc, "FAILED");
        record.doc["__failure"] = json!(format!("connection {name} no longer exists"));
        cx.tx.update(collection, &record.key, &record.doc)?;
        logs::operational(cx, instance, &record.doc, "failed")?;
    }
    Ok(record)
}

/// Ends a run: the seconds it ran are added to the processor's total.
fn stop(cx: &Ctx<'_>, doc: &mut Value, state: &str) {
    let ran = running_seconds(cx, doc);
    doc["__runSeconds"] = json!(ran);
    doc["__startedAt"] = Value::Null;
    doc["state"] = json!(state);
    doc["__lastStateChange"] = json!(super::timestamp(cx));
}

fn running_seconds(cx: &Ctx<'_>, doc: &Value) -> i64 {
    let before = doc["__runSeconds"].as_i64().unwrap_or(0);
    let current = doc["__startedAt"]
        .as_i64()
        .map_or(0, |at| (cx.now.get().unix_timestamp() - at).max(0));
    before + current
}

/// Every `connectionName` the pipeline mentions (`$source`, `$merge.into`, `$emit`, `$lookup`,
/// `$https` ... all name their connection with this key).
fn connection_names(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("connectionName", Value::String(name)) => {
                            if !out.contains(name) {
                                out.push(name.clone());
                            }
                        }
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&doc["pipeline"], &mut out);
    out
}

/// The pipeline and dead letter queue rules, against the instance's connections.
fn check(cx: &mut Ctx<'_>, instance: &Record, doc: &Value) -> Result<(), ApiError> {
    let stages = doc["pipeline"].as_array().cloned().unwrap_or_default();
    let stage_name = |stage: Option<&Value>| {
        stage
            .and_then(Value::as_object)
            .filter(|m| m.len() == 1)
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_default()
    };
    if stage_name(stages.first()) != "$source" {
        return Err(invalid(
            "a stream processor pipeline starts with a $source stage",
        ));
    }
    if !matches!(stage_name(stages.last()).as_str(), "$merge" | "$emit") {
        return Err(invalid(
            "a stream processor pipeline ends with a $merge or $emit stage",
        ));
    }
    let tenant = instance.doc["name"].as_str().unwrap_or_default().to_owned();
    for name in connection_names(doc) {
        if connections::find(cx, instance, &name)?.is_none() {
            return Err(invalid(format!(
                "connection {name} does not exist in stream instance {tenant}"
            )));
        }
    }
    if let Some(dlq) = doc.pointer("/options/dlq").filter(|d| d.is_object()) {
        let name = dlq["connectionName"].as_str().unwrap_or_default();
        match connections::find(cx, instance, name)? {
            Some(c) if c.doc["type"] == "Cluster" => {}
            Some(_) => {
                return Err(invalid(format!(
                    "the dead letter queue connection {name} is not a Cluster connection"
                )));
            }
            None => {
                return Err(invalid(format!(
                    "the dead letter queue connection {name} does not exist in stream instance {tenant}"
                )));
            }
        }
        if dlq["db"].as_str().unwrap_or_default().is_empty()
            || dlq["coll"].as_str().unwrap_or_default().is_empty()
        {
            return Err(invalid("the dead letter queue needs a db and a coll"));
        }
    }
    Ok(())
}

/// The processor as created or modified (`StreamsProcessor`), with its links.
fn shown(cx: &Ctx<'_>, collection: &str, doc: &Value) -> Value {
    let mut doc = doc.clone();
    let self_link = link(
        cx,
        &format!(
            "{collection}/{}",
            segment(name_of(&doc).unwrap_or_default())
        ),
    );
    if doc["options"].is_object() {
        doc["options"]["links"] = self_link.clone();
        if doc["options"]["dlq"].is_object() {
            doc["options"]["dlq"]["links"] = self_link.clone();
        }
    }
    doc["links"] = self_link;
    doc
}

/// The processor with its statistics (`StreamsProcessorWithStats`).
fn with_stats(cx: &Ctx<'_>, collection: &str, doc: &Value) -> Value {
    let mut shown = shown(cx, collection, doc);
    let ran = running_seconds(cx, doc);
    let started = doc.get("__lastStateChange").is_some();
    if started {
        let count = ran * RATE;
        let mut stats = json!({
            "ok": 1,
            "processorId": doc["_id"],
            "name": doc["name"],
            "status": doc["state"].as_str().unwrap_or_default().to_ascii_lowercase(),
            "scaleFactor": 1,
            "inputMessageCount": count,
            "inputMessageSize": count * MESSAGE_BYTES,
            "outputMessageCount": count,
            "outputMessageSize": count * MESSAGE_BYTES,
            "dlqMessageCount": 0,
            "dlqMessageSize": 0,
            "stateSize": 0,
            "memoryTrackerBytes": 0,
            "lastStateChange": doc["__lastStateChange"],
        });
        if let Some(reason) = doc["__failure"].as_str() {
            stats["errorMsg"] = json!(reason);
        }
        shown["stats"] = stats;
    }
    shown
}

fn create(cx: &mut Ctx<'_>, instance: &Record, collection: &str) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    if name.is_empty() {
        return Err(invalid("the stream processor needs a name"));
    }
    check(cx, instance, &body)?;
    if cx.tx.get(collection, &segment(&name))?.is_some() {
        return Err(api_error!(RESOURCE_ALREADY_EXISTS, name.as_str()));
    }
    let mut doc = json!({
        "_id": ids::object_id(cx.now.get()),
        "name": name,
        "pipeline": body["pipeline"],
        "state": "CREATED",
    });
    for key in ["options", "tier", "failoverEnabled"] {
        if let Some(v) = body.get(key) {
            doc[key] = v.clone();
        }
    }
    cx.tx.insert(collection, &segment(&name), &doc)?;
    logs::audit(cx, instance, "createStreamProcessor", Some(&name))?;
    Ok(Reply::json(
        cx.render.status(),
        cx.render.fit(&shown(cx, collection, &doc)),
    ))
}

fn modify(cx: &mut Ctx<'_>, instance: &Record, collection: &str) -> Result<Reply, ApiError> {
    let mut record = current(cx, instance, collection)?;
    if record.doc["state"] == "STARTED" {
        return Err(invalid("stop the stream processor before modifying it"));
    }
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let doc = &mut record.doc;
    for key in ["name", "pipeline", "tier", "failoverEnabled"] {
        if let Some(v) = body.get(key) {
            doc[key] = v.clone();
        }
    }
    if let Some(Value::Object(options)) = body.get("options") {
        for (k, v) in options {
            // Whether to resume from the checkpoint applies to the next start only.
            if k != "resumeFromCheckpoint" {
                doc["options"][k] = v.clone();
            }
        }
    }
    check(cx, instance, &record.doc)?;
    let name = name_of(&record.doc).unwrap_or_default().to_owned();
    if segment(&name) != record.key {
        if cx.tx.get(collection, &segment(&name))?.is_some() {
            return Err(api_error!(RESOURCE_ALREADY_EXISTS, name.as_str()));
        }
        cx.tx.delete(collection, &record.key)?;
        cx.tx.insert(collection, &segment(&name), &record.doc)?;
    } else {
        cx.tx.update(collection, &record.key, &record.doc)?;
    }
    logs::audit(cx, instance, "modifyStreamProcessor", Some(&name))?;
    Ok(Reply::json(
        200,
        cx.render.fit(&with_stats(cx, collection, &record.doc)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connection_name_is_found() {
        let doc = json!({"pipeline": [
            {"$source": {"connectionName": "in"}},
            {"$lookup": {"from": {"connectionName": "lookup", "db": "d", "coll": "c"}}},
            {"$merge": {"into": {"connectionName": "out", "db": "d", "coll": "c"}}},
        ]});
        assert_eq!(connection_names(&doc), ["in", "lookup", "out"]);
    }
}
