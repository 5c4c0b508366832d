//! Programmatic API keys: organization keys and their project assignments.
//!
//! A key is one document `/orgs/{orgId}/apiKeys/{id}` holding its organization roles
//! (`roles: [{orgId, roleName}]`), the private key masked, and its Digest credential in
//! `__apiKeys/<publicKey>` written in the same transaction; it authenticates as soon as it is
//! created. Assigning it to a project writes `/groups/{groupId}/apiKeys/{id}` with the project
//! roles (`roles: [..]`); the key's view (`ApiKeyUserDetails.roles`) shows both kinds. Deleting
//! a key removes its credential, its access list and its assignments, so the next request with
//! it fails; deleting an assignment removes the project's roles at once.
//!
//! The private key is shown once, in the create answer; afterwards it reads
//! `********-****-****-<last 12>` (semantics §7.1). A missing key is Atlas's 400
//! `API_KEY_NOT_FOUND` (§3.3).

use atlas_model::OperationId;
use atlas_store::{Page, Record, Tx};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::shared::support::{
    body_items, body_strings, body_text, entity, list, param, role_set, tail, with_self,
};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::identity::credentials;
use crate::identity::roles::{self, ORG_MEMBER, strings};
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::stages::authorize::groups_of_org;

pub struct ApiKeys;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListOrgApiKeys,
    OperationId::CreateOrgApiKey,
    OperationId::GetOrgApiKey,
    OperationId::UpdateOrgApiKey,
    OperationId::DeleteOrgApiKey,
    OperationId::ListGroupApiKeys,
    OperationId::CreateGroupApiKey,
    OperationId::AddGroupApiKey,
    OperationId::UpdateGroupApiKeyRoles,
    OperationId::RemoveGroupApiKey,
];

impl Behaviour for ApiKeys {
    fn name(&self) -> &'static str {
        "api_keys"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn resolves_own_items(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let org = cx.scope.org_id.clone().unwrap_or_default();
        match cx.call.op.id {
            OperationId::ListOrgApiKeys => {
                let (keys, _) = cx.tx.list(&collection(&org), Page::ALL)?;
                let mut items = Vec::new();
                for key in keys {
                    items.push(view(cx, &org, &key.doc)?);
                }
                Ok(list(cx, items))
            }
            OperationId::CreateOrgApiKey => {
                let org_roles = body_strings(cx, "roles").unwrap_or_default();
                let desc = body_text(cx, "desc").unwrap_or_default();
                created(cx, &org, &desc, &org_roles, None)
            }
            OperationId::GetOrgApiKey => {
                let key = find(cx.tx, &org, &param(cx.call, "apiUserId"))?;
                let shown = view(cx, &org, &key.doc)?;
                Ok(entity(cx, &shown))
            }
            OperationId::UpdateOrgApiKey => update_org_key(cx, &org),
            OperationId::DeleteOrgApiKey => {
                let key = find(cx.tx, &org, &param(cx.call, "apiUserId"))?;
                delete(cx.tx, &org, &key)?;
                Ok(Reply::empty(cx.render.status()))
            }
            OperationId::ListGroupApiKeys => {
                let group = cx.scope.group_id.clone().unwrap_or_default();
                let (assigned, _) = cx.tx.list(&format!("/groups/{group}/apiKeys"), Page::ALL)?;
                let mut items = Vec::new();
                for assignment in assigned {
                    if let Some(key) = cx.tx.get(&collection(&org), &assignment.key)? {
                        items.push(view(cx, &org, &key.doc)?);
                    }
                }
                Ok(list(cx, items))
            }
            OperationId::CreateGroupApiKey => {
                let group = cx.scope.group_id.clone().unwrap_or_default();
                let project_roles = body_strings(cx, "roles").unwrap_or_default();
                roles::check_group_roles(project_roles.iter().map(String::as_str))?;
                let desc = body_text(cx, "desc").unwrap_or_default();
                // A key created for a project is an organization member with project roles.
                created(
                    cx,
                    &org,
                    &desc,
                    &[ORG_MEMBER.to_owned()],
                    Some((&group, project_roles)),
                )
            }
            OperationId::AddGroupApiKey => {
                let group = cx.scope.group_id.clone().unwrap_or_default();
                let key = find(cx.tx, &org, &param(cx.call, "apiUserId"))?;
                let project_roles = role_set(
                    body_items(cx)
                        .iter()
                        .flat_map(|item| strings(item.get("roles"))),
                );
                assign(cx.tx, &group, &key.key, &project_roles)?;
                Ok(Reply::empty(cx.render.status()))
            }
            OperationId::UpdateGroupApiKeyRoles => update_assignment(cx, &org),
            OperationId::RemoveGroupApiKey => {
                let group = cx.scope.group_id.clone().unwrap_or_default();
                let id = param(cx.call, "apiUserId");
                if !cx.tx.delete(&format!("/groups/{group}/apiKeys"), &id)? {
                    return Err(api_error!(API_KEY_NOT_FOUND, id));
                }
                Ok(Reply::empty(cx.render.status()))
            }
            _ => Err(ApiError::internal("operation not served by apiKeys")),
        }
    }
}

