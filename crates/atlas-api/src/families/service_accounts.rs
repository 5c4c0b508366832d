//! Service accounts: organization accounts, their project assignments and their secrets.
//!
//! An account is one document `/orgs/{orgId}/serviceAccounts/{clientId}` (name, description,
//! organization roles, secrets with their masked values) plus its credential in
//! `__serviceAccounts/<clientId>` (secret hashes), written together; it can obtain tokens as soon
//! as it exists. A project assignment `/groups/{groupId}/serviceAccounts/{clientId}` holds the
//! project roles. `POST /groups/{groupId}/serviceAccounts` creates an organization member
//! account assigned to the project; `DELETE` on that path only removes the assignment
//! (`:invite` adds it back).
//!
//! A secret is shown once (`secret`), afterwards only as `maskedSecretValue`. Deleting a secret
//! stops it and the tokens minted with it; deleting the account stops everything it holds.
//! A missing account is `RESOURCE_NOT_FOUND` naming the client id (semantics §3.3).

use atlas_model::OperationId;
use atlas_store::{Page, Record, Tx};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::shared::support::{body_strings, body_text, entity, list, param, role_set, tail};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::identity::credentials;
use crate::identity::roles::{self, ORG_MEMBER, strings};
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::stages::authorize::groups_of_org;

pub struct ServiceAccounts;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListOrgServiceAccounts,
    OperationId::CreateOrgServiceAccount,
    OperationId::GetOrgServiceAccount,
    OperationId::UpdateOrgServiceAccount,
    OperationId::DeleteOrgServiceAccount,
    OperationId::GetOrgServiceAccountGroups,
    OperationId::CreateOrgServiceAccountSecret,
    OperationId::DeleteOrgServiceAccountSecret,
    OperationId::ListGroupServiceAccounts,
    OperationId::CreateGroupServiceAccount,
    OperationId::GetGroupServiceAccount,
    OperationId::UpdateGroupServiceAccount,
    OperationId::DeleteGroupServiceAccount,
    OperationId::InviteGroupServiceAccount,
    OperationId::CreateGroupServiceAccountSecret,
    OperationId::DeleteGroupServiceAccountSecret,
];

/// Default and largest secret lifetime when the organization sets none (the spec's maximum of
/// `maxServiceAccountSecretValidityInHours`).
pub const MAX_SECRET_HOURS: i64 = 8760;

