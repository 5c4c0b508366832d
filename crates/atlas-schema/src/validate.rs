//! Compiled validators and the mapping of their errors to [`Violation`]s.
//!
//! Both converted documents (request and response) live in one `jsonschema` registry built on the
//! first validation. Each (schema, mode) pair compiles to its own validator the first time it is
//! used, against that registry, and is kept for the life of the process; concurrent first uses of
//! the same pair wait for one compilation.
//!
//! Error mapping: `anyOf` failures are explained by their best alternative (fewest violations,
//! no type mismatch of the whole value), so a body that fails one alternative is not blamed for
//! the others. Unknown-attribute reports are dropped from an object where a composition member
//! (`allOf`/`anyOf`/`oneOf`) failed: the properties such a member declares then count as
//! unevaluated too, and those reports would name attributes that are in fact declared. Other
//! violations are reported in their place.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::{Location, LocationSegment};
use jsonschema::{Draft, Registry, ValidationError, Validator};
use serde_json::{Map, Value};

use crate::convert::{self, Converter};
use crate::pattern::Patterns;
use crate::spec::Spec;
use crate::{Mode, Violation, ViolationKind};

/// One lazily compiled validator per mode.
type Slots = [OnceLock<Option<Validator>>; 2];

fn slot(mode: Mode) -> usize {
    match mode {
        Mode::Request => 0,
        Mode::Response => 1,
    }
}

pub(crate) struct Validation {
    registry: Option<Registry<'static>>,
    /// The validator roots, per mode and schema name (computed with the documents).
    roots: [HashMap<String, Value>; 2],
    validators: HashMap<String, Slots>,
}

impl Validation {
    pub(crate) fn new(schemas: &Map<String, Value>, patterns: &Patterns) -> Validation {
        let spec = Spec::new(schemas);
        let mut roots: [HashMap<String, Value>; 2] = [HashMap::new(), HashMap::new()];
        let mut resources = Vec::with_capacity(2);
        for mode in [Mode::Request, Mode::Response] {
            let converter = Converter::new(spec, patterns, mode);
            let document = converter.document(schemas);
            for name in schemas.keys() {
                roots[slot(mode)].insert(name.clone(), converter.root(name));
            }
            resources.push((
                convert::base_uri(mode),
                Draft::Draft202012.create_resource(document),
            ));
        }
        // A registry that cannot be prepared means no validation at all rather than a crash: the
        // tests check that it prepares and that every schema compiles.
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .extend(resources)
            .and_then(|b| b.prepare())
            .ok();
        let validators = schemas
            .keys()
            .map(|k| (k.clone(), [OnceLock::new(), OnceLock::new()]))
            .collect();
        Validation {
            registry,
            roots,
            validators,
        }
    }

    /// The compiled validator of a pair, compiling it on first use.
    pub(crate) fn validator(&self, name: &str, mode: Mode) -> Option<&Validator> {
        let registry = self.registry.as_ref()?;
        let cell = &self.validators.get(name)?[slot(mode)];
        cell.get_or_init(|| {
            let root = self.roots[slot(mode)].get(name)?;
            crate::validator_options()
                .with_registry(registry)
                .build(root)
                .ok()
        })
        .as_ref()
    }

    pub(crate) fn is_valid(&self, name: &str, mode: Mode, instance: &Value) -> bool {
        self.validator(name, mode)
            .is_none_or(|v| v.is_valid(instance))
    }

    pub(crate) fn validate(
        &self,
        name: &str,
        mode: Mode,
        instance: &Value,
    ) -> Result<(), Vec<Violation>> {
        let Some(validator) = self.validator(name, mode) else {
            return Ok(());
        };
        if validator.is_valid(instance) {
            return Ok(());
        }
        let mut found = Vec::new();
        for error in validator.iter_errors(instance) {
            explain(&error, &mut found);
        }
        let out: Vec<Violation> = tidy(found).into_iter().map(|f| f.violation).collect();
        if out.is_empty() {
            // The validator said no but nothing could be explained: still refuse, at the root.
            return Err(vec![Violation {
                kind: ViolationKind::InvalidValue,
                pointer: String::new(),
                attribute: None,
                value: None,
            }]);
        }
        Err(out)
    }
}

/// A violation with the objects where a failing composition member was applied on the way to
/// it: the evaluated-property bookkeeping of those objects is unreliable.
struct Found {
    violation: Violation,
    composed_at: Vec<String>,
}

/// The last property name of a location (array indices skipped: an item is named after its list).
fn leaf(path: &Location) -> Option<String> {
    path.segments()
        .filter_map(|s| match s {
            LocationSegment::Property(p) => Some(p.into_owned()),
            LocationSegment::Index(_) => None,
        })
        .last()
}

