//! Invitations to organizations and projects (the deprecated invitation endpoints, and the
//! pending users of the 2025 users API, which are the same invitations).
//!
//! An organization invitation is `/orgs/{orgId}/invites/{id}`: `username`, the id reserved for
//! that user (`userId`), organization `roles`, `groupRoleAssignments` (`[{groupId, roles}]`),
//! `teamIds`, `createdAt`, `expiresAt` = `createdAt` + 30 days (semantics §8), and
//! `inviterUsername` (the calling principal's name). A project invitation is
//! `/groups/{groupId}/invites/{id}` with project `roles`. An invitation is pending until the
//! invited user accepts it, which only the control API can do ([`accept`]); then the user becomes
//! an active member with the invitation's roles and teams, and the invitation is gone.
//!
//! The seed operations: `PATCH /orgs/{orgId}/invites` finds the pending invitation by the
//! `username` of its body and updates its roles, teams and project assignments;
//! `PATCH /groups/{groupId}/invites/{invitationId}` replaces a pending project invitation's
//! roles. Unknown role names are 400 `INVALID_ENUM_VALUE` (§5.1).

use atlas_model::OperationId;
use atlas_store::{Page, Record, Tx};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::shared::support::{
    body_strings, body_text, entity, filter_by_query, list, object, param, role_set, with_self,
};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::families::shared::membership;
use crate::identity::roles::{self, Assignments, strings};
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::stages::authorize::groups_of_org;

pub struct Invitations;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListOrgInvites,
    OperationId::CreateOrgInvite,
    OperationId::UpdateOrgInvites,
    OperationId::GetOrgInvite,
    OperationId::UpdateOrgInviteById,
    OperationId::DeleteOrgInvite,
    OperationId::ListGroupInvites,
    OperationId::CreateGroupInvite,
    OperationId::UpdateGroupInvites,
    OperationId::GetGroupInvite,
    OperationId::UpdateGroupInviteById,
    OperationId::DeleteGroupInvite,
    OperationId::AddGroupAccessUser,
];

/// How long an invitation stays valid (semantics §8).
const VALID_DAYS: i64 = 30;

