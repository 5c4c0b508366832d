//! OpenAPI 3.0 (stripped) -> JSON Schema 2020-12, in request or response flavour.
//!
//! One document per mode holds every component under `$defs` (keys from [`def_key`]); validators
//! are roots of the form `{"$ref": "<mode uri>#/$defs/<key>"}` compiled against a registry holding
//! both documents. The rules follow the acceptance probe's converter, so that we accept at least
//! what it accepts, plus the request rules the server needs:
//! - `nullable` allows `null`; `format`, `readOnly`, `writeOnly`, `default` are annotations only;
//! - a discriminator mapping becomes an if/then dispatch on the property value, values outside the
//!   mapping fall back to the `oneOf` alternatives; `oneOf` without a discriminator becomes `anyOf`
//!   (the spec's alternatives overlap, e.g. region enums of several clouds);
//! - an `allOf` reference to a polymorphic base uses its core (`core.<key>`: the base without its
//!   alternatives and dispatch), which cuts the base -> sub-type -> base cycles;
//! - `type: object` over scalar alternatives loses its `type` (the spec contradicts itself);
//! - patterns go through [`Patterns::asserted`] (broken or uncompilable ones are dropped);
//! - request: every value position (root, property, item, map value) whose schema declares
//!   properties gets `unevaluatedProperties: false`, which sees through `allOf`/`anyOf`/`$ref`/
//!   `then`; composition members stay open so a sub-type's properties are not refused by its base.
//!   properties read-only where declared become `true` (Atlas ignores them: accepted whatever
//!   their value) and read-only ones leave `required`;
//! - a few components accept more than the spec declares, as Atlas does ([`NOT_REQUIRED`],
//!   [`ALSO_ENUM`], [`ALSO_A_LIST`], each with its evidence);
//! - response: write-only properties leave `required`; undeclared properties are allowed.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::Mode;
use crate::pattern::Patterns;
use crate::spec::{self, Spec};

/// The base URI of the converted document of a mode.
pub(crate) fn base_uri(mode: Mode) -> &'static str {
    match mode {
        Mode::Request => "urn:localatlas:request",
        Mode::Response => "urn:localatlas:response",
    }
}

/// The `$defs` key of a schema name (`/` is not usable unescaped in a JSON pointer; names never
/// contain `.`).
pub(crate) fn def_key(name: &str) -> String {
    name.replace('/', ".")
}

/// The `$defs` key of a polymorphic schema's core.
pub(crate) fn core_key(name: &str) -> String {
    format!("core.{}", def_key(name))
}

fn ref_to(mode: Mode, key: &str) -> Value {
    json!({"$ref": format!("{}#/$defs/{}", base_uri(mode), key)})
}

/// Where a schema sits: a value position is applied to a value on its own (and closed in request
/// mode); a composition member is applied next to siblings that may declare more properties.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    Value,
    Member,
}

const COPIED: [&str; 11] = [
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
];

pub(crate) struct Converter<'a> {
    spec: Spec<'a>,
    patterns: &'a Patterns,
    mode: Mode,
    /// Component name -> whether it declares properties (memo of [`Converter::declares`]).
    declares_memo: RefCell<HashMap<&'a str, bool>>,
}

