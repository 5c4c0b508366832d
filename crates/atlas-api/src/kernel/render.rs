//! Rendering stored documents in the served version's response schema.
//!
//! A stored document holds what clients sent plus the read-only fields generated at creation.
//! Every answer goes through [`Renderer::fit`]: declared properties kept, required ones filled
//! consistently with the request (ids, names, dates), write-only ones (secrets) dropped.

use atlas_model::{Format, Operation, OperationId};
use atlas_schema::{Hints, Mode, Schemas};
use serde_json::{Map, Value, json};

use crate::kernel::call::Call;
use crate::kernel::defaults;
use atlas_model::API_PREFIX;

/// The real success status where Atlas answers differently from the spec (semantics §7.5,
/// recorded traffic; the spec's code in the comment).
const REAL_STATUS: &[(OperationId, u16)] = &[
    (OperationId::CreateGroup, 201),                // spec 200
    (OperationId::CreateGroupAccessListEntry, 201), // spec 200, body = whole list
    (OperationId::CreateGroupAlertConfig, 201),     // spec 200
    (OperationId::CreateGroupPrivateEndpointEndpointService, 201), // spec 200
    (OperationId::CreateOrgTeam, 201),              // spec 200
    (OperationId::CreateOrgLiveMigrationLinkToken, 201), // spec 200
    (OperationId::CreateUser, 201),                 // spec 200
    (OperationId::DeleteGroup, 202),                // spec 204, body {}
    (OperationId::DeleteGroupDataFederation, 202),  // spec 204, body {}
    (OperationId::DeleteGroupPrivateEndpointEndpointService, 202), // spec 204, body {}
    (OperationId::DeleteGroupClusterOnlineArchive, 200), // spec 204, body {}
    (OperationId::UpdateGroupAuditLog, 202),        // spec 200
    (OperationId::ToggleGroupAwsCustomDns, 202),    // spec 200
    (OperationId::ToggleGroupPrivateEndpointRegionalMode, 202), // spec 200
];

/// Status, schema and hints for answering one call.
pub struct Renderer<'a> {
    pub call: &'a Call,
    pub hints: Hints,
}

impl<'a> Renderer<'a> {
    pub fn new(call: &'a Call, hints: Hints) -> Renderer<'a> {
        Renderer { call, hints }
    }

    /// The status to answer with: the real one where Atlas deviates from the spec, else the
    /// first declared success status of the served version.
    pub fn status(&self) -> u16 {
        success_status(self.call.op, self.call.version)
    }

    /// The response schema name for the served version and status.
    pub fn schema(&self) -> Option<&'static str> {
        let format = self.call.format;
        self.call
            .op
            .success_for(self.call.version)
            .filter(|(_, m)| m.format == format)
            .find_map(|(_, m)| m.schema)
    }

    /// `doc` rendered in the served version's schema (unchanged when none is declared).
    /// Internal bookkeeping (`__`-prefixed fields such as a lifecycle transition) never shows.
    pub fn fit(&self, doc: &Value) -> Value {
        // Most documents carry no internal field and have no defaults to merge: they are fitted
        // as they are, without the copy `fit_owned` mutates (a tenth of a project GET's work).
        if let Some(name) = self.schema()
            && !defaults::declared(self.call.op.resource)
            && !has_internal(doc)
        {
            return Schemas::global().fit(name, doc, &self.hints);
        }
        self.fit_owned(doc.clone())
    }

    /// [`Renderer::fit`] for a document the caller no longer needs (lists: no copy of the page).
    pub fn fit_owned(&self, mut doc: Value) -> Value {
        strip_internal(&mut doc);
        match self.schema() {
            Some(name) => {
                self.fill_defaults(&mut doc);
                Schemas::global().fit(name, &doc, &self.hints)
            }
            None => doc,
        }
    }

    /// Merges what Atlas fills in for the operation's resource ([`defaults`]) under the document,
    /// or under each item of a list answer.
    fn fill_defaults(&self, doc: &mut Value) {
        let resource = self.call.op.resource;
        if !defaults::declared(resource) {
            return;
        }
        let values = &self.hints.values;
        match doc {
            Value::Array(items) => {
                for item in items {
                    defaults::fill(resource, item, values);
                }
            }
            Value::Object(map) if self.is_paginated_list() => {
                if let Some(Value::Array(items)) = map.get_mut("results") {
                    for item in items {
                        defaults::fill(resource, item, values);
                    }
                }
            }
            _ => defaults::fill(resource, doc, values),
        }
    }