impl Behaviour for ServiceAccounts {
    fn name(&self) -> &'static str {
        "service_accounts"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn resolves_own_items(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        use OperationId as O;
        let org = cx.scope.org_id.clone().unwrap_or_default();
        let group = cx.scope.group_id.clone();
        let client_id = param(cx.call, "clientId");
        match cx.call.op.id {
            O::ListOrgServiceAccounts => {
                let (accounts, _) = cx.tx.list(&collection(&org), Page::ALL)?;
                let items = accounts.into_iter().map(|a| a.doc).collect();
                Ok(list(cx, items))
            }
            O::CreateOrgServiceAccount => {
                let org_roles = body_strings(cx, "roles").unwrap_or_default();
                let (doc, _) = create_from_body(cx, &org, &org_roles)?;
                Ok(entity(cx, &doc))
            }
            O::GetOrgServiceAccount => {
                let shown = find(cx.tx, &org, &client_id)?.doc;
                Ok(entity(cx, &shown))
            }
            O::UpdateOrgServiceAccount => {
                let mut account = find(cx.tx, &org, &client_id)?;
                describe(cx, &mut account.doc);
                if let Some(org_roles) = body_strings(cx, "roles") {
                    roles::check_org_roles(org_roles.iter().map(String::as_str))?;
                    account.doc["roles"] = json!(role_set(org_roles));
                }
                cx.tx
                    .update(&account.collection, &account.key, &account.doc)?;
                Ok(entity(cx, &account.doc))
            }
            O::DeleteOrgServiceAccount => {
                let account = find(cx.tx, &org, &client_id)?;
                delete(cx.tx, &org, &account)?;
                Ok(Reply::empty(cx.render.status()))
            }
            O::GetOrgServiceAccountGroups => {
                find(cx.tx, &org, &client_id)?;
                let mut items = Vec::new();
                for g in groups_of_org(cx.tx, &org)? {
                    if let Some(a) = cx.tx.get(&assignments(&g), &client_id)? {
                        items.push(json!({"groupId": g, "roles": a.doc.get("roles")}));
                    }
                }
                Ok(list(cx, items))
            }
            O::CreateOrgServiceAccountSecret | O::CreateGroupServiceAccountSecret => {
                let mut account = match &group {
                    Some(g) => find_in_group(cx.tx, &org, g, &client_id)?,
                    None => find(cx.tx, &org, &client_id)?,
                };
                let hours = secret_hours(cx, &org)?;
                let shown = add_secret(cx.tx, &org, &mut account, hours, cx.now.get())?;
                Ok(entity(cx, &shown))
            }
            O::DeleteOrgServiceAccountSecret | O::DeleteGroupServiceAccountSecret => {
                let mut account = match &group {
                    Some(g) => find_in_group(cx.tx, &org, g, &client_id)?,
                    None => find(cx.tx, &org, &client_id)?,
                };
                let secret_id = param(cx.call, "secretId");
                let secrets = account.doc["secrets"].as_array_mut();
                let Some(secrets) = secrets else {
                    return Err(api_error!(RESOURCE_NOT_FOUND, secret_id));
                };
                let before = secrets.len();
                secrets.retain(|s| s.get("id").and_then(Value::as_str) != Some(&secret_id));
                if secrets.len() == before {
                    return Err(api_error!(RESOURCE_NOT_FOUND, secret_id));
                }
                cx.tx
                    .update(&account.collection, &account.key, &account.doc)?;
                credentials::remove_service_account_secret(cx.tx, &client_id, &secret_id)?;
                Ok(Reply::empty(cx.render.status()))
            }
            O::ListGroupServiceAccounts => {
                let g = group.unwrap_or_default();
                let (assigned, _) = cx.tx.list(&assignments(&g), Page::ALL)?;
                let mut items = Vec::new();
                for a in assigned {
                    if let Some(account) = cx.tx.get(&collection(&org), &a.key)? {
                        items.push(group_view(&account.doc, &a.doc));
                    }
                }
                Ok(list(cx, items))
            }
            O::CreateGroupServiceAccount => {
                let g = group.unwrap_or_default();
                let project_roles = body_strings(cx, "roles").unwrap_or_default();
                roles::check_group_roles(project_roles.iter().map(String::as_str))?;
                // A project's account is an organization member with project roles (docs).
                let (doc, id) = create_from_body(cx, &org, &[ORG_MEMBER.to_owned()])?;
                let assignment = assign(cx.tx, &g, &id, &project_roles)?;
                Ok(entity(cx, &group_view(&doc, &assignment)))
            }
            O::GetGroupServiceAccount => {
                let g = group.unwrap_or_default();
                let account = find_in_group(cx.tx, &org, &g, &client_id)?;
                let assignment = cx.tx.get(&assignments(&g), &client_id)?.map(|a| a.doc);
                Ok(entity(
                    cx,
                    &group_view(&account.doc, &assignment.unwrap_or_default()),
                ))
            }
            O::UpdateGroupServiceAccount => {
                let g = group.unwrap_or_default();
                let mut account = find_in_group(cx.tx, &org, &g, &client_id)?;
                describe(cx, &mut account.doc);
                cx.tx
                    .update(&account.collection, &account.key, &account.doc)?;
                let assignment = match body_strings(cx, "roles") {
                    Some(project_roles) => assign(cx.tx, &g, &client_id, &project_roles)?,
                    None => cx
                        .tx
                        .get(&assignments(&g), &client_id)?
                        .map(|a| a.doc)
                        .unwrap_or_default(),
                };
                Ok(entity(cx, &group_view(&account.doc, &assignment)))
            }
            O::DeleteGroupServiceAccount => {
                let g = group.unwrap_or_default();
                find_in_group(cx.tx, &org, &g, &client_id)?;
                cx.tx.delete(&assignments(&g), &client_id)?;
                Ok(Reply::empty(cx.render.status()))
            }
            O::InviteGroupServiceAccount => {
                let g = group.unwrap_or_default();
                let account = find(cx.tx, &org, &client_id)?;
                let project_roles = body_strings(cx, "roles").unwrap_or_default();
                let assignment = assign(cx.tx, &g, &client_id, &project_roles)?;
                Ok(entity(cx, &group_view(&account.doc, &assignment)))
            }
            _ => Err(ApiError::internal(
                "operation not served by serviceAccounts",
            )),
        }
    }
}

