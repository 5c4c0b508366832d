//! Atlas Search indexes, through both of Atlas's APIs: the 2023-01-01 "fts" API
//! (`/groups/{groupId}/clusters/{clusterName}/fts/indexes…`) and the 2024-05-30 search-index API
//! (`…/search/indexes…`, by id or by database, collection and name). In Atlas they are one index
//! seen two ways, so each index is stored once, under its cluster (keyed by `indexID`), and
//! rendered in the shape of the API that reads it:
//!
//! - 2024-05-30: `indexID`, `name`, `database`, `collectionName`, `type`, `status`, `queryable`,
//!   the definition as `latestDefinition` and its `latestDefinitionVersion` (`{version: 0}` on
//!   creation; every update adds one and stamps `createdAt`);
//! - 2023-01-01: the same identity with the definition flattened at top level (`mappings`,
//!   `analyzer`, `synonyms` (`[]` when none) … or a vector index's `fields`).
//!
//! States (declared in `kernel::lifecycle::kinds::search_index`): a change through the new API
//! starts `BUILD` (`PENDING` → `READY`), one through the fts API starts `FTS_BUILD`
//! (`IN_PROGRESS` → `STEADY`); one state is stored and each view maps it to its own names
//! (`PENDING`↔`IN_PROGRESS`, `READY`↔`STEADY`). A deletion (either API) shows `DELETING` through
//! the new API until the index is gone; the fts API, whose states have no `DELETING`, no longer
//! shows it. `queryable` turns true once a build has completed and stays true through later
//! rebuilds. Names are unique per database and collection (`RESOURCE_ALREADY_EXISTS`).
//!
//! Evidence: atlas-cli e2e `TestSearch` (steps 10–17 of the conformance corpus): POST 2024-05-30
//! → 201 `PENDING`, `queryable: false`, `latestDefinitionVersion: {version: 0}`; the same index
//! read through `GET …/fts/indexes/{indexId}` → `IN_PROGRESS` with the definition flattened and
//! `synonyms: []`; PATCH → `latestDefinition` replaced, `latestDefinitionVersion {version: 1,
//! createdAt}`; `GET …/fts/indexes/{db}/{coll}` → a bare array; DELETE 2024-05-30 → 204; POST fts
//! → 200 `IN_PROGRESS`.

use atlas_model::OperationId;
use atlas_store::Record;
use serde_json::{Map, Value, json};

use super::clusters;
use crate::api_error;
use crate::engine::{Behaviour, Ctx};
use crate::families::shared::support::invalid;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle::{self, Step, kinds::search_index};

pub struct SearchIndexes;

const OPERATIONS: &[OperationId] = &[
    OperationId::CreateGroupClusterFtsIndex,
    OperationId::ListGroupClusterFtsIndex,
    OperationId::GetGroupClusterFtsIndex,
    OperationId::UpdateGroupClusterFtsIndex,
    OperationId::DeleteGroupClusterFtsIndex,
    OperationId::ListGroupClusterSearchIndexes,
    OperationId::CreateGroupClusterSearchIndex,
    OperationId::ListGroupClusterSearchIndex,
    OperationId::GetGroupClusterSearchIndexByName,
    OperationId::UpdateGroupClusterSearchIndexByName,
    OperationId::DeleteGroupClusterSearchIndexByName,
    OperationId::GetGroupClusterSearchIndex,
    OperationId::UpdateGroupClusterSearchIndex,
    OperationId::DeleteGroupClusterSearchIndex,
];

/// Fields of an index that are not part of its definition (the fts API sends them side by side).
const IDENTITY: &[&str] = &[
    "indexID",
    "name",
    "database",
    "collectionName",
    "type",
    "status",
    "queryable",
    "statusDetail",
    "latestDefinition",
    "latestDefinitionVersion",
    "synonymMappingStatus",
    "synonymMappingStatusDetail",
    "links",
];

/// Whether a previous build completed (internal: never rendered).
const QUERYABLE: &str = "__queryable";

