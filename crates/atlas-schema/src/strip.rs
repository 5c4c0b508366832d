//! Removing the read-only attributes of a request body.
//!
//! Atlas accepts a read-only attribute in a request and ignores it (see
//! `Spec::is_declared_read_only`). The body is walked along its schema: at each object, every
//! declaration of an attribute that applies there is gathered (the object's own and `allOf`
//! ones, the sub-type its discriminator value selects, every alternative when no value
//! selects one); the attribute goes when all of them are read-only where declared, otherwise
//! its value is walked with its writable declarations. Items follow `items`, map values
//! `additionalProperties`.

use std::sync::Arc;

use serde_json::Value;

use crate::spec::{self, Flat, Spec};

/// Past this depth nothing is removed (bodies this deep are refused by the HTTP layer anyway).
const MAX_DEPTH: usize = 64;

/// Reference and sub-type hops followed to collect one object's declarations.
const MAX_HOPS: usize = 16;

pub(crate) struct Stripper<'a> {
    spec: Spec<'a>,
}

impl<'a> Stripper<'a> {
    pub(crate) fn new(spec: Spec<'a>) -> Stripper<'a> {
        Stripper { spec }
    }

    /// Removes, in place, what `nodes` (all applying to `value`) declare read-only; whether
    /// anything was removed.
    pub(crate) fn strip(&self, nodes: &[&'a Value], value: &mut Value) -> bool {
        self.at(nodes, value, 0)
    }

    fn at(&self, nodes: &[&'a Value], value: &mut Value, depth: usize) -> bool {
        if depth > MAX_DEPTH || nodes.is_empty() {
            return false;
        }
        let mut flats = Vec::new();
        for node in nodes {
            self.expand(node, value, &mut flats, 0);
        }
        match value {
            Value::Array(items) => {
                let item_schemas: Vec<&'a Value> =
                    flats.iter().filter_map(|f| f.get("items")).collect();
                let mut changed = false;
                for item in items {
                    changed |= self.at(&item_schemas, item, depth + 1);
                }
                changed
            }
            Value::Object(map) => {
                let mut changed = false;
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let decls: Vec<&'a Value> = flats
                        .iter()
                        .flat_map(|f| f.property(&key).unwrap_or_default().iter().copied())
                        .collect();
                    if decls.is_empty() {
                        let maps: Vec<&'a Value> = flats
                            .iter()
                            .filter_map(|f| f.get("additionalProperties"))
                            .filter(|a| a.is_object())
                            .collect();
                        if let Some(v) = map.get_mut(&key) {
                            changed |= self.at(&maps, v, depth + 1);
                        }
                        continue;
                    }
                    let writable: Vec<&'a Value> = decls
                        .into_iter()
                        .filter(|d| !self.spec.is_declared_read_only(d))
                        .collect();
                    if writable.is_empty() {
                        map.remove(&key);
                        changed = true;
                    } else if let Some(v) = map.get_mut(&key) {
                        changed |= self.at(&writable, v, depth + 1);
                    }
                }
                changed
            }
            _ => false,
        }
    }

    /// The flattened views that apply to `value` under `node`: its own, then the sub-type its
    /// discriminator value selects, or every mapping target and alternative when none is
    /// selected.
    fn expand(&self, node: &'a Value, value: &Value, out: &mut Vec<Arc<Flat<'a>>>, hops: usize) {
        if hops > MAX_HOPS {
            return;
        }
        let node = self.spec.deref(node);
        if !node.is_object() {
            return;
        }
        out.push(self.spec.flatten(node));
        if let Some((property, pairs)) = spec::discriminator(node) {
            let chosen = value.get(property).and_then(Value::as_str);
            let selected = chosen.and_then(|c| pairs.iter().find(|(k, _)| *k == c));
            let targets: Vec<&str> = match selected {
                Some((_, target)) => vec![*target],
                None => pairs.iter().map(|(_, t)| *t).collect(),
            };
            for target in targets {
                if let Some(t) = self.spec.get(target)
                    && !std::ptr::eq(t, node)
                {
                    self.expand(t, value, out, hops + 1);
                }
            }
            if selected.is_some() {
                return;
            }
        }
        if let Some(alts) = spec::alternatives(node) {
            for alt in alts {
                self.expand(alt, value, out, hops + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strip(doc: &Value, name: &str, body: Value) -> Value {
        let map = doc.as_object().cloned().unwrap_or_default();
        let spec = Spec::new(&map);
        let mut body = body;
        let node = spec.get(name).unwrap();
        Stripper::new(spec).strip(&[node], &mut body);
        body
    }

    #[test]
    fn read_only_attributes_go_at_every_depth() {
        let doc = json!({
            "S": {"type": "object", "properties": {
                "id": {"type": "string", "readOnly": true},
                "name": {"type": "string"},
                "specs": {"type": "array", "items": {"$ref": "#/components/schemas/Spec"}},
                "byName": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Spec"}},
                "hw": {"$ref": "#/components/schemas/Hw"}
            }},
            "Spec": {"type": "object", "properties": {"zoneId": {"type": "string", "readOnly": true}, "zoneName": {"type": "string"}}},
            "Hw": {"type": "object", "readOnly": true, "properties": {"nodeCount": {"type": "integer"}}}
        });
        let out = strip(
            &doc,
            "S",
            json!({"id": "x", "name": "n", "specs": [{"zoneId": "z", "zoneName": "Z"}],
                   "byName": {"a": {"zoneId": "z", "zoneName": "Z"}}, "hw": {"nodeCount": 3}, "other": 1}),
        );
        // A component read-only as a whole is kept (Atlas takes `analyticsSpecs`); unknown
        // attributes are validation's business.
        assert_eq!(
            out,
            json!({"name": "n", "specs": [{"zoneName": "Z"}], "byName": {"a": {"zoneName": "Z"}},
                   "hw": {"nodeCount": 3}, "other": 1})
        );
    }

    #[test]
    fn the_discriminated_branch_decides() {
        let doc = json!({
            "Base": {"type": "object", "properties": {"type": {"type": "string"}},
                     "discriminator": {"propertyName": "type", "mapping": {"A": "#/components/schemas/A", "B": "#/components/schemas/B"}},
                     "oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
            "A": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"state": {"type": "string", "readOnly": true}}}]},
            "B": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"state": {"type": "string"}}}]}
        });
        assert_eq!(
            strip(&doc, "Base", json!({"type": "A", "state": "s"})),
            json!({"type": "A"})
        );
        assert_eq!(
            strip(&doc, "Base", json!({"type": "B", "state": "s"})),
            json!({"type": "B", "state": "s"})
        );
        // No value selects a branch: only what every branch declares read-only goes.
        assert_eq!(
            strip(&doc, "Base", json!({"state": "s"})),
            json!({"state": "s"})
        );
    }
}
