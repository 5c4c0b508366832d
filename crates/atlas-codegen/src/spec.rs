//! Loads the spec and turns it into the generator's intermediate model.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, Row};
use crate::schema::{component_name, strip};

/// Everything the emitters need.
pub struct Model {
    pub spec_sha256: String,
    pub xgen_sha: String,
    pub operations: Vec<Op>,
    /// Component schemas plus named inline schemas, stripped.
    pub schemas: BTreeMap<String, Value>,
}

pub struct Op {
    pub name: String,
    pub variant: String,
    pub method: &'static str,
    pub path: String,
    pub tag: String,
    pub params: Vec<ParamDef>,
    pub request: Vec<MediaDef>,
    pub request_required: bool,
    pub success: Vec<(u16, Vec<MediaDef>)>,
    pub roles: Vec<String>,
    pub deprecated: bool,
    pub authenticated: bool,
    pub catalog: Row,
}

pub struct ParamDef {
    pub name: String,
    pub location: &'static str,
    pub required: bool,
    /// Rust expression of the `ParamKind`.
    pub kind: String,
    pub pattern: Option<String>,
    pub enumeration: Vec<String>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub format: Option<String>,
    pub default: Option<String>,
}

pub struct MediaDef {
    pub version: String,
    pub format: &'static str,
    pub schema: Option<String>,
    pub sunset: Option<String>,
}

const METHODS: [(&str, &str); 5] = [
    ("get", "Get"),
    ("post", "Post"),
    ("put", "Put"),
    ("patch", "Patch"),
    ("delete", "Delete"),
];

impl Model {
    pub fn from_yaml(bytes: &[u8], catalog: &Catalog) -> anyhow::Result<Model> {
        let spec: Value = serde_yaml_ng::from_slice(bytes).context("parsing the spec YAML")?;
        let spec_sha256 = hex::encode(Sha256::digest(bytes));
        let xgen_sha = spec["info"]["x-xgen-sha"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut schemas: BTreeMap<String, Value> = spec["components"]["schemas"]
            .as_object()
            .context("spec has no components.schemas")?
            .iter()
            .map(|(name, s)| (name.clone(), strip(s)))
            .collect();
        let shared_params = spec["components"]["parameters"].clone();
        let paths = spec["paths"].as_object().context("spec has no paths")?;
        let mut operations = Vec::new();
        let mut variants = BTreeSet::new();
        for (path, item) in paths {
            for (key, method) in METHODS {
                let Some(op) = item.get(key) else { continue };
                let op = read_operation(path, method, op, &shared_params, catalog, &mut schemas)?;
                if !variants.insert(op.variant.clone()) {
                    bail!("duplicate operation name {}", op.name);
                }
                operations.push(op);
            }
        }
        Ok(Model {
            spec_sha256,
            xgen_sha,
            operations,
            schemas,
        })
    }
}

fn read_operation(
    path: &str,
    method: &'static str,
    op: &Value,
    shared_params: &Value,
    catalog: &Catalog,
    schemas: &mut BTreeMap<String, Value>,
) -> anyhow::Result<Op> {
    let name = op["operationId"]
        .as_str()
        .with_context(|| format!("{method} {path} has no operationId"))?
        .to_owned();
    let params = op["parameters"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| read_param(resolve_param(p, shared_params)))
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .transpose()?
        .unwrap_or_default();
    let mut name_schema = |label: &str, version: &str, schema: &Value| -> String {
        if let Some(component) = component_name(schema) {
            return component.to_owned();
        }
        let key = format!("{name}/{label}/{version}");
        schemas.insert(key.clone(), strip(schema));
        key
    };
    let mut request = Vec::new();
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media_type, media) in content {
            let (version, format) = parse_media_type(media_type)?;
            let schema = media
                .get("schema")
                .map(|s| name_schema("request", &version, s));
            request.push(MediaDef {
                version,
                format,
                schema,
                sunset: None,
            });
        }
    }
    let mut success = Vec::new();
    for (code, response) in op["responses"].as_object().into_iter().flatten() {
        let status: u16 = code.parse().unwrap_or(0);
        if !(100..300).contains(&status) {
            continue;
        }
        let mut media_list = Vec::new();
        for (media_type, media) in response["content"].as_object().into_iter().flatten() {
            let (version, format) = parse_media_type(media_type)?;
            let schema = media.get("schema").map(|s| name_schema(code, &version, s));
            let sunset = media["x-sunset"].as_str().map(str::to_owned);
            media_list.push(MediaDef {
                version,
                format,
                schema,
                sunset,
            });
        }
        success.push((status, media_list));
    }
    if success.is_empty() {
        bail!("{name} declares no success response");
    }
    let roles = op["x-rolesRequirements"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let authenticated = !op["security"].as_array().is_some_and(Vec::is_empty);
    let catalog_row = catalog
        .get(&(method.to_uppercase(), path.to_owned()))
        .cloned()
        .with_context(|| format!("{method} {path} is not in the operation catalogue"))?;
    Ok(Op {
        variant: upper_camel(&name),
        name,
        method,
        path: path.to_owned(),
        tag: op["tags"][0].as_str().unwrap_or_default().to_owned(),
        params,
        request,
        request_required: op["requestBody"]["required"].as_bool().unwrap_or(false),
        success,
        roles,
        deprecated: op["deprecated"].as_bool().unwrap_or(false),
        authenticated,
        catalog: catalog_row,
    })
}

