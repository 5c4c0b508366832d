//! Teams: organization teams, their members, and their roles in projects.
//!
//! A team is `/orgs/{orgId}/teams/{id}` (`name`, unique per organization through the store claim
//! `teamName:<orgId>`). Membership is on the member's side: the `teamIds` of its active
//! organization membership (`/orgs/{orgId}/users/{id}`), so removing a user from the organization
//! removes it from its teams. A team's roles in a project are `/groups/{groupId}/teams/{id}`
//! (`roleNames`); its members hold them there (`crate::stages::authorize`). Only active members can join
//! a team (`CANNOT_ADD_PENDING_USER` for invitees).

use atlas_model::OperationId;
use atlas_store::{Page, Record, StoreError, Tx};
use serde_json::{Value, json};

use super::shared::support::{
    body_items, body_strings, body_text, entity, list, param, role_set, with_self,
};
use super::{invitations, users};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::families::shared::membership;
use crate::identity::roles::{self, strings};
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::stages::authorize::groups_of_org;

pub struct Teams;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListOrgTeams,
    OperationId::CreateOrgTeam,
    OperationId::GetOrgTeamByName,
    OperationId::GetOrgTeam,
    OperationId::RenameOrgTeam,
    OperationId::DeleteOrgTeam,
    OperationId::ListOrgTeamUsers,
    OperationId::AddOrgTeamUsers,
    OperationId::RemoveOrgTeamUserFromTeam,
    OperationId::AddOrgTeamUser,
    OperationId::RemoveOrgTeamUser,
    OperationId::ListGroupTeams,
    OperationId::AddGroupTeams,
    OperationId::GetGroupTeam,
    OperationId::UpdateGroupTeam,
    OperationId::RemoveGroupTeam,
];

