//! The connections of a stream instance (`/streams/{tenantName}/connections`), in the shape of
//! their type (`Cluster`, `Kafka`, `Sample`, `Https`, `AWSLambda`, `S3`, `AWSKinesisDataStreams`,
//! `SchemaRegistry`, `AzureBlobStorage`, `GCPPubSub`), `READY` once created (semantics §8: POST
//! 200 `READY`), and their failover connections (2025-03-12, POST 201). A Cluster connection
//! names an existing cluster of the project (or of `clusterGroupId`). Secrets (Kafka passwords
//! and keys, OAuth client secrets) are write-only in the spec and never shown.

use atlas_model::OperationId;
use atlas_store::Record;
use serde_json::{Value, json};

use super::{link, logs, under};
use crate::api_error;
use crate::engine::Ctx;
use crate::families::shared::support::invalid;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paging::Paging;
use crate::kernel::paths::segment;
use crate::kernel::render::merge_patch;

/// The connection every sample-data processor reads from (Atlas's solar sample stream).
pub const SAMPLE: &str = "sample_stream_solar";

pub(super) fn handle(cx: &mut Ctx<'_>, instance: &Record) -> Result<Reply, ApiError> {
    let collection = under(instance, "connections");
    use OperationId as Op;
    match cx.call.op.id {
        Op::ListGroupStreamConnections => list(cx, &collection),
        Op::CreateGroupStreamConnection => {
            let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
            let name = body["name"].as_str().unwrap_or_default().to_owned();
            if name.is_empty() {
                return Err(invalid("the connection needs a name"));
            }
            if cx.tx.get(&collection, &segment(&name))?.is_some() {
                return Err(api_error!(RESOURCE_ALREADY_EXISTS, name.as_str()));
            }
            let mut doc = checked(cx, body)?;
            // Recorded (TestStreamsWithClusters, POST 200): a new connection has an id, and a
            // Cluster connection shows the instance's region.
            doc["id"] = json!(ids::object_id(cx.now.get()));
            if doc["type"] == "Cluster" {
                doc["region"] = instance.doc["dataProcessRegion"]["region"].clone();
            }
            cx.tx.insert(&collection, &segment(&name), &doc)?;
            logs::audit(cx, instance, "createConnection", Some(&name))?;
            Ok(Reply::json(
                cx.render.status(),
                shown(cx, &collection, &doc),
            ))
        }
        Op::GetGroupStreamConnection => {
            let connection = current(cx, &collection)?;
            Ok(Reply::json(200, shown(cx, &collection, &connection.doc)))
        }
        Op::UpdateGroupStreamConnection => {
            let mut connection = current(cx, &collection)?;
            let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
            for key in ["type", "name"] {
                if body.get(key).is_some_and(|v| *v != connection.doc[key]) {
                    return Err(invalid(format!("a connection's {key} cannot change")));
                }
            }
            merge_patch(&mut connection.doc, &body);
            let doc = checked(cx, connection.doc)?;
            cx.tx.update(&collection, &connection.key, &doc)?;
            let name = doc["name"].as_str().unwrap_or_default().to_owned();
            logs::audit(cx, instance, "modifyConnection", Some(&name))?;
            Ok(Reply::json(200, shown(cx, &collection, &doc)))
        }
        Op::DeleteGroupStreamConnection => {
            let connection = current(cx, &collection)?;
            cx.tx.delete(&collection, &connection.key)?;
            cx.tx
                .delete_tree(&format!("{collection}/{}", connection.key))?;
            let name = connection.doc["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            logs::audit(cx, instance, "deleteConnection", Some(&name))?;
            // Recorded: 202 with `{}` (semantics §7.5).
            Ok(Reply::json(cx.render.status(), json!({})))
        }
        _ => {
            let connection = current(cx, &collection)?;
            failover(cx, &collection, &connection)
        }
    }
}

fn current(cx: &mut Ctx<'_>, collection: &str) -> Result<Record, ApiError> {
    let name = cx.call.path_param("connectionName").unwrap_or_default();
    cx.tx
        .get(collection, &segment(name))?
        .ok_or_else(|| api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()))
}

/// The connection `name` of an instance, if it exists.
pub(super) fn find(
    cx: &mut Ctx<'_>,
    instance: &Record,
    name: &str,
) -> Result<Option<Record>, ApiError> {
    Ok(cx.tx.get(&under(instance, "connections"), &segment(name))?)
}

/// Adds the solar sample connection (`streams:withSampleConnections`, `sampleConnections`).
pub(super) fn add_sample(cx: &mut Ctx<'_>, instance: &Record) -> Result<(), ApiError> {
    let doc = json!({"name": SAMPLE, "type": "Sample", "state": "READY"});
    cx.tx
        .upsert(&under(instance, "connections"), &segment(SAMPLE), &doc)?;
    Ok(())
}

fn shown(cx: &Ctx<'_>, collection: &str, doc: &Value) -> Value {
    let mut doc = doc.clone();
    let name = doc["name"].as_str().unwrap_or_default().to_owned();
    doc["links"] = link(cx, &format!("{collection}/{}", segment(&name)));
    cx.render.fit(&doc)
}

