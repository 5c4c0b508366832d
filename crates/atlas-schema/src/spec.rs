//! Navigating the stripped OpenAPI 3.0 schemas: references, `allOf` composition, polymorphism and
//! the property flags (read-only, write-only) that the converter, the example builder and `fit`
//! all ask about. Everything here borrows from the parsed document; nothing is copied.

use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::{Map, Value};

/// How references to components are written in the stripped schemas.
pub(crate) const REF_PREFIX: &str = "#/components/schemas/";

/// Reference chains and `allOf` nesting deeper than this are treated as cycles.
const MAX_HOPS: usize = 32;

/// The scalar OpenAPI types.
pub(crate) const SCALARS: [&str; 4] = ["string", "integer", "number", "boolean"];

/// A schema that accepts anything; what an unresolvable reference stands for.
pub(crate) static ANY: Value = Value::Bool(true);

/// The component name a `{"$ref": ...}` node points to.
pub(crate) fn ref_name(node: &Value) -> Option<&str> {
    node.get("$ref")?.as_str()?.strip_prefix(REF_PREFIX)
}

/// The component name of a discriminator mapping target (`#/components/schemas/Name`).
pub(crate) fn mapping_target(target: &Value) -> Option<&str> {
    let s = target.as_str()?;
    Some(s.strip_prefix(REF_PREFIX).unwrap_or(s))
}

pub(crate) fn str_of<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Value::as_str)
}

pub(crate) fn flag(node: &Value, key: &str) -> bool {
    node.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The `discriminator` of a node: property name and `(value, target component)` pairs in the
/// spec's order. Only discriminators with a mapping count (the spec has no others).
pub(crate) fn discriminator(node: &Value) -> Option<(&str, Vec<(&str, &str)>)> {
    let disc = node.get("discriminator")?;
    let property = str_of(disc, "propertyName")?;
    let mapping = disc.get("mapping")?.as_object()?;
    let pairs: Vec<(&str, &str)> = mapping
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), mapping_target(v)?)))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    Some((property, pairs))
}

/// The `oneOf` (or `anyOf`) alternatives of a node.
pub(crate) fn alternatives(node: &Value) -> Option<&Vec<Value>> {
    node.get("oneOf")
        .or_else(|| node.get("anyOf"))
        .and_then(Value::as_array)
}

/// The keyword (set by the spec overlays of `atlas-codegen`) marking a property Atlas answers
/// as `null` when it was never set.
pub const NULL_WHEN_UNSET: &str = "x-null-when-unset";

/// Flattened views by the address of their node. Nodes borrow from the parsed document for
/// `'a`, so an address names one node for as long as the cache can be reached.
pub(crate) type FlatCache<'a> = RwLock<HashMap<usize, Arc<Flat<'a>>>>;

/// The flattened view of an object-ish schema: its own keywords plus those of its `allOf` parts.
#[derive(Debug, Default, Clone)]
pub(crate) struct Flat<'a> {
    /// The node itself (dereferenced) followed by its `allOf` parts, depth first.
    pub(crate) nodes: Vec<&'a Value>,
    /// Property name -> every schema declared for it, least specific first (a sub-type's `allOf`
    /// extension comes after the base it extends).
    pub(crate) properties: Vec<(&'a str, Vec<&'a Value>)>,
    pub(crate) required: Vec<&'a str>,
    /// Properties Atlas answers as `null` when the document does not set them (marked
    /// [`NULL_WHEN_UNSET`] by the spec overlays).
    pub(crate) null_when_unset: Vec<&'a str>,
    /// Property name -> its position in `properties`: documents are looked up property by
    /// property, and large schemas declare a hundred.
    index: HashMap<&'a str, usize>,
}

impl<'a> Flat<'a> {
    /// The first value of a keyword among the node and its parts.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.nodes.iter().find_map(|n| n.get(key))
    }

    pub(crate) fn property(&self, name: &str) -> Option<&[&'a Value]> {
        self.index
            .get(name)
            .map(|&i| self.properties[i].1.as_slice())
    }

    /// The most specific schema declared for a property.
    pub(crate) fn property_schema(&self, name: &str) -> Option<&'a Value> {
        self.property(name).and_then(|v| v.last().copied())
    }

    pub(crate) fn is_object(&self) -> bool {
        self.get("type").and_then(Value::as_str) == Some("object")
            || !self.properties.is_empty()
            || self
                .nodes
                .iter()
                .any(|n| n.get("additionalProperties").is_some())
    }

    fn add_property(&mut self, name: &'a str, schema: &'a Value) {
        if flag(schema, NULL_WHEN_UNSET) && !self.null_when_unset.contains(&name) {
            self.null_when_unset.push(name);
        }
        match self.index.get(name) {
            Some(&i) => self.properties[i].1.push(schema),
            None => {
                self.index.insert(name, self.properties.len());
                self.properties.push((name, vec![schema]));
            }
        }
    }

    fn add_required(&mut self, name: &'a str) {
        if !self.required.contains(&name) {
            self.required.push(name);
        }
    }
}

