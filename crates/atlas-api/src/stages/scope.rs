//! Resolving the organization and project a call addresses, and checking that every parent named
//! in its path exists (404 with the family's code, e.g. `GROUP_NOT_FOUND`, `CLUSTER_NOT_FOUND`).

use atlas_model::Shape;
use atlas_store::Tx;
use serde_json::Value;

use crate::api_error;
use crate::kernel::call::Call;
use crate::kernel::error::ApiError;
use crate::kernel::paths::{concrete, segment};
use crate::kernel::resources::{ResourceIndex, relative};

/// The organization and project a call runs in, when its path names them.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub org_id: Option<String>,
    pub group_id: Option<String>,
    /// The project document, when the path names a project.
    pub group: Option<Value>,
}

/// Loads the addressed project/organization (404 when missing).
pub fn resolve(tx: &mut dyn Tx, call: &Call) -> Result<Scope, ApiError> {
    let mut scope = Scope::default();
    if let Some(group_id) = call.path_param("groupId") {
        let group = tx
            .get("/groups", &segment(group_id))?
            .ok_or_else(|| api_error!(GROUP_NOT_FOUND, group_id))?;
        scope.org_id = group
            .doc
            .get("orgId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        scope.group_id = Some(group_id.to_owned());
        scope.group = Some(group.doc);
    }
    if let Some(org_id) = call.path_param("orgId") {
        if tx.get("/orgs", &segment(org_id))?.is_none() {
            return Err(api_error!(ORG_NOT_FOUND, org_id));
        }
        scope.org_id = Some(org_id.to_owned());
    }
    Ok(scope)
}

/// Every `{param}` of the path that names an item of a stored collection (other than the
/// operation's own target) must exist. Runs after authorization: a principal without the role
/// learns nothing about what exists (semantics §3.4: roles, then resource lookup).
pub fn check_parents(tx: &mut dyn Tx, call: &Call) -> Result<(), ApiError> {
    let index = ResourceIndex::global();
    let rel = relative(call.op.path);
    let segments: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    // A create at a key (`POST /integrations/{integrationType}`) targets its own item too.
    let target_is_item = matches!(
        call.op.shape,
        Shape::ItemGet
            | Shape::ItemUpdatePatch
            | Shape::ItemReplacePut
            | Shape::ItemDelete
            | Shape::CollectionCreate
    ) && rel.len() > call.op.resource.len()
        && rel.starts_with(call.op.resource);
    let target_depth = call
        .op
        .resource
        .split('/')
        .filter(|s| !s.is_empty())
        .count();
    for (i, seg) in segments.iter().enumerate() {
        // `{clusterName}:pause` names the cluster the action runs on: a parent too.
        let param = seg
            .strip_prefix('{')
            .and_then(|s| s.split_once('}'))
            .map(|(name, _)| name);
        let Some(param) = param else { continue };
        if matches!(param, "groupId" | "orgId") {
            continue;
        }
        // The operation's own item is looked up by the handler, not here.
        if target_is_item && i >= target_depth {
            break;
        }
        let collection_template = format!("/{}", segments[..i].join("/"));
        let Some(resource) = index.get(&collection_template) else {
            continue;
        };
        if !resource.is_stored_collection() || resource.item_params.len() != 1 {
            continue;
        }
        // Two names share some slots (`{clusterName}` vs `{hostName}`): only the collection's
        // own item parameter names one of its items.
        if resource.item_params[0] != param {
            continue;
        }
        let (Some(collection), Some(value)) = (
            concrete(&collection_template, call, &|_| None),
            call.path_param(param),
        ) else {
            continue;
        };
        if tx.get(&collection, &segment(value))?.is_none() {
            return Err(
                other_kind_of_cluster(tx, &collection_template, call, value)?
                    .unwrap_or_else(|| not_found(&collection_template, call, value)),
            );
        }
    }
    Ok(())
}

/// A cluster addressed through the other API: a flex cluster under `/clusters/{name}/...`, a
/// dedicated one under `/flexClusters/{name}/...` (semantics §9: the CLI and Terraform key on
/// these codes).
fn other_kind_of_cluster(
    tx: &mut dyn Tx,
    collection_template: &str,
    call: &Call,
    name: &str,
) -> Result<Option<ApiError>, ApiError> {
    let group = call.path_param("groupId").unwrap_or_default();
    let (other, error) = match collection_template {
        "/groups/{groupId}/clusters" => (
            "flexClusters",
            api_error!(CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API, name),
        ),
        "/groups/{groupId}/flexClusters" => (
            "clusters",
            api_error!(CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API, name),
        ),
        _ => return Ok(None),
    };
    let found = tx
        .get(
            &format!("/groups/{}/{other}", segment(group)),
            &segment(name),
        )?
        .is_some();
    Ok(found.then_some(error))
}

/// The family's not-found answer for a missing item of `collection_template`.
pub fn not_found(collection_template: &str, call: &Call, key: &str) -> ApiError {
    let group = call.path_param("groupId").unwrap_or_default();
    match collection_template {
        "/groups" => api_error!(GROUP_NOT_FOUND, key),
        "/orgs" => api_error!(ORG_NOT_FOUND, key),
        "/groups/{groupId}/clusters"
        | "/groups/{groupId}/flexClusters"
        | "/groups/{groupId}/serverless" => {
            api_error!(CLUSTER_NOT_FOUND, key, group)
        }
        "/orgs/{orgId}/apiKeys" | "/groups/{groupId}/apiKeys" => api_error!(API_KEY_NOT_FOUND, key),
        "/orgs/{orgId}/teams" | "/groups/{groupId}/teams" => api_error!(TEAM_NOT_FOUND, key),
        // Recorded: a missing service account is `RESOURCE_NOT_FOUND` naming the client id (§3.3).
        "/orgs/{orgId}/serviceAccounts" | "/groups/{groupId}/serviceAccounts" => {
            api_error!(RESOURCE_NOT_FOUND, key)
        }
        "/users" | "/orgs/{orgId}/users" | "/groups/{groupId}/users" => {
            api_error!(USER_NOT_FOUND, key)
        }
        // A database user is keyed `databaseName/username`; Atlas names the username only, and
        // clients match the code (the Go SDK's IsErrorCode, the CLI's and provider's lookups).
        "/groups/{groupId}/databaseUsers" => {
            let username = call.path_param("username").unwrap_or(key);
            api_error!(USERNAME_NOT_FOUND, username)
        }
        "/groups/{groupId}/streams" => api_error!(STREAM_TENANT_NOT_FOUND_FOR_NAME, key, group),
        "/groups/{groupId}/privateEndpoint/{cloudProvider}/endpointService" => {
            api_error!(PRIVATELINK_NOT_FOUND, key)
        }
        "/groups/{groupId}/dataFederation" => {
            api_error!(DATA_FEDERATION_TENANT_NOT_FOUND_FOR_NAME, group, key)
        }
        _ => api_error!(RESOURCE_NOT_FOUND, call.origin.path.as_str()),
    }
}