impl<'a> Converter<'a> {
    pub(crate) fn new(spec: Spec<'a>, patterns: &'a Patterns, mode: Mode) -> Converter<'a> {
        Converter {
            spec,
            patterns,
            mode,
            declares_memo: RefCell::new(HashMap::new()),
        }
    }

    /// The whole document of this mode: every schema, plus the core of every polymorphic one.
    pub(crate) fn document(&self, schemas: &'a Map<String, Value>) -> Value {
        let mut defs = Map::new();
        for (name, node) in schemas {
            defs.insert(
                def_key(name),
                self.conv(node, false, Position::Member, Some(name)),
            );
            if self.spec.is_polymorphic(node) {
                defs.insert(
                    core_key(name),
                    self.conv(node, true, Position::Member, Some(name)),
                );
            }
        }
        json!({"$defs": defs})
    }

    /// The root a validator of `name` is compiled from.
    pub(crate) fn root(&self, name: &str) -> Value {
        let mut root = ref_to(self.mode, &def_key(name));
        if let (Some(node), Some(map)) = (self.spec.get(name), root.as_object_mut())
            && self.closes(node)
        {
            map.insert("unevaluatedProperties".into(), Value::Bool(false));
        }
        root
    }

    /// Whether a schema in a value position gets `unevaluatedProperties: false`.
    fn closes(&self, node: &'a Value) -> bool {
        self.mode == Mode::Request && self.declares(node, 0)
    }

    /// Whether a schema declares properties itself or through its references and composition.
    fn declares(&self, node: &'a Value, depth: usize) -> bool {
        if depth > 24 {
            return false;
        }
        if let Some(name) = spec::ref_name(node) {
            if let Some(known) = self.declares_memo.borrow().get(name) {
                return *known;
            }
            // Provisional answer while the component is being looked at breaks reference cycles.
            self.declares_memo.borrow_mut().insert(name, false);
            let target = self.spec.deref(node);
            let result = self.declares(target, depth + 1);
            self.declares_memo.borrow_mut().insert(name, result);
            return result;
        }
        if node
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| !p.is_empty())
        {
            return true;
        }
        let members = ["allOf", "oneOf", "anyOf"]
            .iter()
            .filter_map(|k| node.get(*k).and_then(Value::as_array))
            .flatten();
        for m in members {
            if self.declares(m, depth + 1) {
                return true;
            }
        }
        if let Some((_, pairs)) = spec::discriminator(node) {
            for (_, target) in pairs {
                if let Some(t) = self.spec.get(target)
                    && self.declares(t, depth + 1)
                {
                    return true;
                }
            }
        }
        false
    }

    fn conv_list(&self, list: &'a [Value], current: Option<&str>) -> Vec<Value> {
        list.iter()
            .map(|m| self.conv(m, false, Position::Member, current))
            .collect()
    }

    fn conv(&self, node: &'a Value, core: bool, pos: Position, current: Option<&str>) -> Value {
        let map = match node {
            Value::Bool(_) => return node.clone(),
            Value::Object(map) => map,
            _ => return json!({}),
        };
        if let Some(name) = spec::ref_name(node) {
            let mut out = ref_to(self.mode, &def_key(name));
            if pos == Position::Value
                && self.closes(node)
                && let Some(o) = out.as_object_mut()
            {
                o.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            // A reference the overlays made nullable (Atlas answers `null` when it is unset).
            if spec::flag(node, "nullable") {
                return json!({"anyOf": [out, {"type": "null"}]});
            }
            return out;
        }

        let mut out = Map::new();
        let alts = spec::alternatives(node);
        let ty = spec::str_of(node, "type");
        let scalar_alts = self.spec.has_scalar_alternatives(node);
        if let Some(t) = ty
            && !scalar_alts
        {
            out.insert("type".into(), Value::String(t.to_owned()));
        }
        for k in COPIED {
            if let Some(v) = map.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
        for (exclusive, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            match map.get(exclusive) {
                Some(Value::Bool(true)) => {
                    if let Some(b) = out.remove(bound) {
                        out.insert(exclusive.into(), b);
                    }
                }
                Some(v @ Value::Number(_)) => {
                    out.insert(exclusive.into(), v.clone());
                }
                _ => {}
            }
        }
        if let Some(p) = spec::str_of(node, "pattern")
            && matches!(ty, None | Some("string"))
            && let Some(asserted) = self.patterns.asserted(p)
        {
            out.insert("pattern".into(), Value::String(asserted.to_owned()));
        }
        if let Some(props) = map.get("properties").and_then(Value::as_object) {
            let mut converted = Map::new();
            for (k, v) in props {
                let schema = if self.mode == Mode::Request && self.spec.is_declared_read_only(v) {
                    // Accepted and ignored, whatever its value (see `Spec::is_declared_read_only`).
                    Value::Bool(true)
                } else {
                    let mut converted = self.conv(v, false, Position::Value, current);
                    if let Some(values) = relaxed_enum(current, node, self.spec, k) {
                        widen_enum(&mut converted, values);
                    }
                    converted
                };
                converted.insert(k.clone(), schema);
            }
            out.insert("properties".into(), Value::Object(converted));
        }
        if let Some(req) = map.get("required").and_then(Value::as_array) {
            let kept: Vec<Value> = req
                .iter()
                .filter_map(Value::as_str)
                .filter(|r| match self.mode {
                    Mode::Request => !self.spec.required_is_read_only(node, r),
                    Mode::Response => !self.spec.required_is_write_only(node, r),
                })
                .filter(|r| !relaxed_required(current, node, self.spec, r))
                .map(|r| Value::String(r.to_owned()))
                .collect();
            if !kept.is_empty() {
                out.insert("required".into(), Value::Array(kept));
            }
        }
        if let Some(items) = map.get("items") {
            out.insert(
                "items".into(),
                self.conv(items, false, Position::Value, current),
            );
        }
        match map.get("additionalProperties") {
            Some(ap @ Value::Object(_)) => {
                out.insert(
                    "additionalProperties".into(),
                    self.conv(ap, false, Position::Value, current),
                );
            }
            Some(Value::Bool(b)) => {
                out.insert("additionalProperties".into(), Value::Bool(*b));
            }
            _ => {}
        }
        if let Some(not) = map.get("not") {
            out.insert(
                "not".into(),
                self.conv(not, false, Position::Member, current),
            );
        }

        let mut all_of = Vec::new();
        if let Some(parts) = map.get("allOf").and_then(Value::as_array) {
            for part in parts {
                match spec::ref_name(part) {
                    Some(name) if self.spec.is_polymorphic(part) => {
                        all_of.push(ref_to(self.mode, &core_key(name)));
                    }
                    _ => all_of.push(self.conv(part, false, Position::Member, current)),
                }
            }
        }
        if !core {
            if let Some((property, pairs)) = spec::discriminator(node) {
                for (value, target) in &pairs {
                    // A mapping back to the schema itself would dispatch forever: use its core.
                    let key = if Some(*target) == current {
                        core_key(target)
                    } else {
                        def_key(target)
                    };
                    all_of.push(json!({
                        "if": {"properties": {property: {"const": value}}, "required": [property]},
                        "then": ref_to(self.mode, &key),
                    }));
                }
                // An optional discriminator that is absent takes its default branch, as Atlas
                // does (a search index without `type` is a `search` index): the property's
                // `default`, else its first enum value, else the first mapping.
                let required = node
                    .get("required")
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|p| p.as_str() == Some(property)));
                if !required && let Some(target) = default_branch(node, property, &pairs) {
                    let key = if Some(target) == current {
                        core_key(target)
                    } else {
                        def_key(target)
                    };
                    all_of.push(json!({
                        "if": {"not": {"required": [property]}},
                        "then": ref_to(self.mode, &key),
                    }));
                }
                if let Some(alts) = alts {
                    let values: Vec<&str> = pairs.iter().map(|(v, _)| *v).collect();
                    all_of.push(json!({
                        "if": {"not": {"properties": {property: {"enum": values}}, "required": [property]}},
                        "then": {"anyOf": self.conv_list(alts, current)},
                    }));
                }
            } else if let Some(alts) = alts {
                out.insert("anyOf".into(), Value::Array(self.conv_list(alts, current)));
            }
        }
        if !all_of.is_empty() {
            out.insert("allOf".into(), Value::Array(all_of));
        }
        if pos == Position::Value && self.closes(node) {
            out.insert("unevaluatedProperties".into(), Value::Bool(false));
        }
        let out = if spec::flag(node, "nullable") {
            nullable(out)
        } else {
            Value::Object(out)
        };
        if is_component(current, node, self.spec)
            && current.is_some_and(|c| ALSO_A_LIST.contains(&c))
        {
            return json!({"anyOf": [out.clone(), {"type": "array", "items": out}]});
        }
        out
    }
}