impl Behaviour for Invitations {
    fn name(&self) -> &'static str {
        "invitations"
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
        match (cx.call.op.id, cx.scope.group_id.clone()) {
            (O::ListOrgInvites, _) => {
                let mut items = Vec::new();
                for invitation in org_invitations(cx.tx, &org)? {
                    items.push(org_view(cx, &invitation)?);
                }
                let items = filter_by_query(cx, items, "username", "username");
                Ok(list(cx, items))
            }
            (O::CreateOrgInvite, _) => {
                let username = body_text(cx, "username").unwrap_or_default();
                refuse_members(cx.tx, &org, &username)?;
                let (org_roles, assignments, teams) = org_request(cx, &org)?;
                let invitation = invite_to_org(
                    cx.tx,
                    &org,
                    &username,
                    &org_roles.unwrap_or_default(),
                    &assignments.unwrap_or_default(),
                    &teams.unwrap_or_default(),
                    cx.call.principal.name(),
                    cx.now.get(),
                )?;
                let shown = org_view(cx, &invitation)?;
                Ok(entity(cx, &shown))
            }
            (O::UpdateOrgInvites | O::UpdateOrgInviteById, _) => {
                let mut invitation = if cx.call.op.id == O::UpdateOrgInvites {
                    let username = body_text(cx, "username").unwrap_or_default();
                    by_username(cx.tx, &org_invites(&org), &username)?.ok_or_else(|| {
                        api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str())
                    })?
                } else {
                    find(cx, &org_invites(&org))?
                };
                pending(&invitation, cx.now.get())?;
                let (org_roles, assignments, teams) = org_request(cx, &org)?;
                if let Some(org_roles) = org_roles {
                    invitation.doc["roles"] = json!(role_set(org_roles));
                }
                if let Some(assignments) = assignments {
                    invitation.doc["groupRoleAssignments"] = assignment_docs(&assignments);
                }
                if let Some(teams) = teams {
                    invitation.doc["teamIds"] = json!(role_set(teams));
                }
                cx.tx
                    .update(&invitation.collection, &invitation.key, &invitation.doc)?;
                let shown = org_view(cx, &invitation.doc)?;
                Ok(entity(cx, &shown))
            }
            (O::GetOrgInvite, _) => {
                let invitation = find(cx, &org_invites(&org))?;
                let shown = org_view(cx, &invitation.doc)?;
                Ok(entity(cx, &shown))
            }
            (O::DeleteOrgInvite, _) => {
                let id = param(cx.call, "invitationId");
                if !cx.tx.delete(&org_invites(&org), &id)? {
                    for group in groups_of_org(cx.tx, &org)? {
                        if cx.tx.get(&group_invites(&group), &id)?.is_some() {
                            return Err(api_error!(CANNOT_DELETE_GROUP_INVITATION));
                        }
                    }
                    return Err(api_error!(INVALID_INVITATION_ID));
                }
                Ok(Reply::empty(cx.render.status()))
            }
            (O::ListGroupInvites, Some(group)) => {
                let mut items = Vec::new();
                for invitation in group_invitations(cx.tx, &group)? {
                    items.push(group_view(cx, &invitation)?);
                }
                let items = filter_by_query(cx, items, "username", "username");
                Ok(list(cx, items))
            }
            (O::CreateGroupInvite, Some(group)) => {
                let username = body_text(cx, "username").unwrap_or_default();
                let project_roles = body_strings(cx, "roles").unwrap_or_default();
                roles::check_group_roles(project_roles.iter().map(String::as_str))?;
                if let Some(user) = membership::user_by_name(cx.tx, &username)?
                    && cx
                        .tx
                        .get(&membership::project_members(&group), &user.key)?
                        .is_some()
                {
                    return Err(api_error!(USER_ALREADY_EXISTS, username));
                }
                let invitation = invite_to_group(
                    cx.tx,
                    &group,
                    &username,
                    &project_roles,
                    cx.call.principal.name(),
                    cx.now.get(),
                )?;
                let shown = group_view(cx, &invitation)?;
                Ok(entity(cx, &shown))
            }
            (O::UpdateGroupInvites | O::UpdateGroupInviteById, Some(group)) => {
                let mut invitation = if cx.call.op.id == O::UpdateGroupInvites {
                    let username = body_text(cx, "username").unwrap_or_default();
                    by_username(cx.tx, &group_invites(&group), &username)?.ok_or_else(|| {
                        api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str())
                    })?
                } else {
                    find(cx, &group_invites(&group))?
                };
                pending(&invitation, cx.now.get())?;
                if let Some(project_roles) = body_strings(cx, "roles") {
                    roles::check_group_roles(project_roles.iter().map(String::as_str))?;
                    invitation.doc["roles"] = json!(role_set(project_roles));
                }
                cx.tx
                    .update(&invitation.collection, &invitation.key, &invitation.doc)?;
                let shown = group_view(cx, &invitation.doc)?;
                Ok(entity(cx, &shown))
            }
            (O::GetGroupInvite, Some(group)) => {
                let invitation = find(cx, &group_invites(&group))?;
                let shown = group_view(cx, &invitation.doc)?;
                Ok(entity(cx, &shown))
            }
            (O::DeleteGroupInvite, Some(group)) => {
                let id = param(cx.call, "invitationId");
                if !cx.tx.delete(&group_invites(&group), &id)? {
                    if cx.tx.get(&org_invites(&org), &id)?.is_some() {
                        return Err(api_error!(CANNOT_DELETE_ORG_INVITATION));
                    }
                    return Err(api_error!(INVALID_INVITATION_ID));
                }
                Ok(Reply::empty(cx.render.status()))
            }
            (O::AddGroupAccessUser, Some(group)) => add_group_access(cx, &org, &group),
            _ => Err(ApiError::internal("operation not served by invitations")),
        }
    }
}

pub fn org_invites(org_id: &str) -> String {
    format!("/orgs/{org_id}/invites")
}

pub fn group_invites(group_id: &str) -> String {
    format!("/groups/{group_id}/invites")
}

fn find(cx: &mut Ctx<'_>, collection: &str) -> Result<Record, ApiError> {
    cx.tx
        .get(collection, &param(cx.call, "invitationId"))?
        .ok_or_else(|| api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()))
}

/// The invitation of `username` in `collection`.
fn by_username(
    tx: &mut dyn Tx,
    collection: &str,
    username: &str,
) -> Result<Option<Record>, ApiError> {
    let (all, _) = tx.list(collection, Page::ALL)?;
    Ok(all.into_iter().find(|r| {
        !username.is_empty()
            && r.doc["username"]
                .as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(username))
    }))
}

fn is_expired(invitation: &Value, now: OffsetDateTime) -> bool {
    invitation["expiresAt"]
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .is_some_and(|t| t <= now)
}

/// An expired invitation can no longer change (`ALREADY_EXPIRED`).
fn pending(invitation: &Record, now: OffsetDateTime) -> Result<(), ApiError> {
    if is_expired(&invitation.doc, now) {
        return Err(api_error!(ALREADY_EXPIRED));
    }
    Ok(())
}