fn list(cx: &mut Ctx<'_>, collection: &str) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let (records, total) = cx.tx.list(collection, paging.window())?;
    let results = records
        .iter()
        .map(|r| {
            let mut doc = r.doc.clone();
            doc["links"] = link(cx, &format!("{collection}/{}", r.key));
            doc
        })
        .collect();
    Ok(Reply::json(
        200,
        cx.render.fit(&paging.body(cx.call, results, total)),
    ))
}

/// The connection's rules by type; the stored document is `READY`.
fn checked(cx: &mut Ctx<'_>, mut doc: Value) -> Result<Value, ApiError> {
    match doc["type"].as_str().unwrap_or_default() {
        "Cluster" => {
            let cluster = doc["clusterName"].as_str().unwrap_or_default().to_owned();
            let group = match doc["clusterGroupId"].as_str() {
                Some(g) if !g.is_empty() => g.to_owned(),
                _ => cx.scope.group_id.clone().unwrap_or_default(),
            };
            let clusters = format!("/groups/{}/clusters", segment(&group));
            if cluster.is_empty() || cx.tx.get(&clusters, &segment(&cluster))?.is_none() {
                return Err(api_error!(
                    CLUSTER_NOT_FOUND,
                    cluster.as_str(),
                    group.as_str()
                ));
            }
            if doc.get("dbRoleToExecute").is_none() {
                doc["dbRoleToExecute"] =
                    json!({"role": "readWriteAnyDatabase", "type": "BUILT_IN"});
            }
        }
        "Kafka" => {
            if doc["bootstrapServers"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
            {
                return Err(invalid("a Kafka connection needs bootstrapServers"));
            }
            if doc.get("networking").is_none() {
                doc["networking"] = json!({"access": {"type": "PUBLIC"}});
            }
        }
        "Https" => {
            let url = doc["url"].as_str().unwrap_or_default();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid("an Https connection needs an http(s) url"));
            }
        }
        "" => return Err(invalid("the connection needs a type")),
        _ => {}
    }
    doc["state"] = json!("READY");
    Ok(doc)
}

/// Failover connections of a connection (`.../connections/{connectionName}/failoverConnections`).
fn failover(cx: &mut Ctx<'_>, parent: &str, connection: &Record) -> Result<Reply, ApiError> {
    let collection = format!("{parent}/{}/failoverConnections", connection.key);
    let id = cx
        .call
        .path_param("failoverConnectionId")
        .unwrap_or_default()
        .to_owned();
    let shown = |cx: &Ctx<'_>, doc: &Value| {
        let mut doc = doc.clone();
        let id = doc["id"].as_str().unwrap_or_default().to_owned();
        doc["links"] = link(cx, &format!("{collection}/{id}"));
        doc
    };
    let missing = || api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str());
    use OperationId as Op;
    match cx.call.op.id {
        Op::ListGroupStreamConnectionFailoverConnections => {
            let paging = Paging::of(cx.call);
            let (records, total) = cx.tx.list(&collection, paging.window())?;
            let results = records.iter().map(|r| shown(cx, &r.doc)).collect();
            Ok(Reply::json(
                200,
                cx.render.fit(&paging.body(cx.call, results, total)),
            ))
        }
        Op::CreateGroupStreamConnectionFailoverConnection => {
            let mut doc = cx.call.body.clone().unwrap_or_else(|| json!({}));
            if doc["type"] != connection.doc["type"] {
                return Err(invalid(
                    "a failover connection has the type of the connection it stands in for",
                ));
            }
            doc = checked(cx, doc)?;
            let new_id = ids::object_id(cx.now.get());
            doc["id"] = json!(new_id);
            cx.tx.insert(&collection, &new_id, &doc)?;
            Ok(Reply::json(
                cx.render.status(),
                cx.render.fit(&shown(cx, &doc)),
            ))
        }
        Op::GetGroupStreamConnectionFailoverConnection => {
            let record = cx.tx.get(&collection, &segment(&id))?.ok_or_else(missing)?;
            Ok(Reply::json(200, cx.render.fit(&shown(cx, &record.doc))))
        }
        Op::UpdateGroupStreamConnectionFailoverConnection => {
            let mut record = cx.tx.get(&collection, &segment(&id))?.ok_or_else(missing)?;
            let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
            if body.get("type").is_some_and(|t| *t != record.doc["type"]) {
                return Err(invalid("a failover connection's type cannot change"));
            }
            merge_patch(&mut record.doc, &body);
            record.doc["id"] = json!(id);
            let doc = checked(cx, record.doc)?;
            cx.tx.update(&collection, &record.key, &doc)?;
            Ok(Reply::json(200, cx.render.fit(&shown(cx, &doc))))
        }
        _ => {
            let record = cx.tx.get(&collection, &segment(&id))?.ok_or_else(missing)?;
            cx.tx.delete(&collection, &record.key)?;
            Ok(Reply::empty(cx.render.status()))
        }
    }
}
