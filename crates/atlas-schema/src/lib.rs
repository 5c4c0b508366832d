//! The spec's schemas, made usable at run time.
//!
//! `atlas-model` carries the schemas as stripped OpenAPI 3.0 (`SCHEMAS_JSON`). This crate turns
//! them into three services the server needs:
//! - [`Schemas::validate`]: JSON-Schema validation of a request body (unknown attributes
//!   rejected, read-only ones accepted and not required, as Atlas ignores them) or a response
//!   body, with violations that name the offending attribute so Atlas's error codes can be
//!   produced;
//! - [`Schemas::without_read_only`]: a request body without the read-only attributes Atlas
//!   ignores, so what the server stores is never a client's copy of a value it owns;
//! - [`Schemas::example`]: a minimal valid instance of a schema (conformance requests, defaults of
//!   singleton documents, plausible answers of computed operations);
//! - [`Schemas::fit`]: a stored document rendered in one version's response schema — declared
//!   properties kept, required ones filled, undeclared and write-only ones dropped.
//!
//! Module map: `spec` navigates the OpenAPI schemas, `pattern` handles the spec's ECMA regular
//! expressions, `convert` writes the JSON Schema 2020-12 documents, `validate` owns the compiled
//! validators and the violation mapping, `check` is the quick conformance test the builders use,
//! `example` and `fit` build documents, `strip` removes the read-only attributes of a request.

mod check;
mod convert;
mod example;
mod fit;
mod memo;
mod pattern;
mod spec;
mod strip;
mod validate;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::pattern::Patterns;
use crate::spec::Spec;
use crate::validate::Validation;

pub use crate::spec::NULL_WHEN_UNSET;

/// The options every validator of this crate is built with: draft 2020-12, formats as
/// annotations only (the probe does not assert them either).
pub(crate) fn validator_options<'i>() -> jsonschema::ValidationOptions<'i> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(false)
}

/// Which side of the exchange a schema is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A request body: unknown properties are not allowed; read-only ones are accepted and
    /// ignored (see [`Schemas::without_read_only`]), never required.
    Request,
    /// A response body: write-only properties are not required.
    Response,
}

/// What a validation found wrong, with the attribute it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub kind: ViolationKind,
    /// JSON pointer of the offending value's parent object or the value itself: the object holding
    /// the attribute for `UnknownAttribute` and `MissingAttribute`, the value itself for the other
    /// kinds.
    pub pointer: String,
    /// The attribute name Atlas would quote (the leaf property name), when there is one.
    pub attribute: Option<String>,
    /// The offending value, when there is one.
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ViolationKind {
    UnknownAttribute,
    MissingAttribute,
    InvalidEnumValue,
    WrongType,
    /// pattern, length, range, item count, format ...
    InvalidValue,
}

/// Values the example builder and `fit` use for well-known attribute names, so synthesized
/// documents are consistent with the request (`groupId`, `orgId`, `clusterName`, `name` ...).
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// Attribute name -> value to use when that attribute must be synthesized.
    pub values: BTreeMap<String, Value>,
    /// `YYYY-MM-DDTHH:MM:SSZ` used for date-time attributes; read through [`Hints::now`], which
    /// notes the read.
    now: String,
    /// Seed for generated ids and strings, so answers are deterministic for a given request.
    pub seed: u64,
    /// Noted when `now` is read (shared with the caller's own reads of the time).
    pub time_use: TimeUse,
}

impl Hints {
    /// These hints with `now` as the time synthesized date-times take.
    pub fn with_now(mut self, now: impl Into<String>) -> Hints {
        self.now = now.into();
        self
    }

    /// The time synthesized date-times take (empty: none given), noting that it was read.
    pub fn now(&self) -> &str {
        self.time_use.note();
        &self.now
    }
}

/// Whether anything building an answer read the time. An answer that did not is the same at any
/// other instant for the same stored state, which is what lets it be kept and served again
/// (atlas-api's answer cache). Clones share one note, so every holder's reads count.
#[derive(Debug, Clone, Default)]
pub struct TimeUse(Arc<AtomicBool>);