fn resolve_param<'a>(param: &'a Value, shared: &'a Value) -> &'a Value {
    match param["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/parameters/"))
    {
        Some(name) => &shared[name],
        None => param,
    }
}

fn read_param(p: &Value) -> anyhow::Result<ParamDef> {
    let name = p["name"].as_str().context("parameter without name")?;
    let location = match p["in"].as_str() {
        Some("path") => "Path",
        Some("query") => "Query",
        Some("header") => "Header",
        other => bail!("parameter {name} in unsupported location {other:?}"),
    };
    let schema = &p["schema"];
    let scalar = |t: &Value| match t.as_str() {
        Some("integer") => "Integer",
        Some("number") => "Number",
        Some("boolean") => "Boolean",
        _ => "String",
    };
    let kind = match schema["type"].as_str() {
        Some("array") => format!(
            "ParamKind::Array(ScalarKind::{})",
            scalar(&schema["items"]["type"])
        ),
        _ => format!("ParamKind::{}", scalar(&schema["type"])),
    };
    // Array parameters carry their constraints on the items.
    let constraints = if schema["type"] == "array" {
        &schema["items"]
    } else {
        schema
    };
    let enumeration = constraints["enum"]
        .as_array()
        .map(|l| l.iter().map(scalar_text).collect())
        .unwrap_or_default();
    Ok(ParamDef {
        name: name.to_owned(),
        location,
        required: p["required"].as_bool().unwrap_or(false),
        kind,
        pattern: constraints["pattern"].as_str().map(str::to_owned),
        enumeration,
        minimum: constraints["minimum"].as_f64(),
        maximum: constraints["maximum"].as_f64(),
        min_length: constraints["minLength"].as_u64(),
        max_length: constraints["maxLength"].as_u64(),
        format: constraints["format"].as_str().map(str::to_owned),
        default: schema.get("default").map(scalar_text),
    })
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `application/vnd.atlas.2023-01-01+json` -> (`2023-01-01`, `Json`).
fn parse_media_type(media_type: &str) -> anyhow::Result<(String, &'static str)> {
    let rest = media_type
        .strip_prefix("application/vnd.atlas.")
        .with_context(|| format!("unexpected media type {media_type}"))?;
    let (version, format) = rest
        .split_once('+')
        .with_context(|| format!("media type without format: {media_type}"))?;
    let format = match format {
        "json" => "Json",
        "gzip" => "Gzip",
        "csv" => "Csv",
        other => bail!("unexpected media format {other}"),
    };
    Ok((version.to_owned(), format))
}

/// `listGroupClusters` -> `ListGroupClusters`.
fn upper_camel(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_split_into_version_and_format() {
        assert_eq!(
            parse_media_type("application/vnd.atlas.2024-08-05+json").unwrap(),
            ("2024-08-05".to_owned(), "Json")
        );
        assert_eq!(
            parse_media_type("application/vnd.atlas.preview+gzip").unwrap(),
            ("preview".to_owned(), "Gzip")
        );
        assert!(parse_media_type("application/json").is_err());
    }

    #[test]
    fn operation_ids_become_variants() {
        assert_eq!(upper_camel("getSystemStatus"), "GetSystemStatus");
    }
}
