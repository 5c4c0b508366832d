//! Identities for tests in one call (the control API's `POST /__localatlas/principals`), and
//! accepting invitations as their invitee (`POST /__localatlas/invitations/accept`), which no
//! Atlas endpoint can do.
//!
//! A principal is created exactly as the Atlas endpoints would create it — the same documents,
//! credentials and role assignments — so everything about it (roles, access list, deletion)
//! behaves as for an identity made through several API calls.
//!
//! Request: `{"type": "apiKey" | "serviceAccount" | "user", "orgId"?, "roles": [{"orgId" |
//! "groupId", "roleName"}], "accessList"?: ["192.0.2.1", "10.0.0.0/8"], "description"?,
//! "username"?, "teamIds"?}`. The organization defaults to the one the roles name, else the
//! bootstrap organization; every role must be in it.

use atlas_store::Tx;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api_error;
use crate::control::bootstrap;
use crate::families::invitations::{self, Selector};
use crate::families::shared::membership;
use crate::families::{api_keys, service_accounts};
use crate::identity::credentials;
use crate::identity::roles::{self, Assignments, ORG_MEMBER, strings};
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::stages::admission::address_check::{self, Kind};

/// Lifetime of a service account secret made here: the longest an organization allows.
const SECRET_HOURS: i64 = 8760;

fn text<'a>(spec: &'a Value, name: &str) -> Option<&'a str> {
    spec.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The requested roles, split by kind and checked: `(org roles, [(groupId, roles)])`.
fn requested_roles(
    tx: &mut dyn Tx,
    spec: &Value,
    now: OffsetDateTime,
) -> Result<(String, Vec<String>, Assignments), ApiError> {
    let mut org_id = text(spec, "orgId").map(str::to_owned);
    let mut org_roles = Vec::new();
    let mut group_roles: Assignments = Vec::new();
    for role in spec
        .get("roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = text(role, "roleName").unwrap_or_default().to_owned();
        match (text(role, "orgId"), text(role, "groupId")) {
            (Some(org), None) => {
                roles::check_org_roles([name.as_str()])?;
                if org_id.get_or_insert_with(|| org.to_owned()) != org {
                    return Err(api_error!(
                        VALIDATION_ERROR,
                        "all roles must be in one organization"
                    ));
                }
                org_roles.push(name);
            }
            (None, Some(group)) => {
                roles::check_group_roles([name.as_str()])?;
                let project = tx
                    .get("/groups", group)?
                    .ok_or_else(|| api_error!(GROUP_NOT_FOUND, group))?;
                let org = project.doc["orgId"].as_str().unwrap_or_default();
                if org_id.get_or_insert_with(|| org.to_owned()) != org {
                    return Err(api_error!(
                        VALIDATION_ERROR,
                        "all roles must be in one organization"
                    ));
                }
                match group_roles.iter_mut().find(|(g, _)| g == group) {
                    Some((_, held)) => held.push(name),
                    None => group_roles.push((group.to_owned(), vec![name])),
                }
            }
            _ if roles::is_group_role(&name) => return Err(api_error!(ROLE_NEEDS_GROUP_ID, name)),
            _ => return Err(api_error!(ROLE_NEEDS_ORG_ID, name)),
        }
    }
    let org_id = match org_id {
        Some(org) => org,
        None => bootstrap::ensure(tx, now)?.org_id,
    };
    if tx.get("/orgs", &org_id)?.is_none() {
        return Err(api_error!(ORG_NOT_FOUND, org_id));
    }
    if org_roles.is_empty() {
        org_roles.push(ORG_MEMBER.to_owned());
    }
    Ok((org_id, org_roles, group_roles))
}

fn add_access_list(
    tx: &mut dyn Tx,
    kind: Kind,
    org_id: &str,
    credential: &str,
    spec: &Value,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let collection = address_check::collection(kind, org_id, credential);
    for entry in strings(spec.get("accessList")) {
        let item = if entry.contains('/') {
            json!({"cidrBlock": entry})
        } else {
            json!({"ipAddress": entry})
        };
        let (key, doc) = address_check::new_entry(kind, &item, now)?;
        tx.upsert(&collection, &key, &doc)?;
    }
    Ok(())
}

