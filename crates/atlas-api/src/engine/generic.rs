//! The generic stateful engine: CRUD semantics for every operation no behaviour claims.
//!
//! Dispatch is by the catalogue's `shape`. Collections store one document per item under the
//! concrete collection path; singletons store one document at their own path (empty key).
//! Operations that are not CRUD-shaped (actions, downloads, metrics, searches) answer a
//! well-formed, schema-valid document derived from stored state.

use atlas_model::{Format, Method, OperationId, Shape};
use atlas_schema::Schemas;
use atlas_store::{Page, Record, StoreError};
use serde_json::{Map, Value};

use crate::api_error;
use crate::engine::{Ctx, generic_lifecycles};
use crate::kernel::call::{Payload, Reply};
use crate::kernel::defaults;
use crate::kernel::error::ApiError;
use crate::kernel::error_codes;
use crate::kernel::ids;
use crate::kernel::lifecycle::{self, Step};
use crate::kernel::paging::Paging;
use crate::kernel::paths::{composite_key, concrete, segment};
use crate::kernel::render::{any_branch_properties, is_read_only, merge_patch};
use crate::kernel::resources::{KeyKind, Resource, ResourceIndex, relative};
use crate::stages::scope::not_found;

/// Serves `cx.call` by its shape.
pub fn handle(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let resource = ResourceIndex::global().get(cx.call.op.resource);
    match (cx.call.op.shape, resource) {
        (Shape::CollectionList, Some(r)) => list(cx, r),
        (Shape::CollectionCreate, Some(r)) => create(cx, r),
        (Shape::ItemGet, Some(r)) => {
            let record = find(cx, r)?;
            Ok(render_item(cx, &record))
        }
        (Shape::ItemUpdatePatch, Some(r)) => patch(cx, r),
        (Shape::ItemReplacePut, Some(r)) => replace(cx, r),
        (Shape::ItemDelete, Some(r)) => delete(cx, r),
        (Shape::SingletonGet, Some(r)) => {
            let doc = singleton(cx, r)?;
            Ok(Reply::json(cx.render.status(), cx.render.fit(&doc)))
        }
        (Shape::SingletonUpdate, Some(r)) => singleton_update(cx, r),
        (Shape::SingletonDelete, Some(r)) => singleton_delete(cx, r),
        _ => computed(cx),
    }
}