/// Which API reads the index.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    /// 2023-01-01 `…/fts/indexes`: the definition flattened.
    Fts,
    /// 2024-05-30 `…/search/indexes`: `latestDefinition` and its version.
    Search,
}

impl View {
    fn of(op: OperationId) -> View {
        match op {
            OperationId::CreateGroupClusterFtsIndex
            | OperationId::ListGroupClusterFtsIndex
            | OperationId::GetGroupClusterFtsIndex
            | OperationId::UpdateGroupClusterFtsIndex
            | OperationId::DeleteGroupClusterFtsIndex => View::Fts,
            _ => View::Search,
        }
    }

    /// The build a change through this API starts.
    fn build(self) -> Step {
        match self {
            View::Fts => search_index::FTS_BUILD,
            View::Search => search_index::BUILD,
        }
    }
}

impl Behaviour for SearchIndexes {
    fn name(&self) -> &'static str {
        "search_indexes"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let (_, collection) = clusters::current_child(cx, "search/indexes")?;
        let view = View::of(cx.call.op.id);
        match cx.call.op.id {
            OperationId::CreateGroupClusterFtsIndex
            | OperationId::CreateGroupClusterSearchIndex => create(cx, &collection, view),
            OperationId::ListGroupClusterSearchIndexes
            | OperationId::ListGroupClusterSearchIndex
            | OperationId::ListGroupClusterFtsIndex => {
                let database = cx.call.path_param("databaseName").map(str::to_owned);
                let coll = cx.call.path_param("collectionName").map(str::to_owned);
                let indexes = lifecycle::settle_all(cx.tx, cx.lifecycle, &collection, &cx.now)?;
                let items: Vec<Value> = indexes
                    .iter()
                    .filter(|r| {
                        database.is_none() || database.as_deref() == Some(text(&r.doc, "database"))
                    })
                    .filter(|r| {
                        coll.is_none() || coll.as_deref() == Some(text(&r.doc, "collectionName"))
                    })
                    .filter_map(|r| render(&r.doc, view))
                    .collect();
                let mut answer = cx.render.fit(&Value::Array(items));
                if let Value::Array(shown) = &mut answer {
                    for item in shown {
                        let id = text(item, "indexID").to_owned();
                        if let Some(index) = indexes.iter().find(|r| r.key == id) {
                            keep_field_mappings(item, &index.doc, view);
                        }
                    }
                }
                Ok(Reply::json(cx.render.status(), answer))
            }
            OperationId::GetGroupClusterFtsIndex
            | OperationId::GetGroupClusterSearchIndex
            | OperationId::GetGroupClusterSearchIndexByName => {
                let index = find(cx, &collection, view)?;
                let doc = render(&index.doc, view).ok_or_else(|| missing(cx))?;
                Ok(answer(cx, &doc, &index.doc, view))
            }
            OperationId::UpdateGroupClusterFtsIndex
            | OperationId::UpdateGroupClusterSearchIndex
            | OperationId::UpdateGroupClusterSearchIndexByName => update(cx, &collection, view),
            _ => delete(cx, &collection, view),
        }
    }
}

fn text<'a>(doc: &'a Value, field: &str) -> &'a str {
    doc.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn missing(cx: &Ctx<'_>) -> ApiError {
    api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()).keeping_writes()
}

