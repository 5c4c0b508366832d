//! Rendering a stored document in a response schema.
//!
//! Objects keep their declared, non-write-only properties whose values fit (recursively), keep
//! undeclared ones only where `additionalProperties` allows them, and get their missing required
//! properties from the hints or the example builder. A discriminated object follows the branch
//! its discriminator value names; otherwise the mapping target (or alternative) that declares
//! most of the document's attributes, and the discriminator is set to match that choice (a value
//! the base accepts without mapping it stays, when there are no alternatives to match). Arrays
//! fit every item (items that cannot be fitted are dropped, then `minItems` is made up with
//! examples). Scalars that do not conform are dropped, and replaced by an example where required.
//! Nothing here copies schemas: flattened views borrow from the parsed document.

use std::cell::Cell;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::Hints;
use crate::Mode;
use crate::check::Checker;
use crate::example::{Builder, Ctx};
use crate::memo::{self, FitMemo};
use crate::pattern::Patterns;
use crate::spec::{self, ANY, Flat, Spec};

const MAX_DEPTH: usize = 40;

pub(crate) struct Fitter<'a> {
    spec: Spec<'a>,
    builder: Builder<'a>,
    /// Where fits of whole documents and of array items are remembered (see [`crate::memo`]).
    memo: Option<&'a FitMemo>,
    /// Set when anything was made up (an example, a hint): the fit then depends on the hints,
    /// not only on the schema and the document.
    synthesized: Cell<bool>,
}