/// Where Atlas accepts more than its spec declares, by component. The recordings of real
/// exchanges are the evidence (`../shared/conformance/corpus.jsonl`, answered 2xx by Atlas).
///
/// Attributes the spec lists as required that Atlas does not require:
/// - `DatabasePermittedNamespaceResource`: a custom role's privilege names either a cluster
///   (`{"cluster": true}`) or a namespace (`{"db", "collection"}`), never all three
///   (Atlas CLI `TestDBRoles`, create and update, 202/200);
/// - `CloudAppUser.mobileNumber`: users are created without one (Atlas CLI `TestAtlasUsers`,
///   201).
pub(crate) const NOT_REQUIRED: &[(&str, &[&str])] = &[
    (
        "DatabasePermittedNamespaceResource",
        &["cluster", "collection", "db"],
    ),
    ("CloudAppUser", &["mobileNumber"]),
];

/// Enum values Atlas takes (and answers with) besides the spec's: the BI Connector read
/// preference in lower case, as the Terraform provider sends it and Atlas echoes it
/// (`mongodbatlas_advanced_cluster` `replicasetAdvConfigUpdate`, 2024-10-23, 200).
const ALSO_ENUM: &[(&str, &str, &[&str])] = &[(
    "BiConnector",
    "readPreference",
    &["primary", "secondary", "analytics"],
)];

