//! Request bodies generated from the spec, for every operation and every version that takes
//! one, through the validation stage the engine runs (`stages::validate::body`).
//!
//! Accepted: every branch of every polymorphic schema (each discriminator value, each
//! `oneOf`/`anyOf` alternative) with every optional attribute the client may send, and the same
//! bodies with the read-only attributes a client read back (Atlas ignores those; the stage
//! hands the body back without them). Refused with the Atlas error a client keys on: an
//! unknown attribute (400 `INVALID_ATTRIBUTE`), a string attribute sent as a number (400
//! `INVALID_JSON_ATTRIBUTE`), an enum attribute with a value outside it (400
//! `INVALID_ENUM_VALUE`).

use atlas_api::stages::validate;
use atlas_api::{Call, Origin, Principal};
use atlas_model::{Format, OPERATIONS, Operation};
use atlas_schema::{Hints, Mode, Schemas};
use serde_json::{Map, Value, json};

fn hints() -> Hints {
    let mut h = Hints::default().with_now("2025-06-01T12:00:00Z");
    h.seed = 7;
    for (k, v) in [
        ("groupId", json!("5f0a1b2c3d4e5f6a7b8c9d0e")),
        ("orgId", json!("6a0b1c2d3e4f5a6b7c8d9e0f")),
        ("clusterName", json!("Cluster0")),
        ("name", json!("probe-x1")),
    ] {
        h.values.insert(k.into(), v);
    }
    h
}

fn call(op: &'static Operation, version: &'static str, body: Value) -> Call {
    Call {
        op,
        version,
        format: Format::Json,
        path: Vec::new(),
        query: Vec::new(),
        body: Some(body),
        principal: Principal::Anonymous,
        origin: Origin::default(),
    }
}

/// Every (operation, version, request schema) of the spec.
fn requests() -> Vec<(&'static Operation, &'static str, &'static str)> {
    OPERATIONS
        .iter()
        .flat_map(|op| {
            op.request
                .iter()
                .filter_map(move |m| Some((op, m.version, m.schema?)))
        })
        .collect()
}

/// The schema node of a component, references followed.
fn component(name: &str) -> Option<&'static Value> {
    let mut node = Schemas::global().get(name)?;
    for _ in 0..8 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) => node = Schemas::global().get(r.rsplit('/').next()?)?,
            None => return Some(node),
        }
    }
    None
}

/// The top-level properties a plain object schema declares itself (no composition, no
/// alternatives: there each property has one meaning), writable ones only.
fn plain_properties(schema: &str) -> Option<&'static Map<String, Value>> {
    let node = component(schema)?;
    let composed = ["allOf", "oneOf", "anyOf", "discriminator"]
        .iter()
        .any(|k| node.get(*k).is_some());
    if composed || node.get("additionalProperties").is_some() {
        return None;
    }
    node.get("properties")?.as_object()
}

fn is_read_only(prop: &Value) -> bool {
    prop.get("readOnly").and_then(Value::as_bool) == Some(true)
}

#[test]
fn every_branch_of_every_request_schema_is_accepted() {
    let h = hints();
    let s = Schemas::global();
    let mut failures = Vec::new();
    let mut bodies = 0;
    let requests = requests();
    assert!(requests.len() > 150, "{}", requests.len());
    for (op, version, schema) in requests {
        for body in s.variants(schema, Mode::Request, &h) {
            bodies += 1;
            if let Err(e) = validate::body(&call(op, version, body.clone())) {
                failures.push(format!(
                    "{} {version} {schema}: {} {} for {body}",
                    op.name,
                    e.status(),
                    e.code()
                ));
            }
        }
    }
    eprintln!("generated request bodies accepted: {bodies}");
    assert!(
        failures.is_empty(),
        "{} of {bodies} refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn read_only_attributes_are_accepted_and_handed_back_without() {
    let h = hints();
    let s = Schemas::global();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (op, version, schema) in requests() {
        let Some(props) = plain_properties(schema) else {
            continue;
        };
        let Value::Object(base) = s.example(schema, Mode::Request, &h) else {
            continue;
        };
        let response = s.example(schema, Mode::Response, &h);
        let mut sent = base.clone();
        for (name, _) in props.iter().filter(|(_, p)| is_read_only(p)) {
            sent.insert(
                name.clone(),
                response.get(name).cloned().unwrap_or(json!("x")),
            );
        }
        if sent == base {
            continue;
        }
        checked += 1;
        match validate::body(&call(op, version, Value::Object(sent.clone()))) {
            Ok(Some(stripped)) if stripped == Value::Object(base.clone()) => {}
            other => failures.push(format!(
                "{} {version} {schema}: {:?} for {}",
                op.name,
                other.map_err(|e| (e.status(), e.code())),
                Value::Object(sent)
            )),
        }
    }
    assert!(checked > 50, "{checked}");
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn broken_rules_get_the_atlas_error() {
    let h = hints();
    let s = Schemas::global();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut expect =
        |op: &'static Operation, version: &'static str, what: String, body: Value, code: &str| {
            checked += 1;
            match validate::body(&call(op, version, body)) {
                Err(e) if e.status() == 400 && e.code() == code => {}
                other => failures.push(format!(
                    "{} {version} {what}: want 400 {code}, got {:?}",
                    op.name,
                    other.map_err(|e| (e.status(), e.code()))
                )),
            }
        };
    for (op, version, schema) in requests() {
        let Some(props) = plain_properties(schema) else {
            continue;
        };
        let Value::Object(base) = s.example(schema, Mode::Request, &h) else {
            continue;
        };
        let mut unknown = base.clone();
        unknown.insert("probeUnknownAttribute".into(), json!(1));
        expect(
            op,
            version,
            format!("{schema} unknown attribute"),
            Value::Object(unknown),
            "INVALID_ATTRIBUTE",
        );
        for (name, prop) in props.iter().filter(|(_, p)| !is_read_only(p)) {
            let plain_string = prop.get("type").and_then(Value::as_str) == Some("string")
                && prop.get("nullable").is_none();
            if !plain_string {
                continue;
            }
            let mut wrong = base.clone();
            wrong.insert(name.clone(), json!(12345));
            expect(
                op,
                version,
                format!("{schema}.{name} as a number"),
                Value::Object(wrong),
                "INVALID_JSON_ATTRIBUTE",
            );
            if prop.get("enum").is_some() {
                let mut bad = base.clone();
                bad.insert(name.clone(), json!("PROBE_NOT_A_VALUE"));
                expect(
                    op,
                    version,
                    format!("{schema}.{name} outside its enum"),
                    Value::Object(bad),
                    "INVALID_ENUM_VALUE",
                );
            }
        }
    }
    assert!(checked > 300, "{checked}");
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