/// Where an organization's accounts live.
pub fn collection(org_id: &str) -> String {
    format!("/orgs/{org_id}/serviceAccounts")
}

fn assignments(group_id: &str) -> String {
    format!("/groups/{group_id}/serviceAccounts")
}

/// The account `client_id` of the organization.
pub fn find(tx: &mut dyn Tx, org_id: &str, client_id: &str) -> Result<Record, ApiError> {
    tx.get(&collection(org_id), client_id)?
        .ok_or_else(|| api_error!(RESOURCE_NOT_FOUND, client_id))
}

/// The account `client_id`, which must be assigned to the project.
pub fn find_in_group(
    tx: &mut dyn Tx,
    org_id: &str,
    group_id: &str,
    client_id: &str,
) -> Result<Record, ApiError> {
    if tx.get(&assignments(group_id), client_id)?.is_none() {
        return Err(api_error!(RESOURCE_NOT_FOUND, client_id));
    }
    find(tx, org_id, client_id)
}

/// A secret as later reads show it (`mdb_sa_sk_...` and its last four characters).
pub fn mask(secret: &str) -> String {
    format!("mdb_sa_sk_...{}", tail(secret, 4))
}

/// A new account of `org_id` with one secret, usable at once. Returns the document as the create
/// answer shows it (the secret in clear, once) and the secret.
pub fn create(
    tx: &mut dyn Tx,
    org_id: &str,
    name: &str,
    description: &str,
    org_roles: &[String],
    secret_hours: i64,
    now: OffsetDateTime,
) -> Result<(Value, String), ApiError> {
    roles::check_org_roles(org_roles.iter().map(String::as_str))?;
    let client_id = format!("mdb_sa_id_{}", ids::object_id(now));
    let mut account = Record {
        collection: collection(org_id),
        key: client_id.clone(),
        doc: json!({
            "clientId": client_id,
            "name": name,
            "description": description,
            "roles": role_set(org_roles.iter().cloned()),
            "createdAt": atlas_timestamp(now),
            "secrets": [],
        }),
        seq: 0,
    };
    tx.insert(&account.collection, &account.key, &account.doc)?;
    let shown_secret = add_secret(tx, org_id, &mut account, secret_hours, now)?;
    let secret = shown_secret["secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut shown = account.doc;
    if let Some(secrets) = shown["secrets"].as_array_mut()
        && let Some(last) = secrets.last_mut()
    {
        *last = shown_secret;
    }
    Ok((shown, secret))
}

/// Adds a secret valid for `hours` to `account` (document and credential); returns the secret
/// as the create answer shows it.
fn add_secret(
    tx: &mut dyn Tx,
    org_id: &str,
    account: &mut Record,
    hours: i64,
    now: OffsetDateTime,
) -> Result<Value, ApiError> {
    let secret_id = ids::object_id(now);
    let secret = format!("mdb_sa_sk_{}", ids::lowercase_letters(40));
    let expires = now + Duration::hours(hours);
    let stored = json!({
        "id": secret_id,
        "createdAt": atlas_timestamp(now),
        "expiresAt": atlas_timestamp(expires),
        "maskedSecretValue": mask(&secret),
    });
    if let Some(secrets) = account.doc["secrets"].as_array_mut() {
        secrets.push(stored.clone());
    }
    tx.update(&account.collection, &account.key, &account.doc)?;
    credentials::store_service_account_secret(
        tx,
        &account.key,
        org_id,
        &secret_id,
        &secret,
        expires.unix_timestamp(),
    )?;
    let mut shown = stored;
    shown["secret"] = json!(secret);
    Ok(shown)
}

/// Records a secret's last use (a token was minted with it).
pub fn touch_secret(
    tx: &mut dyn Tx,
    org_id: &str,
    client_id: &str,
    secret_id: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let Some(mut account) = tx.get(&collection(org_id), client_id)? else {
        return Ok(());
    };
    for secret in account.doc["secrets"].as_array_mut().into_iter().flatten() {
        if secret.get("id").and_then(Value::as_str) == Some(secret_id) {
            secret["lastUsedAt"] = json!(atlas_timestamp(now));
        }
    }
    tx.update(&account.collection, &account.key, &account.doc)?;
    Ok(())
}

/// Deletes an account with its credential, tokens, access list and project assignments.
pub fn delete(tx: &mut dyn Tx, org_id: &str, account: &Record) -> Result<(), ApiError> {
    credentials::remove_service_account(tx, &account.key)?;
    for group in groups_of_org(tx, org_id)? {
        tx.delete(&assignments(&group), &account.key)?;
    }
    tx.delete(&account.collection, &account.key)?;
    tx.delete_tree(&format!("{}/{}", account.collection, account.key))?;
    Ok(())
}

/// Assigns an account to a project with `project_roles` (replacing earlier ones).
pub fn assign(
    tx: &mut dyn Tx,
    group_id: &str,
    client_id: &str,
    project_roles: &[String],
) -> Result<Value, ApiError> {
    roles::check_group_roles(project_roles.iter().map(String::as_str))?;
    let doc = json!({"clientId": client_id, "roles": role_set(project_roles.iter().cloned())});
    tx.upsert(&assignments(group_id), client_id, &doc)?;
    Ok(doc)
}

/// The account as a project shows it: its project roles instead of its organization roles.
fn group_view(account: &Value, assignment: &Value) -> Value {
    let mut shown = account.clone();
    shown["roles"] = json!(strings(assignment.get("roles")));
    shown
}

/// Applies `name` and `description` of the request body.
fn describe(cx: &Ctx<'_>, doc: &mut Value) {
    for field in ["name", "description"] {
        if let Some(value) = body_text(cx, field) {
            doc[field] = json!(value);
        }
    }
}

/// The requested secret lifetime, bounded by the organization's
/// `maxServiceAccountSecretValidityInHours` (semantics §4.2).
fn secret_hours(cx: &mut Ctx<'_>, org_id: &str) -> Result<i64, ApiError> {
    let max = cx
        .tx
        .get(&format!("/orgs/{org_id}/settings"), "")?
        .and_then(|s| {
            s.doc
                .get("maxServiceAccountSecretValidityInHours")
                .and_then(Value::as_i64)
        })
        .unwrap_or(MAX_SECRET_HOURS);
    let hours = cx
        .call
        .body
        .as_ref()
        .and_then(|b| b.get("secretExpiresAfterHours"))
        .and_then(Value::as_i64)
        .unwrap_or(max);
    if hours > max {
        return Err(api_error!(INVALID_ATTRIBUTE, "secretExpiresAfterHours"));
    }
    Ok(hours)
}

/// Creates an account from the request body (`name`, `description`, `secretExpiresAfterHours`)
/// with `org_roles`; returns the create answer's document and the client id.
fn create_from_body(
    cx: &mut Ctx<'_>,
    org_id: &str,
    org_roles: &[String],
) -> Result<(Value, String), ApiError> {
    let hours = secret_hours(cx, org_id)?;
    let name = body_text(cx, "name").unwrap_or_default();
    let description = body_text(cx, "description").unwrap_or_default();
    let (doc, _) = create(
        cx.tx,
        org_id,
        &name,
        &description,
        org_roles,
        hours,
        cx.now.get(),
    )?;
    let client_id = doc["clientId"].as_str().unwrap_or_default().to_owned();
    Ok((doc, client_id))
}