/// Creates a principal with the given roles; returns its secrets (shown only here).
pub fn create(tx: &mut dyn Tx, spec: &Value, now: OffsetDateTime) -> Result<Value, ApiError> {
    let (org_id, org_roles, group_roles) = requested_roles(tx, spec, now)?;
    let description = text(spec, "description").unwrap_or("localatlas test principal");
    match text(spec, "type").unwrap_or("apiKey") {
        "apiKey" => {
            let (doc, private_key) = api_keys::create(tx, &org_id, description, &org_roles, now)?;
            let id = doc["id"].as_str().unwrap_or_default().to_owned();
            for (group, held) in &group_roles {
                api_keys::assign(tx, group, &id, held)?;
            }
            add_access_list(tx, Kind::ApiKey, &org_id, &id, spec, now)?;
            Ok(json!({
                "type": "apiKey", "orgId": org_id, "id": id,
                "publicKey": doc["publicKey"], "privateKey": private_key,
            }))
        }
        "serviceAccount" => {
            let name = text(spec, "name").unwrap_or("localatlas-test");
            let (doc, secret) = service_accounts::create(
                tx,
                &org_id,
                name,
                description,
                &org_roles,
                SECRET_HOURS,
                now,
            )?;
            let client_id = doc["clientId"].as_str().unwrap_or_default().to_owned();
            for (group, held) in &group_roles {
                service_accounts::assign(tx, group, &client_id, held)?;
            }
            add_access_list(tx, Kind::ServiceAccount, &org_id, &client_id, spec, now)?;
            Ok(json!({
                "type": "serviceAccount", "orgId": org_id,
                "clientId": client_id, "clientSecret": secret,
            }))
        }
        "user" => {
            let username = text(spec, "username")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{}@example.com", ids::lowercase_letters(10)));
            let teams = strings(spec.get("teamIds"));
            membership::check_teams_of_org(tx, &org_id, &teams)?;
            let user = membership::ensure_user(tx, &username, now)?;
            membership::join_org(tx, &org_id, &user, &org_roles, &teams, now)?;
            for (group, held) in &group_roles {
                membership::join_group(tx, group, &user, held)?;
            }
            session(tx, &user, now, json!({"type": "user", "orgId": org_id}))
        }
        other => Err(api_error!(INVALID_ENUM_VALUE, other)),
    }
}

/// `extra` with the user's id, username and a fresh session token.
fn session(
    tx: &mut dyn Tx,
    user: &Value,
    now: OffsetDateTime,
    mut extra: Value,
) -> Result<Value, ApiError> {
    let id = user["id"].as_str().unwrap_or_default();
    let username = user["username"].as_str().unwrap_or_default();
    let token = credentials::issue_user_token(tx, id, username, now)?;
    extra["id"] = json!(id);
    extra["username"] = json!(username);
    extra["accessToken"] = json!(token);
    extra["expiresIn"] = json!(credentials::TOKEN_SECONDS);
    Ok(extra)
}

/// Accepts pending invitations (by `invitationId` or `username`) as the invitee; returns the
/// user and a session token for it.
pub fn accept(tx: &mut dyn Tx, spec: &Value, now: OffsetDateTime) -> Result<Value, ApiError> {
    let selector = match (text(spec, "invitationId"), text(spec, "username")) {
        (Some(id), _) => Selector::Id(id.to_owned()),
        (None, Some(username)) => Selector::Username(username.to_owned()),
        (None, None) => {
            return Err(api_error!(
                MISSING_ONE_OF_ATTRIBUTES,
                "invitationId",
                "username"
            ));
        }
    };
    match invitations::accept(tx, &selector, now)? {
        (Some(user), accepted) => session(tx, &user, now, json!({"accepted": accepted})),
        // Nothing pending (or only expired invitations) matched.
        (None, _) => Err(api_error!(RESOURCE_NOT_FOUND, "pending invitation")),
    }
}
