//! Overlays: corrections to the spec where real Atlas behaves differently, applied to the
//! stripped schemas at generation time. Each one names its target, the value it expects to
//! replace (so a spec update that changes the target fails loudly instead of being silently
//! overwritten), the new value, and the evidence (`overlays.json`).
//!
//! A second form, `{"schema", "null_when_unset": [properties], "reason"}`, declares properties
//! Atlas answers as `null` when they were never set (Java's serializer writes every field of
//! those views): each becomes `nullable` and carries [`NULL_WHEN_UNSET`], which the response
//! renderer reads to write the `null` where the document has nothing.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::Value;

/// The overlays of this repository.
pub const OVERLAYS: &str = include_str!("../overlays.json");

/// The schema keyword marking a property Atlas answers as `null` when unset (read by
/// `atlas-schema`'s response fitting).
pub const NULL_WHEN_UNSET: &str = "x-null-when-unset";

/// Applies every overlay of `text` (a JSON array) to `schemas`.
pub fn apply(schemas: &mut BTreeMap<String, Value>, text: &str) -> anyhow::Result<()> {
    let overlays: Vec<Value> = serde_json::from_str(text).context("parsing overlays.json")?;
    for overlay in &overlays {
        let field = |name: &str| {
            overlay
                .get(name)
                .with_context(|| format!("overlay without `{name}`: {overlay}"))
        };
        let schema = field("schema")?.as_str().context("`schema` is a string")?;
        if let Some(names) = overlay.get("null_when_unset") {
            field("reason")?;
            let root = schemas
                .get_mut(schema)
                .with_context(|| format!("overlay targets missing schema {schema}"))?;
            mark_null_when_unset(root, schema, names)?;
            continue;
        }
        let pointer = field("pointer")?
            .as_str()
            .context("`pointer` is a string")?;
        field("reason")?;
        let expect = field("expect")?;
        let value = field("value")?.clone();
        let root = schemas
            .get_mut(schema)
            .with_context(|| format!("overlay targets missing schema {schema}"))?;
        // `"expect": null` adds what the spec lacks (a property Atlas answers with): the target
        // must not exist yet, its parent must.
        if expect.is_null() {
            let (parent, name) = pointer
                .rsplit_once('/')
                .with_context(|| format!("overlay pointer {pointer} names no member"))?;
            let Some(Value::Object(members)) = root.pointer_mut(parent) else {
                bail!("overlay adds to missing object {schema}{parent}");
            };
            if members.contains_key(name) {
                bail!("overlay adds {schema}{pointer}, which the spec has now");
            }
            members.insert(name.to_owned(), value);
            continue;
        }
        let target = root
            .pointer_mut(pointer)
            .with_context(|| format!("overlay targets missing {schema}{pointer}"))?;
        if target != expect {
            bail!("overlay on {schema}{pointer} expected {expect} but the spec has {target}");
        }
        *target = value;
    }
    Ok(())
}

/// Marks each named property of `root` (declared in its own `properties` or in one of its
/// `allOf` parts) as answered `null` when unset.
fn mark_null_when_unset(root: &mut Value, schema: &str, names: &Value) -> anyhow::Result<()> {
    let names = names
        .as_array()
        .context("`null_when_unset` is a list of property names")?;
    for name in names {
        let name = name.as_str().context("property names are strings")?;
        let own = format!("/properties/{name}");
        let parts = root
            .get("allOf")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let at = std::iter::once(own.clone())
            .chain((0..parts).map(|i| format!("/allOf/{i}{own}")))
            .find(|pointer| root.pointer(pointer).is_some());
        let declared = at.and_then(|pointer| root.pointer_mut(&pointer));
        let Some(Value::Object(property)) = declared else {
            bail!("overlay marks {schema}.{name}, which the schema does not declare");
        };
        if property.get(NULL_WHEN_UNSET) == Some(&Value::Bool(true)) {
            bail!("overlay marks {schema}.{name} twice");
        }
        property.insert("nullable".into(), Value::Bool(true));
        property.insert(NULL_WHEN_UNSET.into(), Value::Bool(true));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> BTreeMap<String, Value> {
        [(
            "S".to_owned(),
            json!({"properties": {"p": {"type": "object"}}}),
        )]
        .into()
    }

    #[test]
    fn adds_a_member_the_spec_lacks_once() {
        let mut s = schemas();
        let add = r#"[{"schema":"S","pointer":"/properties/q","expect":null,"value":{"type":"string"},"reason":"r"}]"#;
        apply(&mut s, add).unwrap();
        assert_eq!(s["S"]["properties"]["q"], json!({"type": "string"}));
        // Once the spec has it, the overlay says so instead of overwriting it.
        assert!(apply(&mut s, add).is_err());
    }

    #[test]
    fn replaces_the_expected_value() {
        let mut s = schemas();
        apply(&mut s, r#"[{"schema":"S","pointer":"/properties/p","expect":{"type":"object"},"value":{"type":"boolean"},"reason":"r"}]"#).unwrap();
        assert_eq!(s["S"]["properties"]["p"], json!({"type": "boolean"}));
    }

    #[test]
    fn refuses_missing_targets_and_unexpected_values() {
        let mut s = schemas();
        assert!(
            apply(
                &mut s,
                r#"[{"schema":"T","pointer":"/x","expect":1,"value":2,"reason":"r"}]"#
            )
            .is_err()
        );
        assert!(apply(&mut s, r#"[{"schema":"S","pointer":"/properties/p","expect":{"type":"string"},"value":2,"reason":"r"}]"#).is_err());
        assert!(
            apply(
                &mut s,
                r#"[{"schema":"S","pointer":"/properties/p","expect":{"type":"object"},"value":2}]"#
            )
            .is_err()
        );
    }

    #[test]
    fn marks_properties_answered_null_when_unset() {
        let mut s = schemas();
        s.insert(
            "C".into(),
            json!({"allOf": [{"$ref": "#/components/schemas/S"}, {"properties": {"c": {"type": "integer"}}}]}),
        );
        let mark = r#"[{"schema":"C","null_when_unset":["c"],"reason":"r"}]"#;
        apply(&mut s, mark).unwrap();
        assert_eq!(
            s["C"]["allOf"][1]["properties"]["c"],
            json!({"type": "integer", "nullable": true, NULL_WHEN_UNSET: true})
        );
        // Twice is a mistake, and so is a property the schema does not declare.
        assert!(apply(&mut s, mark).is_err());
        assert!(
            apply(
                &mut s,
                r#"[{"schema":"S","null_when_unset":["z"],"reason":"r"}]"#
            )
            .is_err()
        );
        assert!(apply(&mut s, r#"[{"schema":"S","null_when_unset":["p"]}]"#).is_err());
    }

    #[test]
    fn the_repository_overlays_parse() {
        let overlays: Vec<Value> = serde_json::from_str(OVERLAYS).unwrap();
        assert!(!overlays.is_empty());
    }
}