/// The index the path names (by id, or by database, collection and name), settled for this
/// read; the fts API does not see an index being deleted.
fn find(cx: &mut Ctx<'_>, collection: &str, view: View) -> Result<Record, ApiError> {
    let found = match cx.call.path_param("indexId") {
        Some(id) => {
            let id = id.to_owned();
            lifecycle::get_settled(cx.tx, cx.lifecycle, collection, &id, &cx.now)?
        }
        None => {
            let wanted = |name: &str| cx.call.path_param(name).unwrap_or_default().to_owned();
            let (database, coll, name) = (
                wanted("databaseName"),
                wanted("collectionName"),
                wanted("indexName"),
            );
            let mut matching: Vec<Record> =
                lifecycle::settle_all(cx.tx, cx.lifecycle, collection, &cx.now)?
                    .into_iter()
                    .filter(|r| {
                        text(&r.doc, "database") == database
                            && text(&r.doc, "collectionName") == coll
                            && text(&r.doc, "name") == name
                    })
                    .collect();
            // A new index may already carry the name of one being deleted: the live one wins.
            matching.sort_by_key(|r| deleting(&r.doc));
            matching.into_iter().next()
        }
    };
    match found {
        Some(record) if view == View::Search || !deleting(&record.doc) => Ok(record),
        _ => Err(missing(cx)),
    }
}

fn deleting(doc: &Value) -> bool {
    text(doc, "status") == search_index::DELETE.from
}

/// Whether the index has been built at least once (its last build, or an earlier one).
fn queryable(doc: &Value) -> bool {
    matches!(text(doc, "status"), "READY" | "STEADY")
        || doc.get(QUERYABLE).and_then(Value::as_bool) == Some(true)
}

/// The stored index in the shape `view` shows, or `None` where that API does not show it.
fn render(doc: &Value, view: View) -> Option<Value> {
    let status = text(doc, "status");
    let mut out = Map::new();
    for field in ["indexID", "name", "database", "collectionName", "type"] {
        if let Some(v) = doc.get(field) {
            out.insert(field.to_owned(), v.clone());
        }
    }
    let definition = doc.get("definition").cloned().unwrap_or_else(|| json!({}));
    match view {
        View::Search => {
            let status = match status {
                "IN_PROGRESS" => "PENDING",
                "STEADY" => "READY",
                other => other,
            };
            out.insert("status".into(), json!(status));
            out.insert("queryable".into(), json!(queryable(doc)));
            out.insert("latestDefinition".into(), definition);
            let version = doc
                .get("definitionVersion")
                .cloned()
                .unwrap_or_else(|| json!({"version": 0}));
            out.insert("latestDefinitionVersion".into(), version);
        }
        View::Fts => {
            let status = match status {
                "PENDING" | "BUILDING" => "IN_PROGRESS",
                "READY" => "STEADY",
                "DELETING" => return None,
                other => other,
            };
            if let Value::Object(definition) = definition {
                for (k, v) in definition {
                    out.entry(k).or_insert(v);
                }
            }
            if text(doc, "type") != "vectorSearch" {
                out.entry("synonyms").or_insert_with(|| json!([]));
            }
            out.insert("status".into(), json!(status));
        }
    }
    Some(Value::Object(out))
}

/// One index answered in the served schema, its field mappings as stored.
fn answer(cx: &Ctx<'_>, shown: &Value, stored: &Value, view: View) -> Reply {
    let mut fitted = cx.render.fit(shown);
    keep_field_mappings(&mut fitted, stored, view);
    Reply::json(cx.render.status(), fitted)
}

/// Puts the stored field definitions back into a fitted answer, where the spec's schemas are
/// narrower than Atlas: a text index maps a field as several types with an array of definitions
/// (recorded: TestSearch "Create array mapping" answers `fields: {comments: [{type: document,
/// dynamic: true}, {type: string}]}`), which the spec's `Fields` object cannot describe; a vector
/// index's `fields` carry numbers (`numDimensions`) where the spec's `BasicDBObject` declares only
/// objects. Fitting would drop both.
fn keep_field_mappings(fitted: &mut Value, stored: &Value, view: View) {
    for (from, search_at, fts_at) in [
        (
            "/definition/mappings",
            "/latestDefinition/mappings",
            "/mappings",
        ),
        ("/definition", "/latestDefinition", ""),
    ] {
        let Some(fields) = stored.pointer(&format!("{from}/fields")) else {
            continue;
        };
        let at = match view {
            View::Search => search_at,
            View::Fts => fts_at,
        };
        if let Some(Value::Object(target)) = fitted.pointer_mut(at) {
            target.insert("fields".to_owned(), fields.clone());
        }
    }
}

