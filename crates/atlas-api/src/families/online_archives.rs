//! Online archives (`/groups/{groupId}/clusters/{clusterName}/onlineArchives`): archives of one
//! collection of a dedicated cluster, with their criteria (DATE on a date field, or a CUSTOM
//! query), partition fields, schedule, data expiration and data process region, and their states:
//! `PENDING` → `ACTIVE` once created, `PAUSING` → `PAUSED` when paused, back to `ACTIVE` when
//! resumed. A deleted archive is gone at once (200 `{}`, then 404 `RESOURCE_NOT_FOUND`,
//! semantics §8), and the query-log download is a real gzip of the archive queries' log lines.
//!
//! Recorded shapes (Atlas CLI e2e snapshots, April 2025): the create answer is 200 with
//! `state: PENDING`, `paused: false`, `schedule: {"type": "DEFAULT"}` and the data process region
//! of the cluster when none was asked for; updating `expireAfterDays` of a `PENDING` archive is
//! allowed, pausing it is 409 `ONLINE_ARCHIVE_MUST_BE_ACTIVE_TO_PAUSE`, resuming it is 400
//! `ONLINE_ARCHIVE_CANNOT_MODIFY_FIELD`.

use atlas_model::OperationId;
use atlas_store::Record;
use serde_json::{Map, Value, json};

use super::clusters;
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::families::shared::support::invalid;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::download;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle;
use crate::kernel::lifecycle::kinds;
use crate::kernel::paging::Paging;

pub struct OnlineArchives;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupClusterOnlineArchives,
    OperationId::CreateGroupClusterOnlineArchive,
    OperationId::GetGroupClusterOnlineArchive,
    OperationId::UpdateGroupClusterOnlineArchive,
    OperationId::DeleteGroupClusterOnlineArchive,
    OperationId::DownloadGroupClusterOnlineArchiveQueryLogs,
];

impl Behaviour for OnlineArchives {
    fn name(&self) -> &'static str {
        "online_archives"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let (cluster, collection) = clusters::current_child(cx, "onlineArchives")?;
        match cx.call.op.id {
            OperationId::ListGroupClusterOnlineArchives => {
                let archives = lifecycle::settle_all(cx.tx, cx.lifecycle, &collection, &cx.now)?;
                let paging = Paging::of(cx.call);
                let total = archives.len() as u64;
                let results = paging.slice(archives).into_iter().map(|r| r.doc).collect();
                Ok(Reply::json(
                    200,
                    cx.render.fit(&paging.body(cx.call, results, total)),
                ))
            }
            OperationId::CreateGroupClusterOnlineArchive => create(cx, &cluster, &collection),
            OperationId::GetGroupClusterOnlineArchive => {
                let archive = current(cx, &collection)?;
                Ok(Reply::json(200, cx.render.fit(&archive.doc)))
            }
            OperationId::UpdateGroupClusterOnlineArchive => update(cx, &collection),
            OperationId::DeleteGroupClusterOnlineArchive => {
                let archive = current(cx, &collection)?;
                cx.tx.delete(&collection, &archive.key)?;
                // Recorded: 200 with `{}` although the spec declares 204 (semantics §7.5).
                Ok(Reply::json(cx.render.status(), json!({})))
            }
            _ => query_logs(cx, &collection),
        }
    }
}

/// The archive the path names, settled for this read, or Atlas's 404.
fn current(cx: &mut Ctx<'_>, collection: &str) -> Result<Record, ApiError> {
    let id = cx
        .call
        .path_param("archiveId")
        .unwrap_or_default()
        .to_owned();
    lifecycle::get_settled(cx.tx, cx.lifecycle, collection, &id, &cx.now)?.ok_or_else(|| {
        api_error!(RESOURCE_NOT_FOUND, format!("Online archive with id {id}")).keeping_writes()
    })
}