pub fn org_invitations(tx: &mut dyn Tx, org_id: &str) -> Result<Vec<Value>, ApiError> {
    let (all, _) = tx.list(&org_invites(org_id), Page::ALL)?;
    Ok(all.into_iter().map(|r| r.doc).collect())
}

pub fn group_invitations(tx: &mut dyn Tx, group_id: &str) -> Result<Vec<Value>, ApiError> {
    let (all, _) = tx.list(&group_invites(group_id), Page::ALL)?;
    Ok(all.into_iter().map(|r| r.doc).collect())
}

fn of_user(tx: &mut dyn Tx, collection: &str, user_id: &str) -> Result<Option<Record>, ApiError> {
    let (all, _) = tx.list(collection, Page::ALL)?;
    Ok(all
        .into_iter()
        .find(|r| r.doc["userId"].as_str() == Some(user_id)))
}

/// The pending organization invitation of a user.
pub fn org_invitation_of_user(
    tx: &mut dyn Tx,
    org_id: &str,
    user_id: &str,
) -> Result<Option<Record>, ApiError> {
    of_user(tx, &org_invites(org_id), user_id)
}

/// The pending project invitation of a user.
pub fn group_invitation_of_user(
    tx: &mut dyn Tx,
    group_id: &str,
    user_id: &str,
) -> Result<Option<Record>, ApiError> {
    of_user(tx, &group_invites(group_id), user_id)
}

/// Stored project assignments: `[{groupId, roles}]`.
pub fn assignment_docs(assignments: &[(String, Vec<String>)]) -> Value {
    Value::Array(
        assignments
            .iter()
            .map(|(g, r)| json!({"groupId": g, "roles": role_set(r.iter().cloned())}))
            .collect(),
    )
}

fn assignments_of(invitation: &Value) -> Assignments {
    invitation["groupRoleAssignments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["groupId"].as_str().unwrap_or_default().to_owned(),
                strings(a.get("roles")),
            )
        })
        .collect()
}

/// A user already active in the organization cannot be invited to it.
fn refuse_members(tx: &mut dyn Tx, org_id: &str, username: &str) -> Result<(), ApiError> {
    if let Some(user) = membership::user_by_name(tx, username)?
        && tx.get(&membership::members(org_id), &user.key)?.is_some()
    {
        return Err(api_error!(USER_ALREADY_EXISTS, username));
    }
    Ok(())
}

/// The organization roles, project assignments and teams of an invitation request, checked.
type OrgRequest = (
    Option<Vec<String>>,
    Option<Assignments>,
    Option<Vec<String>>,
);

fn org_request(cx: &mut Ctx<'_>, org_id: &str) -> Result<OrgRequest, ApiError> {
    let org_roles = body_strings(cx, "roles");
    if let Some(org_roles) = &org_roles {
        roles::check_org_roles(org_roles.iter().map(String::as_str))?;
    }
    let assignments = match cx
        .call
        .body
        .as_ref()
        .and_then(|b| b.get("groupRoleAssignments"))
    {
        Some(items) => {
            let mut out = Vec::new();
            for item in items.as_array().into_iter().flatten() {
                let group = item["groupId"].as_str().unwrap_or_default().to_owned();
                let group_roles = strings(item.get("roles"));
                roles::check_group_roles(group_roles.iter().map(String::as_str))?;
                membership::check_group_of_org(cx.tx, org_id, &group)?;
                out.push((group, group_roles));
            }
            Some(out)
        }
        None => None,
    };
    let teams = body_strings(cx, "teamIds");
    if let Some(teams) = &teams {
        membership::check_teams_of_org(cx.tx, org_id, teams)?;
    }
    Ok((org_roles, assignments, teams))
}

/// Invites `username` to an organization (or renews the pending invitation with these roles).
#[allow(clippy::too_many_arguments)] // an invitation is exactly these facts
pub fn invite_to_org(
    tx: &mut dyn Tx,
    org_id: &str,
    username: &str,
    org_roles: &[String],
    assignments: &[(String, Vec<String>)],
    team_ids: &[String],
    inviter: &str,
    now: OffsetDateTime,
) -> Result<Value, ApiError> {
    let scope = json!({
        "orgId": org_id,
        "roles": role_set(org_roles.iter().cloned()),
        "groupRoleAssignments": assignment_docs(assignments),
        "teamIds": role_set(team_ids.iter().cloned()),
    });
    invite(tx, &org_invites(org_id), username, scope, inviter, now)
}