    /// A plausible answer built from the schema alone (plus `base`, e.g. the target document).
    pub fn synthesize(&self, base: &Value) -> Value {
        match self.schema() {
            Some(name) => {
                let example = Schemas::global().example(name, Mode::Response, &self.hints);
                let merged = merge_missing(base.clone(), &example);
                Schemas::global().fit(name, &merged, &self.hints)
            }
            None => Value::Object(Map::new()),
        }
    }

    /// The served schema's top-level lists, empty (`links` aside): what Atlas answers for a
    /// computed read with nothing to show (recorded performance advisor reads of a new cluster,
    /// atlas-cli TestPerformanceAdvisor: `{"namespaces": []}`, `{"slowQueries": []}`,
    /// `{"shapes": [], "suggestedIndexes": []}`).
    pub fn empty_lists(&self) -> Value {
        let mut out = Map::new();
        if let Some(name) = self.schema() {
            for (key, property) in top_properties(name) {
                if key != "links" && is_list(property) {
                    out.insert(key, Value::Array(Vec::new()));
                }
            }
        }
        Value::Object(out)
    }

    /// Whether the served response is a paginated list (`links`/`results`/`totalCount`).
    pub fn is_paginated_list(&self) -> bool {
        self.schema()
            .is_some_and(|name| top_properties(name).iter().any(|(k, _)| k == "results"))
    }

    /// The schema of one item of a paginated list answer (`results[]`).
    pub fn list_item_schema(&self) -> Option<&'static str> {
        let (_, results) = top_properties(self.schema()?)
            .into_iter()
            .find(|(k, _)| k == "results")?;
        results
            .get("items")?
            .get("$ref")?
            .as_str()?
            .strip_prefix("#/components/schemas/")
    }

    /// Whether the served response is a bare JSON array.
    pub fn is_bare_array(&self) -> bool {
        self.schema()
            .and_then(resolve)
            .is_some_and(|s| s.get("type").and_then(Value::as_str) == Some("array"))
    }

    /// The declared media format of the served version.
    pub fn format(&self) -> Format {
        self.call.format
    }

    /// An absolute `self` link for a store path (`/groups/<id>`).
    pub fn self_link(&self, store_path: &str) -> Value {
        json!([{"href": format!("{}{API_PREFIX}{store_path}", self.call.origin.base_url), "rel": "self"}])
    }
}

/// Whether [`strip_internal`] would remove anything.
fn has_internal(doc: &Value) -> bool {
    match doc {
        Value::Object(map) => {
            map.keys().any(|k| k.starts_with("__"))
                || matches!(map.get("results"), Some(Value::Array(items)) if items.iter().any(has_internal))
        }
        Value::Array(items) => items.iter().any(has_internal),
        _ => false,
    }
}

/// Removes `__`-prefixed fields from a document and from the items of a list body.
fn strip_internal(doc: &mut Value) {
    if let Value::Object(map) = doc {
        map.retain(|k, _| !k.starts_with("__"));
        if let Some(Value::Array(items)) = map.get_mut("results") {
            items.iter_mut().for_each(strip_internal);
        }
    } else if let Value::Array(items) = doc {
        items.iter_mut().for_each(strip_internal);
    }
}

/// The status Atlas answers a successful call of `op` in `version` with.
pub fn success_status(op: &Operation, version: &str) -> u16 {
    if let Some((_, status)) = REAL_STATUS.iter().find(|(id, _)| *id == op.id) {
        return *status;
    }
    op.success_for(version)
        .map(|(status, _)| status)
        .find(|s| (200..300).contains(s))
        .or_else(|| {
            op.success
                .iter()
                .map(|s| s.status)
                .find(|s| (200..300).contains(s))
        })
        .unwrap_or(200)
}

