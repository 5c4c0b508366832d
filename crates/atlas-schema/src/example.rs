//! Minimal valid instances of a schema, deterministic for given hints.
//!
//! Only what the mode requires is produced: required properties that the side may send (not
//! read-only in requests, not write-only in responses), `minItems` items, `minProperties` map
//! entries. Choices follow the spec's order: the first discriminator mapping (its value set on the
//! discriminator property), the first alternative, the first enum value; a choice that does not
//! conform (checked with [`Checker`]) gives way to the next one. Values named in the hints win
//! whenever they conform, so synthesized documents agree with the request; at the root of a
//! response, hinted optional properties are included too. A string is the first candidate that
//! satisfies lengths and pattern among: the format's canonical value, shapes suggested by the
//! attribute name (ids, emails, urls, dates), a sample of the pattern (seeded), a table of common
//! shapes, a generic word. Recursion is bounded by depth.

use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::{Map, Number, Value};

use crate::check::Checker;
use crate::pattern::Patterns;
use crate::spec::{self, ANY, Flat, Spec};
use crate::{Hints, Mode};

/// Past this depth objects and arrays are produced empty (recursive schemas exist).
const MAX_DEPTH: usize = 20;

/// Used for date-time values when the hints carry no `now`.
const DEFAULT_NOW: &str = "2025-01-01T00:00:00Z";

/// Where a value is produced: nesting depth and a salt that varies sibling items.
#[derive(Clone, Copy, Default)]
pub(crate) struct Ctx {
    pub(crate) depth: usize,
    salt: u64,
}

impl Ctx {
    pub(crate) fn at(depth: usize) -> Ctx {
        Ctx { depth, salt: 0 }
    }

    fn deeper(self) -> Ctx {
        Ctx {
            depth: self.depth + 1,
            salt: self.salt,
        }
    }

    fn salted(self, salt: u64) -> Ctx {
        Ctx {
            depth: self.depth,
            salt: self.salt.wrapping_mul(31).wrapping_add(salt),
        }
    }
}

/// FNV-1a: a stable hash of attribute names for seeding.
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// How deep [`crate::Schemas::variants`] fills optional properties.
pub(crate) const VARIANT_DEPTH: usize = 8;

/// The largest number of branches (discriminator mappings or alternatives) of a polymorphic
/// schema reachable from `node`.
pub(crate) fn widest_choice<'a>(spec: Spec<'a>, node: &'a Value) -> usize {
    fn walk<'a>(
        spec: Spec<'a>,
        node: &'a Value,
        seen: &mut std::collections::HashSet<&'a str>,
        depth: usize,
    ) -> usize {
        if depth > MAX_DEPTH {
            return 0;
        }
        if let Some(name) = spec::ref_name(node) {
            if !seen.insert(name) {
                return 0;
            }
            return spec.get(name).map_or(0, |n| walk(spec, n, seen, depth + 1));
        }
        let Value::Object(map) = node else { return 0 };
        let mut widest = 0;
        if let Some((_, pairs)) = spec::discriminator(node) {
            widest = widest.max(pairs.len());
            for (_, target) in pairs {
                if let Some(t) = spec.get(target)
                    && seen.insert(target)
                {
                    widest = widest.max(walk(spec, t, seen, depth + 1));
                }
            }
        }
        if let Some(alts) = spec::alternatives(node) {
            widest = widest.max(alts.len());
        }
        for (key, value) in map {
            let children: Vec<&'a Value> = match key.as_str() {
                "properties" => value.as_object().map(|p| p.values().collect()),
                "items" | "additionalProperties" | "not" => Some(vec![value]),
                "allOf" | "oneOf" | "anyOf" => value.as_array().map(|a| a.iter().collect()),
                _ => None,
            }
            .unwrap_or_default();
            for child in children {
                widest = widest.max(walk(spec, child, seen, depth + 1));
            }
        }
        widest
    }
    walk(spec, node, &mut std::collections::HashSet::new(), 0)
}