/// Where the items of a resource live for this call.
fn collection_of(cx: &Ctx<'_>, resource: &Resource) -> Option<String> {
    let body = cx.call.body.clone();
    concrete(resource.template, cx.call, &|name| {
        let b = body.as_ref()?;
        b.get(name)
            .or_else(|| match name {
                "cloudProvider" => b.get("providerName"),
                _ => None,
            })
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}

/// The trailing path parameters of this operation beyond its resource template.
fn trailing_params(cx: &Ctx<'_>, resource: &Resource) -> Vec<&'static str> {
    relative(cx.call.op.path)
        .strip_prefix(resource.template)
        .unwrap_or_default()
        .split('/')
        .filter_map(|s| {
            s.strip_prefix('{')
                .and_then(|s| s.split_once('}'))
                .map(|(n, _)| n)
        })
        .collect()
}

/// The stored item the call addresses, settled for this read (a completed deletion is a 404
/// whose writes stand), or the family's 404.
pub fn find(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Record, ApiError> {
    let record = find_stored(cx, resource)?;
    match settle(cx, record)? {
        Some(record) => Ok(record),
        None => Err(scope_missing(cx, resource).keeping_writes()),
    }
}

fn scope_missing(cx: &Ctx<'_>, resource: &Resource) -> ApiError {
    let values: Vec<&str> = trailing_params(cx, resource)
        .iter()
        .filter_map(|p| cx.call.path_param(p))
        .collect();
    not_found(resource.template, cx.call, &values.join("/"))
}

/// Applies the collection's lifecycle to a read: `None` when the item is gone.
fn settle(cx: &mut Ctx<'_>, record: Record) -> Result<Option<Record>, ApiError> {
    if generic_lifecycles::of(cx.call.op.resource).is_none() {
        return Ok(Some(record));
    }
    Ok(lifecycle::present(cx.tx, cx.lifecycle, record, &cx.now)?)
}

/// Starts the collection's declared transition for this change, if it has one.
fn begin(cx: &mut Ctx<'_>, doc: &mut Value, step: Option<Step>) -> Result<(), ApiError> {
    if let Some(step) = step {
        step.begin(cx.tx, doc, cx.now.get())?;
    }
    Ok(())
}

/// The stored item the call addresses, as stored, or the family's 404.
fn find_stored(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Record, ApiError> {
    let params = trailing_params(cx, resource);
    let values: Vec<&str> = params
        .iter()
        .filter_map(|p| cx.call.path_param(p))
        .collect();
    let shown_key = values.join("/");
    let missing = || not_found(resource.template, cx.call, &shown_key);
    let Some(collection) = collection_of(cx, resource) else {
        return Err(missing());
    };
    // `PATCH /orgs/{orgId}/invites` names its item by a body field (`body-keyed(username)`).
    if let Some(field) = cx
        .call
        .op
        .shape_detail
        .strip_prefix("body-keyed(")
        .and_then(|f| f.strip_suffix(')'))
    {
        let wanted = cx.call.body.as_ref().and_then(|b| b.get(field)).cloned();
        let (records, _) = cx.tx.list(&collection, Page::ALL)?;
        return records
            .into_iter()
            .find(|r| wanted.is_some() && r.doc.get(field) == wanted.as_ref())
            .ok_or_else(|| api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()));
    }
    if !params.is_empty() && params == resource.item_params && values.len() == params.len() {
        return cx
            .tx
            .get(&collection, &composite_key(values.iter().copied()))?
            .ok_or_else(missing);
    }
    // Alternate addressing (`/groups/byName/{groupName}`, a role by id only): match the fields
    // the catalogue maps the parameters to.
    let mapping: Vec<(&str, &str)> = cx
        .call
        .op
        .key_fields
        .split(';')
        .filter_map(|pair| pair.split_once("->"))
        .collect();
    let (records, _) = cx.tx.list(&collection, Page::ALL)?;
    records
        .into_iter()
        .find(|r| {
            !mapping.is_empty()
                && mapping.iter().all(|(param, fields)| {
                    let wanted = cx.call.path_param(param);
                    fields
                        .split('|')
                        .any(|f| wanted.is_some() && r.doc.get(f).and_then(Value::as_str) == wanted)
                })
        })
        .ok_or_else(missing)
}

fn item_path(record: &Record) -> String {
    format!("{}/{}", record.collection, record.key)
}

fn with_links(cx: &Ctx<'_>, record: &Record) -> Value {
    let mut doc = record.doc.clone();
    if let Value::Object(map) = &mut doc {
        map.entry("links")
            .or_insert_with(|| cx.render.self_link(&item_path(record)));
    }
    doc
}

fn render_item(cx: &Ctx<'_>, record: &Record) -> Reply {
    Reply::json(cx.render.status(), cx.render.fit(&with_links(cx, record)))
}

fn list(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let filters: Vec<(&str, String)> = trailing_params(cx, resource)
        .into_iter()
        .filter_map(|p| {
            let field = resource.fields_of(p).first().copied().or_else(|| {
                cx.call
                    .op
                    .key_fields
                    .split(';')
                    .filter_map(|pair| pair.split_once("->"))
                    .find(|(param, _)| *param == p)
                    .map(|(_, f)| f.split('|').next().unwrap_or(f))
            })?;
            Some((field, cx.call.path_param(p)?.to_owned()))
        })
        .collect();
    let collection = collection_of(cx, resource);
    let (records, total) = match collection {
        Some(c) if filters.is_empty() && cx.render.is_paginated_list() => {
            cx.tx.list(&c, paging.window())?
        }
        Some(c) => {
            let (all, _) = cx.tx.list(&c, Page::ALL)?;
            let matching: Vec<Record> = all
                .into_iter()
                .filter(|r| {
                    filters
                        .iter()
                        .all(|(f, v)| r.doc.get(*f).and_then(Value::as_str) == Some(v.as_str()))
                })
                .collect();
            let total = matching.len() as u64;
            let page = if cx.render.is_paginated_list() {
                paging.slice(matching)
            } else {
                matching
            };
            (page, total)
        }
        None => (Vec::new(), 0),
    };
    let mut items = Vec::with_capacity(records.len());
    for record in records {
        if let Some(record) = settle(cx, record)? {
            items.push(with_links(cx, &record));
        }
    }
    Ok(Reply::json(
        cx.render.status(),
        list_body(cx, &paging, items, total),
    ))
}

/// A list answer in the shape the served version declares.
fn list_body(cx: &Ctx<'_>, paging: &Paging, items: Vec<Value>, total: u64) -> Value {
    if cx.render.is_bare_array() {
        return cx.render.fit(&Value::Array(items));
    }
    cx.render.fit_owned(paging.body(cx.call, items, total))
}

fn create(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Reply, ApiError> {
    let Some(collection) = collection_of(cx, resource) else {
        return computed(cx);
    };
    // Some creates answer with the whole list (POST accessList, teams ... §2.1).
    let list_answer = cx.render.is_paginated_list();
    let item_schema = if list_answer {
        cx.render.list_item_schema()
    } else {
        cx.render.schema()
    };
    // An array body creates one item per element (access lists, endpoint ids); re-sending an
    // existing entry updates it instead of failing, as Atlas's access-list POST does.
    let (bodies, bulk) = match &cx.call.body {
        Some(Value::Array(items)) => (items.clone(), true),
        Some(v @ Value::Object(_)) => (vec![v.clone()], false),
        _ => (vec![Value::Object(Map::new())], false),
    };
    let mut created = None;
    for mut doc in bodies {
        let key = new_key(cx, resource, &mut doc);
        let path = format!("{collection}/{key}");
        if let Some(schema) = item_schema {
            fill_read_only(cx, schema, &mut doc, &path);
        }
        assign_ids(cx, &mut doc);
        let on_create = generic_lifecycles::of(cx.call.op.resource).map(|s| s.created);
        begin(cx, &mut doc, on_create)?;
        if bulk {
            cx.tx.upsert(&collection, &key, &doc)?;
        } else {
            match cx.tx.insert(&collection, &key, &doc) {
                Ok(_) => {}
                Err(StoreError::Duplicate(_)) => return Err(duplicate(cx, resource, &key)),
                Err(e) => return Err(e.into()),
            }
        }
        created = Some(Record {
            collection: collection.clone(),
            key,
            doc,
            seq: 0,
        });
    }
    if list_answer {
        let paging = Paging::of(cx.call);
        let (records, total) = cx.tx.list(&collection, paging.window())?;
        let items = records.iter().map(|r| with_links(cx, r)).collect();
        return Ok(Reply::json(
            cx.render.status(),
            list_body(cx, &paging, items, total),
        ));
    }
    match created {
        Some(record) => Ok(render_item(cx, &record)),
        None => Ok(empty_answer(cx, &Value::Object(Map::new()))),
    }
}

/// The key of a new item; generated keys are written into their body field.
fn new_key(cx: &Ctx<'_>, resource: &Resource, doc: &mut Value) -> String {
    let at_key = trailing_params(cx, resource);
    if !at_key.is_empty() {
        let values: Vec<&str> = at_key
            .iter()
            .filter_map(|p| cx.call.path_param(p))
            .collect();
        for (param, value) in at_key.iter().zip(&values) {
            if let Some(field) = resource.fields_of(param).first() {
                set_if_absent(doc, field, Value::String((*value).to_owned()));
            }
        }
        return composite_key(values);
    }
    let generated = match resource.key_kind {
        Some(KeyKind::Named) => {
            let values: Option<Vec<String>> = resource
                .item_params
                .iter()
                .map(|p| {
                    resource
                        .fields_of(p)
                        .iter()
                        .find_map(|f| doc.get(*f).and_then(Value::as_str).map(str::to_owned))
                })
                .collect();
            if let Some(values) = values.filter(|v| !v.is_empty()) {
                return composite_key(values.iter().map(String::as_str));
            }
            ids::object_id(cx.now.get())
        }
        Some(KeyKind::Uuid) => ids::uuid(),
        Some(KeyKind::ServiceAccountId) => format!("mdb_sa_id_{}", ids::object_id(cx.now.get())),
        _ => ids::object_id(cx.now.get()),
    };
    if let Some(field) = resource
        .item_params
        .last()
        .and_then(|p| resource.fields_of(p).first())
    {
        set_if_absent(doc, field, Value::String(generated.clone()));
    }
    segment(&generated)
}

fn set_if_absent(doc: &mut Value, field: &str, value: Value) {
    if let Value::Object(map) = doc {
        map.entry(field.to_owned()).or_insert(value);
    }
}

/// Names of read-only timestamps that mean "when this was created".
const CREATION_FIELDS: &[&str] = &[
    "created",
    "createdAt",
    "createDate",
    "createdDate",
    "creationDate",
];

/// Read-only fields holding the time of the last change: set on creation and on every update
/// (recorded alert configurations: `updated` equals `created`, then moves with each PUT).
const UPDATE_FIELDS: &[&str] = &[
    "updated",
    "updatedAt",
    "updatedDate",
    "lastUpdated",
    // Recorded federated database query limits (TestDataFederationQueryLimit) show the time of
    // their last PATCH here.
    "lastModifiedDate",
];

/// Read-only fields naming who made the last change (recorded backup compliance policy:
/// `updatedUser` is the public key of the API key that PUT it).
const UPDATER_FIELDS: &[&str] = &["updatedUser", "updatedBy"];

/// Stamps the update fields the served schema declares read-only with the call's time and
/// caller.
fn touch_update_fields(cx: &Ctx<'_>, doc: &mut Value) {
    let (Some(schema), Value::Object(target)) = (cx.render.schema(), doc) else {
        return;
    };
    for (name, prop) in any_branch_properties(schema) {
        if !is_read_only(prop) {
            continue;
        }
        if UPDATE_FIELDS.contains(&name.as_str()) {
            target.insert(name, Value::String(cx.render.hints.now().to_owned()));
        } else if UPDATER_FIELDS.contains(&name.as_str()) {
            target.insert(name, Value::String(cx.call.principal.name().to_owned()));
        }
    }
}

/// Gives the document the identifiers Atlas assigns to its elements on store (declared in the
/// defaults table's `assign_ids`).
fn assign_ids(cx: &Ctx<'_>, doc: &mut Value) {
    let now = cx.now.get();
    defaults::assign_ids(cx.call.op.resource, doc, &mut || ids::object_id(now));
}

/// Stores the read-only fields the served schema declares (ids, creation dates, parent ids) so
/// they stay stable across reads.
fn fill_read_only(cx: &Ctx<'_>, schema: &'static str, doc: &mut Value, path: &str) {
    let mut with_links = doc.clone();
    set_if_absent(&mut with_links, "links", cx.render.self_link(path));
    let fitted = Schemas::global().fit(schema, &with_links, &cx.render.hints);
    let (Value::Object(target), Value::Object(fitted)) = (doc, fitted) else {
        return;
    };
    for (name, prop) in any_branch_properties(schema) {
        if name == "links" || target.contains_key(&name) || !is_read_only(prop) {
            continue;
        }
        let value = if let Some(hint) = cx.render.hints.values.get(&name) {
            Some(hint.clone())
        } else if CREATION_FIELDS.contains(&name.as_str()) || UPDATE_FIELDS.contains(&name.as_str())
        {
            Some(Value::String(cx.render.hints.now().to_owned()))
        } else {
            fitted.get(&name).cloned()
        };
        if let Some(value) = value {
            target.insert(name, value);
        }
    }
}

fn duplicate(cx: &Ctx<'_>, resource: &Resource, key: &str) -> ApiError {
    let group = cx.call.path_param("groupId").unwrap_or_default();
    match resource.template {
        "/groups/{groupId}/clusters"
        | "/groups/{groupId}/flexClusters"
        | "/groups/{groupId}/serverless" => {
            api_error!(DUPLICATE_CLUSTER_NAME, key, group)
        }
        _ => api_error!(RESOURCE_ALREADY_EXISTS, key),
    }
}

fn patch(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Reply, ApiError> {
    let mut record = match find(cx, resource) {
        Ok(r) => r,
        // A PATCH that sets an item at its key (a data federation query limit) makes it.
        Err(_) if cx.call.op.shape_detail.contains("upsert") => return create(cx, resource),
        Err(e) => return Err(e),
    };
    if let Some(body) = &cx.call.body {
        merge_patch(&mut record.doc, body);
    }
    touch_update_fields(cx, &mut record.doc);
    assign_ids(cx, &mut record.doc);
    let updated = generic_lifecycles::of(cx.call.op.resource).and_then(|s| s.updated);
    begin(cx, &mut record.doc, updated)?;
    cx.tx.update(&record.collection, &record.key, &record.doc)?;
    Ok(render_item(cx, &record))
}

fn replace(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Reply, ApiError> {
    let existing = match find(cx, resource) {
        Ok(r) => r,
        Err(_) if cx.call.op.shape_detail.contains("upsert") => return create(cx, resource),
        Err(e) => return Err(e),
    };
    let mut doc = Value::Object(cx.call.body_object());
    // Read-only fields (ids, creation dates) survive a replacement.
    if let (Value::Object(new), Value::Object(old)) = (&mut doc, &existing.doc) {
        for (k, v) in old {
            if !new.contains_key(k) && is_stored_read_only(cx, k) {
                new.insert(k.clone(), v.clone());
            }
        }
    }
    touch_update_fields(cx, &mut doc);
    assign_ids(cx, &mut doc);
    cx.tx.update(&existing.collection, &existing.key, &doc)?;
    Ok(render_item(cx, &Record { doc, ..existing }))
}

/// Whether `name` is read-only in any branch of the served schema (a polymorphic answer, such
/// as an alert configuration, declares its properties in its branches).
fn is_stored_read_only(cx: &Ctx<'_>, name: &str) -> bool {
    cx.render.schema().is_some_and(|schema| {
        any_branch_properties(schema)
            .iter()
            .any(|(k, p)| k == name && is_read_only(p))
    })
}

fn delete(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Reply, ApiError> {
    let mut record = find(cx, resource)?;
    let deleting = generic_lifecycles::of(cx.call.op.resource).and_then(|s| s.deleting);
    if deleting.is_some() {
        // The item shows its deleting state until the transition removes it.
        begin(cx, &mut record.doc, deleting)?;
        cx.tx.update(&record.collection, &record.key, &record.doc)?;
    } else {
        cx.tx.delete(&record.collection, &record.key)?;
        cx.tx.delete_tree(&item_path(&record))?;
    }
    Ok(empty_answer(cx, &record.doc))
}

/// The answer of a successful call that declares no entity of its own: 204 without a body,
/// `{}` for the 200/202 acknowledgements, or the declared document.
fn empty_answer(cx: &Ctx<'_>, base: &Value) -> Reply {
    let status = cx.render.status();
    if status == 204 {
        return Reply::empty(204);
    }
    match cx.render.schema() {
        Some(_) => Reply::json(status, cx.render.synthesize(base)),
        None => Reply::json(status, Value::Object(Map::new())),
    }
}

/// The stored singleton as this read sees it (its lifecycle settled), if there is one.
fn stored_singleton(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Option<Value>, ApiError> {
    let Some(path) = collection_of(cx, resource) else {
        return Ok(None);
    };
    let Some(record) = cx.tx.get(&path, "")? else {
        return Ok(None);
    };
    if generic_lifecycles::of_singleton(cx.call.op.resource).is_none() {
        return Ok(Some(record.doc));
    }
    Ok(lifecycle::present(cx.tx, cx.lifecycle, record, &cx.now)?.map(|r| r.doc))
}

/// The stored singleton, or its default document.
fn singleton(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Value, ApiError> {
    match stored_singleton(cx, resource)? {
        Some(doc) => Ok(doc),
        None => Ok(cx.render.synthesize(&Value::Object(Map::new()))),
    }
}

fn singleton_update(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Reply, ApiError> {
    let mut doc = match stored_singleton(cx, resource)? {
        Some(doc) => doc,
        None => {
            // A first write: the identifiers Atlas gives (the defaults table's `assign_ids`, a
            // link token) are made before the schema's placeholders could take their place.
            let mut fresh = Value::Object(Map::new());
            assign_ids(cx, &mut fresh);
            cx.render.synthesize(&fresh)
        }
    };
    if let Some(body) = &cx.call.body {
        merge_patch(&mut doc, body);
    }
    touch_update_fields(cx, &mut doc);
    begin(
        cx,
        &mut doc,
        generic_lifecycles::of_singleton(cx.call.op.resource),
    )?;
    if let Some(path) = collection_of(cx, resource) {
        cx.tx.upsert(&path, "", &doc)?;
    }
    let status = cx.render.status();
    if status == 204 || cx.render.schema().is_none() {
        return Ok(empty_answer(cx, &doc));
    }
    Ok(Reply::json(status, cx.render.fit(&doc)))
}

fn singleton_delete(cx: &mut Ctx<'_>, resource: &Resource) -> Result<Reply, ApiError> {
    if let Some(path) = collection_of(cx, resource) {
        if let Some(refusal) = nothing_to_delete(cx.call.op.id)
            && cx.tx.get(&path, "")?.is_none()
        {
            return Err(refusal);
        }
        cx.tx.delete(&path, "")?;
    }
    Ok(empty_answer(cx, &Value::Object(Map::new())))
}

/// What Atlas answers for deleting a singleton that is not there, where it refuses (elsewhere
/// the deletion of nothing succeeds). Recorded: atlas-cli TestLinkToken deletes the
/// organization's link token before making one and gets 404 `UNEXPECTED_ERROR`.
fn nothing_to_delete(op: OperationId) -> Option<ApiError> {
    match op {
        OperationId::DeleteOrgLiveMigrationLinkTokens => Some(
            ApiError::with_detail(
                error_codes::UNEXPECTED_ERROR,
                "Could not find the requested external organization link.",
                vec![],
            )
            .with_status(404),
        ),
        _ => None,
    }
}

/// Operations that are not CRUD-shaped: an answer computed from the schema and the target.
pub fn computed(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let status = cx.render.status();
    match cx.render.format() {
        Format::Gzip => Ok(Reply {
            status,
            payload: Payload::Binary {
                bytes: crate::kernel::download::empty_gzip(),
                filename: None,
            },
            headers: Vec::new(),
        }),
        Format::Csv => Ok(Reply {
            status,
            payload: Payload::Binary {
                bytes: Vec::new(),
                filename: None,
            },
            headers: Vec::new(),
        }),
        Format::Json => {
            if status == 204 {
                return Ok(Reply::empty(204));
            }
            if cx.render.is_paginated_list() {
                let paging = Paging::of(cx.call);
                return Ok(Reply::json(status, list_body(cx, &paging, Vec::new(), 0)));
            }
            if cx.render.is_bare_array() {
                return Ok(Reply::json(
                    status,
                    cx.render.fit(&Value::Array(Vec::new())),
                ));
            }
            let base = if cx.call.op.method == Method::Get {
                cx.render.empty_lists()
            } else {
                Value::Object(Map::new())
            };
            Ok(empty_answer(cx, &base))
        }
    }
}