/// The schema document, borrowed, with an optional cache of flattened views.
#[derive(Clone, Copy)]
pub(crate) struct Spec<'a> {
    schemas: &'a Map<String, Value>,
    flats: Option<&'a FlatCache<'a>>,
}

impl<'a> Spec<'a> {
    pub(crate) fn new(schemas: &'a Map<String, Value>) -> Spec<'a> {
        Spec {
            schemas,
            flats: None,
        }
    }

    /// A spec whose flattened views are computed once and kept in `flats` (rendering flattens
    /// the same nodes for every document; building the views was most of its cost).
    pub(crate) fn cached(schemas: &'a Map<String, Value>, flats: &'a FlatCache<'a>) -> Spec<'a> {
        Spec {
            schemas,
            flats: Some(flats),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.schemas.get(name)
    }

    /// Follows `$ref`s; an unresolvable or cyclic chain yields the accept-all schema.
    pub(crate) fn deref(&self, mut node: &'a Value) -> &'a Value {
        for _ in 0..MAX_HOPS {
            match ref_name(node) {
                Some(name) => match self.schemas.get(name) {
                    Some(next) => node = next,
                    None => return &ANY,
                },
                None => return node,
            }
        }
        &ANY
    }

    /// Whether a (possibly referenced) schema is polymorphic: it carries `oneOf`, `anyOf` or a
    /// `discriminator`. An `allOf` reference to such a base contributes only its core.
    pub(crate) fn is_polymorphic(&self, node: &'a Value) -> bool {
        let n = self.deref(node);
        n.get("oneOf").is_some() || n.get("anyOf").is_some() || n.get("discriminator").is_some()
    }

    /// Whether an alternative is a scalar schema (typed scalar, or an untyped enum).
    pub(crate) fn is_scalar(&self, alt: &'a Value) -> bool {
        let a = self.deref(alt);
        match str_of(a, "type") {
            Some(t) => SCALARS.contains(&t),
            None => a.get("enum").is_some() && a.get("properties").is_none(),
        }
    }

    /// Whether a node is `type: object` over alternatives that are all scalars (the spec's
    /// instance sizes, region names, event type names): its `type` is not asserted.
    pub(crate) fn has_scalar_alternatives(&self, node: &'a Value) -> bool {
        str_of(node, "type") == Some("object")
            && alternatives(node)
                .is_some_and(|a| !a.is_empty() && a.iter().all(|x| self.is_scalar(x)))
    }

    /// Whether a property schema is read-only: flagged itself, through its reference, or through
    /// one of its `allOf` parts (the probe's rule).
    pub(crate) fn is_read_only(&self, prop: &'a Value) -> bool {
        if flag(prop, "readOnly") {
            return true;
        }
        let n = self.deref(prop);
        if flag(n, "readOnly") {
            return true;
        }
        n.get("allOf")
            .and_then(Value::as_array)
            .is_some_and(|parts| parts.iter().any(|p| flag(self.deref(p), "readOnly")))
    }

    /// Whether a property is read-only where it is declared (`readOnly` on the property itself).
    /// Atlas ignores such an attribute in a request body: clients send back what they read (the
    /// Go SDK's `admin.Group` always carries `clusterCount` and `created`, the Atlas CLI returns
    /// a cluster's `groupId` and its replication specs' `zoneId` in updates) and Atlas answers
    /// 2xx. A component flagged read-only as a whole and reached through a reference is not
    /// this: the same component serves writable attributes too (`DedicatedHardwareSpec20240805`
    /// is both `analyticsSpecs`, which clusters are created with, and `effectiveAnalyticsSpecs`).
    pub(crate) fn is_declared_read_only(&self, prop: &'a Value) -> bool {
        flag(prop, "readOnly")
    }

    /// Whether a property schema is write-only (flagged itself or through its reference).
    pub(crate) fn is_write_only(&self, prop: &'a Value) -> bool {
        flag(prop, "writeOnly") || flag(self.deref(prop), "writeOnly")
    }

    /// The schemas declared for property `name` by `node` or its `allOf` parts.
    pub(crate) fn property_schemas(&self, node: &'a Value, name: &str) -> Vec<&'a Value> {
        let mut out = Vec::new();
        self.collect_property(node, name, &mut out, 0);
        out
    }

    fn collect_property(
        &self,
        node: &'a Value,
        name: &str,
        out: &mut Vec<&'a Value>,
        depth: usize,
    ) {
        if depth > MAX_HOPS {
            return;
        }
        let node = self.deref(node);
        if let Some(p) = node.get("properties").and_then(|p| p.get(name)) {
            out.push(p);
        }
        if let Some(parts) = node.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.collect_property(part, name, out, depth + 1);
            }
        }
    }

    /// Whether a required property of `node` is read-only (in every declaration found).
    pub(crate) fn required_is_read_only(&self, node: &'a Value, name: &str) -> bool {
        let decls = self.property_schemas(node, name);
        !decls.is_empty() && decls.iter().all(|p| self.is_read_only(p))
    }

    /// Whether a required property of `node` is write-only (in any declaration found).
    pub(crate) fn required_is_write_only(&self, node: &'a Value, name: &str) -> bool {
        self.property_schemas(node, name)
            .iter()
            .any(|p| self.is_write_only(p))
    }

    /// `node` with its `allOf` parts merged (references followed). Alternatives and
    /// discriminators are never followed here: callers handle the node's own polymorphism, and a
    /// part that references a polymorphic base contributes only the base's core (its properties
    /// and keywords), which is how the base -> sub-type -> base cycles are cut.
    pub(crate) fn flatten(&self, node: &'a Value) -> Arc<Flat<'a>> {
        let Some(cache) = self.flats else {
            return Arc::new(self.flatten_uncached(node));
        };
        let key = std::ptr::from_ref(node).addr();
        if let Some(flat) = cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return flat.clone();
        }
        let flat = Arc::new(self.flatten_uncached(node));
        cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, flat.clone());
        flat
    }

    fn flatten_uncached(&self, node: &'a Value) -> Flat<'a> {
        let mut flat = Flat::default();
        self.flatten_into(node, &mut flat, 0);
        flat
    }

    /// Adds the declarations of another node (and its parts) to a flattened view, e.g. the chosen
    /// sub-type of a discriminated base.
    pub(crate) fn flatten_extend(&self, node: &'a Value, flat: &mut Flat<'a>) {
        self.flatten_into(node, flat, 0);
    }

    fn flatten_into(&self, node: &'a Value, flat: &mut Flat<'a>, depth: usize) {
        if depth > MAX_HOPS {
            return;
        }
        let node = self.deref(node);
        if flat.nodes.iter().any(|n| std::ptr::eq(*n, node)) {
            return;
        }
        flat.nodes.push(node);
        if let Some(parts) = node.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.flatten_into(part, flat, depth + 1);
            }
        }
        // The node's own declarations come after its parts: in the spec a node either composes
        // (`allOf` of a base and an extension) or declares, and an extension is more specific
        // than the base it follows.
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                flat.add_property(k, v);
            }
        }
        if let Some(req) = node.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                flat.add_required(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flatten_merges_all_of_parts_and_keeps_every_declaration() {
        let doc = json!({
            "Base": {"properties": {"type": {"type": "string", "enum": ["A", "B"]}, "id": {"type": "string", "readOnly": true}}, "required": ["type"], "discriminator": {"propertyName": "type", "mapping": {"A": "#/components/schemas/A"}}},
            "A": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"type": {"type": "string", "enum": ["A"]}, "a": {"type": "integer"}}, "required": ["a"]}], "type": "object"}
        });
        let map = doc.as_object().cloned().unwrap_or_default();
        let base_ref = json!({"$ref": "#/components/schemas/Base"});
        let spec = Spec::new(&map);
        let a = spec.get("A").unwrap();
        let flat = spec.flatten(a);
        assert_eq!(flat.required, vec!["type", "a"]);
        assert_eq!(flat.property("type").map(<[_]>::len), Some(2));
        assert_eq!(
            flat.property_schema("type"),
            Some(&json!({"type": "string", "enum": ["A"]}))
        );
        assert!(spec.is_polymorphic(&base_ref));
        assert!(spec.required_is_read_only(a, "id"));
        assert!(!spec.required_is_read_only(a, "a"));
        assert!(flat.is_object());
    }
}