/// Components whose value may also be a list of them:
/// - an Atlas Search field mapping that indexes one field as several types (`"comments":
///   [{"type": "document"}, {"type": "string"}]`, Atlas CLI `TestSearch`, 201, answered back as
///   sent);
/// - the private endpoints of federated database instances, added several at a time (the
///   Atlas CLI's recorded `POST /groups/{groupId}/privateNetworkSettings/endpointIds` sends a
///   one-element array, `TestDataFederationPrivateEndpointsAWS`, 201 with the whole list).
const ALSO_A_LIST: &[&str] = &["Fields", "PrivateNetworkEndpointIdEntry"];

/// Whether `node` is the top of component `current` (not a node nested inside it).
fn is_component(current: Option<&str>, node: &Value, spec: Spec<'_>) -> bool {
    current
        .and_then(|c| spec.get(c))
        .is_some_and(|top| std::ptr::eq(top, node))
}

fn relaxed_required(current: Option<&str>, node: &Value, spec: Spec<'_>, name: &str) -> bool {
    is_component(current, node, spec)
        && NOT_REQUIRED
            .iter()
            .any(|(c, names)| Some(*c) == current && names.contains(&name))
}

fn relaxed_enum(
    current: Option<&str>,
    node: &Value,
    spec: Spec<'_>,
    property: &str,
) -> Option<&'static [&'static str]> {
    if !is_component(current, node, spec) {
        return None;
    }
    ALSO_ENUM
        .iter()
        .find(|(c, p, _)| Some(*c) == current && *p == property)
        .map(|(_, _, values)| *values)
}

/// Adds values to the `enum` of a converted scalar schema (wherever it sits in a nullable
/// wrapper).
fn widen_enum(schema: &mut Value, values: &[&str]) {
    if let Some(Value::Array(existing)) = schema.get_mut("enum") {
        existing.extend(values.iter().map(|v| Value::String((*v).to_owned())));
        return;
    }
    if let Some(Value::Array(alts)) = schema.get_mut("anyOf") {
        for alt in alts {
            widen_enum(alt, values);
        }
    }
}

/// The branch an absent discriminator value selects: the property's default, else its first
/// enum value, else the first mapping.
fn default_branch<'a>(node: &Value, property: &str, pairs: &[(&str, &'a str)]) -> Option<&'a str> {
    let declared = node.get("properties").and_then(|p| p.get(property));
    let value = declared
        .and_then(|d| d.get("default"))
        .and_then(Value::as_str)
        .or_else(|| {
            declared
                .and_then(|d| d.get("enum"))
                .and_then(Value::as_array)
                .and_then(|e| e.first())
                .and_then(Value::as_str)
        });
    match value {
        Some(v) => pairs.iter().find(|(k, _)| *k == v).map(|(_, t)| *t),
        None => pairs.first().map(|(_, t)| *t),
    }
}

