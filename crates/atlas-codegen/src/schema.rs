//! Reduces a spec schema to its structure.
//!
//! Only the keywords an implementation needs survive; everything that carries prose
//! (`description`, `title`, `example(s)`, `externalDocs`, `x-xgen-*`) is dropped.

use serde_json::{Map, Value};

/// Keywords whose value is kept as is (scalars, lists of scalars, or small structural objects).
const KEPT_AS_IS: &[&str] = &[
    "$ref",
    "type",
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "required",
    "nullable",
    "readOnly",
    "writeOnly",
    "default",
    "discriminator",
];

/// Keywords whose value is one sub-schema.
const SUB_SCHEMA: &[&str] = &["items", "not"];

/// Keywords whose value is a list of sub-schemas.
const SUB_SCHEMA_LIST: &[&str] = &["allOf", "oneOf", "anyOf"];

/// Returns the structural part of a schema.
pub fn strip(schema: &Value) -> Value {
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        let key = key.as_str();
        if KEPT_AS_IS.contains(&key) {
            let value = if key == "discriminator" {
                strip_discriminator(value)
            } else {
                value.clone()
            };
            out.insert(key.to_owned(), value);
        } else if SUB_SCHEMA.contains(&key) {
            out.insert(key.to_owned(), strip(value));
        } else if SUB_SCHEMA_LIST.contains(&key) {
            let list = value.as_array().map(|l| l.iter().map(strip).collect());
            out.insert(key.to_owned(), Value::Array(list.unwrap_or_default()));
        } else if key == "properties" {
            let props = value
                .as_object()
                .map(|p| p.iter().map(|(k, v)| (k.clone(), strip(v))).collect())
                .unwrap_or_default();
            out.insert(key.to_owned(), Value::Object(props));
        } else if key == "additionalProperties" {
            let v = if value.is_boolean() {
                value.clone()
            } else {
                strip(value)
            };
            out.insert(key.to_owned(), v);
        }
    }
    Value::Object(out)
}

fn strip_discriminator(value: &Value) -> Value {
    let mut out = Map::new();
    if let Some(name) = value.get("propertyName") {
        out.insert("propertyName".to_owned(), name.clone());
    }
    if let Some(mapping) = value.get("mapping") {
        out.insert("mapping".to_owned(), mapping.clone());
    }
    Value::Object(out)
}

/// If the schema is a bare `$ref` to a component, its name.
pub fn component_name(schema: &Value) -> Option<&str> {
    let object = schema.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object
        .get("$ref")?
        .as_str()?
        .strip_prefix("#/components/schemas/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prose_is_dropped_and_structure_kept() {
        let schema = json!({
            "type": "object",
            "description": "prose",
            "title": "Title",
            "example": {"a": 1},
            "externalDocs": {"url": "x"},
            "x-xgen-IPA-exception": {"x": "y"},
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "description": "d", "pattern": "^a$", "example": "a"},
                "description": {"type": "string", "maxLength": 250}
            },
            "discriminator": {"propertyName": "type", "mapping": {"A": "#/components/schemas/A"}},
            "oneOf": [{"$ref": "#/components/schemas/A", "description": "x"}]
        });
        let out = strip(&schema);
        assert_eq!(
            out,
            json!({
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "pattern": "^a$"},
                    "description": {"type": "string", "maxLength": 250}
                },
                "discriminator": {"propertyName": "type", "mapping": {"A": "#/components/schemas/A"}},
                "oneOf": [{"$ref": "#/components/schemas/A"}]
            })
        );
    }

    #[test]
    fn component_names_only_for_bare_refs() {
        assert_eq!(
            component_name(&json!({"$ref": "#/components/schemas/Group"})),
            Some("Group")
        );
        assert_eq!(
            component_name(&json!({"type": "array", "items": {"$ref": "#/components/schemas/G"}})),
            None
        );
    }
}
