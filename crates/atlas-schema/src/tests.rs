//! Crate-level tests: every schema the operations use, and the contract's cases on real schemas.

use std::collections::BTreeSet;

use atlas_model::OPERATIONS;
use serde_json::{Value, json};

use crate::{Hints, Mode, NULL_WHEN_UNSET, Schemas, Violation, ViolationKind};

const HEX: &str = "5f0a1b2c3d4e5f6a7b8c9d0e";

fn hints() -> Hints {
    let mut h = Hints::default().with_now("2025-06-01T12:00:00Z");
    h.seed = 42;
    for (k, v) in [
        ("groupId", json!(HEX)),
        ("orgId", json!("6a0b1c2d3e4f5a6b7c8d9e0f")),
        ("clusterName", json!("Cluster0")),
        ("name", json!("probe-x1")),
        ("id", json!("6b0b1c2d3e4f5a6b7c8d9e0f")),
    ] {
        h.values.insert(k.into(), v);
    }
    h
}

/// (request schema names, success response schema names) of every operation.
fn operation_schemas() -> (BTreeSet<&'static str>, BTreeSet<&'static str>) {
    let mut requests = BTreeSet::new();
    let mut responses = BTreeSet::new();
    for op in &OPERATIONS {
        requests.extend(op.request.iter().filter_map(|m| m.schema));
        for s in op.success {
            responses.extend(s.media.iter().filter_map(|m| m.schema));
        }
    }
    (requests, responses)
}

fn kinds(v: &[Violation]) -> Vec<(ViolationKind, Option<&str>)> {
    v.iter().map(|v| (v.kind, v.attribute.as_deref())).collect()
}

