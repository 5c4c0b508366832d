//! Users and their memberships as stored: the user documents (one per username, claimed
//! case-insensitively), organization and project member lists, and joining them. Shared by the
//! users, invitations and teams families and by minted principals, which all change memberships.

use atlas_store::{Page, Record, Tx};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::support::role_set;
use crate::api_error;
use crate::identity::roles::{ORG_MEMBER, ORG_OWNER, strings};
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;

/// The claim namespace of usernames.
const USERNAME: &str = "username";

pub fn members(org_id: &str) -> String {
    format!("/orgs/{org_id}/users")
}

pub fn project_members(group_id: &str) -> String {
    format!("/groups/{group_id}/users")
}

/// The user with `id`, or 404 `USER_NOT_FOUND`.
pub fn find_user(tx: &mut dyn Tx, id: &str) -> Result<Record, ApiError> {
    tx.get("/users", id)?
        .ok_or_else(|| api_error!(USER_NOT_FOUND, id))
}

/// The user named `username`, if it exists.
pub fn user_by_name(tx: &mut dyn Tx, username: &str) -> Result<Option<Record>, ApiError> {
    match tx.claimant(USERNAME, &username.to_lowercase())? {
        Some(owner) => Ok(tx.get("/users", owner.trim_start_matches("/users/"))?),
        None => Ok(None),
    }
}

/// The id of `username`: the existing user's, or one reserved for a user who does not exist yet
/// (an invitee), so every invitation of one person names the same id.
pub fn user_id_for(
    tx: &mut dyn Tx,
    username: &str,
    now: OffsetDateTime,
) -> Result<String, ApiError> {
    let value = username.to_lowercase();
    if let Some(owner) = tx.claimant(USERNAME, &value)? {
        return Ok(owner.trim_start_matches("/users/").to_owned());
    }
    let id = ids::object_id(now);
    tx.claim(USERNAME, &value, &format!("/users/{id}"))?;
    Ok(id)
}

/// The user named `username`, created (active, with the reserved id) when missing.
pub fn ensure_user(
    tx: &mut dyn Tx,
    username: &str,
    now: OffsetDateTime,
) -> Result<Value, ApiError> {
    let id = user_id_for(tx, username, now)?;
    if let Some(user) = tx.get("/users", &id)? {
        return Ok(user.doc);
    }
    let local = username.split('@').next().unwrap_or(username);
    let doc = json!({
        "id": id, "username": username, "emailAddress": username,
        "firstName": local, "lastName": "", "country": "US", "mobileNumber": "",
        "createdAt": atlas_timestamp(now),
    });
    tx.insert("/users", &id, &doc)?;
    Ok(doc)
}

/// Creates the user `username` with `id` and its names (the bootstrap organization's owner),
/// unless a user of that name exists; returns the user.
pub fn insert_user(
    tx: &mut dyn Tx,
    id: &str,
    username: &str,
    (first_name, last_name): (&str, &str),
    created: &str,
) -> Result<Value, ApiError> {
    if let Some(user) = user_by_name(tx, username)? {
        return Ok(user.doc);
    }
    tx.claim(USERNAME, &username.to_lowercase(), &format!("/users/{id}"))?;
    let doc = json!({
        "id": id, "username": username, "emailAddress": username,
        "firstName": first_name, "lastName": last_name, "country": "US", "mobileNumber": "",
        "createdAt": created,
    });
    tx.upsert("/users", id, &doc)?;
    Ok(doc)
}

/// Makes `user` an active member of `org_id` with at least `org_roles` (merged) and `team_ids`.
pub fn join_org(
    tx: &mut dyn Tx,
    org_id: &str,
    user: &Value,
    org_roles: &[String],
    team_ids: &[String],
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let id = user["id"].as_str().unwrap_or_default();
    let existing = tx.get(&members(org_id), id)?.map(|r| r.doc);
    let mut roles_held = existing
        .as_ref()
        .map(|m| strings(m.get("orgRoles")))
        .unwrap_or_default();
    roles_held.extend(org_roles.iter().cloned());
    if roles_held.is_empty() {
        roles_held.push(ORG_MEMBER.to_owned());
    }
    let mut teams = existing
        .as_ref()
        .map(|m| strings(m.get("teamIds")))
        .unwrap_or_default();
    teams.extend(team_ids.iter().cloned());
    let created = existing
        .as_ref()
        .and_then(|m| m.get("createdAt").cloned())
        .unwrap_or_else(|| json!(atlas_timestamp(now)));
    tx.upsert(
        &members(org_id),
        id,
        &json!({
            "id": id, "username": user["username"],
            "orgRoles": role_set(roles_held), "teamIds": role_set(teams), "createdAt": created,
        }),
    )?;
    Ok(())
}

/// Who a new project of `org_id` makes its Project Owner: the member named by the request's
/// `projectOwnerId`, else the organization's oldest Organization Owner (the spec's default; the
/// project a CLI test made with an API key lists its organization's owner as `GROUP_OWNER`,
/// atlas-cli TestAtlasProjects at 2025-02-19). `None` for an organization without one.
pub fn project_owner(
    tx: &mut dyn Tx,
    org_id: &str,
    named: Option<&str>,
) -> Result<Option<Value>, ApiError> {
    if let Some(id) = named {
        if tx.get(&members(org_id), id)?.is_none() {
            return Err(api_error!(USER_NOT_FOUND, id));
        }
        return Ok(Some(find_user(tx, id)?.doc));
    }
    // Members are listed in the order they joined: the first owner is the oldest.
    let (listed, _) = tx.list(&members(org_id), Page::ALL)?;
    let oldest = listed.iter().find(|m| {
        strings(m.doc.get("orgRoles"))
            .iter()
            .any(|r| r == ORG_OWNER)
    });
    match oldest {
        Some(member) => Ok(tx.get("/users", &member.key)?.map(|r| r.doc)),
        None => Ok(None),
    }
}

/// Gives an active user `project_roles` in a project (merged with what it holds).
pub fn join_group(
    tx: &mut dyn Tx,
    group_id: &str,
    user: &Value,
    project_roles: &[String],
) -> Result<Value, ApiError> {
    let id = user["id"].as_str().unwrap_or_default();
    let mut held = tx
        .get(&project_members(group_id), id)?
        .map(|r| strings(r.doc.get("roles")))
        .unwrap_or_default();
    held.extend(project_roles.iter().cloned());
    let doc = json!({"id": id, "username": user["username"], "roles": role_set(held)});
    tx.upsert(&project_members(group_id), id, &doc)?;
    Ok(doc)
}

/// A project id named in a request must be a project of the organization (another
/// organization's project is as unknown as a missing one).
pub fn check_group_of_org(tx: &mut dyn Tx, org_id: &str, group_id: &str) -> Result<(), ApiError> {
    match tx.get("/groups", group_id)? {
        Some(g) if g.doc["orgId"].as_str() == Some(org_id) => Ok(()),
        _ => Err(api_error!(GROUP_NOT_FOUND, group_id)),
    }
}

/// Team ids named in a request must be teams of the organization.
pub fn check_teams_of_org(
    tx: &mut dyn Tx,
    org_id: &str,
    team_ids: &[String],
) -> Result<(), ApiError> {
    for team in team_ids {
        if tx.get(&format!("/orgs/{org_id}/teams"), team)?.is_none() {
            return Err(api_error!(TEAM_NOT_FOUND, team.as_str()));
        }
    }
    Ok(())
}
