//! What the console opens: one Atlas resource as Atlas answers it (`GET /__localatlas/view`), the
//! addresses that let it open the resources of the overview, and the catalogue its fault form
//! picks from (`GET /__localatlas/catalogue`).
//!
//! A view routes an Atlas API path as a GET with the same router, negotiates the version with the
//! same rule and runs the call through the same engine and renderer as a client's request
//! ([`atlas_api::Atlas::look`]: as an Organization Owner of the resource's organization, in a
//! transaction that is rolled back). It is not a client request: no fault rule, rate limit or
//! access list applies and the recent requests and coverage do not count it. Who may ask is the
//! control API's rule (`crate::gate`); the page never holds an Atlas secret — its `curl` names the
//! bootstrap key by its public key and leaves the private key to `$PRIVATE_KEY`.

use atlas_api::kernel::error_codes::{self, VALIDATION_ERROR};
use atlas_api::{ApiError, Call, Origin, Payload, Principal, api_error};
use atlas_model::{API_PREFIX, Format, Method, OPERATIONS};
use serde_json::{Value, json};

use crate::App;
use crate::negotiate;
use crate::router::{Routed, Router};

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::with_detail(VALIDATION_ERROR, detail, vec![])
}

/// Where the view was asked from: what the answer's links and `curl` are built with.
pub struct Asker<'a> {
    /// `scheme://host[:port]` as the console's browser addressed the server.
    pub base_url: &'a str,
    pub client_ip: &'a str,
    /// Whether the server speaks HTTPS (the `curl` then trusts the local CA).
    pub tls: bool,
}

/// `GET view?path=/api/atlas/v2/…[&version=YYYY-MM-DD]`: the operation, the versions it serves as
/// JSON, and the answer in the version asked for (the newest dated one by default), with a
/// `curl` that asks the same.
pub fn view(app: &App, query: &str, asker: &Asker<'_>) -> Result<Value, ApiError> {
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    let target = param("path").ok_or_else(|| invalid("give `path`, an Atlas API path to read"))?;
    let (path, call_query) = target.split_once('?').unwrap_or((&target, ""));
    let rel = path
        .strip_prefix(API_PREFIX)
        .filter(|rest| rest.starts_with('/'))
        .ok_or_else(|| invalid(format!("`path` starts with {API_PREFIX}/")))?;
    let (op, raw_params) = match app.router.route(Method::Get, rel) {
        Routed::Operation(op, params) => (op, params),
        Routed::MethodNotAllowed(_) => {
            return Err(invalid(format!(
                "{path} has no GET operation: a view only reads"
            )));
        }
        Routed::NotFound => return Err(api_error!(RESOURCE_NOT_FOUND, path)),
    };
    let versions = negotiate::json_versions(op);
    let version = match param("version") {
        Some(v) => versions
            .iter()
            .copied()
            .find(|known| *known == v)
            .ok_or_else(|| {
                invalid(format!(
                    "{} serves versions {}, not {v}",
                    op.name,
                    versions.join(", ")
                ))
            })?,
        None => versions
            .iter()
            .copied()
            .find(|v| *v != "preview")
            .or_else(|| versions.first().copied())
            .ok_or_else(|| invalid(format!("{} is served only as a download", op.name)))?,
    };
    // The same negotiation a client's Accept goes through.
    let accept = format!("application/vnd.atlas.{version}+json");
    let served = negotiate::negotiate(op, Some(&accept))
        .ok_or_else(|| negotiate::not_acceptable(op, Some(&accept)))?;
    let mut params = Vec::with_capacity(raw_params.len());
    for (name, raw) in raw_params {
        let value = percent_encoding::percent_decode_str(&raw)
            .decode_utf8()
            .map_err(|_| api_error!(INVALID_PATH_PARAMETER, name))?;
        params.push((name, value.into_owned()));
    }
    let call = Call {
        op,
        version: served.version,
        format: Format::Json,
        path: params,
        query: url::form_urlencoded::parse(call_query.as_bytes())
            .into_owned()
            .collect(),
        body: None,
        principal: Principal::Anonymous,
        origin: Origin {
            base_url: asker.base_url.to_owned(),
            path: path.to_owned(),
            query: call_query.to_owned(),
            client_ip: asker.client_ip.to_owned(),
        },
    };
    let look = app.atlas.look(&call)?;
    let reader = look.reader_json();
    let (status, body) = match look.answer {
        Ok(reply) => (
            reply.status,
            match reply.payload {
                Payload::Json(value) => value,
                Payload::Kept(kept) => kept.value(),
                Payload::Empty => Value::Null,
                Payload::Binary { bytes, .. } => json!({"bytes": bytes.len()}),
            },
        ),
        Err(e) => (e.status(), e.body()),
    };
    let user = match (&look.reader, look.bootstrap) {
        (Principal::ApiKey { public_key, .. }, true) => format!("{public_key}:$PRIVATE_KEY"),
        _ => "$PUBLIC_KEY:$PRIVATE_KEY".to_owned(),
    };
    Ok(json!({
        "path": target,
        "operationId": op.name,
        "versions": versions,
        "version": served.version,
        "contentType": served.content_type(),
        "status": status,
        "body": body,
        "readAs": reader,
        "curl": curl(asker, &user, served.version, &target),
    }))
}