/// A schema with `$ref`s followed.
/// Whether a property's schema (followed through a reference) is an array.
fn is_list(property: &Value) -> bool {
    let target = match property
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(name) => resolve(name),
        None => Some(property),
    };
    target.and_then(|t| t.get("type")).and_then(Value::as_str) == Some("array")
}

pub fn resolve(name: &str) -> Option<&'static Value> {
    let schemas = Schemas::global();
    let mut current = schemas.get(name)?;
    for _ in 0..16 {
        match current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            Some(next) => current = schemas.get(next)?,
            None => return Some(current),
        }
    }
    None
}

/// The top-level properties of an object schema, following `$ref` and `allOf`.
pub fn top_properties(name: &str) -> Vec<(String, &'static Value)> {
    let mut out = Vec::new();
    if let Some(schema) = resolve(name) {
        collect_properties(schema, &mut out, 0, false);
    }
    out
}

/// The top-level properties of every alternative too (`oneOf`/`anyOf` branches), for decisions
/// that must hold whichever branch a document takes.
pub fn any_branch_properties(name: &str) -> Vec<(String, &'static Value)> {
    let mut out = Vec::new();
    if let Some(schema) = resolve(name) {
        collect_properties(schema, &mut out, 0, true);
    }
    out
}

fn collect_properties(
    schema: &'static Value,
    out: &mut Vec<(String, &'static Value)>,
    depth: u8,
    branches: bool,
) {
    if depth > 8 {
        return;
    }
    let schema = match schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(target) => match resolve(target) {
            Some(s) => s,
            None => return,
        },
        None => schema,
    };
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            if !out.iter().any(|(name, _)| name == k) {
                out.push((k.clone(), v));
            }
        }
    }
    let keywords: &[&str] = if branches {
        &["allOf", "oneOf", "anyOf"]
    } else {
        &["allOf"]
    };
    for keyword in keywords {
        for sub in schema
            .get(*keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_properties(sub, out, depth + 1, branches);
        }
    }
}

/// Whether a property schema (possibly a `$ref`) is read-only.
pub fn is_read_only(prop: &Value) -> bool {
    prop.get("readOnly")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// `base` with every top-level field of `extra` it does not have yet.
pub fn merge_missing(base: Value, extra: &Value) -> Value {
    match (base, extra) {
        (Value::Object(mut b), Value::Object(e)) => {
            for (k, v) in e {
                b.entry(k.clone()).or_insert_with(|| v.clone());
            }
            Value::Object(b)
        }
        (Value::Null, e) => e.clone(),
        (b, _) => b,
    }
}

/// JSON merge for PATCH: objects merge recursively, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_patch(existing, v)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_statuses_override_the_spec() {
        // Recorded: POST /groups answers 201 and DELETE /groups/{id} 202 although the spec
        // declares 200 and 204 (semantics §7.5).
        assert_eq!(
            success_status(OperationId::CreateGroup.op(), "2023-01-01"),
            201
        );
        assert_eq!(
            success_status(OperationId::DeleteGroup.op(), "2023-01-01"),
            202
        );
        assert_eq!(
            success_status(OperationId::GetGroup.op(), "2023-01-01"),
            200
        );
    }

    #[test]
    fn internal_fields_are_found_where_they_are_stripped() {
        for doc in [
            json!({"__lifecycle": 1, "a": 1}),
            json!({"results": [{"a": 1}, {"__x": 2}]}),
            json!([{"a": 1}, {"__x": 2}]),
        ] {
            assert!(has_internal(&doc), "{doc}");
            let mut stripped = doc.clone();
            strip_internal(&mut stripped);
            assert!(!has_internal(&stripped), "{stripped}");
        }
        // Only where `strip_internal` looks: nested objects keep theirs.
        assert!(!has_internal(&json!({"a": {"__x": 1}, "results": 3})));
    }

    #[test]
    fn patch_merges_objects_and_replaces_the_rest() {
        let mut doc = json!({"a": {"x": 1, "y": 2}, "b": [1], "c": "k"});
        merge_patch(&mut doc, &json!({"a": {"y": 3}, "b": [2]}));
        assert_eq!(doc, json!({"a": {"x": 1, "y": 3}, "b": [2], "c": "k"}));
    }
}
