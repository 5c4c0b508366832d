//! What Atlas fills in: the values a resource shows although the client never sent them, as
//! data (`atlas.json` beside this file), each entry with the evidence it was taken from.
//!
//! An entry names a resource (the collection template an operation acts on, as in the
//! operation catalogue) and a partial document. Every answer about that resource — from a
//! family or the generic engine, item or list — gets the entry merged under what is stored,
//! just before it is fitted to the served version's schema ([`crate::kernel::render`]): a value
//! the client set (or a PATCH changed) always wins, and a version whose schema does not declare
//! a property never shows it.
//!
//! Paths: a key `a[].b` means the property `b` of every element of the array `a`. A string
//! value `"{groupId}"` stands for the path parameter (or scope value) of that name, and is left
//! out where the call has none. An entry with `"when_set": "field"` applies only to documents
//! that set that field (not absent, not `null`), and comes before the unconditional entries of
//! its resource: a value that follows whether another is set is data too. Values computed
//! from the resource's configuration (a state that follows a lifecycle, hardware specs) are
//! not: the family derives them.
//!
//! An entry may also name `assign_ids`: paths of identifiers Atlas gives each element when it is
//! stored (a notification's `notifierId`). Unlike fills, these are written when the document is
//! stored, so the identifier stays the same on every read.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The table, parsed once.
static TABLE: OnceLock<Table> = OnceLock::new();

/// The declared defaults, by resource template.
struct Table {
    by_resource: HashMap<String, Vec<Fill>>,
    /// Identifier paths assigned on store, by resource template.
    ids_by_resource: HashMap<String, Vec<Vec<Step>>>,
}

/// One value to fill where missing, at a path.
#[derive(Debug, Clone)]
struct Fill {
    path: Vec<Step>,
    value: Value,
    /// The top-level field the document must set for this fill to apply.
    when_set: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    /// Every element of the array found so far.
    Each,
}

fn table() -> &'static Table {
    TABLE.get_or_init(|| parse(include_str!("atlas.json")).unwrap_or_else(|e| panic!("{e}")))
}

/// Parses the table; an error names the entry (caught by the unit tests).
fn parse(text: &str) -> Result<Table, String> {
    let entries: Vec<Value> =
        serde_json::from_str(text).map_err(|e| format!("defaults table: {e}"))?;
    let mut by_resource: HashMap<String, Vec<Fill>> = HashMap::new();
    let mut ids_by_resource: HashMap<String, Vec<Vec<Step>>> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let resource = entry
            .get("resource")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("defaults entry {i}: no resource"))?;
        if entry
            .get("evidence")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!("defaults entry {resource}: no evidence"));
        }
        if let Some(paths) = entry.get("assign_ids") {
            let paths = paths
                .as_array()
                .ok_or_else(|| format!("defaults entry {resource}: assign_ids is a list"))?;
            let parsed = ids_by_resource.entry(resource.to_owned()).or_default();
            for path in paths {
                let path = path
                    .as_str()
                    .ok_or_else(|| format!("defaults entry {resource}: an id path is text"))?;
                parsed.push(parse_path(path));
            }
            if entry.get("fill").is_none() {
                continue;
            }
        }
        let fill = entry
            .get("fill")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("defaults entry {resource}: no fill object"))?;
        let when_set = match entry.get("when_set") {
            None => None,
            Some(Value::String(field)) => Some(field.clone()),
            Some(_) => {
                return Err(format!(
                    "defaults entry {resource}: when_set is a field name"
                ));
            }
        };
        let fills = by_resource.entry(resource.to_owned()).or_default();
        let new = fill.iter().map(|(key, value)| Fill {
            path: parse_path(key),
            value: value.clone(),
            when_set: when_set.clone(),
        });
        // Conditional fills go first: they win over the resource's general defaults.
        if when_set.is_some() {
            let at = fills.iter().take_while(|f| f.when_set.is_some()).count();
            fills.splice(at..at, new);
        } else {
            fills.extend(new);
        }
    }
    Ok(Table {
        by_resource,
        ids_by_resource,
    })
}

fn parse_path(key: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in key.split('.') {
        match part.strip_suffix("[]") {
            Some(name) => {
                steps.push(Step::Key(name.to_owned()));
                steps.push(Step::Each);
            }
            None => steps.push(Step::Key(part.to_owned())),
        }
    }
    steps
}

/// Gives every element `doc` lacks an identifier at the paths declared for `resource`
/// (`assign_ids`), from `new_id`; called when the document is stored.
pub fn assign_ids(resource: &str, doc: &mut Value, new_id: &mut dyn FnMut() -> String) {
    if let Some(paths) = table().ids_by_resource.get(resource) {
        for path in paths {
            assign_at(doc, path, new_id);
        }
    }
}

fn assign_at(doc: &mut Value, path: &[Step], new_id: &mut dyn FnMut() -> String) {
    at_leaves(doc, path, &mut |map, key| {
        if map.get(key).is_none_or(Value::is_null) {
            map.insert(key.to_owned(), Value::String(new_id()));
        }
    });
}

/// Calls `leaf` with the object holding the last key of `path`, for every place of `doc` the
/// path reaches (`[]` steps through each array element). A path through an array or object the
/// document does not have reaches nothing: defaults complete what exists, they do not invent
/// structure.
fn at_leaves(doc: &mut Value, path: &[Step], leaf: &mut dyn FnMut(&mut Map<String, Value>, &str)) {
    match path.split_first() {
        None => {}
        Some((Step::Each, rest)) => {
            if let Value::Array(items) = doc {
                for item in items {
                    at_leaves(item, rest, leaf);
                }
            }
        }
        Some((Step::Key(key), rest)) => {
            let Value::Object(map) = doc else { return };
            if rest.is_empty() {
                leaf(map, key);
            } else if let Some(child) = map.get_mut(key) {
                at_leaves(child, rest, leaf);
            }
        }
    }
}