/// Where an organization's keys live.
pub fn collection(org_id: &str) -> String {
    format!("/orgs/{org_id}/apiKeys")
}

/// The key `id` of the organization, or 400 `API_KEY_NOT_FOUND`.
pub fn find(tx: &mut dyn Tx, org_id: &str, id: &str) -> Result<Record, ApiError> {
    tx.get(&collection(org_id), id)?
        .ok_or_else(|| api_error!(API_KEY_NOT_FOUND, id))
}

/// A private key as later reads show it.
pub fn mask(private_key: &str) -> String {
    format!("********-****-****-{}", tail(private_key, 12))
}

/// A new key of `org_id` with organization roles, usable at once. Returns the stored document
/// and the private key (the only time it exists in clear).
pub fn create(
    tx: &mut dyn Tx,
    org_id: &str,
    desc: &str,
    org_roles: &[String],
    now: OffsetDateTime,
) -> Result<(Value, String), ApiError> {
    if org_roles.is_empty() {
        return Err(api_error!(MISSING_API_KEY_ROLES));
    }
    roles::check_org_roles(org_roles.iter().map(String::as_str))?;
    let id = ids::object_id(now);
    let public_key = ids::lowercase_letters(8);
    let private_key = ids::uuid();
    let doc = json!({
        "id": id,
        "desc": desc,
        "publicKey": public_key,
        "privateKey": mask(&private_key),
        "roles": org_role_entries(org_id, org_roles),
    });
    tx.insert(&collection(org_id), &id, &doc)?;
    credentials::store_api_key(tx, &id, &public_key, &private_key, org_id)?;
    Ok((doc, private_key))
}

fn org_role_entries(org_id: &str, org_roles: &[String]) -> Vec<Value> {
    role_set(org_roles.iter().cloned())
        .into_iter()
        .map(|r| json!({"orgId": org_id, "roleName": r}))
        .collect()
}

/// Assigns key `id` to a project with `project_roles` (replacing earlier ones).
pub fn assign(
    tx: &mut dyn Tx,
    group_id: &str,
    id: &str,
    project_roles: &[String],
) -> Result<(), ApiError> {
    if project_roles.is_empty() {
        return Err(api_error!(MISSING_API_KEY_ROLES));
    }
    roles::check_group_roles(project_roles.iter().map(String::as_str))?;
    tx.upsert(
        &format!("/groups/{group_id}/apiKeys"),
        id,
        &json!({"id": id, "roles": role_set(project_roles.iter().cloned())}),
    )?;
    Ok(())
}