/// The location without its last segment, and that segment when it is a property name.
fn split_last(path: &Location) -> (String, Option<String>) {
    let segments: Vec<LocationSegment<'_>> = path.segments().collect();
    let Some((last, parent)) = segments.split_last() else {
        return (String::new(), None);
    };
    let mut pointer = String::new();
    for s in parent {
        pointer.push('/');
        pointer.push_str(&escape(&s.to_string()));
    }
    match last {
        LocationSegment::Property(p) => (pointer, Some(p.to_string())),
        LocationSegment::Index(_) => (pointer, None),
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The instance pointers at which the error's evaluation went through an `allOf`, `anyOf` or
/// `oneOf` member. The evaluation path is walked keyword by keyword, counting the keywords that
/// descend into the instance, so each composition keyword is placed at the instance depth where
/// it applied.
fn compositions(error: &ValidationError<'_>) -> Vec<String> {
    let eval = error.evaluation_path().as_str();
    let segments: Vec<&str> = eval.split('/').filter(|s| !s.is_empty()).collect();
    let mut depths = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < segments.len() {
        match segments[i] {
            "properties" | "patternProperties" | "prefixItems" => {
                depth += 1;
                i += 1;
            }
            "items"
            | "additionalProperties"
            | "unevaluatedProperties"
            | "unevaluatedItems"
            | "contains"
            | "propertyNames" => depth += 1,
            "allOf" | "anyOf" | "oneOf" => {
                depths.push(depth);
                i += 1;
            }
            "dependentSchemas" | "$defs" => i += 1,
            _ => {}
        }
        i += 1;
    }
    let instance: Vec<String> = error
        .instance_path()
        .as_str()
        .split('/')
        .skip(1)
        .map(str::to_owned)
        .collect();
    depths.dedup();
    depths
        .into_iter()
        .map(|d| {
            let mut p = String::new();
            for seg in instance.iter().take(d) {
                p.push('/');
                p.push_str(seg);
            }
            p
        })
        .collect()
}

fn violation(error: &ValidationError<'_>, kind: ViolationKind, value: bool) -> Violation {
    Violation {
        kind,
        pointer: error.instance_path().as_str().to_owned(),
        attribute: leaf(error.instance_path()),
        value: value.then(|| error.instance().clone().into_owned()),
    }
}

/// Appends the violations one validator error stands for.
fn explain(error: &ValidationError<'_>, out: &mut Vec<Found>) {
    let composed_at = compositions(error);
    let mut push = |violation: Violation| {
        out.push(Found {
            violation,
            composed_at: composed_at.clone(),
        });
    };
    match error.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            match best_alternative(error, context) {
                Some(best) => out.extend(best),
                None => push(violation(error, ViolationKind::InvalidValue, true)),
            }
        }
        ValidationErrorKind::UnevaluatedProperties { unexpected }
        | ValidationErrorKind::AdditionalProperties { unexpected } => {
            let object = error.instance();
            for name in unexpected {
                push(Violation {
                    kind: ViolationKind::UnknownAttribute,
                    pointer: error.instance_path().as_str().to_owned(),
                    attribute: Some(name.clone()),
                    value: object.get(name).cloned(),
                });
            }
        }
        ValidationErrorKind::FalseSchema => {
            // A property whose schema admits nothing: not an attribute this object takes.
            let (pointer, attribute) = split_last(error.instance_path());
            push(Violation {
                kind: ViolationKind::UnknownAttribute,
                pointer,
                attribute,
                value: Some(error.instance().clone().into_owned()),
            });
        }
        ValidationErrorKind::Required { property } => push(Violation {
            kind: ViolationKind::MissingAttribute,
            pointer: error.instance_path().as_str().to_owned(),
            attribute: property.as_str().map(str::to_owned),
            value: None,
        }),
        ValidationErrorKind::Enum { .. } | ValidationErrorKind::Constant { .. } => {
            push(violation(error, ViolationKind::InvalidEnumValue, true));
        }
        ValidationErrorKind::Type { .. } => push(violation(error, ViolationKind::WrongType, true)),
        _ => push(violation(error, ViolationKind::InvalidValue, true)),
    }
}

/// The explained violations of the alternative that comes closest to matching.
fn best_alternative(
    error: &ValidationError<'_>,
    context: &[Vec<ValidationError<'static>>],
) -> Option<Vec<Found>> {
    let here = error.instance_path().as_str();
    let mut best: Option<((bool, usize), Vec<Found>)> = None;
    for alternative in context {
        let mut found = Vec::new();
        for e in alternative {
            explain(e, &mut found);
        }
        let found = tidy(found);
        let wrong_type = found
            .iter()
            .any(|f| f.violation.kind == ViolationKind::WrongType && f.violation.pointer == here);
        let score = (wrong_type, found.len());
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, found));
        }
    }
    best.map(|(_, v)| v)
}

/// Sorted, deduplicated, and without the unknown-attribute reports of objects where a
/// composition member failed (see the module note).
fn tidy(mut found: Vec<Found>) -> Vec<Found> {
    // An unknown-attribute report makes the members above it fail too, but says nothing about
    // its own object's bookkeeping.
    let unreliable: Vec<String> = found
        .iter()
        .flat_map(|f| {
            let own = (f.violation.kind == ViolationKind::UnknownAttribute)
                .then_some(&f.violation.pointer);
            f.composed_at
                .iter()
                .filter(move |p| Some(*p) != own)
                .cloned()
        })
        .collect();
    if !unreliable.is_empty() {
        found.retain(|f| {
            f.violation.kind != ViolationKind::UnknownAttribute
                || !unreliable.contains(&f.violation.pointer)
        });
    }
    // A value of the wrong type also misses its enum, pattern or bounds: the type says it all.
    let mistyped: Vec<String> = found
        .iter()
        .filter(|f| f.violation.kind == ViolationKind::WrongType)
        .map(|f| f.violation.pointer.clone())
        .collect();
    if !mistyped.is_empty() {
        found.retain(|f| {
            !matches!(
                f.violation.kind,
                ViolationKind::InvalidEnumValue | ViolationKind::InvalidValue
            ) || !mistyped.contains(&f.violation.pointer)
        });
    }
    found.sort_by(|a, b| {
        let (a, b) = (&a.violation, &b.violation);
        (&a.pointer, &a.attribute, a.kind).cmp(&(&b.pointer, &b.attribute, b.kind))
    });
    found.dedup_by(|a, b| a.violation == b.violation);
    found
}

/// Shared so tests can check a compiled validator exists without validating anything.
#[cfg(test)]
pub(crate) fn compiles(validation: &Validation, name: &str, mode: Mode) -> bool {
    validation.validator(name, mode).is_some()
}

// The server validates from many threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Validation>();
};