/// A command that asks Atlas (or localatlas) the same: Digest with the reader's public key where
/// it is the bootstrap key (`$PRIVATE_KEY` holds its private key, as `docs/clients.md` sets it),
/// else both from the environment; never a secret.
fn curl(asker: &Asker<'_>, user: &str, version: &str, target: &str) -> String {
    let ca = if asker.tls {
        " --cacert \"$LOCALATLAS_CA\""
    } else {
        ""
    };
    format!(
        "curl{ca} --digest -u \"{user}\" \\\n  -H 'Accept: application/vnd.atlas.{version}+json' \\\n  {}",
        shell_quote(&format!("{}{target}", asker.base_url))
    )
}

/// `'…'` for a shell, with any `'` inside closed and reopened.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The GET operation that reads `path` (an Atlas API path), if there is one.
fn reader_of(router: &Router, path: &str) -> Option<&'static str> {
    let rel = path.strip_prefix(API_PREFIX)?;
    match router.route(Method::Get, rel) {
        Routed::Operation(op, _) => Some(op.name),
        _ => None,
    }
}

/// Gives every organization, project and resource of the console's overview the Atlas API path
/// that reads it and the operation that does (`path`, `readBy`), where a GET operation routes it.
pub fn annotate(router: &Router, overview: &mut Value) {
    let mut mark = |node: &mut Value, path: String| {
        if let Some(op) = reader_of(router, &path)
            && let Some(map) = node.as_object_mut()
        {
            map.insert("path".into(), json!(path));
            map.insert("readBy".into(), json!(op));
        }
    };
    let Some(orgs) = overview
        .get_mut("organizations")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for org in orgs {
        let org_root = format!("/orgs/{}", org["id"].as_str().unwrap_or_default());
        mark(org, format!("{API_PREFIX}{org_root}"));
        annotate_resources(&mut mark, &org_root, &mut org["resources"]);
        if let Some(projects) = org.get_mut("projects").and_then(Value::as_array_mut) {
            for project in projects {
                let root = format!("/groups/{}", project["id"].as_str().unwrap_or_default());
                mark(project, format!("{API_PREFIX}{root}"));
                annotate_resources(&mut mark, &root, &mut project["resources"]);
            }
        }
    }
}

fn annotate_resources(mark: &mut impl FnMut(&mut Value, String), root: &str, list: &mut Value) {
    for collection in list.as_array_mut().into_iter().flatten() {
        let name = collection["collection"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for item in collection["items"].as_array_mut().into_iter().flatten() {
            let key = item["key"].as_str().unwrap_or_default();
            // Keys are stored as the path segments that address them; a single document lives
            // at its collection's own path.
            let path = if key.is_empty() {
                format!("{API_PREFIX}{root}/{name}")
            } else {
                format!("{API_PREFIX}{root}/{name}/{key}")
            };
            mark(item, path);
        }
    }
}

/// What the fault form offers: every operation (id, method, path template) and every error
/// code of the catalogue with its status and detail template.
pub fn catalogue() -> Value {
    let operations: Vec<Value> = OPERATIONS
        .iter()
        .map(|op| json!({"operationId": op.name, "method": op.method.as_str(), "path": op.path}))
        .collect();
    let codes: Vec<Value> = error_codes::ALL
        .iter()
        .map(|c| json!({"code": c.name, "status": c.status, "detail": c.template}))
        .collect();
    json!({"operations": operations, "errorCodes": codes})
}
