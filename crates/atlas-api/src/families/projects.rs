//! Projects (`/groups`): create, list, get by id or name, rename, delete, and the org's list.
//!
//! Project names are unique within their organization, enforced by a store claim (scope
//! `groupName:<orgId>`), so concurrent creates on several instances cannot both win. Lists show
//! only the projects the caller may see; creating one needs Organization Project Creator (or
//! Owner) in the target organization, and a creator who does not own the organization becomes
//! Project Owner of what it created.

use atlas_model::OperationId;
use atlas_store::{Page, Record, StoreError, Tx};
use serde_json::{Map, Value, json};

use super::{api_keys, events, service_accounts};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::families::shared::membership;
use crate::identity::roles;
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle;
use crate::kernel::paging::Paging;
use crate::kernel::paths::segment;
use crate::kernel::principal::Principal;
use crate::stages::authorize;
use atlas_model::API_PREFIX;

pub struct Projects;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroups,
    OperationId::CreateGroup,
    OperationId::GetGroup,
    OperationId::GetGroupByName,
    OperationId::UpdateGroup,
    OperationId::DeleteGroup,
    OperationId::GetOrgGroups,
];

impl Behaviour for Projects {
    fn name(&self) -> &'static str {
        "projects"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        match cx.call.op.id {
            OperationId::ListGroups => list(cx, None),
            OperationId::GetOrgGroups => {
                let org = cx.scope.org_id.clone().unwrap_or_default();
                list(cx, Some(&org))
            }
            OperationId::CreateGroup => create(cx),
            OperationId::GetGroup => {
                let group = current(cx)?;
                Ok(Reply::json(200, render(cx, &group)?))
            }
            OperationId::GetGroupByName => by_name(cx),
            OperationId::UpdateGroup => update(cx),
            OperationId::DeleteGroup => delete(cx),
            _ => Err(ApiError::internal("operation not served by projects")),
        }
    }
}

/// The claim scope that keeps project names unique within an organization.
pub fn name_scope(org_id: &str) -> String {
    format!("groupName:{org_id}")
}

/// Creates a project document (used by the API and by bootstrap).
pub fn insert(
    tx: &mut dyn Tx,
    id: &str,
    name: &str,
    org_id: &str,
    created: &str,
    extra: Map<String, Value>,
) -> Result<Value, ApiError> {
    let owner = format!("/groups/{id}");
    match tx.claim(&name_scope(org_id), name, &owner) {
        Ok(()) => {}
        Err(StoreError::Duplicate(_)) => return Err(api_error!(GROUP_ALREADY_EXISTS, name)),
        Err(e) => return Err(e.into()),
    }
    let mut doc = extra;
    doc.insert("id".into(), json!(id));
    doc.insert("name".into(), json!(name));
    doc.insert("orgId".into(), json!(org_id));
    doc.insert("created".into(), json!(created));
    doc.entry("withDefaultAlertsSettings")
        .or_insert(json!(true));
    let doc = Value::Object(doc);
    tx.insert("/groups", id, &doc)?;
    Ok(doc)
}

