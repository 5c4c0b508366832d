//! Organizations (`/orgs`): create (with its optional first API key), list, get, rename, delete.
//!
//! A new organization starts with explicit settings (`/orgs/{id}/settings`), so what
//! `GET …/settings` shows is what admission enforces (`apiAccessListRequired` off: the API-created
//! default; UI-created organizations default to on, semantics §4.3). Lists show the caller's
//! organizations only; deleting one removes every credential it held.

use atlas_model::OperationId;
use atlas_store::{Page, Record, Tx};
use serde_json::{Value, json};

use super::{api_keys, service_accounts};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::identity::credentials;
use crate::identity::roles::strings;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paging::Paging;
use crate::stages::authorize;
use atlas_model::API_PREFIX;

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

/// Creates an organization document and its default settings (used by the API and by
/// bootstrap).
pub fn insert(tx: &mut dyn Tx, id: &str, name: &str) -> Result<Value, ApiError> {
    let doc =
        json!({"id": id, "name": name, "isDeleted": false, "skipDefaultAlertsSettings": false});
    tx.insert("/orgs", id, &doc)?;
    ensure_settings(tx, id)?;
    Ok(doc)
}

/// The settings an organization starts with, unless it has some already.
pub fn ensure_settings(tx: &mut dyn Tx, id: &str) -> Result<(), ApiError> {
    let path = format!("/orgs/{id}/settings");
    if tx.get(&path, "")?.is_none() {
        tx.insert(
            &path,
            "",
            &json!({
                "apiAccessListRequired": false,
                "genAIFeaturesEnabled": true,
                "maxServiceAccountSecretValidityInHours": 8760,
                "multiFactorAuthRequired": false,
                "restrictEmployeeAccess": false,
                "streamsCrossGroupEnabled": false,
            }),
        )?;
    }
    Ok(())
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
    let own = authorize::orgs_of(cx.tx, &cx.call.principal)?;
    // `name` filters by exact, case-insensitive name.
    let wanted = cx
        .call
        .query_param("name")
        .filter(|n| !n.is_empty())
        .map(str::to_lowercase);
    let (all, _) = cx.tx.list("/orgs", Page::ALL)?;
    let visible: Vec<Record> = all
        .into_iter()
        .filter(|r| own.contains(&r.key))
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
    let id = ids::object_id(cx.now.get());
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
        "orgOwnerId": body.get("orgOwnerId").cloned().unwrap_or_else(|| json!(ids::object_id(cx.now.get()))),
    });
    if let Some(federation) = body.get("federationSettingsId") {
        response["federationSettingsId"] = federation.clone();
    }
    // The new organization's first API key, usable at once; its private key is shown only here.
    if let Some(request) = body.get("apiKey") {
        let org_roles = strings(request.get("roles"));
        let desc = request
            .get("desc")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (mut shown, private_key) =
            api_keys::create(cx.tx, &id, desc, &org_roles, cx.now.get())?;
        let key_id = shown["id"].as_str().unwrap_or_default().to_owned();
        shown["privateKey"] = json!(private_key);
        shown["links"] = json!([{
            "href": format!("{}{API_PREFIX}/orgs/{id}/apiKeys/{key_id}", cx.call.origin.base_url),
            "rel": "self",
        }]);
        response["apiKey"] = shown;
    }
    // And its first service account, which can obtain tokens at once; the secret shows only here.
    if let Some(request) = body.get("serviceAccount").filter(|r| r.is_object()) {
        let text = |name: &str| {
            request
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let hours = request
            .get("secretExpiresAfterHours")
            .and_then(Value::as_i64)
            .unwrap_or(service_accounts::MAX_SECRET_HOURS);
        if hours > service_accounts::MAX_SECRET_HOURS {
            return Err(api_error!(INVALID_ATTRIBUTE, "secretExpiresAfterHours"));
        }
        let org_roles = strings(request.get("roles"));
        let (account, _) = service_accounts::create(
            cx.tx,
            &id,
            text("name"),
            text("description"),
            &org_roles,
            hours,
            cx.now.get(),
        )?;
        response["serviceAccount"] = account;
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
    credentials::remove_org_credentials(cx.tx, &org.key)?;
    cx.tx.delete("/orgs", &org.key)?;
    cx.tx.delete_tree(&format!("/orgs/{}", org.key))?;
    Ok(Reply::empty(cx.render.status()))
}