fn str_of<'a>(doc: &'a Value, pointer: &str) -> &'a str {
    doc.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn create(cx: &mut Ctx<'_>, cluster: &Record, collection: &str) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let db = str_of(&body, "/dbName").to_owned();
    let coll = str_of(&body, "/collName").to_owned();
    let collection_type = body
        .get("collectionType")
        .and_then(Value::as_str)
        .unwrap_or("STANDARD")
        .to_owned();
    let criteria = criteria(&body, &collection_type)?;
    let partition_fields = partition_fields(&body, &criteria)?;
    let region = data_process_region(&cluster.doc, body.get("dataProcessRegion"))?;
    let archives = lifecycle::settle_all(cx.tx, cx.lifecycle, collection, &cx.now)?;
    let paused = body.get("paused").and_then(Value::as_bool) == Some(true);
    if !paused {
        one_active_per_collection(&archives, &db, &coll, None)?;
    }
    let id = ids::object_id(cx.now.get());
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let mut doc = json!({
        "_id": id,
        "clusterName": cluster.key,
        "collName": coll,
        "collectionType": collection_type,
        "criteria": criteria,
        "dataProcessRegion": region,
        // The Data Federation dataset the archive is queried through.
        "dataSetName": format!("v1$atlas$archive${db}${coll}${id}"),
        "dbName": db,
        "groupId": group,
        "partitionFields": partition_fields,
        "paused": paused,
        "schedule": body.get("schedule").cloned().unwrap_or_else(|| json!({"type": "DEFAULT"})),
    });
    if let Some(rule) = body.get("dataExpirationRule") {
        doc["dataExpirationRule"] = rule.clone();
    }
    if paused {
        doc["state"] = json!("PAUSED");
    } else {
        kinds::online_archive::ACTIVATE.begin(cx.tx, &mut doc, cx.now.get())?;
    }
    cx.tx.insert(collection, &id, &doc)?;
    Ok(Reply::json(cx.render.status(), cx.render.fit(&doc)))
}

/// The stored criteria: DATE needs its date field (and gets `ISODATE` by default); CUSTOM needs
/// a JSON query; a TIMESERIES collection archives by an ISODATE date only (seed page).
fn criteria(body: &Value, collection_type: &str) -> Result<Value, ApiError> {
    let mut criteria = body.get("criteria").cloned().unwrap_or_else(|| json!({}));
    let kind = str_of(&criteria, "/type").to_owned();
    match kind.as_str() {
        "DATE" => {
            if str_of(&criteria, "/dateField").is_empty() {
                return Err(invalid("criteria.dateField is required for DATE criteria"));
            }
            if criteria.get("dateFormat").is_none() {
                criteria["dateFormat"] = json!("ISODATE");
            }
        }
        "CUSTOM" => {
            let query = str_of(&criteria, "/query");
            if serde_json::from_str::<Map<String, Value>>(query).is_err() {
                return Err(invalid(
                    "criteria.query must be a JSON query document for CUSTOM criteria",
                ));
            }
        }
        _ => return Err(invalid("criteria.type must be DATE or CUSTOM")),
    }
    if collection_type == "TIMESERIES"
        && (kind != "DATE" || str_of(&criteria, "/dateFormat") != "ISODATE")
    {
        return Err(invalid(
            "TIMESERIES collections are archived with criteria.type DATE and criteria.dateFormat ISODATE",
        ));
    }
    Ok(criteria)
}

/// The partition fields: the DATE criteria's field always comes first (it is required among
/// them), then the others in their order; at most three for DATE, two for CUSTOM (seed page).
fn partition_fields(body: &Value, criteria: &Value) -> Result<Value, ApiError> {
    let mut given: Vec<Value> = body
        .get("partitionFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    given.sort_by_key(|f| f.get("order").and_then(Value::as_i64).unwrap_or(0));
    let mut names: Vec<String> = Vec::new();
    let date_field = str_of(criteria, "/dateField");
    let is_date = str_of(criteria, "/type") == "DATE";
    if is_date {
        names.push(date_field.to_owned());
    }
    for field in &given {
        let name = str_of(field, "/fieldName");
        if name.is_empty() {
            return Err(invalid("partitionFields[].fieldName must not be empty"));
        }
        if is_date && name == date_field {
            continue;
        }
        if names.iter().any(|n| n == name) {
            return Err(invalid(format!("partition field {name} is listed twice")));
        }
        names.push(name.to_owned());
    }
    let max = if is_date { 3 } else { 2 };
    if names.len() > max {
        return Err(invalid(format!(
            "at most {max} partition fields are allowed with {} criteria",
            str_of(criteria, "/type")
        )));
    }
    Ok(Value::Array(
        names
            .iter()
            .enumerate()
            .map(|(order, name)| {
                let mut field = json!({"fieldName": name, "order": order});
                if is_date && order == 0 {
                    field["fieldType"] = json!("date");
                }
                field
            })
            .collect(),
    ))
}

/// Regions a Data Federation can process archives in, per provider (the spec's enums).
fn process_regions(provider: &str) -> &'static [&'static str] {
    match provider {
        "AWS" => &[
            "US_EAST_1",
            "US_WEST_2",
            "SA_EAST_1",
            "EU_WEST_1",
            "EU_WEST_2",
            "EU_CENTRAL_1",
            "AP_SOUTH_1",
            "AP_SOUTHEAST_1",
            "AP_SOUTHEAST_2",
            "AP_NORTHEAST_2",
        ],
        "AZURE" => &["US_EAST_2", "EUROPE_WEST", "BRAZIL_SOUTH"],
        "GCP" => &["CENTRAL_US", "WESTERN_EUROPE"],
        _ => &[],
    }
}

