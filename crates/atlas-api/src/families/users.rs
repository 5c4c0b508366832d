//! MongoDB Cloud users: the global user records and their organization and project
//! memberships ("MongoDB Cloud Users", and the deprecated role endpoints).
//!
//! Documents (one source each):
//! - `/users/{id}`: the user (username, names, creation); usernames are unique through the
//!   store claim `username`, which also reserves the id of a user invited before it exists;
//! - `/orgs/{orgId}/users/{id}`: an active membership (`orgRoles`, `teamIds`);
//! - `/groups/{groupId}/users/{id}`: an active project membership (`roles`).
//!
//! Pending users are invitations (`super::invitations`): the 2025 endpoints show an invitation
//! as an `orgMembershipStatus: PENDING` user (`INVITATION_EXPIRED` once it expired) and edit the
//! invitation when they change a pending user. Accepting an invitation is not part of the API
//! (the control API does it), so invited users stay pending. Users authenticate only through
//! session tokens the control API issues.

use atlas_model::OperationId;
use atlas_store::{Page, Record, Tx};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::invitations;
use super::shared::membership::{
    check_group_of_org, check_teams_of_org, ensure_user, find_user, join_group, join_org, members,
    project_members, user_by_name,
};
use super::shared::support::{
    body_strings, body_text, entity, filter_by_query, list, object, param, role_set, with_self,
};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::identity::roles::{self, Assignments, GROUP_OWNER, ORG_OWNER, strings};
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::stages::authorize::{self, groups_of_org, orgs_of};

pub struct Users;

const OPERATIONS: &[OperationId] = &[
    OperationId::CreateUser,
    OperationId::GetUser,
    OperationId::GetUserByName,
    OperationId::ListOrgUsers,
    OperationId::CreateOrgUser,
    OperationId::GetOrgUser,
    OperationId::UpdateOrgUser,
    OperationId::RemoveOrgUser,
    OperationId::UpdateOrgUserRoles,
    OperationId::AddOrgUserRole,
    OperationId::RemoveOrgUserRole,
    OperationId::ListGroupUsers,
    OperationId::AddGroupUsers,
    OperationId::GetGroupUser,
    OperationId::RemoveGroupUser,
    OperationId::UpdateGroupUserRoles,
    OperationId::AddGroupUserRole,
    OperationId::RemoveGroupUserRole,
];

impl Behaviour for Users {
    fn name(&self) -> &'static str {
        "users"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn resolves_own_items(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        use OperationId as O;
        match cx.call.op.id {
            O::CreateUser => create_user(cx),
            O::GetUser => {
                let id = param(cx.call, "userId");
                let user = find_user(cx.tx, &id)?;
                if !visible(cx, &user.key)? {
                    return Err(api_error!(USER_NOT_FOUND, id));
                }
                global_view(cx, &user.doc)
            }
            O::GetUserByName => {
                let name = param(cx.call, "userName");
                let user = user_by_name(cx.tx, &name)?;
                match user {
                    Some(user) if visible(cx, &user.key)? => global_view(cx, &user.doc),
                    _ => Err(api_error!(USERNAME_NOT_FOUND, name)),
                }
            }
            O::ListOrgUsers
            | O::CreateOrgUser
            | O::GetOrgUser
            | O::UpdateOrgUser
            | O::RemoveOrgUser
            | O::UpdateOrgUserRoles
            | O::AddOrgUserRole
            | O::RemoveOrgUserRole => org_operation(cx),
            _ => group_operation(cx),
        }
    }
}

/// Whether the served version is the 2025 users API (pending users, nested role objects).
fn is_new_api(cx: &Ctx<'_>) -> bool {
    cx.call.version >= "2025-02-19"
}

/// Removes a user from an organization: membership, project memberships, team membership.
fn leave_org(tx: &mut dyn Tx, org_id: &str, user_id: &str) -> Result<(), ApiError> {
    for group in groups_of_org(tx, org_id)? {
        tx.delete(&project_members(&group), user_id)?;
    }
    tx.delete(&members(org_id), user_id)?;
    Ok(())
}