fn create(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let mut body = cx.call.body_object();
    let name = body
        .remove("name")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let org_id = body
        .remove("orgId")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    if cx.tx.get("/orgs", &segment(&org_id))?.is_none() {
        return Err(api_error!(ORG_NOT_FOUND, org_id));
    }
    // The spec's 401 example for this operation (semantics §5.3).
    let principal = &cx.call.principal;
    if !authorize::require(cx.tx, principal, &org_id, None, &[roles::ORG_GROUP_CREATOR])? {
        return Err(api_error!(NOT_ORG_GROUP_CREATOR, org_id));
    }
    let project_owner =
        membership::project_owner(cx.tx, &org_id, cx.call.query_param("projectOwnerId"))?;
    let id = ids::object_id(cx.now.get());
    let doc = insert(
        cx.tx,
        &id,
        &name,
        &org_id,
        &atlas_timestamp(cx.now.get()),
        body,
    )?;
    if let Some(user) = &project_owner {
        membership::join_group(cx.tx, &id, user, &[roles::GROUP_OWNER.to_owned()])?;
    }
    if !authorize::require(cx.tx, principal, &org_id, None, &[roles::ORG_OWNER])? {
        let owner = [roles::GROUP_OWNER.to_owned()];
        match principal {
            Principal::ApiKey { id: key, .. } => api_keys::assign(cx.tx, &id, key, &owner)?,
            Principal::ServiceAccount { client_id, .. } => {
                service_accounts::assign(cx.tx, &id, client_id, &owner)?;
            }
            Principal::User { id: user, username } => {
                membership::join_group(
                    cx.tx,
                    &id,
                    &json!({"id": user, "username": username}),
                    &owner,
                )?;
            }
            Principal::Anonymous => {}
        }
    }
    org_event(cx, &org_id, &id, "GROUP_CREATED")?;
    Ok(Reply::json(cx.render.status(), render(cx, &doc)?))
}

/// The project the path names (the scope stage already loaded it).
fn current(cx: &Ctx<'_>) -> Result<Value, ApiError> {
    cx.scope
        .group
        .clone()
        .ok_or_else(|| ApiError::internal("project scope not resolved"))
}

fn by_name(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let name = cx
        .call
        .path_param("groupName")
        .unwrap_or_default()
        .to_owned();
    // Names are unique per organization: look in the caller's organizations.
    let mut found = None;
    for org in authorize::orgs_of(cx.tx, &cx.call.principal)? {
        let owner = cx.tx.claimant(&name_scope(&org), &name)?;
        if let Some(id) = owner.as_deref().and_then(|o| o.strip_prefix("/groups/"))
            && let Some(record) = cx.tx.get("/groups", id)?
        {
            found = Some(record);
            break;
        }
    }
    let record = found.ok_or_else(|| api_error!(GROUP_NAME_NOT_FOUND, name.as_str()))?;
    if !authorize::can_see_group(cx.tx, &cx.call.principal, &record.doc)? {
        return Err(api_error!(USER_UNAUTHORIZED));
    }
    Ok(Reply::json(200, render(cx, &record.doc)?))
}

/// The projects the caller may see (of one organization, or all).
fn list(cx: &mut Ctx<'_>, org_id: Option<&str>) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let (all, _) = cx.tx.list("/groups", Page::ALL)?;
    let mut visible: Vec<Record> = Vec::new();
    for record in all {
        let in_org =
            org_id.is_none_or(|o| record.doc.get("orgId").and_then(Value::as_str) == Some(o));
        if in_org && authorize::can_see_group(cx.tx, &cx.call.principal, &record.doc)? {
            visible.push(record);
        }
    }
    let total = visible.len() as u64;
    let mut results = Vec::new();
    for record in paging.slice(&visible) {
        results.push(render_bare(cx, &record.doc)?);
    }
    let body = paging.body(cx.call, results, total);
    Ok(Reply::json(200, cx.render.fit_owned(body)))
}

fn update(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let mut group = current(cx)?;
    let id = cx.scope.group_id.clone().unwrap_or_default();
    let org = cx.scope.org_id.clone().unwrap_or_default();
    let body = cx.call.body_object();
    if let Some(name) = body.get("name").and_then(Value::as_str)
        && group.get("name").and_then(Value::as_str) != Some(name)
    {
        let scope = name_scope(&org);
        let owner = format!("/groups/{id}");
        cx.tx.release(&scope, &owner)?;
        match cx.tx.claim(&scope, name, &owner) {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(api_error!(GROUP_ALREADY_EXISTS, name)),
            Err(e) => return Err(e.into()),
        }
    }
    if let Value::Object(doc) = &mut group {
        for (k, v) in body {
            doc.insert(k, v);
        }
    }
    cx.tx.update("/groups", &id, &group)?;
    Ok(Reply::json(200, render(cx, &group)?))
}