/// A converted schema that also accepts `null`.
fn nullable(mut out: Map<String, Value>) -> Value {
    let simple = !["allOf", "anyOf", "oneOf", "not"]
        .iter()
        .any(|k| out.contains_key(*k));
    match out.get("type").and_then(Value::as_str) {
        Some(t) if simple => {
            let t = t.to_owned();
            out.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(values)) = out.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
            Value::Object(out)
        }
        _ => json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(doc: Value, mode: Mode, name: &str) -> Value {
        let map = doc.as_object().cloned().unwrap_or_default();
        let patterns = Patterns::collect(&map);
        let c = Converter::new(Spec::new(&map), &patterns, mode);
        let node = map.get(name).cloned().unwrap_or(Value::Null);
        c.conv(&node, false, Position::Member, Some(name))
    }

    #[test]
    fn nullable_widens_type_and_enum() {
        let doc = json!({"S": {"type": "string", "enum": ["A"], "nullable": true}});
        assert_eq!(
            convert(doc, Mode::Response, "S"),
            json!({"type": ["string", "null"], "enum": ["A", null]})
        );
    }

    #[test]
    fn object_over_scalar_alternatives_loses_its_type() {
        let doc = json!({"S": {"type": "object", "oneOf": [{"type": "string", "enum": ["A"]}, {"type": "string", "enum": ["B"]}]}});
        let out = convert(doc, Mode::Response, "S");
        assert!(out.get("type").is_none());
        assert_eq!(out["anyOf"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn exclusive_bounds_become_numbers() {
        let doc = json!({"S": {"type": "integer", "minimum": 0, "exclusiveMinimum": true}});
        assert_eq!(
            convert(doc, Mode::Response, "S"),
            json!({"type": "integer", "exclusiveMinimum": 0})
        );
    }

    #[test]
    fn request_mode_closes_values_and_accepts_read_only() {
        let doc = json!({
            "S": {"type": "object", "properties": {"id": {"type": "string", "readOnly": true}, "sub": {"type": "object", "properties": {"a": {"type": "string"}}}}, "required": ["id", "sub"]}
        });
        let out = convert(doc.clone(), Mode::Request, "S");
        assert_eq!(out["properties"]["id"], json!(true));
        assert_eq!(
            out["properties"]["sub"]["unevaluatedProperties"],
            json!(false)
        );
        assert_eq!(out["required"], json!(["sub"]));
        // The def itself is a composition member: closed only where used as a value.
        assert!(out.get("unevaluatedProperties").is_none());
        let resp = convert(doc, Mode::Response, "S");
        assert_eq!(resp["required"], json!(["id", "sub"]));
        assert!(
            resp["properties"]["sub"]
                .get("unevaluatedProperties")
                .is_none()
        );
    }

    #[test]
    fn discriminator_dispatches_and_sub_types_use_the_core() {
        let doc = json!({
            "Base": {"type": "object", "properties": {"kind": {"type": "string"}}, "discriminator": {"propertyName": "kind", "mapping": {"A": "#/components/schemas/A"}}, "oneOf": [{"$ref": "#/components/schemas/A"}]},
            "A": {"type": "object", "allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"a": {"type": "string"}}}]}
        });
        let base = convert(doc.clone(), Mode::Response, "Base");
        let all_of = base["allOf"].as_array().cloned().unwrap_or_default();
        // Dispatch on the value, the default branch for an absent value, the fallback.
        assert_eq!(all_of.len(), 3);
        assert_eq!(all_of[1]["if"], json!({"not": {"required": ["kind"]}}));
        assert_eq!(
            all_of[0]["then"]["$ref"],
            json!("urn:localatlas:response#/$defs/A")
        );
        assert!(base.get("anyOf").is_none());
        let a = convert(doc, Mode::Response, "A");
        assert_eq!(
            a["allOf"][0]["$ref"],
            json!("urn:localatlas:response#/$defs/core.Base")
        );
    }
}
