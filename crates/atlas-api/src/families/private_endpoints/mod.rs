//! Private endpoint services (`/groups/{groupId}/privateEndpoint/...`): one Atlas-side endpoint
//! service per cloud provider and region (AWS PrivateLink, Azure Private Link, GCP Private
//! Service Connect), the customer's endpoints connected to it ([`endpoints`]), and the project's
//! regional mode.
//!
//! A service is created at the provider-less `/privateEndpoint/endpointService` (201, recorded)
//! and lives under its provider: `INITIATING` while Atlas builds it, `AVAILABLE` once ready, when
//! it shows the provider's names (AWS `endpointServiceName`, Azure `privateLinkServiceName`, GCP
//! `serviceAttachmentNames`; `null` before, as recorded). Deleting answers 202 `{}` and shows
//! `DELETING` until it is gone (semantics §7.5, §8). A service with endpoints cannot be deleted,
//! and a project with services cannot be closed.

pub mod endpoints;
mod provider;

use atlas_model::OperationId;
use atlas_store::Record;
use serde_json::{Value, json};

use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle;
use crate::kernel::lifecycle::kinds;
use crate::kernel::paths::segment;

pub use provider::PROVIDERS;

pub struct PrivateEndpoints;

const OPERATIONS: &[OperationId] = &[
    OperationId::CreateGroupPrivateEndpointEndpointService,
    OperationId::UpdateGroupPrivateEndpointEndpointService,
    OperationId::ListGroupPrivateEndpointEndpointService,
    OperationId::GetGroupPrivateEndpointEndpointService,
    OperationId::DeleteGroupPrivateEndpointEndpointService,
    OperationId::GetGroupPrivateEndpointRegionalMode,
    OperationId::ToggleGroupPrivateEndpointRegionalMode,
    OperationId::CreateGroupPrivateEndpointEndpointServiceEndpoint,
    OperationId::GetGroupPrivateEndpointEndpointServiceEndpoint,
    OperationId::DeleteGroupPrivateEndpointEndpointServiceEndpoint,
];