fn delete(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let id = cx.scope.group_id.clone().unwrap_or_default();
    let base = format!("/groups/{id}");
    // Atlas refuses to close a project that still has clusters, private endpoint services or
    // stream instances (semantics §9).
    if active_clusters(cx, &id)? > 0 {
        // The reads that settled the clusters stand even though the close is refused.
        return Err(api_error!(CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_CLUSTERS).keeping_writes());
    }
    if super::private_endpoints::active_services(cx)? > 0 {
        return Err(
            api_error!(CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_PRIVATE_ENDPOINT_SERVICES).keeping_writes(),
        );
    }
    if super::streams::instance_count(cx)? > 0 {
        return Err(api_error!(CANNOT_CLOSE_GROUP_ACTIVE_STREAMS_RESOURCE).keeping_writes());
    }
    cx.tx.delete("/groups", &id)?;
    cx.tx.delete_tree(&base)?;
    let org = cx.scope.org_id.clone().unwrap_or_default();
    org_event(cx, &org, &id, "GROUP_DELETED")?;
    // Recorded: DELETE /groups/{id} answers 202 with the body `{}`.
    Ok(Reply::json(cx.render.status(), json!({})))
}

fn cluster_count(tx: &mut dyn Tx, group_id: &str) -> Result<u64, ApiError> {
    let empty = Page {
        offset: 0,
        limit: 0,
    };
    let (_, clusters) = tx.list(&format!("/groups/{group_id}/clusters"), empty)?;
    Ok(clusters)
}

/// Records a project lifecycle event in the organization's event log.
fn org_event(
    cx: &mut Ctx<'_>,
    org_id: &str,
    group_id: &str,
    event_type: &str,
) -> Result<(), ApiError> {
    let mut details = Map::new();
    details.insert("groupId".into(), json!(group_id));
    events::record(
        cx.tx,
        cx.call,
        cx.now.get(),
        events::Target::Organization { org_id },
        event_type,
        details,
    )
}

/// Clusters (dedicated and flex) that still exist, settling their lifecycles first: closing a
/// project reads its clusters, so a deletion that has completed no longer blocks it.
fn active_clusters(cx: &mut Ctx<'_>, group_id: &str) -> Result<u64, ApiError> {
    let mut count = 0;
    for kind in ["clusters", "flexClusters"] {
        let collection = format!("/groups/{group_id}/{kind}");
        let (records, _) = cx.tx.list(&collection, Page::ALL)?;
        for record in records {
            let settled = lifecycle::settle(
                cx.tx,
                cx.lifecycle,
                &collection,
                &record.key,
                record.doc,
                &cx.now,
            )?;
            if matches!(settled, lifecycle::Settled::Present(_)) {
                count += 1;
            }
        }
    }
    Ok(count)
}

/// A project document with its computed fields and links, before fitting.
fn render_bare(cx: &mut Ctx<'_>, group: &Value) -> Result<Value, ApiError> {
    let mut doc = group.clone();
    let id = group
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let count = cluster_count(cx.tx, &id)?;
    if let Value::Object(map) = &mut doc {
        map.insert("clusterCount".into(), json!(count));
        map.insert("links".into(), links(&cx.call.origin.base_url, &id));
    }
    Ok(doc)
}

fn render(cx: &mut Ctx<'_>, group: &Value) -> Result<Value, ApiError> {
    let doc = render_bare(cx, group)?;
    Ok(cx.render.fit(&doc))
}

/// The link set Atlas returns on a project (recorded: self plus the related collections).
fn links(base_url: &str, id: &str) -> Value {
    let href = format!("{base_url}{API_PREFIX}/groups/{id}");
    let mut links = vec![json!({"href": href, "rel": "self"})];
    for related in [
        "containers",
        "clusters",
        "databaseUsers",
        "peers",
        "processes",
        "whitelist",
    ] {
        let target = if related == "whitelist" {
            "accessList"
        } else {
            related
        };
        links.push(json!({
            "href": format!("{href}/{target}"),
            "rel": format!("https://cloud.mongodb.com/{related}"),
        }));
    }
    Value::Array(links)
}