/// Invites `username` to a project (or renews the pending invitation with these roles).
pub fn invite_to_group(
    tx: &mut dyn Tx,
    group_id: &str,
    username: &str,
    project_roles: &[String],
    inviter: &str,
    now: OffsetDateTime,
) -> Result<Value, ApiError> {
    let scope = json!({"groupId": group_id, "roles": role_set(project_roles.iter().cloned())});
    invite(tx, &group_invites(group_id), username, scope, inviter, now)
}

/// Writes the invitation of `username` in `collection` (renewing a pending one: same id, new
/// dates) with the fields of `scope`.
fn invite(
    tx: &mut dyn Tx,
    collection: &str,
    username: &str,
    scope: Value,
    inviter: &str,
    now: OffsetDateTime,
) -> Result<Value, ApiError> {
    let existing = by_username(tx, collection, username)?;
    let id = existing
        .as_ref()
        .map_or_else(|| ids::object_id(now), |r| r.key.clone());
    let mut doc = json!({
        "id": id,
        "username": username,
        "userId": membership::user_id_for(tx, username, now)?,
        "createdAt": atlas_timestamp(now),
        "expiresAt": atlas_timestamp(now + Duration::days(VALID_DAYS)),
        "inviterUsername": inviter,
    });
    if let (Value::Object(doc), Value::Object(scope)) = (&mut doc, scope) {
        doc.extend(scope);
    }
    tx.upsert(collection, &id, &doc)?;
    Ok(doc)
}

fn status(invitation: &Value, now: OffsetDateTime) -> &'static str {
    if is_expired(invitation, now) {
        "INVITATION_EXPIRED"
    } else {
        "PENDING"
    }
}

/// An organization invitation as the 2025 API's pending user (`OrgPendingUserResponse`).
pub fn pending_org_user(invitation: &Value, now: OffsetDateTime) -> Value {
    let assignments: Vec<Value> = assignments_of(invitation)
        .into_iter()
        .map(|(g, r)| json!({"groupId": g, "groupRoles": r}))
        .collect();
    json!({
        "id": invitation["userId"],
        "username": invitation["username"],
        "orgMembershipStatus": status(invitation, now),
        "roles": {"orgRoles": invitation["roles"], "groupRoleAssignments": assignments},
        "teamIds": invitation["teamIds"],
        "invitationCreatedAt": invitation["createdAt"],
        "invitationExpiresAt": invitation["expiresAt"],
        "inviterUsername": invitation["inviterUsername"],
    })
}

/// A project invitation as the 2025 API's pending user (`GroupPendingUserResponse`).
pub fn pending_group_user(invitation: &Value, now: OffsetDateTime) -> Value {
    json!({
        "id": invitation["userId"],
        "username": invitation["username"],
        "orgMembershipStatus": status(invitation, now),
        "roles": invitation["roles"],
        "invitationCreatedAt": invitation["createdAt"],
        "invitationExpiresAt": invitation["expiresAt"],
        "inviterUsername": invitation["inviterUsername"],
    })
}

/// An organization invitation as `OrganizationInvitation` (project roles one per entry).
fn org_view(cx: &mut Ctx<'_>, invitation: &Value) -> Result<Value, ApiError> {
    let org = invitation["orgId"].as_str().unwrap_or_default().to_owned();
    let org_name = cx
        .tx
        .get("/orgs", &org)?
        .and_then(|o| o.doc.get("name").cloned());
    let group_roles: Vec<Value> = assignments_of(invitation)
        .into_iter()
        .flat_map(|(g, r)| {
            r.into_iter()
                .map(move |role| json!({"groupId": g, "groupRole": role}))
        })
        .collect();
    let doc = object(vec![
        ("id", invitation.get("id").cloned()),
        ("username", invitation.get("username").cloned()),
        ("orgId", Some(json!(org))),
        ("orgName", org_name),
        ("roles", invitation.get("roles").cloned()),
        ("groupRoleAssignments", Some(Value::Array(group_roles))),
        ("teamIds", invitation.get("teamIds").cloned()),
        ("createdAt", invitation.get("createdAt").cloned()),
        ("expiresAt", invitation.get("expiresAt").cloned()),
        (
            "inviterUsername",
            invitation.get("inviterUsername").cloned(),
        ),
    ]);
    let id = invitation["id"].as_str().unwrap_or_default();
    Ok(with_self(cx, doc, &format!("{}/{id}", org_invites(&org))))
}