pub(crate) struct Builder<'a> {
    spec: Spec<'a>,
    patterns: &'a Patterns,
    mode: Mode,
    /// Owned (a small map): the builder's schema lifetime is the process's, its hints a call's.
    hints: Hints,
    check: Checker<'a>,
    /// Optional properties (and one item of optional-length arrays) are produced above this
    /// depth; 0 keeps examples minimal. Tests use it to exercise every declared attribute.
    optional_depth: usize,
    /// Which branch polymorphic schemas start from: the `n`th mapping or alternative (modulo
    /// their number) instead of the first, so a series of rotations reaches every branch.
    rotation: usize,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(
        spec: Spec<'a>,
        patterns: &'a Patterns,
        mode: Mode,
        hints: &Hints,
    ) -> Builder<'a> {
        Builder {
            spec,
            patterns,
            mode,
            hints: hints.clone(),
            check: Checker {
                spec,
                patterns,
                mode,
            },
            optional_depth: 0,
            rotation: 0,
        }
    }

    /// The same builder, also producing optional properties down to `depth`.
    pub(crate) fn with_optional_depth(mut self, depth: usize) -> Builder<'a> {
        self.optional_depth = depth;
        self
    }

    /// The same builder, starting each polymorphic choice at branch `n` (see `rotation`).
    pub(crate) fn with_rotation(mut self, n: usize) -> Builder<'a> {
        self.rotation = n;
        self
    }

    /// `items` starting at the builder's rotation.
    fn rotated<'i, T>(&self, items: &'i [T]) -> impl Iterator<Item = &'i T> + 'i {
        let start = if items.is_empty() {
            0
        } else {
            self.rotation % items.len()
        };
        items[start..].iter().chain(items[..start].iter())
    }

    pub(crate) fn checker(&self) -> &Checker<'a> {
        &self.check
    }

    pub(crate) fn root(&self, node: &'a Value) -> Value {
        self.value(node, None, Ctx::default())
    }

    /// The hint for an attribute when it conforms to the schema.
    pub(crate) fn hint(&self, node: &'a Value, name: Option<&str>) -> Option<Value> {
        let h = self.hints.values.get(name?)?;
        self.check.conforms(node, h).then(|| h.clone())
    }

    /// A value for `node`; `name` is the attribute it is for (hints, string heuristics).
    pub(crate) fn value(&self, node: &'a Value, name: Option<&str>, ctx: Ctx) -> Value {
        if let Some(h) = self.hint(node, name) {
            return h;
        }
        let node = self.spec.deref(node);
        if !node.is_object() {
            return Value::Object(Map::new());
        }
        let flat = self.spec.flatten(node);
        if ctx.depth > MAX_DEPTH {
            return self.shallow(&flat);
        }
        if let Some((property, pairs)) = spec::discriminator(node) {
            return self.discriminated(node, &flat, property, &pairs, ctx);
        }
        if let Some(alts) = spec::alternatives(node).filter(|a| !a.is_empty()) {
            return self.alternative(node, &flat, alts, name, ctx);
        }
        self.plain(node, &flat, name, ctx)
    }

    /// The first candidate that conforms to `node`, else the first one.
    fn first_conforming(&self, node: &'a Value, candidates: impl Iterator<Item = Value>) -> Value {
        let mut first = None;
        for c in candidates {
            if self.check.conforms(node, &c) {
                return c;
            }
            if first.is_none() {
                first = Some(c);
            }
        }
        first.unwrap_or(Value::Object(Map::new()))
    }

    fn discriminated(
        &self,
        node: &'a Value,
        flat: &Flat<'a>,
        property: &str,
        pairs: &[(&'a str, &'a str)],
        ctx: Ctx,
    ) -> Value {
        let candidates = self.rotated(pairs).filter_map(|(key, target)| {
            let t = self.spec.get(target)?;
            let mut obj = self.object(flat, ctx);
            if let Value::Object(sub) = self.value(t, None, ctx.deeper()) {
                obj.extend(sub);
            }
            let decls = self.spec.property_schemas(node, property);
            let sub_decls = self.spec.property_schemas(t, property);
            let read_only = decls
                .iter()
                .chain(sub_decls.iter())
                .any(|p| self.spec.is_read_only(p));
            if self.mode == Mode::Response || !read_only {
                obj.insert(property.to_owned(), Value::String((*key).to_owned()));
            }
            Some(Value::Object(obj))
        });
        self.first_conforming(node, candidates)
    }

    fn alternative(
        &self,
        node: &'a Value,
        flat: &Flat<'a>,
        alts: &'a [Value],
        name: Option<&str>,
        ctx: Ctx,
    ) -> Value {
        if self.spec.has_scalar_alternatives(node) || !flat.is_object() {
            let candidates = self
                .rotated(alts)
                .map(|a| self.value(a, name, ctx.deeper()));
            return self.first_conforming(node, candidates);
        }
        let candidates = self.rotated(alts).map(|a| {
            let mut obj = self.object(flat, ctx);
            if let Value::Object(sub) = self.value(a, None, ctx.deeper()) {
                obj.extend(sub);
            }
            Value::Object(obj)
        });
        self.first_conforming(node, candidates)
    }

    /// Objects and arrays past the depth limit.
    fn shallow(&self, flat: &Flat<'a>) -> Value {
        match flat.get("type").and_then(Value::as_str) {
            Some("array") => Value::Array(Vec::new()),
            Some("string") => Value::String(String::new()),
            Some("integer") | Some("number") => Value::from(0),
            Some("boolean") => Value::Bool(false),
            _ => Value::Object(Map::new()),
        }
    }

    fn plain(&self, node: &'a Value, flat: &Flat<'a>, name: Option<&str>, ctx: Ctx) -> Value {
        let default = flat
            .get("default")
            .filter(|d| !d.is_null() && self.check.conforms(node, d));
        if let Some(options) = flat.get("enum").and_then(Value::as_array) {
            let candidates = default
                .into_iter()
                .chain(options.iter().filter(|o| !o.is_null()))
                .cloned();
            return self.first_conforming(node, candidates);
        }
        if let Some(d) = default {
            return d.clone();
        }
        let ty = flat.get("type").and_then(Value::as_str);
        match ty {
            Some("array") => self.array(flat, name, ctx),
            Some("string") => self.string(flat, name, ctx),
            Some("integer") => self.number(flat, true),
            Some("number") => self.number(flat, false),
            Some("boolean") => Value::Bool(false),
            Some(_) => Value::Object(self.object(flat, ctx)),
            None if flat.is_object() || !flat.required.is_empty() => {
                Value::Object(self.object(flat, ctx))
            }
            None if flat.get("items").is_some() => self.array(flat, name, ctx),
            None if ["pattern", "format", "minLength", "maxLength"]
                .iter()
                .any(|k| flat.get(k).is_some()) =>
            {
                self.string(flat, name, ctx)
            }
            None => Value::Object(Map::new()),
        }
    }

    /// Whether this side may carry a property (any of its declarations).
    fn sendable(&self, decls: &[&'a Value]) -> bool {
        match self.mode {
            Mode::Request => !decls.iter().all(|p| self.spec.is_declared_read_only(p)),
            Mode::Response => !decls.iter().any(|p| self.spec.is_write_only(p)),
        }
    }

    /// A value for a property, conforming to every declaration of it.
    pub(crate) fn property_value(&self, decls: &[&'a Value], name: &str, ctx: Ctx) -> Value {
        let mut first = None;
        for d in decls.iter().rev() {
            let v = self.value(d, Some(name), ctx);
            if decls.iter().all(|o| self.check.conforms(o, &v)) {
                return v;
            }
            if first.is_none() {
                first = Some(v);
            }
        }
        first.unwrap_or(Value::Null)
    }

    /// The required (and, at the root, hinted) properties of a flattened object.
    fn object(&self, flat: &Flat<'a>, ctx: Ctx) -> Map<String, Value> {
        let mut out = Map::new();
        if ctx.depth > MAX_DEPTH {
            return out;
        }
        for r in &flat.required {
            match flat.property(r) {
                Some(decls) => {
                    if self.sendable(decls) {
                        let v = self.property_value(decls, r, ctx.deeper());
                        out.insert((*r).to_owned(), v);
                    }
                }
                // Required but declared nowhere in this object: alternatives usually declare
                // it (they are merged by the caller); a hint is the best guess otherwise.
                None => {
                    if let Some(h) = self.hints.values.get(*r) {
                        out.insert((*r).to_owned(), h.clone());
                    }
                }
            }
        }
        if ctx.depth < self.optional_depth {
            for (k, decls) in &flat.properties {
                if !out.contains_key(*k) && self.sendable(decls) {
                    let v = self.property_value(decls, k, ctx.deeper());
                    out.insert((*k).to_owned(), v);
                }
            }
        }
        if let Some(ap @ Value::Object(_)) = flat.get("additionalProperties") {
            let min = flat
                .get("minProperties")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let mut i = 0u64;
            while (out.len() as u64) < min && i < min + 4 {
                i += 1;
                let v = self.value(ap, None, ctx.deeper().salted(i));
                out.insert(format!("key{i}"), v);
            }
        }
        // Hinted optional properties make synthesized answers consistent with the request; a
        // request example stays minimal.
        if ctx.depth == 0 && self.mode == Mode::Response {
            for (k, decls) in &flat.properties {
                if out.contains_key(*k) || !self.sendable(decls) {
                    continue;
                }
                if let Some(h) = self.hints.values.get(*k)
                    && decls.iter().all(|d| self.check.conforms(d, h))
                {
                    out.insert((*k).to_owned(), h.clone());
                }
            }
        }
        // An answer carries what Atlas answers as `null` when unset, as fitted documents do.
        if self.mode == Mode::Response {
            for name in &flat.null_when_unset {
                out.entry(*name).or_insert(Value::Null);
            }
        }
        out
    }

    fn array(&self, flat: &Flat<'a>, name: Option<&str>, ctx: Ctx) -> Value {
        let min = flat.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let max = flat
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let wanted = if ctx.depth < self.optional_depth {
            min.max(1)
        } else {
            min
        };
        let count = wanted.min(max);
        if count == 0 || ctx.depth > MAX_DEPTH {
            return Value::Array(Vec::new());
        }
        let items = flat.get("items").unwrap_or(&ANY);
        let unique = flat
            .get("uniqueItems")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let options: Vec<&Value> = self
            .spec
            .deref(items)
            .get("enum")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter(|o| !o.is_null()).collect())
            .unwrap_or_default();
        let mut out: Vec<Value> = Vec::new();
        for i in 0..count {
            let mut v = Value::Null;
            for attempt in 0..8u64 {
                v = match options.get((i as usize + attempt as usize) % options.len().max(1)) {
                    Some(o) if unique && !options.is_empty() => (*o).clone(),
                    _ => self.value(items, name, ctx.deeper().salted(i * 8 + attempt)),
                };
                if !unique || !out.contains(&v) {
                    break;
                }
            }
            out.push(v);
        }
        Value::Array(out)
    }

    fn number(&self, flat: &Flat<'a>, integer: bool) -> Value {
        let get = |k: &str| flat.get(k);
        let lo = get("minimum").and_then(Value::as_f64);
        let hi = get("maximum").and_then(Value::as_f64);
        let lo_excl = get("exclusiveMinimum")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let hi_excl = get("exclusiveMaximum")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        // 3.1-style numeric exclusive bounds, in case a schema carries them.
        let lo_num = get("exclusiveMinimum").and_then(Value::as_f64);
        let hi_num = get("exclusiveMaximum").and_then(Value::as_f64);
        let (lo, lo_excl) = match (lo, lo_num) {
            (_, Some(n)) => (Some(n), true),
            (l, None) => (l, lo_excl),
        };
        let (hi, hi_excl) = match (hi, hi_num) {
            (_, Some(n)) => (Some(n), true),
            (h, None) => (h, hi_excl),
        };
        let step = if integer { 1.0 } else { 0.5 };
        let mut v: f64 = 1.0;
        if let Some(l) = lo
            && (v < l || (lo_excl && v <= l))
        {
            v = if lo_excl {
                if integer { l.floor() + 1.0 } else { l + step }
            } else if integer {
                l.ceil()
            } else {
                l
            };
        }
        if let Some(h) = hi
            && (v > h || (hi_excl && v >= h))
        {
            v = if hi_excl {
                if integer { h.ceil() - 1.0 } else { h - step }
            } else if integer {
                h.floor()
            } else {
                h
            };
            if let Some(l) = lo
                && (v < l || (lo_excl && v <= l))
            {
                v = (l + h) / 2.0;
            }
        }
        if let Some(m) = get("multipleOf")
            .and_then(Value::as_f64)
            .filter(|m| *m > 0.0)
        {
            let up = (v / m).ceil() * m;
            v = match hi {
                Some(h) if up > h => (h / m).floor() * m,
                _ => up,
            };
        }
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Value::from(v as i64)
        } else {
            Number::from_f64(v).map_or(Value::from(1), Value::Number)
        }
    }

    fn rng(&self, name: Option<&str>, salt: u64) -> StdRng {
        StdRng::seed_from_u64(
            self.hints.seed ^ fnv(name.unwrap_or("")) ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        )
    }

    fn hex(&self, name: Option<&str>, salt: u64, len: usize) -> String {
        let mut rng = self.rng(name, salt);
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16usize)]))
            .collect()
    }

    fn uuid(&self, name: Option<&str>, salt: u64) -> String {
        let h = self.hex(name, salt, 32);
        // Version 4, RFC 4122 variant.
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    fn string(&self, flat: &Flat<'a>, name: Option<&str>, ctx: Ctx) -> Value {
        let min = flat.get("minLength").and_then(Value::as_u64);
        let max = flat.get("maxLength").and_then(Value::as_u64);
        let pattern = flat.get("pattern").and_then(Value::as_str);
        let fits = |s: &str| {
            let len = s.chars().count() as u64;
            min.is_none_or(|m| len >= m)
                && max.is_none_or(|m| len <= m)
                && pattern.is_none_or(|p| self.patterns.matches(p, s))
        };
        let mut candidates: Vec<String> = Vec::new();
        // Read only where a date is made: an answer that read the time is never served again.
        let now = || match self.hints.now() {
            "" => DEFAULT_NOW,
            given => given,
        };
        match flat.get("format").and_then(Value::as_str) {
            Some("date-time") => candidates.push(now().to_owned()),
            Some("date") => candidates.push(now().chars().take(10).collect()),
            Some("email") => candidates.push("user@example.com".into()),
            Some("uri") | Some("url") => candidates.push("https://example.com".into()),
            Some("uuid") => candidates.push(self.uuid(name, ctx.salt)),
            Some("ipv4") => candidates.push("192.0.2.1".into()),
            Some("ipv6") => candidates.push("2001:db8::1".into()),
            Some("hostname") => candidates.push("host.example.com".into()),
            Some("password") => candidates.push("Example-Passw0rd".into()),
            _ => {}
        }
        if let Some(n) = name {
            let lower = n.to_ascii_lowercase();
            if lower.ends_with("id") {
                candidates.push(self.hex(name, ctx.salt, 24));
            }
            if lower.contains("email") || lower.ends_with("username") {
                candidates.push("user@example.com".into());
            }
            if lower.ends_with("url") || lower.ends_with("uri") {
                candidates.push("https://example.com".into());
            }
            if lower.contains("date") || lower.ends_with("time") {
                candidates.push(now().to_owned());
            }
        }
        if let Some(p) = pattern {
            let seed = self.hints.seed ^ fnv(name.unwrap_or("")) ^ ctx.salt;
            if let Some(s) = self.patterns.sample(p, seed, min, max) {
                candidates.push(s);
            }
        }
        candidates.extend(SHAPES.iter().map(|s| (*s).to_owned()));
        candidates.push(self.hex(name, ctx.salt, 24));
        candidates.push(self.uuid(name, ctx.salt));
        if let Some(s) = candidates.iter().find(|s| fits(s)) {
            return Value::String(s.clone());
        }
        // Nothing fits: respect the lengths at least.
        let mut s = candidates.first().cloned().unwrap_or_default();
        let lo = min.unwrap_or(0) as usize;
        while s.chars().count() < lo {
            s.push('x');
        }
        if let Some(m) = max {
            s = s.chars().take(m as usize).collect();
        }
        Value::String(s)
    }
}

/// Common shapes of the spec's strings, tried when the pattern could not be sampled.
const SHAPES: [&str; 10] = [
    "example",
    "example-1",
    "192.0.2.1",
    "192.0.2.0/24",
    "1.0.0",
    "US",
    "vpc-0123456789abcdef0",
    "vpce-0123456789abcdef0",
    "sg-0123abcd",
    "user@example.com",
];