/// Deletes a key with its credential, access list and project assignments.
pub fn delete(tx: &mut dyn Tx, org_id: &str, key: &Record) -> Result<(), ApiError> {
    if let Some(public) = key.doc.get("publicKey").and_then(Value::as_str) {
        credentials::remove_api_key(tx, public)?;
    }
    for group in groups_of_org(tx, org_id)? {
        tx.delete(&format!("/groups/{group}/apiKeys"), &key.key)?;
    }
    tx.delete(&key.collection, &key.key)?;
    tx.delete_tree(&format!("{}/{}", key.collection, key.key))?;
    Ok(())
}

/// The key as Atlas shows it: organization and project roles, masked private key, self link.
fn view(cx: &mut Ctx<'_>, org_id: &str, doc: &Value) -> Result<Value, ApiError> {
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut all_roles: Vec<Value> = doc
        .get("roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for group in groups_of_org(cx.tx, org_id)? {
        if let Some(assignment) = cx.tx.get(&format!("/groups/{group}/apiKeys"), &id)? {
            for role in strings(assignment.doc.get("roles")) {
                all_roles.push(json!({"groupId": group, "roleName": role}));
            }
        }
    }
    let mut shown = doc.clone();
    shown["roles"] = Value::Array(all_roles);
    Ok(with_self(
        cx,
        shown,
        &format!("{}/{id}", collection(org_id)),
    ))
}

/// The create answer: the key with its private key in clear, once.
fn created(
    cx: &mut Ctx<'_>,
    org_id: &str,
    desc: &str,
    org_roles: &[String],
    project: Option<(&str, Vec<String>)>,
) -> Result<Reply, ApiError> {
    let (doc, private_key) = create(cx.tx, org_id, desc, org_roles, cx.now.get())?;
    if let Some((group, project_roles)) = project {
        let id = doc["id"].as_str().unwrap_or_default().to_owned();
        assign(cx.tx, group, &id, &project_roles)?;
    }
    let mut shown = view(cx, org_id, &doc)?;
    shown["privateKey"] = json!(private_key);
    Ok(entity(cx, &shown))
}

fn update_org_key(cx: &mut Ctx<'_>, org_id: &str) -> Result<Reply, ApiError> {
    let mut key = find(cx.tx, org_id, &param(cx.call, "apiUserId"))?;
    if let Some(desc) = body_text(cx, "desc") {
        key.doc["desc"] = json!(desc);
    }
    if let Some(org_roles) = body_strings(cx, "roles") {
        if org_roles.is_empty() {
            return Err(api_error!(MISSING_API_KEY_ROLES));
        }
        roles::check_org_roles(org_roles.iter().map(String::as_str))?;
        key.doc["roles"] = json!(org_role_entries(org_id, &org_roles));
    }
    cx.tx.update(&key.collection, &key.key, &key.doc)?;
    let shown = view(cx, org_id, &key.doc)?;
    Ok(entity(cx, &shown))
}

/// `PATCH /groups/{groupId}/apiKeys/{apiUserId}`: the key's roles in the project (assigning it
/// when it was not), and optionally its description.
fn update_assignment(cx: &mut Ctx<'_>, org_id: &str) -> Result<Reply, ApiError> {
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let mut key = find(cx.tx, org_id, &param(cx.call, "apiUserId"))?;
    if let Some(project_roles) = body_strings(cx, "roles") {
        assign(cx.tx, &group, &key.key, &project_roles)?;
    } else if cx
        .tx
        .get(&format!("/groups/{group}/apiKeys"), &key.key)?
        .is_none()
    {
        return Err(api_error!(API_KEY_NOT_FOUND, key.key.as_str()));
    }
    if let Some(desc) = body_text(cx, "desc") {
        key.doc["desc"] = json!(desc);
        cx.tx.update(&key.collection, &key.key, &key.doc)?;
    }
    let shown = view(cx, org_id, &key.doc)?;
    Ok(entity(cx, &shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_keys_are_masked_to_their_last_group() {
        // Semantics §7.1: later reads show `********-****-****-01bdd56c8977`.
        assert_eq!(
            mask("c8150efd-c7a0-4afd-8c4f-01bdd56c8977"),
            "********-****-****-01bdd56c8977"
        );
    }
}