/// A project invitation as `GroupInvitation`.
fn group_view(cx: &mut Ctx<'_>, invitation: &Value) -> Result<Value, ApiError> {
    let group = invitation["groupId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let group_name = cx
        .tx
        .get("/groups", &group)?
        .and_then(|g| g.doc.get("name").cloned());
    let mut doc = invitation.clone();
    if let Value::Object(map) = &mut doc {
        map.remove("userId");
        if let Some(name) = group_name {
            map.insert("groupName".into(), name);
        }
    }
    let id = invitation["id"].as_str().unwrap_or_default();
    Ok(with_self(
        cx,
        doc,
        &format!("{}/{id}", group_invites(&group)),
    ))
}

/// `POST /groups/{groupId}/access` (deprecated): an organization member joins the project at
/// once (204); anyone else gets an organization invitation carrying the project roles (200).
fn add_group_access(cx: &mut Ctx<'_>, org: &str, group: &str) -> Result<Reply, ApiError> {
    let username = body_text(cx, "username").unwrap_or_default();
    let project_roles = body_strings(cx, "roles").unwrap_or_default();
    roles::check_group_roles(project_roles.iter().map(String::as_str))?;
    if let Some(user) = membership::user_by_name(cx.tx, &username)?
        && cx.tx.get(&membership::members(org), &user.key)?.is_some()
    {
        membership::join_group(cx.tx, group, &user.doc, &project_roles)?;
        return Ok(Reply::empty(204));
    }
    let invitation = invite_to_org(
        cx.tx,
        org,
        &username,
        &[],
        &[(group.to_owned(), project_roles)],
        &[],
        cx.call.principal.name(),
        cx.now.get(),
    )?;
    let shown = org_view(cx, &invitation)?;
    Ok(entity(cx, &shown))
}

/// Which invitations to accept.
#[derive(Debug, Clone)]
pub enum Selector {
    Id(String),
    Username(String),
}

/// Accepts pending invitations as their invitee would: the user is created if needed and
/// becomes an active member with the invitations' roles and teams. Returns the user and how many
/// invitations were accepted (0: none matched, or all had expired).
pub fn accept(
    tx: &mut dyn Tx,
    selector: &Selector,
    now: OffsetDateTime,
) -> Result<(Option<Value>, usize), ApiError> {
    let mut user = None;
    let mut accepted = 0;
    let (orgs, _) = tx.list("/orgs", Page::ALL)?;
    for org in orgs {
        for invitation in selected(tx, &org_invites(&org.key), selector, now)? {
            let member = invitee(tx, &invitation, now)?;
            let teams_of_org = format!("/orgs/{}/teams", org.key);
            let teams: Vec<String> = strings(invitation.doc.get("teamIds"))
                .into_iter()
                .filter(|t| matches!(tx.get(&teams_of_org, t), Ok(Some(_))))
                .collect();
            let org_roles = strings(invitation.doc.get("roles"));
            membership::join_org(tx, &org.key, &member, &org_roles, &teams, now)?;
            for (group, group_roles) in assignments_of(&invitation.doc) {
                if tx.get("/groups", &group)?.is_some() {
                    membership::join_group(tx, &group, &member, &group_roles)?;
                }
            }
            tx.delete(&invitation.collection, &invitation.key)?;
            accepted += 1;
            user = Some(member);
        }
    }
    let (groups, _) = tx.list("/groups", Page::ALL)?;
    for group in groups {
        for invitation in selected(tx, &group_invites(&group.key), selector, now)? {
            let member = invitee(tx, &invitation, now)?;
            let org = group.doc["orgId"].as_str().unwrap_or_default().to_owned();
            membership::join_org(tx, &org, &member, &[], &[], now)?;
            membership::join_group(
                tx,
                &group.key,
                &member,
                &strings(invitation.doc.get("roles")),
            )?;
            tx.delete(&invitation.collection, &invitation.key)?;
            accepted += 1;
            user = Some(member);
        }
    }
    Ok((user, accepted))
}

/// The unexpired invitations of `collection` the selector names.
fn selected(
    tx: &mut dyn Tx,
    collection: &str,
    selector: &Selector,
    now: OffsetDateTime,
) -> Result<Vec<Record>, ApiError> {
    let (all, _) = tx.list(collection, Page::ALL)?;
    Ok(all
        .into_iter()
        .filter(|r| match selector {
            Selector::Id(id) => r.key == *id,
            Selector::Username(u) => r.doc["username"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(u)),
        })
        .filter(|r| !is_expired(&r.doc, now))
        .collect())
}

/// The invited user, created when it does not exist yet.
fn invitee(tx: &mut dyn Tx, invitation: &Record, now: OffsetDateTime) -> Result<Value, ApiError> {
    let username = invitation.doc["username"].as_str().unwrap_or_default();
    membership::ensure_user(tx, username, now)
}
