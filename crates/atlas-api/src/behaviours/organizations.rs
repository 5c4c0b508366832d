//! Organizations (`/orgs`): create (with its optional first API key), list, get, rename, delete.

use atlas_model::OperationId;
use atlas_store::{Page, Record, Tx};
use serde_json::{Value, json};

use super::Behaviour;
use crate::api_error;
use crate::call::Reply;
use crate::credentials;
use crate::engine::Ctx;
use crate::engine::paging::Paging;
use crate::engine::resources::API_PREFIX;
use crate::error::ApiError;
use crate::ids;

pub struct Organizations;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListOrgs,
    OperationId::CreateOrg,
    OperationId::GetOrg,
    OperationId::UpdateOrg,
    OperationId::DeleteOrg,
];

impl Behaviour for Organizations {
    fn name(&self) -> &'static str {
        "organizations"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        match cx.call.op.id {
            OperationId::ListOrgs => list(cx),
            OperationId::CreateOrg => create(cx),
            OperationId::GetOrg => {
                let org = current(cx)?;
                Ok(Reply::json(200, render(cx, &org.doc)))
            }
            OperationId::UpdateOrg => update(cx),
            OperationId::DeleteOrg => delete(cx),
            _ => Err(ApiError::internal("operation not served by organizations")),
        }
    }
}

/// Creates an organization document (used by the API and by bootstrap).
pub fn insert(tx: &mut dyn Tx, id: &str, name: &str) -> Result<Value, ApiError> {
    let doc =
        json!({"id": id, "name": name, "isDeleted": false, "skipDefaultAlertsSettings": false});
    tx.insert("/orgs", id, &doc)?;
    Ok(doc)
}

fn current(cx: &mut Ctx<'_>) -> Result<Record, ApiError> {
    let id = cx.scope.org_id.clone().unwrap_or_default();
    cx.tx
        .get("/orgs", &id)?
        .ok_or_else(|| api_error!(ORG_NOT_FOUND, id.as_str()))
}

fn render(cx: &Ctx<'_>, org: &Value) -> Value {
    let mut doc = org.clone();
    if let Value::Object(map) = &mut doc {
        let id = map
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        map.insert(
            "links".into(),
            json!([{"href": format!("{}{API_PREFIX}/orgs/{id}", cx.call.origin.base_url), "rel": "self"}]),
        );
    }
    cx.render.fit(&doc)
}

fn list(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let own = cx.call.principal.org_id().unwrap_or_default().to_owned();
    // `name` filters by exact, case-insensitive name.
    let wanted = cx
        .call
        .query_param("name")
        .filter(|n| !n.is_empty())
        .map(str::to_lowercase);
    let (all, _) = cx.tx.list("/orgs", Page::ALL)?;
    let visible: Vec<Record> = all
        .into_iter()
        .filter(|r| r.key == own)
        .filter(|r| {
            wanted.as_ref().is_none_or(|w| {
                r.doc
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    .as_ref()
                    == Some(w)
            })
        })
        .collect();
    let total = visible.len() as u64;
    let results: Vec<Value> = paging
        .slice(&visible)
        .into_iter()
        .map(|r| {
            let mut doc = r.doc.clone();
            if let Value::Object(map) = &mut doc {
                map.insert(
                    "links".into(),
                    json!([{"href": format!("{}{API_PREFIX}/orgs/{}", cx.call.origin.base_url, r.key), "rel": "self"}]),
                );
            }
            doc
        })
        .collect();
    let body = paging.body(cx.call, results, total);
    Ok(Reply::json(200, cx.render.fit_owned(body)))
}

fn create(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let body = cx.call.body_object();
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let id = ids::object_id(cx.now);
    let mut org = insert(cx.tx, &id, &name)?;
    if let Some(skip) = body.get("skipDefaultAlertsSettings") {
        org["skipDefaultAlertsSettings"] = skip.clone();
        cx.tx.update("/orgs", &id, &org)?;
    }
    let mut response = json!({
        "organization": {
            "id": id, "name": name, "isDeleted": false,
            "skipDefaultAlertsSettings": org["skipDefaultAlertsSettings"],
            "links": [{"href": format!("{}{API_PREFIX}/orgs/{id}", cx.call.origin.base_url), "rel": "self"}],
        },
        "orgOwnerId": body.get("orgOwnerId").cloned().unwrap_or_else(|| json!(ids::object_id(cx.now))),
    });
    if let Some(federation) = body.get("federationSettingsId") {
        response["federationSettingsId"] = federation.clone();
    }
    // The new organization's first API key, usable at once; its private key is shown only here.
    if let Some(request) = body.get("apiKey") {
        let key_id = ids::object_id(cx.now);
        let public_key = ids::lowercase_letters(8);
        let private_key = ids::uuid();
        let roles: Vec<Value> = request
            .get("roles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| json!({"orgId": id, "roleName": r}))
            .collect();
        let masked = format!("********-****-****-{}", &private_key[24..]);
        let stored = json!({
            "id": key_id, "desc": request.get("desc").cloned().unwrap_or(json!("")),
            "publicKey": public_key, "privateKey": masked, "roles": roles,
        });
        cx.tx
            .insert(&format!("/orgs/{id}/apiKeys"), &key_id, &stored)?;
        credentials::store_api_key(cx.tx, &key_id, &public_key, &private_key, &id)?;
        let mut shown = stored;
        shown["privateKey"] = json!(private_key);
        shown["links"] = json!([{
            "href": format!("{}{API_PREFIX}/orgs/{id}/apiKeys/{key_id}", cx.call.origin.base_url),
            "rel": "self",
        }]);
        response["apiKey"] = shown;
    }
    Ok(Reply::json(cx.render.status(), cx.render.fit(&response)))
}

fn update(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let mut org = current(cx)?;
    let body = cx.call.body_object();
    if let Value::Object(doc) = &mut org.doc {
        for (k, v) in body {
            doc.insert(k, v);
        }
    }
    cx.tx.update("/orgs", &org.key, &org.doc)?;
    Ok(Reply::json(200, render(cx, &org.doc)))
}

fn delete(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let org = current(cx)?;
    let (groups, _) = cx.tx.list("/groups", Page::ALL)?;
    if groups
        .iter()
        .any(|g| g.doc.get("orgId").and_then(Value::as_str) == Some(org.key.as_str()))
    {
        return Err(api_error!(
            CANNOT_DELETE_ORG_ACTIVE_PROJECTS,
            org.key.as_str()
        ));
    }
    cx.tx.delete("/orgs", &org.key)?;
    cx.tx.delete_tree(&format!("/orgs/{}", org.key))?;
    Ok(Reply::empty(cx.render.status()))
}