#[test]
fn every_operation_schema_has_valid_examples_and_fits() {
    let schemas = Schemas::global();
    let (requests, responses) = operation_schemas();
    let mut failures = Vec::new();
    for hints in [Hints::default(), hints()] {
        for name in &requests {
            if !crate::validate::compiles(schemas.validation(), name, Mode::Request) {
                failures.push(format!("{name}: request validator does not compile"));
                continue;
            }
            let example = schemas.example(name, Mode::Request, &hints);
            if let Err(v) = schemas.validate(name, Mode::Request, &example) {
                failures.push(format!("{name}: request example {example} -> {v:?}"));
            }
        }
        for name in &responses {
            if !crate::validate::compiles(schemas.validation(), name, Mode::Response) {
                failures.push(format!("{name}: response validator does not compile"));
                continue;
            }
            let example = schemas.example(name, Mode::Response, &hints);
            if let Err(v) = schemas.validate(name, Mode::Response, &example) {
                failures.push(format!("{name}: response example {example} -> {v:?}"));
                continue;
            }
            let fitted = schemas.fit(name, &example, &hints);
            if let Err(v) = schemas.validate(name, Mode::Response, &fitted) {
                failures.push(format!("{name}: fitted example {fitted} -> {v:?}"));
            } else if fitted != example {
                failures.push(format!(
                    "{name}: fit changed the example {example} -> {fitted}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures over {} request and {} response schemas:\n{}",
        failures.len(),
        requests.len(),
        responses.len(),
        failures.join("\n")
    );
}

/// `fit` repairs whatever it is given: wrong shapes, unknown attributes, wrong-typed values.
#[test]
fn fit_repairs_damaged_documents_of_every_response_schema() {
    let schemas = Schemas::global();
    let h = hints();
    let (_, responses) = operation_schemas();
    let mut failures = Vec::new();
    for name in &responses {
        let example = schemas.example(name, Mode::Response, &h);
        let mut docs = vec![
            Value::Null,
            json!({}),
            json!([]),
            json!("x"),
            json!([{"a": 1}]),
        ];
        if let Value::Object(map) = &example {
            let mut extra = map.clone();
            extra.insert("probeUnknownField".into(), json!(1));
            let fitted = schemas.fit(name, &Value::Object(extra), &h);
            let spec = schemas.spec();
            let free_form = schemas.get(name).is_some_and(|node| {
                let flat = spec.flatten(node);
                flat.properties.is_empty() && flat.get("additionalProperties").is_none()
            });
            if fitted != example && !free_form {
                failures.push(format!("{name}: unknown attribute not dropped: {fitted}"));
            }
            let mut damaged = map.clone();
            for v in damaged.values_mut() {
                *v = if v.is_object() || v.is_array() {
                    json!("wrong")
                } else {
                    json!({"wrong": [1]})
                };
            }
            docs.push(Value::Object(damaged));
        }
        for doc in docs {
            let fitted = schemas.fit(name, &doc, &h);
            if let Err(v) = schemas.validate(name, Mode::Response, &fitted) {
                failures.push(format!("{name}: fit({doc}) = {fitted} -> {v:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What a create or update stores is mostly the request body: fitted to the same version's
/// response schema it must validate there.
#[test]
fn request_examples_fit_the_response_schema_of_their_operation() {
    let schemas = Schemas::global();
    let loaded = schemas.loaded();
    let h = hints();
    let mut failures = Vec::new();
    let mut checked = 0;
    for op in &OPERATIONS {
        for req in op.request {
            let Some(request) = req.schema else { continue };
            for (_, media) in op.success_for(req.version) {
                let Some(response) = media.schema else {
                    continue;
                };
                let Some(node) = schemas.get(request) else {
                    continue;
                };
                let full = crate::example::Builder::new(
                    schemas.spec(),
                    &loaded.patterns,
                    Mode::Request,
                    &h,
                )
                .with_optional_depth(12)
                .root(node);
                for body in [schemas.example(request, Mode::Request, &h), full] {
                    checked += 1;
                    let fitted = schemas.fit(response, &body, &h);
                    if let Err(v) = schemas.validate(response, Mode::Response, &fitted) {
                        failures.push(format!(
                            "{} {request} -> {response}: {fitted} -> {v:?}",
                            op.name
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn group_request_violations_name_the_attribute() {
    let s = Schemas::global();
    let ok = json!({"name": "x", "orgId": HEX});
    assert_eq!(s.validate("Group", Mode::Request, &ok), Ok(()));

    let unknown = json!({"name": "x", "orgId": HEX, "probeUnknownField": 1});
    let v = s.validate("Group", Mode::Request, &unknown).unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![(ViolationKind::UnknownAttribute, Some("probeUnknownField"))]
    );
    assert_eq!(v[0].pointer, "");
    assert_eq!(v[0].value, Some(json!(1)));

    // Read-only attributes are accepted and ignored, as Atlas does: the Go SDK's `admin.Group`
    // always sends `clusterCount` and `created` (zero values) when it creates a project.
    let read_only = json!({"name": "x", "orgId": HEX, "clusterCount": 0, "created": "0001-01-01T00:00:00Z", "id": HEX, "links": []});
    assert_eq!(s.validate("Group", Mode::Request, &read_only), Ok(()));
    assert_eq!(
        s.without_read_only("Group", &read_only),
        Some(json!({"name": "x", "orgId": HEX}))
    );
    assert_eq!(s.without_read_only("Group", &ok), None);

    let missing = json!({"orgId": HEX});
    let v = s.validate("Group", Mode::Request, &missing).unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![(ViolationKind::MissingAttribute, Some("name"))]
    );

    let wrong = json!({"name": 12345, "orgId": HEX});
    let v = s.validate("Group", Mode::Request, &wrong).unwrap_err();
    assert_eq!(kinds(&v), vec![(ViolationKind::WrongType, Some("name"))]);
    assert_eq!(v[0].pointer, "/name");

    let bad_enum = json!({"name": "x", "orgId": HEX, "regionUsageRestrictions": "MARS"});
    let v = s.validate("Group", Mode::Request, &bad_enum).unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![(
            ViolationKind::InvalidEnumValue,
            Some("regionUsageRestrictions")
        )]
    );
    assert_eq!(v[0].value, Some(json!("MARS")));

    let bad_pattern = json!({"name": "x", "orgId": "nothex"});
    let v = s
        .validate("Group", Mode::Request, &bad_pattern)
        .unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![(ViolationKind::InvalidValue, Some("orgId"))]
    );

    // Nested unknown attribute: reported on the item that carries it.
    let nested =
        json!({"name": "x", "orgId": HEX, "tags": [{"key": "k", "value": "v", "extra": true}]});
    let v = s.validate("Group", Mode::Request, &nested).unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![(ViolationKind::UnknownAttribute, Some("extra"))]
    );
    assert_eq!(v[0].pointer, "/tags/0");

    // Independent problems are all reported, in pointer order.
    let several = json!({"name": "x", "orgId": HEX, "tags": [{"key": 1}], "probeUnknownField": 1});
    let v = s.validate("Group", Mode::Request, &several).unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![
            (ViolationKind::UnknownAttribute, Some("probeUnknownField")),
            (ViolationKind::MissingAttribute, Some("value")),
            (ViolationKind::WrongType, Some("key")),
        ]
    );
    assert_eq!(v[1].pointer, "/tags/0");
    assert_eq!(v[2].pointer, "/tags/0/key");
}

#[test]
fn group_response_allows_read_only_and_undeclared() {
    let s = Schemas::global();
    let doc = json!({"name": "x", "orgId": HEX, "clusterCount": 0, "created": "2025-01-01T00:00:00Z", "id": HEX, "other": 1});
    assert_eq!(s.validate("Group", Mode::Response, &doc), Ok(()));
    let v = s
        .validate("Group", Mode::Response, &json!({"name": "x", "orgId": HEX}))
        .unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![
            (ViolationKind::MissingAttribute, Some("clusterCount")),
            (ViolationKind::MissingAttribute, Some("created"))
        ]
    );
}

#[test]
fn group_fit_drops_undeclared_and_fills_required() {
    let s = Schemas::global();
    let h = hints();
    let stored = json!({"name": "proj", "orgId": HEX, "secretInternal": 1, "clusterCount": "bad"});
    let fitted = s.fit("Group", &stored, &h);
    assert_eq!(s.validate("Group", Mode::Response, &fitted), Ok(()));
    assert_eq!(fitted["name"], json!("proj"));
    assert!(fitted.get("secretInternal").is_none());
    assert_eq!(fitted["clusterCount"], json!(1));
    assert_eq!(fitted["created"], json!("2025-06-01T12:00:00Z"));
    // Hinted optional `id` at the root of an example.
    let example = s.example("Group", Mode::Response, &h);
    assert_eq!(example["id"], json!("6b0b1c2d3e4f5a6b7c8d9e0f"));
}

#[test]
fn remembered_fits_are_the_fits_and_hinted_ones_follow_their_hints() {
    let s = Schemas::global();
    let h = hints();
    // Complete: nothing synthesized, so the second answer comes from memory and must equal it.
    let complete = json!({"name": "proj", "orgId": HEX, "id": HEX, "clusterCount": 2,
        "created": "2024-01-01T00:00:00Z", "extra": true});
    let first = s.fit("Group", &complete, &h);
    assert!(first.get("extra").is_none());
    assert_eq!(s.fit("Group", &complete, &h), first);
    // Incomplete: `created` is made up from the hints, so another `now` must show through.
    let incomplete = json!({"name": "proj", "orgId": HEX});
    let then = s.fit("Group", &incomplete, &h);
    let later = hints().with_now("2026-02-02T00:00:00Z");
    let now = s.fit("Group", &incomplete, &later);
    assert_eq!(then["created"], json!("2025-06-01T12:00:00Z"));
    assert_eq!(now["created"], json!("2026-02-02T00:00:00Z"));
}

#[test]
fn examples_are_deterministic() {
    let s = Schemas::global();
    let h = hints();
    for name in ["Group", "ClusterDescription20240805", "CloudDatabaseUser"] {
        assert_eq!(
            s.example(name, Mode::Request, &h),
            s.example(name, Mode::Request, &h),
            "{name}"
        );
    }
}

/// A discriminated request body: the branch named by the discriminator applies, so attributes of
/// another branch are unknown and the chosen branch's requirements apply.
#[test]
fn discriminated_request_dispatches_on_the_type() {
    let s = Schemas::global();
    let name = "ThirdPartyIntegration";
    let Some(schema) = s.get(name) else {
        panic!("{name} missing");
    };
    let mapping = schema["discriminator"]["mapping"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(mapping.contains_key("DATADOG"), "{mapping:?}");

    let h = hints();
    let example = s.example(name, Mode::Request, &h);
    assert_eq!(
        s.validate(name, Mode::Request, &example),
        Ok(()),
        "{example}"
    );

    let datadog =
        json!({"type": "DATADOG", "apiKey": "0123456789abcdef0123456789abcdef", "region": "US"});
    assert_eq!(s.validate(name, Mode::Request, &datadog), Ok(()));
    // `serviceKey` belongs to PagerDuty, not Datadog.
    let mut wrong = datadog.clone();
    wrong["serviceKey"] = json!("abc");
    let v = s.validate(name, Mode::Request, &wrong).unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![(ViolationKind::UnknownAttribute, Some("serviceKey"))]
    );
    // The Datadog branch requires its api key.
    let v = s
        .validate(
            name,
            Mode::Request,
            &json!({"type": "DATADOG", "region": "US"}),
        )
        .unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![(ViolationKind::MissingAttribute, Some("apiKey"))]
    );
    // The PagerDuty branch is happy with a service key.
    let pager = json!({"type": "PAGER_DUTY", "serviceKey": "0123456789abcdef0123456789abcdef"});
    assert_eq!(s.validate(name, Mode::Request, &pager), Ok(()));

    // Fit follows the stored document's branch.
    let fitted = s.fit(
        name,
        &json!({"type": "PAGER_DUTY", "serviceKey": "k", "apiKey": "x"}),
        &h,
    );
    assert_eq!(fitted["type"], json!("PAGER_DUTY"));
    assert!(fitted.get("apiKey").is_none(), "{fitted}");
    assert_eq!(
        s.validate(name, Mode::Response, &fitted),
        Ok(()),
        "{fitted}"
    );
}

#[test]
fn first_uses_from_many_threads_agree() {
    let s = Schemas::from_json(
        json!({"T": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}})
            .to_string(),
    );
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    let body = if i % 2 == 0 {
                        json!({"a": "x"})
                    } else {
                        json!({"b": 1})
                    };
                    s.validate("T", Mode::Request, &body)
                        .map_err(|v| kinds(&v).len())
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    assert_eq!(results, vec![Ok(()), Err(2), Ok(()), Err(2)]);
}

#[test]
fn unknown_schema_names_are_harmless() {
    let s = Schemas::global();
    assert_eq!(s.get("NoSuchSchema"), None);
    assert_eq!(
        s.validate("NoSuchSchema", Mode::Request, &json!({"a": 1})),
        Ok(())
    );
    assert_eq!(
        s.example("NoSuchSchema", Mode::Request, &Hints::default()),
        Value::Null
    );
    assert_eq!(
        s.fit("NoSuchSchema", &json!({"a": 1}), &Hints::default()),
        json!({"a": 1})
    );
}

/// Conversion rules and violation mapping on small inline schemas.
mod inline {
    use super::*;

    fn doc() -> Schemas {
        Schemas::from_json(
            json!({
                "Pet": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string", "enum": ["cat", "dog"]},
                        "id": {"type": "string", "readOnly": true},
                        "secret": {"type": "string", "writeOnly": true},
                        "nick": {"type": "string", "nullable": true, "maxLength": 5}
                    },
                    "required": ["kind", "id", "secret"],
                    "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat", "dog": "#/components/schemas/Dog"}},
                    "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}]
                },
                "Cat": {"type": "object", "allOf": [{"$ref": "#/components/schemas/Pet"}, {"properties": {"lives": {"type": "integer", "minimum": 1, "maximum": 9}}}], "required": ["lives"]},
                "Dog": {"type": "object", "allOf": [{"$ref": "#/components/schemas/Pet"}, {"properties": {"breed": {"type": "string", "pattern": "^[a-z]+$"}}}]},
                "Size": {"type": "object", "oneOf": [{"type": "string", "enum": ["S", "M"]}, {"type": "string", "enum": ["M", "L"]}]},
                "Map": {"type": "object", "additionalProperties": {"type": "integer"}},
                "Num": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1},
                "Even": {"type": "integer", "minimum": 3, "multipleOf": 2},
                "Tree": {"type": "object", "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}, "required": ["label"]},
                "Broken": {"type": "string", "pattern": "(unclosed"},
                "Status": {"type": "object", "allOf": [{"properties": {"state": {"type": "string"}}}, {"properties": {"error": {"type": "string", "nullable": true, NULL_WHEN_UNSET: true}}}]}
            })
            .to_string(),
        )
    }

    #[test]
    fn request_rules() {
        let s = doc();
        let ok = json!({"kind": "cat", "secret": "s", "lives": 3});
        assert_eq!(s.validate("Pet", Mode::Request, &ok), Ok(()));
        // Sub-type properties are seen through the dispatch; the base does not refuse them.
        let unknown = json!({"kind": "cat", "secret": "s", "lives": 3, "breed": "x"});
        let v = s.validate("Pet", Mode::Request, &unknown).unwrap_err();
        assert_eq!(
            kinds(&v),
            vec![(ViolationKind::UnknownAttribute, Some("breed"))]
        );
        // Read-only: accepted whatever the value, and stripped.
        let ro = json!({"kind": "dog", "secret": "s", "id": 1});
        assert_eq!(s.validate("Pet", Mode::Request, &ro), Ok(()));
        assert_eq!(
            s.without_read_only("Pet", &ro),
            Some(json!({"kind": "dog", "secret": "s"}))
        );
        let v = s
            .validate("Pet", Mode::Request, &json!({"kind": "cat", "secret": "s"}))
            .unwrap_err();
        assert_eq!(
            kinds(&v),
            vec![(ViolationKind::MissingAttribute, Some("lives"))]
        );
        let v = s
            .validate(
                "Pet",
                Mode::Request,
                &json!({"kind": "cat", "secret": "s", "lives": 10}),
            )
            .unwrap_err();
        assert_eq!(
            kinds(&v),
            vec![(ViolationKind::InvalidValue, Some("lives"))]
        );
        // The failing sub-type member does not make its own properties "unknown".
        let v = s
            .validate(
                "Pet",
                Mode::Request,
                &json!({"kind": "cat", "secret": "s", "lives": "x"}),
            )
            .unwrap_err();
        assert_eq!(kinds(&v), vec![(ViolationKind::WrongType, Some("lives"))]);
        // A value outside the mapping falls back to the alternatives.
        let v = s
            .validate("Pet", Mode::Request, &json!({"kind": "cow", "secret": "s"}))
            .unwrap_err();
        assert!(
            v.iter().any(|x| x.kind == ViolationKind::InvalidEnumValue),
            "{v:?}"
        );
        // nullable
        let nick = json!({"kind": "dog", "secret": "s", "nick": null});
        assert_eq!(s.validate("Pet", Mode::Request, &nick), Ok(()));
        let long = json!({"kind": "dog", "secret": "s", "nick": "toolong"});
        let v = s.validate("Pet", Mode::Request, &long).unwrap_err();
        assert_eq!(kinds(&v), vec![(ViolationKind::InvalidValue, Some("nick"))]);
    }

    #[test]
    fn response_rules() {
        let s = doc();
        // Write-only `secret` is not required, read-only `id` is, undeclared is fine.
        let ok = json!({"kind": "dog", "id": "1", "extra": true});
        assert_eq!(s.validate("Pet", Mode::Response, &ok), Ok(()));
        let v = s
            .validate("Pet", Mode::Response, &json!({"kind": "dog"}))
            .unwrap_err();
        assert_eq!(
            kinds(&v),
            vec![(ViolationKind::MissingAttribute, Some("id"))]
        );
    }

    #[test]
    fn scalar_alternatives_numbers_maps_and_broken_patterns() {
        let s = doc();
        assert_eq!(s.validate("Size", Mode::Request, &json!("M")), Ok(()));
        let v = s.validate("Size", Mode::Request, &json!("XL")).unwrap_err();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, ViolationKind::InvalidEnumValue);
        assert_eq!(
            s.validate("Map", Mode::Request, &json!({"a": 1, "b": 2})),
            Ok(())
        );
        let v = s
            .validate("Map", Mode::Request, &json!({"a": "x"}))
            .unwrap_err();
        assert_eq!(kinds(&v), vec![(ViolationKind::WrongType, Some("a"))]);
        assert!(s.validate("Num", Mode::Request, &json!(0)).is_err());
        assert_eq!(
            s.validate("Broken", Mode::Request, &json!("anything")),
            Ok(())
        );
        let h = Hints::default();
        for name in [
            "Pet", "Cat", "Dog", "Size", "Map", "Num", "Even", "Tree", "Broken",
        ] {
            for mode in [Mode::Request, Mode::Response] {
                let e = s.example(name, mode, &h);
                assert_eq!(s.validate(name, mode, &e), Ok(()), "{name} {mode:?}: {e}");
            }
        }
        assert_eq!(s.example("Even", Mode::Request, &h), json!(4));
        let num = s.example("Num", Mode::Request, &h);
        assert!(num.as_f64().is_some_and(|x| x > 0.0 && x <= 1.0), "{num}");
        assert_eq!(
            s.example("Pet", Mode::Request, &h),
            json!({"kind": "cat", "secret": "example", "lives": 1})
        );
    }

    #[test]
    fn fit_rules() {
        let s = doc();
        let h = Hints::default();
        let stored =
            json!({"kind": "dog", "secret": "s", "breed": "Not Lower", "nick": "rex", "junk": 1});
        let fitted = s.fit("Pet", &stored, &h);
        assert_eq!(fitted["kind"], json!("dog"));
        assert_eq!(fitted["nick"], json!("rex"));
        assert!(
            fitted["id"].is_string(),
            "required read-only id filled: {fitted}"
        );
        assert_eq!(fitted.as_object().map(|m| m.len()), Some(3), "{fitted}");
        // Without a discriminator value, the branch declaring most of the document wins.
        let fitted = s.fit("Pet", &json!({"lives": 4, "id": "7"}), &h);
        assert_eq!(fitted["kind"], json!("cat"));
        assert_eq!(
            s.validate("Pet", Mode::Response, &fitted),
            Ok(()),
            "{fitted}"
        );
        // Recursive schemas fit item by item.
        let tree = json!({"label": "a", "children": [{"label": "b", "x": 1}, {"nolabel": true}]});
        let fitted = s.fit("Tree", &tree, &h);
        assert_eq!(
            fitted,
            json!({"label": "a", "children": [{"label": "b"}, {"label": "example"}]})
        );
        // A scalar document that does not fit becomes the example.
        assert_eq!(
            s.fit("Num", &json!("x"), &h),
            s.example("Num", Mode::Response, &h)
        );
    }

    /// Properties Atlas answers as `null` when unset (the overlays' `null_when_unset`) are
    /// written as `null` where the document has nothing, wherever the schema declares them,
    /// and keep their value otherwise.
    #[test]
    fn null_when_unset() {
        let s = doc();
        let h = Hints::default();
        assert_eq!(
            s.fit("Status", &json!({"state": "DONE"}), &h),
            json!({"state": "DONE", "error": null})
        );
        assert_eq!(
            s.fit("Status", &json!({"state": "FAILED", "error": "boom"}), &h),
            json!({"state": "FAILED", "error": "boom"})
        );
        assert_eq!(
            s.validate("Status", Mode::Response, &json!({"error": null})),
            Ok(())
        );
    }

    /// The generated model carries the marks the codegen's overlays set (the keyword is the
    /// contract between the two crates).
    #[test]
    fn the_model_marks_what_the_overlays_declare() {
        let s = Schemas::global();
        let fitted = s.fit(
            "SampleDatasetStatus",
            &json!({"_id": "6a0000000000000000000001", "clusterName": "c", "state": "WORKING"}),
            &Hints::default(),
        );
        assert_eq!(fitted["completeDate"], Value::Null, "{fitted}");
        assert_eq!(fitted["errorMessage"], Value::Null, "{fitted}");
    }
}

/// Prints examples of a few schemas (`cargo test -p atlas-schema -- --ignored --nocapture show`).
#[test]
#[ignore]
fn show_examples() {
    let s = Schemas::global();
    let names: Vec<String> = std::env::var("SCHEMAS")
        .unwrap_or_else(|_| "Group,ClusterDescription20240805,ThirdPartyIntegration".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let (requests, responses) = operation_schemas();
    println!(
        "{} request schemas, {} response schemas",
        requests.len(),
        responses.len()
    );
    for name in names {
        for mode in [Mode::Request, Mode::Response] {
            let e = s.example(&name, mode, &hints());
            println!("{name} {mode:?}: {e}");
        }
    }
}

/// Writes examples and fits of every operation schema to `$DUMP` (JSON), for cross-checking
/// against the acceptance probe's own converter.
#[test]
#[ignore]
fn dump_examples() {
    let Ok(path) = std::env::var("DUMP") else {
        return;
    };
    let s = Schemas::global();
    let h = hints();
    let (requests, responses) = operation_schemas();
    let mut out = serde_json::Map::new();
    for name in requests.union(&responses) {
        let req = s.example(name, Mode::Request, &h);
        let resp = s.example(name, Mode::Response, &h);
        let fit_req = s.fit(name, &req, &h);
        out.insert(
            (*name).to_owned(),
            json!({"request": req, "response": resp, "fit_request": fit_req}),
        );
    }
    let mut pairs = Vec::new();
    for op in &OPERATIONS {
        for req in op.request {
            let Some(request) = req.schema else { continue };
            for (_, media) in op.success_for(req.version) {
                let Some(response) = media.schema else {
                    continue;
                };
                let body = s.example(request, Mode::Request, &h);
                pairs.push(json!({"response": response, "doc": s.fit(response, &body, &h)}));
            }
        }
    }
    for name in &responses {
        let example = s.example(name, Mode::Response, &h);
        let mut docs = vec![json!({}), json!([{"a": 1}])];
        if let Value::Object(map) = &example {
            let mut damaged = map.clone();
            for v in damaged.values_mut() {
                *v = if v.is_object() || v.is_array() {
                    json!("wrong")
                } else {
                    json!({"wrong": [1]})
                };
            }
            docs.push(Value::Object(damaged));
        }
        for doc in docs {
            pairs.push(json!({"response": name, "doc": s.fit(name, &doc, &h)}));
        }
    }
    let all = json!({"schemas": out, "pairs": pairs});
    std::fs::write(path, all.to_string()).unwrap_or_else(|e| panic!("{e}"));
}

/// Validates request bodies listed in `$BODIES` (`[{"op", "version", "body", "src"}]`, e.g. the
/// acceptance probe's generated and seed bodies) in Request mode; prints the refused ones.
#[test]
#[ignore]
fn check_bodies() {
    let Ok(path) = std::env::var("BODIES") else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let list: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    let s = Schemas::global();
    let mut refused = 0;
    let mut lenient = 0;
    for item in &list {
        let op = item["op"].as_str().and_then(atlas_model::operation_by_name);
        let version = item["version"].as_str().unwrap_or_default();
        let Some(name) = op
            .and_then(|o| o.request_for(version))
            .and_then(|m| m.schema)
        else {
            println!("no schema: {} {version}", item["op"]);
            continue;
        };
        if let Err(v) = s.validate(name, Mode::Request, &item["body"]) {
            refused += 1;
            println!(
                "{} {} {version} {name}: {v:?}\n   {}",
                item["src"], item["op"], item["body"]
            );
            continue;
        }
        // The same body with one unknown attribute must be refused for exactly that attribute.
        let mut mutated = item["body"].clone();
        let target = match &mut mutated {
            Value::Array(items) => items.first_mut(),
            other => Some(other),
        };
        if let Some(Value::Object(map)) = target {
            map.insert("probeUnknownField".into(), json!(1));
            let got = s.validate(name, Mode::Request, &mutated);
            let ok = got.as_ref().is_err_and(|v| {
                kinds(v) == vec![(ViolationKind::UnknownAttribute, Some("probeUnknownField"))]
            });
            if !ok {
                lenient += 1;
                println!(
                    "unknown not reported: {} {version} {name}: {got:?}\n   {mutated}",
                    item["op"]
                );
            }
        }
    }
    // Nested objects too: each one in turn gets the unknown attribute.
    let mut nested = 0;
    let mut nested_bad = 0;
    for item in &list {
        let op = item["op"].as_str().and_then(atlas_model::operation_by_name);
        let version = item["version"].as_str().unwrap_or_default();
        let Some(name) = op
            .and_then(|o| o.request_for(version))
            .and_then(|m| m.schema)
        else {
            continue;
        };
        let mut pointers = Vec::new();
        objects(&item["body"], String::new(), &mut pointers);
        for p in pointers.into_iter().filter(|p| !p.is_empty()) {
            let mut mutated = item["body"].clone();
            if let Some(Value::Object(map)) = mutated.pointer_mut(&p) {
                map.insert("probeUnknownField".into(), json!(1));
            }
            nested += 1;
            match s.validate(name, Mode::Request, &mutated) {
                Err(v)
                    if kinds(&v)
                        == vec![(ViolationKind::UnknownAttribute, Some("probeUnknownField"))]
                        && v[0].pointer == p => {}
                other => {
                    nested_bad += 1;
                    println!("nested {p}: {} {name}: {other:?}", item["op"]);
                }
            }
        }
    }
    println!(
        "{refused} refused of {}, {lenient} mutations misreported, {nested_bad} of {nested} nested",
        list.len()
    );
}

#[cfg(test)]
fn objects(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            out.push(at.clone());
            for (k, x) in map {
                objects(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                objects(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Mutations of every request example: a read-only attribute added is accepted (and stripped
/// again), a required one removed must be reported exactly; a value of the wrong type must be
/// refused.
#[test]
fn request_example_mutations_are_reported() {
    let s = Schemas::global();
    let h = hints();
    let (requests, _) = operation_schemas();
    let spec = s.spec();
    let mut failures = Vec::new();
    let mut total = 0;
    for name in &requests {
        let example = s.example(name, Mode::Request, &h);
        let Value::Object(map) = &example else {
            continue;
        };
        let Some(node) = s.get(name) else { continue };
        let flat = spec.flatten(node);
        let response = s.example(name, Mode::Response, &h);
        for (prop, decls) in &flat.properties {
            let mut m = map.clone();
            if decls.iter().all(|d| spec.is_declared_read_only(d)) {
                m.insert(
                    (*prop).to_owned(),
                    response.get(*prop).cloned().unwrap_or(json!("x")),
                );
                total += 1;
                let sent = Value::Object(m);
                let got = s.validate(name, Mode::Request, &sent);
                let stripped = s.without_read_only(name, &sent);
                if got.is_err() || stripped.as_ref() != Some(&example) {
                    failures.push(format!(
                        "{name} read-only {prop}: {got:?}, stripped {stripped:?}"
                    ));
                }
                continue;
            }
            let relaxed = crate::convert::NOT_REQUIRED
                .iter()
                .any(|(c, names)| c == name && names.contains(prop));
            let expect = if map.contains_key(*prop) && flat.required.contains(prop) && !relaxed {
                m.remove(*prop);
                (ViolationKind::MissingAttribute, *prop)
            } else {
                continue;
            };
            total += 1;
            let got = s.validate(name, Mode::Request, &Value::Object(m));
            if !got
                .as_ref()
                .is_err_and(|v| kinds(v) == vec![(expect.0, Some(expect.1))])
            {
                failures.push(format!("{name} {expect:?}: {got:?}"));
            }
        }
        for (prop, v) in map {
            let mut m = map.clone();
            m.insert(
                prop.clone(),
                if v.is_string() {
                    json!(12345)
                } else {
                    json!("wrong")
                },
            );
            total += 1;
            let got = s.validate(name, Mode::Request, &Value::Object(m));
            let named = got.as_ref().is_err_and(|v| {
                v.iter()
                    .any(|x| x.attribute.as_deref() == Some(prop.as_str()))
            });
            if !named {
                failures.push(format!("{name} wrong type {prop}: {got:?}"));
            }
        }
    }
    assert!(total > 300, "{total}");
    assert!(
        failures.is_empty(),
        "{} of {total}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Bodies the acceptance probe's seed scenario sends (with the versions it sends them in).
#[test]
fn probe_seed_bodies_are_accepted() {
    let s = Schemas::global();
    let rs = json!({"name": "c1", "clusterType": "REPLICASET", "replicationSpecs": [{"regionConfigs": [
        {"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7, "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
    let geo_spec = |zone: &str, region: &str| {
        json!({"zoneName": zone, "regionConfigs": [
        {"providerName": "AWS", "regionName": region, "priority": 7, "electableSpecs": {"instanceSize": "M30", "nodeCount": 3}}]})
    };
    let geo = json!({"name": "g1", "clusterType": "GEOSHARDED",
        "replicationSpecs": [geo_spec("Zone 1", "US_EAST_1"), geo_spec("Zone 2", "EU_WEST_1")]});
    let bodies = [
        ("createGroupCluster", "2024-10-23", rs),
        ("createGroupCluster", "2024-10-23", geo),
        (
            "createGroupFlexCluster",
            "2024-11-13",
            json!({"name": "f1", "providerSettings": {"backingProviderName": "AWS", "regionName": "US_EAST_1"}}),
        ),
        (
            "createGroupClusterGlobalWriteManagedNamespace",
            "2024-08-05",
            json!({"db": "d", "collection": "c", "customShardKey": "city"}),
        ),
        (
            "createGroupClusterGlobalWriteCustomZoneMapping",
            "2024-08-05",
            json!({"customZoneMappings": [{"location": "US", "zone": "Zone 1"}]}),
        ),
        (
            "createGroupStreamWorkspace",
            "2023-02-01",
            json!({"name": "t1", "dataProcessRegion": {"cloudProvider": "AWS", "region": "VIRGINIA_USA"}, "streamConfig": {"tier": "SP30"}}),
        ),
        (
            "createGroupStreamConnection",
            "2023-02-01",
            json!({"name": "sample_stream_solar", "type": "Sample"}),
        ),
        (
            "createGroupStreamConnection",
            "2023-02-01",
            json!({"name": "conn", "type": "Cluster", "clusterName": "c1", "dbRoleToExecute": {"role": "atlasAdmin", "type": "BUILT_IN"}}),
        ),
        (
            "createGroupPrivateEndpointEndpointService",
            "2023-01-01",
            json!({"providerName": "AWS", "region": "us-east-1"}),
        ),
        (
            "createGroupPrivateEndpointEndpointServiceEndpoint",
            "2023-01-01",
            json!({"id": "vpce-0a1b2c3d4e5f6a7b8"}),
        ),
        (
            "createOrgApiKey",
            "2023-01-01",
            json!({"desc": "probe", "roles": ["ORG_MEMBER"]}),
        ),
        (
            "createOrgApiKeyAccessListEntry",
            "2023-01-01",
            json!([{"ipAddress": "192.0.2.10"}, {"cidrBlock": "198.51.100.0/24"}]),
        ),
        (
            "createOrgInvite",
            "2023-01-01",
            json!({"username": "a@example.com", "roles": ["ORG_MEMBER"]}),
        ),
        (
            "createGroupInvite",
            "2023-01-01",
            json!({"username": "b@example.com", "roles": ["GROUP_READ_ONLY"]}),
        ),
    ];
    for (op, version, body) in bodies {
        let name = atlas_model::operation_by_name(op)
            .and_then(|o| o.request_for(version))
            .and_then(|m| m.schema);
        let Some(name) = name else {
            panic!("{op} {version}: no request schema")
        };
        assert_eq!(
            s.validate(name, Mode::Request, &body),
            Ok(()),
            "{op} {name}: {body}"
        );
    }
    // The streams connection is discriminated: a Cluster connection's attribute is unknown to a
    // Sample connection.
    let name = atlas_model::operation_by_name("createGroupStreamConnection")
        .and_then(|o| o.request_for("2023-02-01"))
        .and_then(|m| m.schema)
        .unwrap_or_default();
    let v = s
        .validate(
            name,
            Mode::Request,
            &json!({"name": "s", "type": "Sample", "clusterName": "c1"}),
        )
        .unwrap_err();
    assert_eq!(
        kinds(&v),
        vec![(ViolationKind::UnknownAttribute, Some("clusterName"))]
    );
}

/// Every schema of the document compiles in both modes, not only those operations name.
#[test]
fn every_schema_compiles_in_both_modes() {
    let s = Schemas::global();
    let names: Vec<&str> = s.names().collect();
    assert!(names.len() > 1000, "{}", names.len());
    let broken: Vec<String> = names
        .iter()
        .flat_map(|n| [Mode::Request, Mode::Response].map(|m| (*n, m)))
        .filter(|(n, m)| !crate::validate::compiles(s.validation(), n, *m))
        .map(|(n, m)| format!("{n} {m:?}"))
        .collect();
    assert!(broken.is_empty(), "{broken:?}");
}

/// Examples with every optional attribute filled (a few levels deep) are accepted too: no
/// declared, writable attribute is refused as unknown or read-only.
#[test]
fn full_examples_validate() {
    let s = Schemas::global();
    let h = hints();
    let loaded = s.loaded();
    let (requests, responses) = operation_schemas();
    let mut failures = Vec::new();
    for (names, mode) in [(&requests, Mode::Request), (&responses, Mode::Response)] {
        for name in names.iter() {
            let Some(node) = s.get(name) else { continue };
            let full = crate::example::Builder::new(s.spec(), &loaded.patterns, mode, &h)
                .with_optional_depth(12)
                .root(node);
            if let Err(v) = s.validate(name, mode, &full) {
                failures.push(format!("{name} {mode:?}: {v:?}\n    {full}"));
            } else if mode == Mode::Response {
                let fitted = s.fit(name, &full, &h);
                if fitted != full {
                    failures.push(format!("{name}: fit changed\n    {full}\n    {fitted}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The spec's patterns: all asserted except the three no real value can match, and the example
/// builder can produce a matching string for every asserted one.
#[test]
fn spec_patterns_compile_except_the_broken_ones() {
    let s = Schemas::global();
    let loaded = s.loaded();
    let mut raw: BTreeSet<&str> = BTreeSet::new();
    fn gather<'a>(v: &'a Value, out: &mut BTreeSet<&'a str>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(p)) = map.get("pattern") {
                    out.insert(p);
                }
                map.iter()
                    .filter(|(k, _)| *k != "enum" && *k != "default")
                    .for_each(|(_, x)| gather(x, out));
            }
            Value::Array(items) => items.iter().for_each(|x| gather(x, out)),
            _ => {}
        }
    }
    for node in loaded.schemas.values() {
        gather(node, &mut raw);
    }
    let dropped: Vec<&str> = raw
        .iter()
        .copied()
        .filter(|p| loaded.patterns.asserted(p).is_none())
        .collect();
    assert_eq!(dropped.len(), 3, "{dropped:?}");
    assert!(
        dropped.iter().all(|p| crate::pattern::is_broken(p)),
        "{dropped:?}"
    );
    for p in raw.iter().filter(|p| !dropped.contains(p)) {
        let sample = loaded.patterns.sample(p, 1, None, None);
        assert!(sample.is_some(), "no sample for {p}");
    }
}