/// The definition a request carries: `definition` (2024-05-30), or every field beside the
/// index's identity (the fts API's flattened body). `None` when it carries none.
fn definition_of(body: &Value, view: View) -> Option<Map<String, Value>> {
    match view {
        View::Search => body.get("definition").and_then(Value::as_object).cloned(),
        View::Fts => {
            let flattened: Map<String, Value> = body
                .as_object()?
                .iter()
                .filter(|(k, _)| !IDENTITY.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (!flattened.is_empty()).then_some(flattened)
        }
    }
}

/// A vector index defines its `fields` (at least one).
fn check_definition(kind: &str, definition: &Map<String, Value>) -> Result<(), ApiError> {
    if kind == "vectorSearch" {
        let fields = definition.get("fields").and_then(Value::as_array);
        if fields.is_none_or(Vec::is_empty) {
            return Err(invalid(
                "a vectorSearch index definition needs at least one entry in fields",
            ));
        }
    }
    Ok(())
}

fn create(cx: &mut Ctx<'_>, collection: &str, view: View) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let kind = match text(&body, "type") {
        "" => "search",
        other => other,
    }
    .to_owned();
    let definition = definition_of(&body, view).unwrap_or_default();
    check_definition(&kind, &definition)?;
    let (database, coll, name) = (
        text(&body, "database").to_owned(),
        text(&body, "collectionName").to_owned(),
        text(&body, "name").to_owned(),
    );
    let taken = lifecycle::settle_all(cx.tx, cx.lifecycle, collection, &cx.now)?
        .iter()
        .any(|r| {
            !deleting(&r.doc)
                && text(&r.doc, "database") == database
                && text(&r.doc, "collectionName") == coll
                && text(&r.doc, "name") == name
        });
    if taken {
        return Err(api_error!(
            RESOURCE_ALREADY_EXISTS,
            format!("{database}.{coll}.{name}")
        ));
    }
    let id = ids::object_id(cx.now.get());
    let mut doc = json!({
        "indexID": id,
        "name": name,
        "database": database,
        "collectionName": coll,
        "type": kind,
        "definition": definition,
        "definitionVersion": {"version": 0},
    });
    view.build().begin(cx.tx, &mut doc, cx.now.get())?;
    cx.tx.insert(collection, &id, &doc)?;
    let shown = render(&doc, view).unwrap_or_default();
    Ok(answer(cx, &shown, &doc, view))
}

/// Keeps `queryable` across a new transition: an index built once stays queryable.
fn remember_queryable(doc: &mut Value) {
    if queryable(doc)
        && let Value::Object(map) = doc
    {
        map.insert(QUERYABLE.to_owned(), Value::Bool(true));
    }
}

fn update(cx: &mut Ctx<'_>, collection: &str, view: View) -> Result<Reply, ApiError> {
    let mut index = find(cx, collection, view)?;
    if deleting(&index.doc) {
        return Err(missing(cx));
    }
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let doc = &mut index.doc;
    if let Some(definition) = definition_of(&body, view) {
        let kind = text(doc, "type").to_owned();
        check_definition(&kind, &definition)?;
        doc["definition"] = Value::Object(definition);
    }
    let version = doc
        .pointer("/definitionVersion/version")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    doc["definitionVersion"] =
        json!({"version": version + 1, "createdAt": atlas_timestamp(cx.now.get())});
    remember_queryable(doc);
    view.build().begin(cx.tx, doc, cx.now.get())?;
    cx.tx.update(collection, &index.key, &index.doc)?;
    let shown = render(&index.doc, view).unwrap_or_default();
    Ok(answer(cx, &shown, &index.doc, view))
}

