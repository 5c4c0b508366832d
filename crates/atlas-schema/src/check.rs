//! A quick conformance check of a value against an OpenAPI schema, used while building documents
//! (`example`, `fit`) to decide whether a hint, a default or a stored value can be kept.
//!
//! It applies the same rules as the converted JSON Schema for everything the builders produce —
//! types, `nullable`, enums, asserted patterns, lengths, bounds, item and property constraints,
//! discriminator dispatch and alternatives — without compiling a validator. It is deliberately
//! not a second validator: request-mode unknown properties are only checked where the object
//! itself declares properties. Builders still produce documents that the real validators accept;
//! the tests verify that.

use serde_json::Value;

use crate::Mode;
use crate::pattern::Patterns;
use crate::spec::{self, Flat, Spec};

const MAX_DEPTH: usize = 32;

#[derive(Clone, Copy)]
pub(crate) struct Checker<'a> {
    pub(crate) spec: Spec<'a>,
    pub(crate) patterns: &'a Patterns,
    pub(crate) mode: Mode,
}

/// Whether a JSON value has an OpenAPI type (`integer` accepts integral floats, like the validator).
pub(crate) fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => true,
    }
}

impl<'a> Checker<'a> {
    pub(crate) fn conforms(&self, node: &'a Value, value: &Value) -> bool {
        self.check(node, value, 0)
    }

    fn check(&self, node: &'a Value, value: &Value, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return true;
        }
        let outer = node;
        let node = self.spec.deref(node);
        if !node.is_object() {
            return node.as_bool().unwrap_or(true);
        }
        if value.is_null() {
            return spec::flag(outer, "nullable") || spec::flag(node, "nullable");
        }
        let flat = self.spec.flatten(node);
        if !self.check_flat(node, &flat, value, depth) {
            return false;
        }
        // Polymorphism of the node itself (parts contribute only their core).
        if let Some((property, pairs)) = spec::discriminator(node) {
            let chosen = value
                .get(property)
                .and_then(Value::as_str)
                .and_then(|v| pairs.iter().find(|(k, _)| *k == v));
            if let Some((_, target)) = chosen {
                return self
                    .spec
                    .get(target)
                    .is_none_or(|t| self.check(t, value, depth + 1));
            }
        }
        if let Some(alts) = spec::alternatives(node) {
            return alts.iter().any(|a| self.check(a, value, depth + 1));
        }
        true
    }

    /// The keywords of a flattened node (its parts included), polymorphism aside.
    fn check_flat(&self, node: &'a Value, flat: &Flat<'a>, value: &Value, depth: usize) -> bool {
        for n in &flat.nodes {
            if !self.check_keywords(n, value) {
                return false;
            }
        }
        let scalar_alts = self.spec.has_scalar_alternatives(node);
        if let Some(ty) = flat.get("type").and_then(Value::as_str)
            && !scalar_alts
            && !has_type(value, ty)
        {
            return false;
        }
        match value {
            Value::Array(items) => match flat.get("items") {
                Some(item) => items.iter().all(|i| self.check(item, i, depth + 1)),
                None => true,
            },
            Value::Object(map) => {
                for r in &flat.required {
                    if map.contains_key(*r) {
                        continue;
                    }
                    let excused = match self.mode {
                        Mode::Request => flat
                            .property(r)
                            .is_some_and(|d| d.iter().all(|p| self.spec.is_read_only(p))),
                        Mode::Response => flat
                            .property(r)
                            .is_some_and(|d| d.iter().any(|p| self.spec.is_write_only(p))),
                    };
                    if !excused {
                        return false;
                    }
                }
                let additional = flat.get("additionalProperties");
                for (k, v) in map {
                    match flat.property(k) {
                        Some(decls) => {
                            for d in decls {
                                // Atlas ignores what a request sends for these, whatever it is.
                                if self.mode == Mode::Request && self.spec.is_declared_read_only(d)
                                {
                                    continue;
                                }
                                if !self.check(d, v, depth + 1) {
                                    return false;
                                }
                            }
                        }
                        None => match additional {
                            Some(Value::Bool(false)) => return false,
                            Some(ap @ Value::Object(_)) => {
                                if !self.check(ap, v, depth + 1) {
                                    return false;
                                }
                            }
                            Some(_) => {}
                            None => {
                                let open = self.mode == Mode::Response
                                    || flat.properties.is_empty()
                                    || spec::alternatives(node).is_some()
                                    || spec::discriminator(node).is_some();
                                if !open {
                                    return false;
                                }
                            }
                        },
                    }
                }
                true
            }
            _ => true,
        }
    }

    /// Scalar keywords of one node.
    fn check_keywords(&self, n: &Value, value: &Value) -> bool {
        if let Some(options) = n.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            return false;
        }
        match value {
            Value::String(s) => {
                let len = s.chars().count() as u64;
                if n.get("minLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| len < m)
                    || n.get("maxLength")
                        .and_then(Value::as_u64)
                        .is_some_and(|m| len > m)
                {
                    return false;
                }
                let string_typed = matches!(spec::str_of(n, "type"), None | Some("string"));
                if let (Some(p), true) = (spec::str_of(n, "pattern"), string_typed)
                    && !self.patterns.matches(p, s)
                {
                    return false;
                }
                true
            }
            Value::Number(num) => {
                let Some(x) = num.as_f64() else {
                    return true;
                };
                number_ok(n, x)
            }
            Value::Array(items) => {
                let len = items.len() as u64;
                if n.get("minItems")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| len < m)
                    || n.get("maxItems")
                        .and_then(Value::as_u64)
                        .is_some_and(|m| len > m)
                {
                    return false;
                }
                if spec::flag(n, "uniqueItems") {
                    for (i, a) in items.iter().enumerate() {
                        if items[..i].contains(a) {
                            return false;
                        }
                    }
                }
                true
            }
            Value::Object(map) => {
                let len = map.len() as u64;
                !(n.get("minProperties")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| len < m)
                    || n.get("maxProperties")
                        .and_then(Value::as_u64)
                        .is_some_and(|m| len > m))
            }
            _ => true,
        }
    }
}

/// Bounds and `multipleOf` of a number (OpenAPI 3.0 boolean or 3.1 numeric exclusive bounds).
pub(crate) fn number_ok(n: &Value, x: f64) -> bool {
    let min = n.get("minimum").and_then(Value::as_f64);
    let max = n.get("maximum").and_then(Value::as_f64);
    let ex_min = n.get("exclusiveMinimum");
    let ex_max = n.get("exclusiveMaximum");
    if let Some(m) = min {
        let exclusive = ex_min.and_then(Value::as_bool).unwrap_or(false);
        if x < m || (exclusive && x == m) {
            return false;
        }
    }
    if let Some(m) = max {
        let exclusive = ex_max.and_then(Value::as_bool).unwrap_or(false);
        if x > m || (exclusive && x == m) {
            return false;
        }
    }
    if let Some(m) = ex_min.and_then(Value::as_f64)
        && x <= m
    {
        return false;
    }
    if let Some(m) = ex_max.and_then(Value::as_f64)
        && x >= m
    {
        return false;
    }
    if let Some(m) = n.get("multipleOf").and_then(Value::as_f64)
        && m > 0.0
    {
        let q = x / m;
        if (q - q.round()).abs() > 1e-9 {
            return false;
        }
    }
    true
}