/// Whether any default is declared for `resource` (saves a walk for the rest).
pub fn declared(resource: &str) -> bool {
    table().by_resource.contains_key(resource)
}

/// Merges the defaults of `resource` under `doc` (one item of that resource). `values` gives
/// the `{name}` placeholders their values.
pub fn fill(resource: &str, doc: &mut Value, values: &BTreeMap<String, Value>) {
    if let Some(fills) = table().by_resource.get(resource) {
        apply(fills, doc, values);
    }
}

/// Applies one resource's fills to `doc`.
fn apply(fills: &[Fill], doc: &mut Value, values: &BTreeMap<String, Value>) {
    for f in fills {
        if let Some(field) = &f.when_set
            && doc.get(field).is_none_or(Value::is_null)
        {
            continue;
        }
        let Some(value) = substitute(&f.value, values) else {
            continue;
        };
        fill_at(doc, &f.path, &value);
    }
}

/// The value with its placeholders replaced; `None` when one has no value here.
fn substitute(value: &Value, values: &BTreeMap<String, Value>) -> Option<Value> {
    match value {
        Value::String(s) if s.starts_with('{') && s.ends_with('}') && s.len() > 2 => {
            values.get(&s[1..s.len() - 1]).cloned()
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if let Some(v) = substitute(v, values) {
                    out.insert(k.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

fn fill_at(doc: &mut Value, path: &[Step], value: &Value) {
    if path.is_empty() {
        return merge_missing(doc, value);
    }
    at_leaves(doc, path, &mut |map, key| match map.get_mut(key) {
        Some(existing) => merge_missing(existing, value),
        None => {
            map.insert(key.to_owned(), value.clone());
        }
    });
}

/// Adds what `defaults` has and `doc` lacks, recursively through objects; an explicit `null` or
/// any other value in `doc` stays.
fn merge_missing(doc: &mut Value, defaults: &Value) {
    if let (Value::Object(have), Value::Object(add)) = (doc, defaults) {
        for (k, v) in add {
            match have.get_mut(k) {
                Some(existing) => merge_missing(existing, v),
                None => {
                    have.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_parses_and_every_resource_is_one_the_model_knows() {
        let table = parse(include_str!("atlas.json")).unwrap();
        for resource in table.by_resource.keys() {
            assert!(
                atlas_model::OPERATIONS
                    .iter()
                    .any(|op| op.resource == resource),
                "{resource} is no operation's resource"
            );
        }
    }

    #[test]
    fn identifiers_are_assigned_where_missing_and_kept_where_present() {
        let table = parse(
            r#"[{"resource": "/r", "evidence": "test", "assign_ids": ["notifications[].notifierId"]}]"#,
        )
        .unwrap();
        let mut doc = json!({"notifications": [{"typeName": "GROUP"}, {"notifierId": "kept"}]});
        let mut n = 0;
        for path in &table.ids_by_resource["/r"] {
            assign_at(&mut doc, path, &mut || {
                n += 1;
                format!("id{n}")
            });
        }
        assert_eq!(
            doc,
            json!({"notifications": [{"typeName": "GROUP", "notifierId": "id1"}, {"notifierId": "kept"}]})
        );
        assert!(parse(r#"[{"resource": "/r", "evidence": "e", "assign_ids": "x"}]"#).is_err());
    }

    #[test]
    fn conditional_entries_apply_when_their_field_is_set_and_win() {
        let table = parse(
            r#"[{"resource": "/r", "evidence": "test", "fill": {"kind": "NONE", "on": false}},
                {"resource": "/r", "evidence": "test", "when_set": "filter", "fill": {"kind": "JSON"}}]"#,
        )
        .unwrap();
        let fill = |doc: &mut Value| apply(&table.by_resource["/r"], doc, &BTreeMap::new());
        let mut set = json!({"filter": "{}"});
        fill(&mut set);
        assert_eq!(set, json!({"filter": "{}", "kind": "JSON", "on": false}));
        let mut unset = json!({"filter": null});
        fill(&mut unset);
        assert_eq!(unset, json!({"filter": null, "kind": "NONE", "on": false}));
        assert!(
            parse(r#"[{"resource": "/r", "evidence": "e", "when_set": 1, "fill": {}}]"#).is_err()
        );
    }

    #[test]
    fn fills_missing_values_through_arrays_and_keeps_what_is_set() {
        let table = parse(
            r#"[{"resource": "/r", "evidence": "test",
                 "fill": {"a": {"x": 1, "y": 2}, "list[].b": {"on": false}, "g": "{groupId}",
                          "missing[].c": 1, "o": "{orgId}"}}]"#,
        )
        .unwrap();
        let mut doc = json!({"a": {"x": 5}, "list": [{"b": {"on": true}}, {}]});
        let values = BTreeMap::from([("groupId".to_owned(), json!("g1"))]);
        for f in &table.by_resource["/r"] {
            if let Some(v) = substitute(&f.value, &values) {
                fill_at(&mut doc, &f.path, &v);
            }
        }
        assert_eq!(
            doc,
            json!({"a": {"x": 5, "y": 2}, "list": [{"b": {"on": true}}, {"b": {"on": false}}],
                   "g": "g1"})
        );
    }

    #[test]
    fn an_entry_without_evidence_is_refused() {
        assert!(parse(r#"[{"resource": "/r", "fill": {"a": 1}}]"#).is_err());
    }
}