fn delete(cx: &mut Ctx<'_>, collection: &str, view: View) -> Result<Reply, ApiError> {
    let mut index = find(cx, collection, view)?;
    if deleting(&index.doc) {
        return Err(missing(cx));
    }
    remember_queryable(&mut index.doc);
    search_index::DELETE.begin(cx.tx, &mut index.doc, cx.now.get())?;
    cx.tx.update(collection, &index.key, &index.doc)?;
    Ok(Reply::empty(cx.render.status()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(status: &str) -> Value {
        json!({"indexID": "6a79452cc0eb9e7a1772f8f1", "name": "n", "database": "d",
            "collectionName": "c", "type": "search", "status": status,
            "definition": {"mappings": {"dynamic": true}}, "definitionVersion": {"version": 0}})
    }

    #[test]
    fn one_state_reads_in_each_apis_names() {
        for (stored_as, search, fts) in [
            ("PENDING", "PENDING", Some("IN_PROGRESS")),
            ("IN_PROGRESS", "PENDING", Some("IN_PROGRESS")),
            ("READY", "READY", Some("STEADY")),
            ("STEADY", "READY", Some("STEADY")),
            ("DELETING", "DELETING", None),
        ] {
            let doc = stored(stored_as);
            assert_eq!(render(&doc, View::Search).unwrap()["status"], search);
            assert_eq!(
                render(&doc, View::Fts).map(|d| d["status"].as_str().unwrap().to_owned()),
                fts.map(str::to_owned)
            );
        }
    }

    #[test]
    fn the_fts_view_flattens_the_definition() {
        let fts = render(&stored("PENDING"), View::Fts).unwrap();
        assert_eq!(fts["mappings"]["dynamic"], true);
        assert_eq!(fts["synonyms"], json!([]));
        assert!(fts.get("latestDefinition").is_none());
        let search = render(&stored("PENDING"), View::Search).unwrap();
        assert_eq!(search["latestDefinition"]["mappings"]["dynamic"], true);
        assert_eq!(search["latestDefinitionVersion"]["version"], 0);
        assert_eq!(search["queryable"], false);
    }

    #[test]
    fn a_vector_index_shows_its_fields_in_both_views() {
        let fields = json!([{"type": "vector", "path": "v", "numDimensions": 3,
            "similarity": "cosine"}]);
        let doc = json!({"indexID": "6a79452cc0eb9e7a1772f8f1", "name": "n", "database": "d",
            "collectionName": "c", "type": "vectorSearch", "status": "READY",
            "definition": {"fields": fields}, "definitionVersion": {"version": 0}});
        let search = render(&doc, View::Search).unwrap();
        assert_eq!(search["latestDefinition"]["fields"], fields);
        assert_eq!(search["queryable"], true);
        let fts = render(&doc, View::Fts).unwrap();
        assert_eq!(fts["fields"], fields);
        assert_eq!(fts["type"], "vectorSearch");
        assert!(fts.get("synonyms").is_none());
        // What fitting to the spec's BasicDBObject drops comes back as stored.
        let mut fitted = json!({"latestDefinition": {"fields": [{}]}});
        keep_field_mappings(&mut fitted, &doc, View::Search);
        assert_eq!(fitted["latestDefinition"]["fields"], fields);
        let mut fitted = json!({"fields": [{}]});
        keep_field_mappings(&mut fitted, &doc, View::Fts);
        assert_eq!(fitted["fields"], fields);
    }

    #[test]
    fn definitions_match_their_type() {
        let body = json!({"name": "n", "database": "d", "collectionName": "c",
            "mappings": {"dynamic": true}, "analyzer": "lucene.simple"});
        let flat = definition_of(&body, View::Fts).unwrap();
        assert_eq!(flat.keys().collect::<Vec<_>>(), ["analyzer", "mappings"]);
        assert!(check_definition("search", &flat).is_ok());
        assert!(check_definition("vectorSearch", &flat).is_err());
        let vector = json!({"fields": [{"type": "vector", "path": "v", "numDimensions": 3,
            "similarity": "cosine"}]});
        assert!(check_definition("vectorSearch", vector.as_object().unwrap()).is_ok());
    }
}