/// `[{groupId, groupRoles}]` of an active user's project roles in an organization.
fn group_role_assignments(
    tx: &mut dyn Tx,
    org_id: &str,
    user_id: &str,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for group in groups_of_org(tx, org_id)? {
        if let Some(m) = tx.get(&project_members(&group), user_id)? {
            out.push(json!({"groupId": group, "groupRoles": strings(m.doc.get("roles"))}));
        }
    }
    Ok(out)
}

/// The fields of the user record every active view repeats.
fn profile(tx: &mut dyn Tx, user_id: &str) -> Result<Value, ApiError> {
    Ok(tx
        .get("/users", user_id)?
        .map(|r| r.doc)
        .unwrap_or_default())
}

/// An active organization member as the 2025 API shows it (`OrgActiveUserResponse`).
pub fn org_member_view(
    tx: &mut dyn Tx,
    org_id: &str,
    membership: &Value,
) -> Result<Value, ApiError> {
    let id = membership["id"].as_str().unwrap_or_default().to_owned();
    let assignments = group_role_assignments(tx, org_id, &id)?;
    let roles = json!({
        "orgRoles": strings(membership.get("orgRoles")),
        "groupRoleAssignments": assignments,
    });
    let mut shown = active_view(tx, membership, roles)?;
    shown["teamIds"] = json!(strings(membership.get("teamIds")));
    if let Some(created) = membership.get("createdAt") {
        shown["createdAt"] = created.clone();
    }
    Ok(shown)
}

/// An active user with `roles`, its profile fields and its creation date.
fn active_view(tx: &mut dyn Tx, membership: &Value, roles: Value) -> Result<Value, ApiError> {
    let id = membership["id"].as_str().unwrap_or_default().to_owned();
    let user = profile(tx, &id)?;
    Ok(object(vec![
        ("id", Some(json!(id))),
        ("username", membership.get("username").cloned()),
        ("orgMembershipStatus", Some(json!("ACTIVE"))),
        ("roles", Some(roles)),
        ("createdAt", user.get("createdAt").cloned()),
        ("firstName", user.get("firstName").cloned()),
        ("lastName", user.get("lastName").cloned()),
        ("country", user.get("country").cloned()),
        ("mobileNumber", user.get("mobileNumber").cloned()),
    ]))
}

/// An active project member as the 2025 API shows it (`GroupActiveUserResponse`).
fn group_member_view(tx: &mut dyn Tx, membership: &Value) -> Result<Value, ApiError> {
    active_view(tx, membership, json!(strings(membership.get("roles"))))
}

/// A user as the 2023 API shows it (`CloudAppUser`), with its roles in `orgs` only: a principal
/// never sees another organization's data.
pub fn cloud_app_user(tx: &mut dyn Tx, user: &Value, orgs: &[String]) -> Result<Value, ApiError> {
    let id = user["id"].as_str().unwrap_or_default().to_owned();
    let mut role_list = Vec::new();
    let mut teams = Vec::new();
    for org in orgs {
        let Some(membership) = tx.get(&members(org), &id)? else {
            continue;
        };
        for role in strings(membership.doc.get("orgRoles")) {
            role_list.push(json!({"orgId": org, "roleName": role}));
        }
        teams.extend(strings(membership.doc.get("teamIds")));
        for assignment in group_role_assignments(tx, org, &id)? {
            for role in strings(assignment.get("groupRoles")) {
                role_list.push(json!({"groupId": assignment["groupId"], "roleName": role}));
            }
        }
    }
    let mut doc = user.clone();
    doc["roles"] = Value::Array(role_list);
    doc["teamIds"] = json!(teams);
    Ok(doc)
}

