//! Small helpers the behaviours share: reading request bodies, answering lists and
//! entities in the served version's shape, the documents' self links, and the generic
//! validation error.

use serde_json::{Map, Value, json};

use crate::engine::Ctx;
use crate::identity::credentials::sha256_hex;
use crate::identity::roles::strings;
use crate::kernel::call::{Call, Reply};
use crate::kernel::paging::Paging;
use crate::{ApiError, api_error};
use atlas_model::API_PREFIX;

/// A string field of the request body.
pub fn body_text(cx: &Ctx<'_>, name: &str) -> Option<String> {
    cx.call
        .body
        .as_ref()
        .and_then(|b| b.get(name))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A string-array field of the request body (`None` when absent).
pub fn body_strings(cx: &Ctx<'_>, name: &str) -> Option<Vec<String>> {
    let value = cx.call.body.as_ref()?.get(name)?;
    Some(strings(Some(value)))
}

/// The request body's array items (an array body), or the body itself.
pub fn body_items(cx: &Ctx<'_>) -> Vec<Value> {
    match &cx.call.body {
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    }
}

/// A path parameter of the call (validated by the engine already).
pub fn param(call: &Call, name: &str) -> String {
    call.path_param(name).unwrap_or_default().to_owned()
}

/// The absolute URL of a store path.
pub fn href(cx: &Ctx<'_>, store_path: &str) -> String {
    format!("{}{API_PREFIX}{store_path}", cx.call.origin.base_url)
}

/// `doc` with a `self` link to `store_path`.
pub fn with_self(cx: &Ctx<'_>, mut doc: Value, store_path: &str) -> Value {
    if let Value::Object(map) = &mut doc {
        map.insert(
            "links".into(),
            json!([{"href": href(cx, store_path), "rel": "self"}]),
        );
    }
    doc
}

/// An entity answer with the served status, fitted to the served schema.
pub fn entity(cx: &Ctx<'_>, doc: &Value) -> Reply {
    Reply::json(cx.render.status(), cx.render.fit(doc))
}

/// A list answer: one page of `items` (filtered in memory) as a paginated body, or the bare
/// array where the served version declares one.
pub fn list(cx: &Ctx<'_>, items: Vec<Value>) -> Reply {
    let status = cx.render.status();
    if cx.render.is_bare_array() {
        return Reply::json(status, cx.render.fit(&Value::Array(items)));
    }
    let paging = Paging::of(cx.call);
    let total = items.len() as u64;
    let page = paging.slice(items);
    Reply::json(status, cx.render.fit(&paging.body(cx.call, page, total)))
}

/// `items` whose string field `field` equals the query parameter `param`, when given.
pub fn filter_by_query(cx: &Ctx<'_>, items: Vec<Value>, param: &str, field: &str) -> Vec<Value> {
    match cx.call.query_param(param).filter(|v| !v.is_empty()) {
        Some(wanted) => items
            .into_iter()
            .filter(|i| {
                i.get(field)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
            })
            .collect(),
        None => items,
    }
}

/// An object with the given fields, skipping `None`s.
pub fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let mut map = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            map.insert(k.to_owned(), v);
        }
    }
    Value::Object(map)
}

/// Sorted, de-duplicated role names.
pub fn role_set(roles: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut roles: Vec<String> = roles.into_iter().filter(|r| !r.is_empty()).collect();
    roles.sort();
    roles.dedup();
    roles
}

/// The last `n` characters of a secret, which masked values keep.
pub fn tail(secret: &str, n: usize) -> &str {
    secret
        .get(secret.len().saturating_sub(n)..)
        .unwrap_or_default()
}

/// A semantic rule the request breaks, for which Atlas answers its generic service-side
/// validation code (semantics §3.2).
pub fn invalid(message: impl Into<String>) -> ApiError {
    api_error!(VALIDATION_ERROR, message.into())
}

/// Five lowercase letters derived from `seed`, the same for the same seed: the random-looking
/// tag Atlas puts in the hostnames it makes (recorded `e2e-data-federation-218-g1nxq.a.query…`,
/// `atlas-stream-<id>-iixmh.virginia-usa.a.query…`).
pub fn stable_tag(seed: &str) -> String {
    sha256_hex(seed)
        .bytes()
        .take(5)
        .map(|b| char::from(b'a' + b % 26))
        .collect()
}