impl Behaviour for Teams {
    fn name(&self) -> &'static str {
        "teams"
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
        match cx.call.op.id {
            O::ListOrgTeams => {
                let (teams, _) = cx.tx.list(&collection(&org), Page::ALL)?;
                let items = teams.into_iter().map(|t| view(cx, &org, t.doc)).collect();
                Ok(list(cx, items))
            }
            O::CreateOrgTeam => create(cx, &org),
            O::GetOrgTeamByName => {
                let name = param(cx.call, "teamName");
                let owner = cx.tx.claimant(&name_scope(&org), &name.to_lowercase())?;
                let team = match owner.as_deref().and_then(|o| o.rsplit('/').next()) {
                    Some(id) => cx.tx.get(&collection(&org), id)?,
                    None => None,
                };
                let team = team.ok_or_else(|| api_error!(TEAM_NAME_NOT_FOUND, name))?;
                let shown = view(cx, &org, team.doc);
                Ok(entity(cx, &shown))
            }
            O::GetOrgTeam => {
                let team = find(cx.tx, &org, &param(cx.call, "teamId"))?;
                let shown = view(cx, &org, team.doc);
                Ok(entity(cx, &shown))
            }
            O::RenameOrgTeam => {
                let mut team = find(cx.tx, &org, &param(cx.call, "teamId"))?;
                let name = body_text(cx, "name").unwrap_or_default();
                let owner = format!("{}/{}", team.collection, team.key);
                cx.tx.release(&name_scope(&org), &owner)?;
                claim_name(cx.tx, &org, &name, &owner)?;
                team.doc["name"] = json!(name);
                cx.tx.update(&team.collection, &team.key, &team.doc)?;
                let shown = view(cx, &org, team.doc);
                Ok(entity(cx, &shown))
            }
            O::DeleteOrgTeam => delete(cx, &org),
            O::ListOrgTeamUsers => {
                let team = find(cx.tx, &org, &param(cx.call, "teamId"))?;
                let items = member_views(cx, &org, &team.key)?;
                Ok(list(cx, items))
            }
            O::AddOrgTeamUsers => {
                let team = find(cx.tx, &org, &param(cx.call, "teamId"))?;
                for item in body_items(cx) {
                    let user_id = item["id"].as_str().unwrap_or_default().to_owned();
                    join(cx.tx, &org, &team.key, &user_id, true)?;
                }
                let items = member_views(cx, &org, &team.key)?;
                Ok(list(cx, items))
            }
            O::RemoveOrgTeamUserFromTeam => {
                let team = find(cx.tx, &org, &param(cx.call, "teamId"))?;
                join(cx.tx, &org, &team.key, &param(cx.call, "userId"), false)?;
                Ok(Reply::empty(cx.render.status()))
            }
            O::AddOrgTeamUser | O::RemoveOrgTeamUser => {
                let team = find(cx.tx, &org, &param(cx.call, "teamId"))?;
                let user_id = body_text(cx, "id").unwrap_or_default();
                let add = cx.call.op.id == O::AddOrgTeamUser;
                let membership = join(cx.tx, &org, &team.key, &user_id, add)?;
                let shown = users::org_member_view(cx.tx, &org, &membership)?;
                Ok(entity(cx, &shown))
            }
            O::ListGroupTeams => {
                let group = cx.scope.group_id.clone().unwrap_or_default();
                let items = group_team_views(cx, &group)?;
                Ok(list(cx, items))
            }
            O::AddGroupTeams => {
                let group = cx.scope.group_id.clone().unwrap_or_default();
                for item in body_items(cx) {
                    let team = item["teamId"].as_str().unwrap_or_default().to_owned();
                    find(cx.tx, &org, &team)?;
                    let role_names = strings(item.get("roleNames"));
                    roles::check_group_roles(role_names.iter().map(String::as_str))?;
                    let doc = json!({"teamId": team, "roleNames": role_set(role_names)});
                    match cx.tx.insert(&assignments(&group), &team, &doc) {
                        Ok(_) => {}
                        Err(StoreError::Duplicate(_)) => {
                            return Err(api_error!(TEAM_EXISTS_IN_GROUP));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                let items = group_team_views(cx, &group)?;
                Ok(list(cx, items))
            }
            O::GetGroupTeam => {
                let group = cx.scope.group_id.clone().unwrap_or_default();
                let assignment = assigned(cx.tx, &group, &param(cx.call, "teamId"))?;
                let shown = with_self(
                    cx,
                    assignment.doc,
                    &format!("{}/{}", assignments(&group), assignment.key),
                );
                Ok(entity(cx, &shown))
            }
            O::UpdateGroupTeam => {
                let group = cx.scope.group_id.clone().unwrap_or_default();
                let mut assignment = assigned(cx.tx, &group, &param(cx.call, "teamId"))?;
                let role_names = body_strings(cx, "roleNames").unwrap_or_default();
                if role_names.is_empty() {
                    return Err(api_error!(NO_ROLES_IN_ASSIGNMENT));
                }
                roles::check_group_roles(role_names.iter().map(String::as_str))?;
                assignment.doc["roleNames"] = json!(role_set(role_names));
                cx.tx
                    .update(&assignment.collection, &assignment.key, &assignment.doc)?;
                let items = group_team_views(cx, &group)?;
                Ok(list(cx, items))
            }
            O::RemoveGroupTeam => {
                let group = cx.scope.group_id.clone().unwrap_or_default();
                let assignment = assigned(cx.tx, &group, &param(cx.call, "teamId"))?;
                cx.tx.delete(&assignment.collection, &assignment.key)?;
                Ok(Reply::empty(cx.render.status()))
            }
            _ => Err(ApiError::internal("operation not served by teams")),
        }
    }
}

fn collection(org_id: &str) -> String {
    format!("/orgs/{org_id}/teams")
}

fn assignments(group_id: &str) -> String {
    format!("/groups/{group_id}/teams")
}

fn name_scope(org_id: &str) -> String {
    format!("teamName:{org_id}")
}

fn find(tx: &mut dyn Tx, org_id: &str, id: &str) -> Result<Record, ApiError> {
    tx.get(&collection(org_id), id)?
        .ok_or_else(|| api_error!(TEAM_NOT_FOUND, id))
}

fn assigned(tx: &mut dyn Tx, group_id: &str, team_id: &str) -> Result<Record, ApiError> {
    tx.get(&assignments(group_id), team_id)?
        .ok_or_else(|| api_error!(TEAM_NOT_IN_GROUP))
}

/// Team names are unique per organization, case-insensitively.
fn claim_name(tx: &mut dyn Tx, org_id: &str, name: &str, owner: &str) -> Result<(), ApiError> {
    match tx.claim(&name_scope(org_id), &name.to_lowercase(), owner) {
        Ok(()) => Ok(()),
        Err(StoreError::Duplicate(_)) => Err(api_error!(TEAM_NAME_NOT_AVAILABLE, name, org_id)),
        Err(e) => Err(e.into()),
    }
}

/// The team with its self link.
fn view(cx: &Ctx<'_>, org_id: &str, doc: Value) -> Value {
    let id = doc["id"].as_str().unwrap_or_default().to_owned();
    with_self(cx, doc, &format!("{}/{id}", collection(org_id)))
}

/// `POST /orgs/{orgId}/teams`: the initial usernames must be active members (201, recorded).
fn create(cx: &mut Ctx<'_>, org: &str) -> Result<Reply, ApiError> {
    let name = body_text(cx, "name").unwrap_or_default();
    let usernames = body_strings(cx, "usernames").unwrap_or_default();
    let mut member_ids = Vec::new();
    for username in &usernames {
        let user = membership::user_by_name(cx.tx, username)?
            .ok_or_else(|| api_error!(USERNAME_NOT_FOUND, username.as_str()))?;
        if cx.tx.get(&membership::members(org), &user.key)?.is_none() {
            let pending = invitations::org_invitation_of_user(cx.tx, org, &user.key)?.is_some();
            return Err(if pending {
                api_error!(CANNOT_ADD_PENDING_USER)
            } else {
                api_error!(USER_NOT_IN_ORG, username.as_str(), org)
            });
        }
        member_ids.push(user.key);
    }
    let id = ids::object_id(cx.now.get());
    let owner = format!("{}/{id}", collection(org));
    claim_name(cx.tx, org, &name, &owner)?;
    let doc = json!({"id": id, "name": name});
    cx.tx.insert(&collection(org), &id, &doc)?;
    for user_id in &member_ids {
        join(cx.tx, org, &id, user_id, true)?;
    }
    let mut shown = view(cx, org, doc);
    shown["usernames"] = json!(usernames);
    Ok(entity(cx, &shown))
}

/// `DELETE /orgs/{orgId}/teams/{teamId}`: refused while the team has a project (docs), else the
/// team leaves its members.
fn delete(cx: &mut Ctx<'_>, org: &str) -> Result<Reply, ApiError> {
    let team = find(cx.tx, org, &param(cx.call, "teamId"))?;
    for group in groups_of_org(cx.tx, org)? {
        if cx.tx.get(&assignments(&group), &team.key)?.is_some() {
            return Err(api_error!(CANNOT_DELETE_TEAM_ASSIGNED_TO_PROJECT));
        }
    }
    let (members, _) = cx.tx.list(&membership::members(org), Page::ALL)?;
    for mut member in members {
        let teams = strings(member.doc.get("teamIds"));
        if teams.contains(&team.key) {
            member.doc["teamIds"] = json!(
                teams
                    .into_iter()
                    .filter(|t| *t != team.key)
                    .collect::<Vec<_>>()
            );
            cx.tx.update(&member.collection, &member.key, &member.doc)?;
        }
    }
    cx.tx.delete(&team.collection, &team.key)?;
    Ok(Reply::empty(cx.render.status()))
}

/// Adds a member to a team (or removes it); returns its membership.
fn join(
    tx: &mut dyn Tx,
    org: &str,
    team: &str,
    user_id: &str,
    add: bool,
) -> Result<Value, ApiError> {
    let Some(mut membership) = tx.get(&membership::members(org), user_id)? else {
        if invitations::org_invitation_of_user(tx, org, user_id)?.is_some() {
            return Err(api_error!(CANNOT_ADD_PENDING_USER));
        }
        return Err(api_error!(USER_NOT_IN_ORG, user_id, org));
    };
    let mut teams = strings(membership.doc.get("teamIds"));
    let present = teams.iter().any(|t| t == team);
    match (add, present) {
        (true, true) => return Err(api_error!(USER_ALREADY_IN_TEAM, user_id, team)),
        (true, false) => teams.push(team.to_owned()),
        (false, true) => teams.retain(|t| t != team),
        (false, false) => return Err(api_error!(USER_NOT_FOUND, user_id)),
    }
    membership.doc["teamIds"] = json!(role_set(teams));
    tx.update(&membership.collection, &membership.key, &membership.doc)?;
    Ok(membership.doc)
}

/// The team's members as the served version shows users.
fn member_views(cx: &mut Ctx<'_>, org: &str, team: &str) -> Result<Vec<Value>, ApiError> {
    let (members, _) = cx.tx.list(&membership::members(org), Page::ALL)?;
    let mut items = Vec::new();
    for member in members {
        if !strings(member.doc.get("teamIds")).iter().any(|t| t == team) {
            continue;
        }
        if cx.call.version >= "2025-02-19" {
            items.push(users::org_member_view(cx.tx, org, &member.doc)?);
        } else {
            let user = membership::find_user(cx.tx, &member.key)?;
            let doc = users::cloud_app_user(cx.tx, &user.doc, &[org.to_owned()])?;
            items.push(with_self(cx, doc, &format!("/users/{}", member.key)));
        }
    }
    Ok(items)
}

fn group_team_views(cx: &mut Ctx<'_>, group: &str) -> Result<Vec<Value>, ApiError> {
    let (teams, _) = cx.tx.list(&assignments(group), Page::ALL)?;
    Ok(teams
        .into_iter()
        .map(|t| with_self(cx, t.doc, &format!("{}/{}", assignments(group), t.key)))
        .collect())
}