/// Whether the caller may see a user: one that shares an organization with it, or belongs to
/// none (another organization's members are that organization's data).
fn visible(cx: &mut Ctx<'_>, user_id: &str) -> Result<bool, ApiError> {
    let (orgs, _) = cx.tx.list("/orgs", Page::ALL)?;
    let callers = orgs_of(cx.tx, &cx.call.principal)?;
    let mut member_anywhere = false;
    for org in orgs {
        if cx.tx.get(&members(&org.key), user_id)?.is_some() {
            if callers.contains(&org.key) {
                return Ok(true);
            }
            member_anywhere = true;
        }
    }
    Ok(!member_anywhere)
}

fn global_view(cx: &mut Ctx<'_>, user: &Value) -> Result<Reply, ApiError> {
    let orgs = orgs_of(cx.tx, &cx.call.principal)?;
    let doc = cloud_app_user(cx.tx, user, &orgs)?;
    let id = user["id"].as_str().unwrap_or_default().to_owned();
    Ok(entity(cx, &with_self(cx, doc, &format!("/users/{id}"))))
}

/// `POST /users` (deprecated): a new active user; each role it names makes it a member of that
/// organization or project, which the caller must own.
fn create_user(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let username = body_text(cx, "username").unwrap_or_default();
    if user_by_name(cx.tx, &username)?.is_some() {
        return Err(api_error!(USER_ALREADY_EXISTS, username));
    }
    let requested = cx
        .call
        .body
        .as_ref()
        .and_then(|b| b.get("roles"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut grants: Vec<(String, Option<String>, String)> = Vec::new();
    for role in &requested {
        let name = role
            .get("roleName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let org = role.get("orgId").and_then(Value::as_str);
        let group = role.get("groupId").and_then(Value::as_str);
        match (org, group) {
            (Some(org), None) => {
                roles::check_org_roles([name.as_str()])?;
                if cx.tx.get("/orgs", org)?.is_none() {
                    return Err(api_error!(ORG_NOT_FOUND, org));
                }
                grants.push((org.to_owned(), None, name));
            }
            (None, Some(group)) => {
                roles::check_group_roles([name.as_str()])?;
                let project = cx
                    .tx
                    .get("/groups", group)?
                    .ok_or_else(|| api_error!(GROUP_NOT_FOUND, group))?;
                let org = project.doc["orgId"].as_str().unwrap_or_default().to_owned();
                grants.push((org, Some(group.to_owned()), name));
            }
            _ if roles::is_group_role(&name) => return Err(api_error!(ROLE_NEEDS_GROUP_ID, name)),
            _ => return Err(api_error!(ROLE_NEEDS_ORG_ID, name)),
        }
    }
    for (org, group, _) in &grants {
        let owner: &[&str] = if group.is_some() {
            &[GROUP_OWNER]
        } else {
            &[ORG_OWNER]
        };
        if !authorize::require(cx.tx, &cx.call.principal, org, group.as_deref(), owner)? {
            return Err(api_error!(USER_UNAUTHORIZED));
        }
    }
    let mut user = ensure_user(cx.tx, &username, cx.now.get())?;
    for field in [
        "firstName",
        "lastName",
        "country",
        "mobileNumber",
        "emailAddress",
    ] {
        if let Some(value) = body_text(cx, field) {
            user[field] = json!(value);
        }
    }
    let id = user["id"].as_str().unwrap_or_default().to_owned();
    cx.tx.update("/users", &id, &user)?;
    for (org, group, role) in &grants {
        match group {
            None => join_org(
                cx.tx,
                org,
                &user,
                std::slice::from_ref(role),
                &[],
                cx.now.get(),
            )?,
            Some(group) => {
                join_org(cx.tx, org, &user, &[], &[], cx.now.get())?;
                join_group(cx.tx, group, &user, std::slice::from_ref(role))?;
            }
        }
    }
    let orgs = orgs_of(cx.tx, &cx.call.principal)?;
    let doc = cloud_app_user(cx.tx, &user, &orgs)?;
    Ok(entity(cx, &with_self(cx, doc, &format!("/users/{id}"))))
}

/// `roles.groupRoleAssignments` of a 2025 request: `[(groupId, roles)]`, checked.
fn requested_assignments(cx: &mut Ctx<'_>, org_id: &str) -> Result<Option<Assignments>, ApiError> {
    let Some(items) = cx
        .call
        .body
        .as_ref()
        .and_then(|b| b.pointer("/roles/groupRoleAssignments"))
        .and_then(Value::as_array)
        .cloned()
    else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for item in items {
        let group = item
            .get("groupId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let group_roles = strings(item.get("groupRoles"));
        roles::check_group_roles(group_roles.iter().map(String::as_str))?;
        check_group_of_org(cx.tx, org_id, &group)?;
        out.push((group, group_roles));
    }
    Ok(Some(out))
}

fn org_operation(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    use OperationId as O;
    let org = cx.scope.org_id.clone().unwrap_or_default();
    let user_id = param(cx.call, "userId");
    match cx.call.op.id {
        O::ListOrgUsers => {
            let pending = invitations::org_invitations(cx.tx, &org)?;
            let (active, _) = cx.tx.list(&members(&org), Page::ALL)?;
            let active = active.into_iter().map(|m| m.doc).collect();
            let active_view = |tx: &mut dyn Tx, m: &Value| org_member_view(tx, &org, m);
            users_list(
                cx,
                &org,
                active,
                active_view,
                pending,
                invitations::pending_org_user,
            )
        }
        O::CreateOrgUser => {
            let username = body_text(cx, "username").unwrap_or_default();
            let org_roles = cx
                .call
                .body
                .as_ref()
                .and_then(|b| b.pointer("/roles/orgRoles"))
                .map(|r| strings(Some(r)))
                .unwrap_or_default();
            let assignments = requested_assignments(cx, &org)?.unwrap_or_default();
            let teams = body_strings(cx, "teamIds").unwrap_or_default();
            check_teams_of_org(cx.tx, &org, &teams)?;
            if let Some(user) = user_by_name(cx.tx, &username)?
                && cx.tx.get(&members(&org), &user.key)?.is_some()
            {
                return Err(api_error!(USER_ALREADY_EXISTS, username));
            }
            let invitation = invitations::invite_to_org(
                cx.tx,
                &org,
                &username,
                &org_roles,
                &assignments,
                &teams,
                cx.call.principal.name(),
                cx.now.get(),
            )?;
            Ok(entity(
                cx,
                &invitations::pending_org_user(&invitation, cx.now.get()),
            ))
        }
        O::GetOrgUser => {
            let shown = org_user(cx, &org, &user_id)?;
            Ok(entity(cx, &shown))
        }
        O::UpdateOrgUser => {
            let org_roles = cx
                .call
                .body
                .as_ref()
                .and_then(|b| b.pointer("/roles/orgRoles"))
                .map(|r| strings(Some(r)));
            let assignments = requested_assignments(cx, &org)?;
            let teams = body_strings(cx, "teamIds");
            if let Some(teams) = &teams {
                check_teams_of_org(cx.tx, &org, teams)?;
            }
            if let Some(mut membership) = cx.tx.get(&members(&org), &user_id)? {
                if let Some(org_roles) = org_roles {
                    membership.doc["orgRoles"] = json!(role_set(org_roles));
                }
                if let Some(teams) = teams {
                    membership.doc["teamIds"] = json!(role_set(teams));
                }
                cx.tx
                    .update(&membership.collection, &membership.key, &membership.doc)?;
                for (group, group_roles) in assignments.unwrap_or_default() {
                    if group_roles.is_empty() {
                        cx.tx.delete(&project_members(&group), &user_id)?;
                    } else {
                        let doc = json!({"id": user_id, "username": membership.doc["username"], "roles": role_set(group_roles)});
                        cx.tx.upsert(&project_members(&group), &user_id, &doc)?;
                    }
                }
            } else {
                let mut invitation = invitations::org_invitation_of_user(cx.tx, &org, &user_id)?
                    .ok_or_else(|| api_error!(USER_NOT_FOUND, user_id.as_str()))?;
                if let Some(org_roles) = org_roles {
                    invitation.doc["roles"] = json!(role_set(org_roles));
                }
                if let Some(teams) = teams {
                    invitation.doc["teamIds"] = json!(role_set(teams));
                }
                if let Some(assignments) = assignments {
                    invitation.doc["groupRoleAssignments"] =
                        invitations::assignment_docs(&assignments);
                }
                cx.tx
                    .update(&invitation.collection, &invitation.key, &invitation.doc)?;
            }
            let shown = org_user(cx, &org, &user_id)?;
            Ok(entity(cx, &shown))
        }
        O::RemoveOrgUser => {
            if cx.tx.get(&members(&org), &user_id)?.is_some() {
                leave_org(cx.tx, &org, &user_id)?;
            } else {
                let invitation = invitations::org_invitation_of_user(cx.tx, &org, &user_id)?
                    .ok_or_else(|| api_error!(USER_NOT_FOUND, user_id.as_str()))?;
                cx.tx.delete(&invitation.collection, &invitation.key)?;
            }
            Ok(Reply::empty(cx.render.status()))
        }
        O::UpdateOrgUserRoles => {
            let membership = active_member(cx.tx, &org, &user_id)?;
            let check = |r: &[String]| roles::check_org_roles(r.iter().map(String::as_str));
            replace_roles(cx, membership, ("orgRoles", "orgRoles"), check)
        }
        _ => {
            // `:addRole` / `:removeRole` on an active member or a pending invitation.
            let role = body_text(cx, "orgRole").unwrap_or_default();
            let add = cx.call.op.id == O::AddOrgUserRole;
            let (record, field) = match cx.tx.get(&members(&org), &user_id)? {
                Some(m) => (m, "orgRoles"),
                None => (
                    invitations::org_invitation_of_user(cx.tx, &org, &user_id)?
                        .ok_or_else(|| api_error!(USER_NOT_FOUND, user_id.as_str()))?,
                    "roles",
                ),
            };
            let mut record = record;
            record.doc[field] = json!(toggle(strings(record.doc.get(field)), &role, add));
            cx.tx.update(&record.collection, &record.key, &record.doc)?;
            let shown = org_user(cx, &org, &user_id)?;
            Ok(entity(cx, &shown))
        }
    }
}

/// A list of users in the served version: the `active` members (2023: as `CloudAppUser` with
/// their roles in `org`), and in the 2025 API the pending invitees too; filtered by the
/// `username` and `orgMembershipStatus` query parameters.
fn users_list(
    cx: &mut Ctx<'_>,
    org: &str,
    active: Vec<Value>,
    active_view: impl Fn(&mut dyn Tx, &Value) -> Result<Value, ApiError>,
    pending: Vec<Value>,
    pending_view: fn(&Value, OffsetDateTime) -> Value,
) -> Result<Reply, ApiError> {
    let mut items = Vec::new();
    if is_new_api(cx) {
        for m in &active {
            items.push(active_view(cx.tx, m)?);
        }
        items.extend(pending.iter().map(|i| pending_view(i, cx.now.get())));
        items = filter_by_query(cx, items, "orgMembershipStatus", "orgMembershipStatus");
    } else {
        for m in &active {
            let id = m["id"].as_str().unwrap_or_default().to_owned();
            let user = profile(cx.tx, &id)?;
            let doc = cloud_app_user(cx.tx, &user, &[org.to_owned()])?;
            items.push(with_self(cx, doc, &format!("/users/{id}")));
        }
    }
    let items = filter_by_query(cx, items, "username", "username");
    Ok(list(cx, items))
}

/// The deprecated `PUT …/users/{userId}/roles`: the membership's roles (stored in `fields.1`)
/// become the body's `fields.0`, answered as `{fields.0: roles, links}`.
fn replace_roles(
    cx: &mut Ctx<'_>,
    mut membership: Record,
    (body_field, stored): (&str, &str),
    check: impl Fn(&[String]) -> Result<(), ApiError>,
) -> Result<Reply, ApiError> {
    let requested = body_strings(cx, body_field).unwrap_or_default();
    check(&requested)?;
    membership.doc[stored] = json!(role_set(requested));
    cx.tx
        .update(&membership.collection, &membership.key, &membership.doc)?;
    let shown = json!({ body_field: membership.doc[stored] });
    let path = format!("{}/{}/roles", membership.collection, membership.key);
    Ok(entity(cx, &with_self(cx, shown, &path)))
}

/// `roles` with `role` added or removed.
fn toggle(mut held: Vec<String>, role: &str, add: bool) -> Vec<String> {
    if add {
        held.push(role.to_owned());
    } else {
        held.retain(|r| r != role);
    }
    role_set(held)
}

fn active_member(tx: &mut dyn Tx, org_id: &str, user_id: &str) -> Result<Record, ApiError> {
    match tx.get(&members(org_id), user_id)? {
        Some(m) => Ok(m),
        None if tx.get("/users", user_id)?.is_some() => {
            Err(api_error!(USER_NOT_IN_ORG, user_id, org_id))
        }
        None => Err(api_error!(USER_NOT_FOUND, user_id)),
    }
}

/// An organization's user, active or pending, as the 2025 API shows it.
fn org_user(cx: &mut Ctx<'_>, org_id: &str, user_id: &str) -> Result<Value, ApiError> {
    if let Some(m) = cx.tx.get(&members(org_id), user_id)? {
        return org_member_view(cx.tx, org_id, &m.doc);
    }
    match invitations::org_invitation_of_user(cx.tx, org_id, user_id)? {
        Some(invitation) => Ok(invitations::pending_org_user(&invitation.doc, cx.now.get())),
        None => Err(api_error!(USER_NOT_FOUND, user_id)),
    }
}

/// A project's user, active or pending, as the 2025 API shows it.
fn group_user(cx: &mut Ctx<'_>, group_id: &str, user_id: &str) -> Result<Value, ApiError> {
    if let Some(m) = cx.tx.get(&project_members(group_id), user_id)? {
        return group_member_view(cx.tx, &m.doc);
    }
    match invitations::group_invitation_of_user(cx.tx, group_id, user_id)? {
        Some(invitation) => Ok(invitations::pending_group_user(
            &invitation.doc,
            cx.now.get(),
        )),
        None => Err(api_error!(USER_NOT_FOUND, user_id)),
    }
}

/// A project's active users: its members, and with `flattenTeams=true` the members of its teams
/// (with the teams' roles), with `includeOrgUsers=true` the organization members whose
/// organization role gives them the project (Organization Owner, Read Only …).
fn project_users(cx: &mut Ctx<'_>, org: &str, group: &str) -> Result<Vec<Value>, ApiError> {
    let (direct, _) = cx.tx.list(&project_members(group), Page::ALL)?;
    let mut users: Vec<Value> = direct.into_iter().map(|m| m.doc).collect();
    let flatten = cx.call.flag("flattenTeams", false);
    let include_org = cx.call.flag("includeOrgUsers", false);
    if !flatten && !include_org {
        return Ok(users);
    }
    let (team_roles, _) = cx.tx.list(&format!("/groups/{group}/teams"), Page::ALL)?;
    let (members_of_org, _) = cx.tx.list(&members(org), Page::ALL)?;
    for member in members_of_org {
        let mut held = Vec::new();
        if flatten {
            let teams = strings(member.doc.get("teamIds"));
            for assignment in team_roles.iter().filter(|t| teams.contains(&t.key)) {
                held.extend(strings(assignment.doc.get("roleNames")));
            }
        }
        if include_org {
            for org_role in strings(member.doc.get("orgRoles")) {
                match org_role.as_str() {
                    ORG_OWNER => held.push(GROUP_OWNER.to_owned()),
                    roles::ORG_READ_ONLY => held.push(roles::GROUP_READ_ONLY.to_owned()),
                    roles::ORG_STREAM_PROCESSING_ADMIN => {
                        held.push(roles::GROUP_STREAM_PROCESSING_OWNER.to_owned());
                    }
                    _ => {}
                }
            }
        }
        if held.is_empty() {
            continue;
        }
        match users.iter_mut().find(|u| u["id"] == member.doc["id"]) {
            Some(user) => {
                held.extend(strings(user.get("roles")));
                user["roles"] = json!(role_set(held));
            }
            None => users.push(json!({
                "id": member.doc["id"], "username": member.doc["username"], "roles": role_set(held),
            })),
        }
    }
    Ok(users)
}

fn group_operation(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    use OperationId as O;
    let org = cx.scope.org_id.clone().unwrap_or_default();
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let user_id = param(cx.call, "userId");
    match cx.call.op.id {
        O::ListGroupUsers => {
            let pending = invitations::group_invitations(cx.tx, &group)?;
            let active = project_users(cx, &org, &group)?;
            let active_view = |tx: &mut dyn Tx, m: &Value| group_member_view(tx, m);
            users_list(
                cx,
                &org,
                active,
                active_view,
                pending,
                invitations::pending_group_user,
            )
        }
        O::AddGroupUsers => {
            let username = body_text(cx, "username").unwrap_or_default();
            let project_roles = body_strings(cx, "roles").unwrap_or_default();
            roles::check_group_roles(project_roles.iter().map(String::as_str))?;
            let member = match user_by_name(cx.tx, &username)? {
                Some(user) if cx.tx.get(&members(&org), &user.key)?.is_some() => Some(user),
                _ => None,
            };
            let shown = match member {
                Some(user) => {
                    let doc = join_group(cx.tx, &group, &user.doc, &project_roles)?;
                    group_member_view(cx.tx, &doc)?
                }
                None => {
                    let invitation = invitations::invite_to_group(
                        cx.tx,
                        &group,
                        &username,
                        &project_roles,
                        cx.call.principal.name(),
                        cx.now.get(),
                    )?;
                    invitations::pending_group_user(&invitation, cx.now.get())
                }
            };
            Ok(entity(cx, &shown))
        }
        O::GetGroupUser => {
            let shown = group_user(cx, &group, &user_id)?;
            Ok(entity(cx, &shown))
        }
        O::RemoveGroupUser => {
            if !cx.tx.delete(&project_members(&group), &user_id)? {
                let invitation = invitations::group_invitation_of_user(cx.tx, &group, &user_id)?
                    .ok_or_else(|| {
                        api_error!(USER_NOT_IN_GROUP, user_id.as_str(), group.as_str())
                    })?;
                cx.tx.delete(&invitation.collection, &invitation.key)?;
            }
            Ok(Reply::empty(cx.render.status()))
        }
        O::UpdateGroupUserRoles => {
            let membership = cx
                .tx
                .get(&project_members(&group), &user_id)?
                .ok_or_else(|| api_error!(USER_NOT_IN_GROUP, user_id.as_str(), group.as_str()))?;
            let check = |r: &[String]| roles::check_group_roles(r.iter().map(String::as_str));
            replace_roles(cx, membership, ("groupRoles", "roles"), check)
        }
        _ => {
            let role = body_text(cx, "groupRole").unwrap_or_default();
            roles::check_group_roles([role.as_str()])?;
            let add = cx.call.op.id == O::AddGroupUserRole;
            let mut record = match cx.tx.get(&project_members(&group), &user_id)? {
                Some(m) => m,
                None => invitations::group_invitation_of_user(cx.tx, &group, &user_id)?
                    .ok_or_else(|| {
                        api_error!(USER_NOT_IN_GROUP, user_id.as_str(), group.as_str())
                    })?,
            };
            record.doc["roles"] = json!(toggle(strings(record.doc.get("roles")), &role, add));
            cx.tx.update(&record.collection, &record.key, &record.doc)?;
            let shown = group_user(cx, &group, &user_id)?;
            Ok(entity(cx, &shown))
        }
    }
}