/// The asked region (on the cluster's cloud provider), or the cluster's own region when the
/// provider processes archives there, else the provider's first processing region.
fn data_process_region(cluster: &Value, asked: Option<&Value>) -> Result<Value, ApiError> {
    let provider = str_of(cluster, "/replicationSpecs/0/regionConfigs/0/providerName");
    let provider = if provider.is_empty() { "AWS" } else { provider };
    let home = str_of(cluster, "/replicationSpecs/0/regionConfigs/0/regionName");
    if let Some(asked) = asked.filter(|a| a.is_object()) {
        let asked_provider = str_of(asked, "/cloudProvider");
        if !asked_provider.is_empty() && asked_provider != provider {
            return Err(invalid(format!(
                "the data process region must be on the cluster's cloud provider {provider}"
            )));
        }
        let region = str_of(asked, "/region");
        if !region.is_empty() {
            return Ok(json!({"cloudProvider": provider, "region": region}));
        }
    }
    let regions = process_regions(provider);
    let region = if regions.contains(&home) {
        home
    } else {
        regions.first().copied().unwrap_or(home)
    };
    Ok(json!({"cloudProvider": provider, "region": region}))
}

/// A collection has one archive that is not paused (seed page: a resume fails if the collection
/// has another active online archive).
fn one_active_per_collection(
    archives: &[Record],
    db: &str,
    coll: &str,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let active = archives.iter().any(|a| {
        Some(a.key.as_str()) != except
            && str_of(&a.doc, "/dbName") == db
            && str_of(&a.doc, "/collName") == coll
            && matches!(str_of(&a.doc, "/state"), "PENDING" | "ACTIVE")
    });
    if active {
        return Err(invalid(format!(
            "collection {db}.{coll} already has an active online archive"
        )));
    }
    Ok(())
}

fn update(cx: &mut Ctx<'_>, collection: &str) -> Result<Reply, ApiError> {
    let mut archive = current(cx, collection)?;
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let doc = &mut archive.doc;
    if let Some(asked) = body.get("criteria") {
        let stored = doc.get("criteria").cloned().unwrap_or_else(|| json!({}));
        // Only how long data waits (DATE) or what is archived (CUSTOM query) may change.
        for key in ["type", "dateField", "dateFormat"] {
            if let Some(v) = asked.get(key)
                && stored.get(key) != Some(v)
            {
                return Err(api_error!(ONLINE_ARCHIVE_CANNOT_MODIFY_FIELD));
            }
        }
        let mut merged = stored;
        for key in ["expireAfterDays", "query"] {
            if let Some(v) = asked.get(key) {
                merged[key] = v.clone();
            }
        }
        doc["criteria"] = merged;
    }
    if let Some(asked) = body.get("dataProcessRegion")
        && asked
            .get("region")
            .is_some_and(|r| Some(r) != doc.pointer("/dataProcessRegion/region"))
    {
        return Err(api_error!(ONLINE_ARCHIVE_CANNOT_MODIFY_FIELD));
    }
    for key in ["schedule", "dataExpirationRule"] {
        match body.get(key) {
            Some(Value::Null) => {
                if let Value::Object(map) = doc {
                    map.remove(key);
                }
            }
            Some(v) => doc[key] = v.clone(),
            None => {}
        }
    }
    let state = str_of(doc, "/state").to_owned();
    match body.get("paused").and_then(Value::as_bool) {
        Some(true) if !matches!(state.as_str(), "PAUSING" | "PAUSED") => {
            if state != "ACTIVE" {
                return Err(api_error!(ONLINE_ARCHIVE_MUST_BE_ACTIVE_TO_PAUSE));
            }
            doc["paused"] = json!(true);
            kinds::online_archive::PAUSE.begin(cx.tx, doc, cx.now.get())?;
        }
        Some(false) if matches!(state.as_str(), "PAUSING" | "PAUSED") => {
            let archives = lifecycle::settle_all(cx.tx, cx.lifecycle, collection, &cx.now)?;
            let (db, coll) = (str_of(doc, "/dbName"), str_of(doc, "/collName"));
            one_active_per_collection(&archives, db, coll, Some(&archive.key))?;
            if let Value::Object(map) = doc {
                map.remove(lifecycle::TRANSITION);
            }
            doc["paused"] = json!(false);
            doc["state"] = json!("ACTIVE");
        }
        // Resuming an archive that has not started yet is refused (recorded: CLI `start` on a
        // PENDING archive).
        Some(false) if state == "PENDING" => {
            return Err(api_error!(ONLINE_ARCHIVE_CANNOT_MODIFY_FIELD));
        }
        _ => {}
    }
    cx.tx.update(collection, &archive.key, &archive.doc)?;
    Ok(Reply::json(200, cx.render.fit(&archive.doc)))
}