impl TimeUse {
    /// Records a read of the time.
    pub fn note(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the time was read since this note (or a clone of it) was made.
    pub fn noted(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The schemas of the embedded spec model (or of a document given to [`Schemas::from_json`]).
///
/// Everything is computed on first use: the JSON text is parsed by the first call that needs a
/// schema, the JSON Schema documents are converted by the first validation, and each validator is
/// compiled the first time its (schema, mode) pair is validated.
pub struct Schemas {
    source: Cow<'static, str>,
    /// Never freed: flattened views cached in it borrow from it for `'static`. An instance is
    /// meant to live as long as the process (the server has one, [`Schemas::global`]).
    loaded: OnceLock<&'static Loaded>,
    validation: OnceLock<Validation>,
}

/// The parsed schemas and what depends only on them.
pub(crate) struct Loaded {
    pub(crate) schemas: Map<String, Value>,
    pub(crate) patterns: Patterns,
    flats: spec::FlatCache<'static>,
    fits: memo::FitMemo,
}

impl Schemas {
    /// The process-wide instance over `atlas_model::generated::SCHEMAS_JSON` (parsed lazily on
    /// first use).
    pub fn global() -> &'static Schemas {
        static SCHEMAS: Schemas = Schemas {
            source: Cow::Borrowed(atlas_model::generated::SCHEMAS_JSON),
            loaded: OnceLock::new(),
            validation: OnceLock::new(),
        };
        &SCHEMAS
    }

    /// An instance over another schema document (name -> stripped OpenAPI schema, references as
    /// `#/components/schemas/<name>`), parsed lazily like the global one. Text that is not a JSON
    /// object yields an instance without schemas.
    pub fn from_json(json: impl Into<String>) -> Schemas {
        Schemas {
            source: Cow::Owned(json.into()),
            loaded: OnceLock::new(),
            validation: OnceLock::new(),
        }
    }

    pub(crate) fn loaded(&self) -> &'static Loaded {
        self.loaded.get_or_init(|| {
            let schemas = match serde_json::from_str::<Value>(&self.source) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            let patterns = Patterns::collect(&schemas);
            Box::leak(Box::new(Loaded {
                schemas,
                patterns,
                flats: Default::default(),
                fits: Default::default(),
            }))
        })
    }

    pub(crate) fn spec(&self) -> Spec<'static> {
        let loaded = self.loaded();
        Spec::cached(&loaded.schemas, &loaded.flats)
    }

    pub(crate) fn validation(&self) -> &Validation {
        self.validation.get_or_init(|| {
            let loaded = self.loaded();
            Validation::new(&loaded.schemas, &loaded.patterns)
        })
    }

    /// The stripped OpenAPI schema of that name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.loaded().schemas.get(name)
    }

    /// All schema names, in the document's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.loaded().schemas.keys().map(String::as_str)
    }

    /// Validates `instance` against the schema `name` in `mode`.
    ///
    /// An unknown schema name accepts everything (there is nothing to check against). Violations
    /// come back sorted by pointer, then attribute, then kind, without duplicates.
    pub fn validate(&self, name: &str, mode: Mode, instance: &Value) -> Result<(), Vec<Violation>> {
        if self.get(name).is_none() {
            return Ok(());
        }
        self.validation().validate(name, mode, instance)
    }

    /// Whether `instance` is valid against schema `name` in `mode` (no violation list built).
    pub fn is_valid(&self, name: &str, mode: Mode, instance: &Value) -> bool {
        if self.get(name).is_none() {
            return true;
        }
        self.validation().is_valid(name, mode, instance)
    }

    /// `body` without the attributes request schema `name` declares read-only where they are
    /// declared (at any depth: items, map values, the branch a discriminator selects), or
    /// `None` when it has none. Atlas accepts and ignores those attributes; the server must not
    /// store a client's copy of a value it owns (an id, a state, a creation date).
    pub fn without_read_only(&self, name: &str, body: &Value) -> Option<Value> {
        let loaded = self.loaded();
        let node = loaded.schemas.get(name)?;
        let mut copy = body.clone();
        strip::Stripper::new(self.spec())
            .strip(&[node], &mut copy)
            .then_some(copy)
    }

    /// A minimal instance valid against schema `name` in `mode` (`null` for an unknown name).
    pub fn example(&self, name: &str, mode: Mode, hints: &Hints) -> Value {
        let loaded = self.loaded();
        let Some(node) = loaded.schemas.get(name) else {
            return Value::Null;
        };
        example::Builder::new(self.spec(), &loaded.patterns, mode, hints).root(node)
    }

    /// Instances of schema `name` in `mode` that together take every branch of every
    /// polymorphic schema they reach (each discriminator mapping, each `oneOf`/`anyOf`
    /// alternative) and carry every optional property the side may send, a few levels deep.
    /// Variant `k` starts each choice at its `k`th branch (modulo the branch count), for `k`
    /// up to the widest choice reachable; duplicates are dropped. Empty for an unknown name.
    pub fn variants(&self, name: &str, mode: Mode, hints: &Hints) -> Vec<Value> {
        let loaded = self.loaded();
        let Some(node) = loaded.schemas.get(name) else {
            return Vec::new();
        };
        let widest = example::widest_choice(self.spec(), node);
        let mut out: Vec<Value> = Vec::new();
        for k in 0..widest.max(1) {
            let v = example::Builder::new(self.spec(), &loaded.patterns, mode, hints)
                .with_optional_depth(example::VARIANT_DEPTH)
                .with_rotation(k)
                .root(node);
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }

    /// `doc` rendered in response schema `name` (returned unchanged for an unknown name).
    /// Fits that needed no hints are remembered (see [`memo`]).
    pub fn fit(&self, name: &str, doc: &Value, hints: &Hints) -> Value {
        let loaded = self.loaded();
        let Some(node) = loaded.schemas.get(name) else {
            return doc.clone();
        };
        fit::Fitter::new(self.spec(), &loaded.patterns, hints, Some(&loaded.fits)).root(node, doc)
    }
}