impl<'a> Fitter<'a> {
    pub(crate) fn new(
        spec: Spec<'a>,
        patterns: &'a Patterns,
        hints: &Hints,
        memo: Option<&'a FitMemo>,
    ) -> Fitter<'a> {
        Fitter {
            spec,
            builder: Builder::new(spec, patterns, Mode::Response, hints),
            memo,
            synthesized: Cell::new(false),
        }
    }

    fn check(&self) -> &Checker<'a> {
        self.builder.checker()
    }

    /// `doc` fitted to `node` (remembered when nothing had to be synthesized for it).
    pub(crate) fn root(&self, node: &'a Value, doc: &Value) -> Value {
        self.remembered(node, doc, || {
            Some(self.fit(node, doc, 0).unwrap_or_else(|| {
                self.synthesized.set(true);
                self.builder.root(node)
            }))
        })
        .unwrap_or(Value::Null)
    }

    /// `fit()` through the memo: a remembered answer for an object fitted to `node` before, else
    /// `fit()`'s, remembered when it synthesized nothing.
    fn remembered(
        &self,
        node: &'a Value,
        value: &Value,
        fit: impl FnOnce() -> Option<Value>,
    ) -> Option<Value> {
        let Some(memo) = self.memo.filter(|_| value.is_object()) else {
            return fit();
        };
        let at = std::ptr::from_ref(node).addr();
        let print = memo::fingerprint(value);
        if let Some(fitted) = memo.get(at, print, value) {
            return Some(fitted);
        }
        let outer = self.synthesized.replace(false);
        let fitted = fit();
        let synthesized = self.synthesized.get();
        if !synthesized && let Some(f) = &fitted {
            memo.put(at, print, value, f);
        }
        self.synthesized.set(outer || synthesized);
        fitted
    }

    /// `value` fitted to `node`, or `None` when it cannot be.
    fn fit(&self, node: &'a Value, value: &Value, depth: usize) -> Option<Value> {
        let outer = node;
        let node = self.spec.deref(node);
        if !node.is_object() || depth > MAX_DEPTH {
            return self.check().conforms(outer, value).then(|| value.clone());
        }
        if value.is_null() {
            let nullable = spec::flag(outer, "nullable") || spec::flag(node, "nullable");
            return nullable.then_some(Value::Null);
        }
        let flat = self.spec.flatten(node);
        if let Some((property, pairs)) = spec::discriminator(node) {
            let has_alternatives = spec::alternatives(node).is_some_and(|a| !a.is_empty());
            return self.discriminated(flat, property, &pairs, has_alternatives, value, depth);
        }
        if let Some(alts) = spec::alternatives(node).filter(|a| !a.is_empty()) {
            return self.alternative(node, flat, alts, value, depth);
        }
        self.plain(node, &flat, value, depth)
    }

    fn plain(
        &self,
        node: &'a Value,
        flat: &Flat<'a>,
        value: &Value,
        depth: usize,
    ) -> Option<Value> {
        let ty = flat.get("type").and_then(Value::as_str);
        match value {
            Value::Object(map) if flat.is_object() || !flat.required.is_empty() => {
                Some(Value::Object(self.object(flat, map, depth)))
            }
            Value::Array(items) if ty == Some("array") || flat.get("items").is_some() => {
                Some(self.array(flat, items, depth))
            }
            _ => self.check().conforms(node, value).then(|| value.clone()),
        }
    }

    fn discriminated(
        &self,
        flat: Arc<Flat<'a>>,
        property: &str,
        pairs: &[(&'a str, &'a str)],
        has_alternatives: bool,
        value: &Value,
        depth: usize,
    ) -> Option<Value> {
        let Value::Object(map) = value else {
            return None;
        };
        let named = map
            .get(property)
            .and_then(Value::as_str)
            .and_then(|v| pairs.iter().find(|(k, _)| *k == v));
        let chosen = match named {
            Some(pair) => Some(*pair),
            // A value the base accepts but does not map, and no alternatives to fall back to:
            // the document stays with the base.
            None if !has_alternatives
                && map.get(property).is_some_and(|v| {
                    flat.property(property)
                        .is_some_and(|decls| decls.iter().all(|d| self.check().conforms(d, v)))
                }) =>
            {
                None
            }
            None => {
                // No usable discriminator value: the target declaring most of the document.
                let mut best: Option<(i64, (&'a str, &'a str))> = None;
                for pair in pairs {
                    if let Some(t) = self.spec.get(pair.1) {
                        let score = self.score(&self.spec.flatten(t), map);
                        if best.is_none_or(|(s, _)| score > s) {
                            best = Some((score, *pair));
                        }
                    }
                }
                best.map(|(_, p)| p)
            }
        };
        let Some((key, target)) = chosen else {
            return Some(Value::Object(self.object(&flat, map, depth)));
        };
        let mut flat = Arc::unwrap_or_clone(flat);
        if let Some(t) = self.spec.get(target) {
            self.spec.flatten_extend(t, &mut flat);
        }
        let mut out = self.object(&flat, map, depth);
        out.insert(property.to_owned(), Value::String(key.to_owned()));
        Some(Value::Object(out))
    }

    fn alternative(
        &self,
        node: &'a Value,
        flat: Arc<Flat<'a>>,
        alts: &'a [Value],
        value: &Value,
        depth: usize,
    ) -> Option<Value> {
        match value {
            Value::Object(map) if !self.spec.has_scalar_alternatives(node) => {
                let mut best: Option<(i64, &'a Value)> = None;
                for a in alts {
                    let score = self.score(&self.spec.flatten(a), map);
                    if best.is_none_or(|(s, _)| score > s) {
                        best = Some((score, a));
                    }
                }
                let mut flat = Arc::unwrap_or_clone(flat);
                if let Some((_, a)) = best {
                    if !self.spec.deref(a).is_object() || self.spec.is_polymorphic(a) {
                        // A nested polymorphic alternative decides for itself.
                        return self.fit(a, value, depth + 1);
                    }
                    self.spec.flatten_extend(a, &mut flat);
                }
                Some(Value::Object(self.object(&flat, map, depth)))
            }
            _ => alts
                .iter()
                .find_map(|a| self.fit(a, value, depth + 1))
                .filter(|v| self.check().conforms(node, v)),
        }
    }

    /// How well a document matches a candidate: attributes it declares, minus required ones the
    /// document lacks, minus declared attributes whose values do not conform.
    fn score(&self, flat: &Flat<'a>, map: &Map<String, Value>) -> i64 {
        let mut score = 0i64;
        for (k, v) in map {
            if let Some(decl) = flat.property_schema(k) {
                score += if self.check().conforms(decl, v) { 2 } else { 1 };
            }
        }
        for r in &flat.required {
            if !map.contains_key(*r) {
                score -= 1;
            }
        }
        score
    }

    fn object(
        &self,
        flat: &Flat<'a>,
        map: &Map<String, Value>,
        depth: usize,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        let additional = flat.get("additionalProperties");
        // OpenAPI objects are open by default; undeclared attributes are dropped from objects
        // that declare properties, kept in free-form ones.
        let free_form = flat.properties.is_empty() && additional.is_none();
        for (k, v) in map {
            match flat.property(k) {
                Some(decls) => {
                    if decls.iter().any(|d| self.spec.is_write_only(d)) {
                        continue;
                    }
                    if let Some(f) = self.fit_property(decls, v, depth) {
                        out.insert(k.clone(), f);
                    }
                }
                None => match additional {
                    Some(ap @ Value::Object(_)) => {
                        if let Some(f) = self.fit(ap, v, depth + 1) {
                            out.insert(k.clone(), f);
                        }
                    }
                    Some(Value::Bool(true)) => {
                        out.insert(k.clone(), v.clone());
                    }
                    None if free_form => {
                        out.insert(k.clone(), v.clone());
                    }
                    _ => {}
                },
            }
        }
        // Atlas writes these as `null` rather than leaving them out.
        for name in &flat.null_when_unset {
            if !map.contains_key(*name) {
                out.insert((*name).to_owned(), Value::Null);
            }
        }
        for r in &flat.required {
            if out.contains_key(*r) {
                continue;
            }
            match flat.property(r) {
                Some(decls) => {
                    if decls.iter().any(|d| self.spec.is_write_only(d)) {
                        continue;
                    }
                    self.synthesized.set(true);
                    let v = self.builder.property_value(decls, r, Ctx::at(depth + 1));
                    out.insert((*r).to_owned(), v);
                }
                None => {
                    self.synthesized.set(true);
                    if let Some(h) = self.builder.hint(&ANY, Some(r)) {
                        out.insert((*r).to_owned(), h);
                    }
                }
            }
        }
        out
    }

    /// A property value fitted to its most specific declaration and conforming to all of them.
    fn fit_property(&self, decls: &[&'a Value], value: &Value, depth: usize) -> Option<Value> {
        decls.iter().rev().find_map(|d| {
            let f = self.fit(d, value, depth + 1)?;
            decls
                .iter()
                .all(|o| std::ptr::eq(*o, *d) || self.check().conforms(o, &f))
                .then_some(f)
        })
    }

    fn array(&self, flat: &Flat<'a>, items: &[Value], depth: usize) -> Value {
        let schema = flat.get("items").unwrap_or(&ANY);
        let unique = flat
            .get("uniqueItems")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let max = flat
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX) as usize;
        let min = flat.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        for item in items {
            if out.len() >= max {
                break;
            }
            if let Some(f) = self.remembered(schema, item, || self.fit(schema, item, depth + 1))
                && (!unique || !out.contains(&f))
            {
                out.push(f);
            }
        }
        let mut salt = 0;
        while out.len() < min && salt < min + 8 {
            salt += 1;
            self.synthesized.set(true);
            let v = self.builder.value(schema, None, Ctx::at(depth + 1));
            if !unique || !out.contains(&v) {
                out.push(v);
            } else {
                break;
            }
        }
        Value::Array(out)
    }
}
