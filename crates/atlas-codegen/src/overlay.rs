//! Overlays: corrections to the spec where real Atlas behaves differently, applied to the
//! stripped schemas at generation time. Each one names its target, the value it expects to
//! replace (so a spec update that changes the target fails loudly instead of being silently
//! overwritten), the new value, and the evidence (`overlays.json`).

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::Value;

/// The overlays of this repository.
pub const OVERLAYS: &str = include_str!("../overlays.json");

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
    fn the_repository_overlays_parse() {
        let overlays: Vec<Value> = serde_json::from_str(OVERLAYS).unwrap();
        assert!(!overlays.is_empty());
    }
}