impl Behaviour for PrivateEndpoints {
    fn name(&self) -> &'static str {
        "private_endpoints"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        match cx.call.op.id {
            OperationId::CreateGroupPrivateEndpointEndpointService => create(cx),
            OperationId::UpdateGroupPrivateEndpointEndpointService => update(cx),
            OperationId::ListGroupPrivateEndpointEndpointService => {
                let provider = cx.call.path_param("cloudProvider").unwrap_or("AWS");
                let services = collection(cx, provider);
                let records = lifecycle::settle_all(cx.tx, cx.lifecycle, &services, &cx.now)?;
                let mut shown = Vec::new();
                for record in &records {
                    shown.push(render(cx, record)?);
                }
                Ok(Reply::json(200, cx.render.fit(&Value::Array(shown))))
            }
            OperationId::GetGroupPrivateEndpointEndpointService => {
                let service = current(cx)?;
                let shown = render(cx, &service)?;
                Ok(Reply::json(200, cx.render.fit(&shown)))
            }
            OperationId::DeleteGroupPrivateEndpointEndpointService => delete(cx),
            OperationId::GetGroupPrivateEndpointRegionalMode => {
                let mode = regional_mode(cx)?;
                Ok(Reply::json(200, cx.render.fit(&mode)))
            }
            OperationId::ToggleGroupPrivateEndpointRegionalMode => {
                let enabled = cx
                    .call
                    .body
                    .as_ref()
                    .and_then(|b| b.get("enabled"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let mode = json!({"enabled": enabled});
                let path = format!("{}/privateEndpoint/regionalMode", group_path(cx));
                cx.tx.upsert(&path, "", &mode)?;
                // Recorded: 202 with the updated setting (semantics §7.5).
                Ok(Reply::json(cx.render.status(), cx.render.fit(&mode)))
            }
            _ => endpoints::handle(cx),
        }
    }
}

fn group_path(cx: &Ctx<'_>) -> String {
    format!(
        "/groups/{}",
        cx.scope.group_id.as_deref().unwrap_or_default()
    )
}

/// The collection of a project's endpoint services of one provider.
fn collection(cx: &Ctx<'_>, provider: &str) -> String {
    format!(
        "{}/privateEndpoint/{provider}/endpointService",
        group_path(cx)
    )
}

fn regional_mode(cx: &mut Ctx<'_>) -> Result<Value, ApiError> {
    let path = format!("{}/privateEndpoint/regionalMode", group_path(cx));
    Ok(cx
        .tx
        .get(&path, "")?
        .map(|r| r.doc)
        .unwrap_or_else(|| json!({"enabled": false})))
}

/// The service the path names, settled for this read, or Atlas's 404.
pub(crate) fn current(cx: &mut Ctx<'_>) -> Result<Record, ApiError> {
    let provider = cx
        .call
        .path_param("cloudProvider")
        .unwrap_or("AWS")
        .to_owned();
    let id = cx
        .call
        .path_param("endpointServiceId")
        .unwrap_or_default()
        .to_owned();
    load(cx, &provider, &id)
}

fn load(cx: &mut Ctx<'_>, provider: &str, id: &str) -> Result<Record, ApiError> {
    let services = collection(cx, provider);
    lifecycle::get_settled(cx.tx, cx.lifecycle, &services, &segment(id), &cx.now)?
        .ok_or_else(|| api_error!(PRIVATELINK_NOT_FOUND, id).keeping_writes())
}

/// The service as the API shows it: its provider's names once available, and its endpoints.
fn render(cx: &mut Ctx<'_>, service: &Record) -> Result<Value, ApiError> {
    let mut doc = service.doc.clone();
    let provider = doc["cloudProvider"].as_str().unwrap_or("AWS").to_owned();
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let connected = endpoints::ids(cx, &format!("{}/{}", service.collection, service.key))?;
    if doc["status"] == "AVAILABLE" || doc["status"] == "DELETING" {
        provider::names(&mut doc, &group);
    }
    match provider.as_str() {
        "AWS" => doc["interfaceEndpoints"] = json!(connected),
        "AZURE" => doc["privateEndpoints"] = json!(connected),
        _ => doc["endpointGroupNames"] = json!(connected),
    }
    Ok(doc)
}

fn create(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let provider = body["providerName"].as_str().unwrap_or("AWS").to_owned();
    let asked = body["region"].as_str().unwrap_or_default();
    let region = provider::region(&provider, asked)
        .ok_or_else(|| api_error!(INVALID_REGION, asked, provider.as_str()))?;
    let services = collection(cx, &provider);
    let existing = lifecycle::settle_all(cx.tx, cx.lifecycle, &services, &cx.now)?;
    if existing.iter().any(|s| s.doc["regionName"] == region) {
        return Err(api_error!(
            PRIVATELINK_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION,
            provider.as_str(),
            region.as_str()
        ));
    }
    let id = ids::object_id(cx.now.get());
    let mut doc = json!({
        "id": id,
        "cloudProvider": provider,
        "regionName": region,
    });
    match provider.as_str() {
        "AWS" => {
            if let Some(remote) = body.get("supportedRemoteRegions").filter(|r| r.is_array()) {
                doc["supportedRemoteRegions"] = remote.clone();
            }
        }
        "GCP" => {
            doc["portMappingEnabled"] =
                json!(body["portMappingEnabled"].as_bool().unwrap_or(false));
        }
        _ => {}
    }
    kinds::private_endpoint_service::CREATE
        .lasting(provider::create_seconds(&provider))
        .begin(cx.tx, &mut doc, cx.now.get())?;
    cx.tx.insert(&services, &id, &doc)?;
    let record = Record {
        collection: services,
        key: id,
        doc,
        seq: 0,
    };
    let shown = render(cx, &record)?;
    Ok(Reply::json(cx.render.status(), cx.render.fit(&shown)))
}

/// `PATCH /privateEndpoint/endpointService/{id}`: the AWS service's remote regions.
fn update(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let id = cx
        .call
        .path_param("endpointServiceId")
        .unwrap_or_default()
        .to_owned();
    let mut service = load(cx, "AWS", &id)?;
    if let Some(remote) = cx
        .call
        .body
        .as_ref()
        .and_then(|b| b.get("supportedRemoteRegions"))
    {
        service.doc["supportedRemoteRegions"] = remote.clone();
    }
    cx.tx
        .update(&service.collection, &service.key, &service.doc)?;
    let shown = render(cx, &service)?;
    Ok(Reply::json(200, cx.render.fit(&shown)))
}

fn delete(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let mut service = current(cx)?;
    let path = format!("{}/{}", service.collection, service.key);
    if !endpoints::ids(cx, &path)?.is_empty() {
        return Err(api_error!(CANNOT_DELETE_PRIVATELINK_WITH_ENDPOINTS).keeping_writes());
    }
    if service.doc["status"] != "DELETING" {
        kinds::private_endpoint_service::DELETE.begin(cx.tx, &mut service.doc, cx.now.get())?;
        cx.tx
            .update(&service.collection, &service.key, &service.doc)?;
    }
    // Recorded: 202 with `{}` although the spec declares 204 (semantics §7.5).
    Ok(Reply::json(cx.render.status(), json!({})))
}

/// How many endpoint services of any provider the project still has (closing a project reads
/// them, so a completed deletion no longer counts).
pub fn active_services(cx: &mut Ctx<'_>) -> Result<usize, ApiError> {
    let mut count = 0;
    for provider in PROVIDERS {
        let services = collection(cx, provider);
        count += lifecycle::settle_all(cx.tx, cx.lifecycle, &services, &cx.now)?.len();
    }
    Ok(count)
}