/// `queryLogs.gz`: one JSON log line per query the archives of this cluster served in the
/// window (derived, deterministic: one per archive per hour it has been active).
fn query_logs(cx: &mut Ctx<'_>, collection: &str) -> Result<Reply, ApiError> {
    let now = cx.now.get().unix_timestamp();
    let param = |name: &str| {
        cx.call
            .query_param(name)
            .and_then(|v| v.parse::<i64>().ok())
    };
    let end = param("endDate").unwrap_or(now).min(now);
    let start = param("startDate").unwrap_or(end - 86_400);
    if start > end {
        return Err(api_error!(START_DATE_AFTER_END_DATE));
    }
    let archives = lifecycle::settle_all(cx.tx, cx.lifecycle, collection, &cx.now)?;
    let cluster = cx
        .call
        .path_param("clusterName")
        .unwrap_or_default()
        .to_owned();
    let mut lines = String::new();
    for archive in archives {
        let created = archive.doc["_id"]
            .as_str()
            .and_then(|id| id.get(..8))
            .and_then(|h| i64::from_str_radix(h, 16).ok())
            .unwrap_or(now);
        let mut at = created.max(start) / 3600 * 3600 + 3600;
        while at <= end && lines.len() < 1 << 20 {
            let line = json!({
                "t": {"$date": atlas_timestamp(time::OffsetDateTime::from_unix_timestamp(at).unwrap_or(cx.now.get()))},
                "s": "I", "c": "QUERY", "ctx": "online-archive",
                "msg": "query served by online archive",
                "attr": {
                    "archiveId": archive.doc["_id"], "cluster": cluster,
                    "ns": format!("{}.{}", str_of(&archive.doc, "/dbName"), str_of(&archive.doc, "/collName")),
                    "dataSetName": archive.doc["dataSetName"],
                },
            });
            lines.push_str(&line.to_string());
            lines.push('\n');
            at += 3600;
        }
    }
    Ok(download::gzip_reply(
        cx.render.status(),
        lines.as_bytes(),
        &format!("{cluster}-queryLogs.gz"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_field_leads_the_partition_fields() {
        let criteria = json!({"type": "DATE", "dateField": "created"});
        let body = json!({"partitionFields": [{"fieldName": "city", "order": 0}]});
        let fields = partition_fields(&body, &criteria).unwrap();
        assert_eq!(fields[0]["fieldName"], "created");
        assert_eq!(fields[0]["fieldType"], "date");
        assert_eq!(fields[1]["fieldName"], "city");
        assert_eq!(fields[1]["order"], 1);
        let four = json!({"partitionFields": [
            {"fieldName": "a", "order": 0}, {"fieldName": "b", "order": 1},
            {"fieldName": "c", "order": 2}]});
        assert!(partition_fields(&four, &criteria).is_err());
        let custom = json!({"type": "CUSTOM", "query": "{}"});
        assert!(partition_fields(&four, &custom).is_err());
    }

    #[test]
    fn criteria_rules() {
        assert!(criteria(&json!({"criteria": {"type": "DATE"}}), "STANDARD").is_err());
        let date = json!({"criteria": {"type": "DATE", "dateField": "d"}});
        assert_eq!(
            criteria(&date, "STANDARD").unwrap()["dateFormat"],
            "ISODATE"
        );
        let epoch =
            json!({"criteria": {"type": "DATE", "dateField": "d", "dateFormat": "EPOCH_SECONDS"}});
        assert!(criteria(&epoch, "TIMESERIES").is_err());
        let custom = json!({"criteria": {"type": "CUSTOM", "query": "{\"x\": 1}"}});
        assert!(criteria(&custom, "STANDARD").is_ok());
        assert!(criteria(&custom, "TIMESERIES").is_err());
        let bad = json!({"criteria": {"type": "CUSTOM", "query": "x"}});
        assert!(criteria(&bad, "STANDARD").is_err());
    }
}
