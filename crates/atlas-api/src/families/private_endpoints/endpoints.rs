//! The customer's endpoints connected to an endpoint service
//! (`/privateEndpoint/{cloudProvider}/endpointService/{endpointServiceId}/endpoint/{endpointId}`),
//! each in its provider's shape (the seed page's three examples):
//!
//! - AWS: an interface endpoint `vpce-` + 17 hex digits; `connectionStatus`
//!   `PENDING_ACCEPTANCE` → `AVAILABLE`;
//! - Azure: a private endpoint named by its resource id (URL-encoded in the path, `%2F`), with
//!   its IP address; `status` `INITIATING` → `AVAILABLE`;
//! - GCP: an endpoint group (named by the path) with one forwarding rule per service attachment,
//!   each with its own status.
//!
//! Deleting sets `deleteRequested` and the deleting state until the endpoint is gone (204).

use atlas_store::Record;
use serde_json::{Value, json};

use super::provider;
use crate::api_error;
use crate::engine::Ctx;
use crate::families::shared::support::invalid;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::lifecycle;
use crate::kernel::lifecycle::kinds;
use crate::kernel::paths::segment;
use atlas_model::OperationId;

pub(super) fn handle(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let service = super::current(cx)?;
    let endpoints = format!("{}/{}/endpoint", service.collection, service.key);
    match cx.call.op.id {
        OperationId::CreateGroupPrivateEndpointEndpointServiceEndpoint => {
            create(cx, &service, &endpoints)
        }
        OperationId::GetGroupPrivateEndpointEndpointServiceEndpoint => {
            let endpoint = current(cx, &endpoints)?;
            Ok(Reply::json(200, cx.render.fit(&shown(&endpoint.doc))))
        }
        _ => {
            let mut endpoint = current(cx, &endpoints)?;
            let field = state_field(&endpoint.doc);
            if endpoint.doc["deleteRequested"] != true {
                endpoint.doc["deleteRequested"] = json!(true);
                kinds::private_endpoint::DELETE.on_field(field).begin(
                    cx.tx,
                    &mut endpoint.doc,
                    cx.now.get(),
                )?;
                cx.tx.update(&endpoints, &endpoint.key, &endpoint.doc)?;
            }
            Ok(Reply::empty(cx.render.status()))
        }
    }
}

/// The endpoint ids connected to the service at `service_path` (settled: completed deletions
/// are gone).
pub(super) fn ids(cx: &mut Ctx<'_>, service_path: &str) -> Result<Vec<String>, ApiError> {
    let endpoints = format!("{service_path}/endpoint");
    Ok(
        lifecycle::settle_all(cx.tx, cx.lifecycle, &endpoints, &cx.now)?
            .into_iter()
            .filter_map(|r| r.doc["__id"].as_str().map(str::to_owned))
            .collect(),
    )
}

/// The field holding an endpoint's state in its provider's shape.
fn state_field(doc: &Value) -> &'static str {
    if doc["cloudProvider"] == "AWS" {
        "connectionStatus"
    } else {
        "status"
    }
}

fn current(cx: &mut Ctx<'_>, endpoints: &str) -> Result<Record, ApiError> {
    let id = cx
        .call
        .path_param("endpointId")
        .unwrap_or_default()
        .to_owned();
    lifecycle::get_settled(cx.tx, cx.lifecycle, endpoints, &segment(&id), &cx.now)?.ok_or_else(
        || api_error!(PRIVATELINK_INTERFACE_ENDPOINT_NOT_FOUND, id.as_str()).keeping_writes(),
    )
}

/// An endpoint as read: a GCP group's forwarding rules share the group's state.
fn shown(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if doc["cloudProvider"] == "GCP" {
        let status = doc["status"].clone();
        if let Some(rules) = doc["endpoints"].as_array_mut() {
            for rule in rules {
                rule["status"] = status.clone();
            }
        }
    }
    doc
}

/// Whether `id` is an Azure private endpoint resource id.
fn is_azure_resource_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.()".contains(c))
    };
    parts.len() == 9
        && parts[0].is_empty()
        && parts[1] == "subscriptions"
        && crate::kernel::ids::is_uuid(parts[2])
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && name_ok(parts[4])
        && parts[5] == "providers"
        && parts[6] == "Microsoft.Network"
        && parts[7] == "privateEndpoints"
        && name_ok(parts[8])
}

fn create(cx: &mut Ctx<'_>, service: &Record, endpoints: &str) -> Result<Reply, ApiError> {
    let body = cx.call.body.clone().unwrap_or_else(|| json!({}));
    let provider = service.doc["cloudProvider"]
        .as_str()
        .unwrap_or("AWS")
        .to_owned();
    if let Some(asked) = body["cloudProvider"].as_str()
        && asked != provider
    {
        return Err(invalid(format!(
            "the endpoint's cloudProvider {asked} does not match the service's {provider}"
        )));
    }
    if service.doc["status"] != "AVAILABLE" {
        return Err(api_error!(
            PRIVATELINK_CANNOT_ACCEPT_ENDPOINTS,
            service.key.as_str()
        ));
    }
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
    let (id, mut doc, field, from) = match provider.as_str() {
        "AWS" => {
            let id = text("id");
            if !id.starts_with("vpce-") {
                return Err(api_error!(PRIVATELINK_INTERFACE_ENDPOINT_ID_MALFORMED));
            }
            let doc = json!({"cloudProvider": "AWS", "interfaceEndpointId": id});
            (id, doc, "connectionStatus", "PENDING_ACCEPTANCE")
        }
        "AZURE" => {
            let id = text("id");
            if !is_azure_resource_id(&id) {
                return Err(invalid(format!(
                    "{id} is not an Azure private endpoint resource id"
                )));
            }
            let parts: Vec<&str> = id.split('/').collect();
            let doc = json!({
                "cloudProvider": "AZURE",
                "privateEndpointResourceId": id,
                "privateEndpointIPAddress": text("privateEndpointIPAddress"),
                "privateEndpointConnectionName": format!("{}%2F{}%2F{}", parts[2], parts[4], parts[8]),
            });
            (id, doc, "status", "INITIATING")
        }
        _ => {
            let id = text("endpointGroupName");
            let rules = body["endpoints"].as_array().cloned().unwrap_or_default();
            let wanted = provider::gcp_attachments(&service.doc);
            if rules.len() != wanted {
                return Err(invalid(format!(
                    "the endpoint group needs one endpoint per service attachment ({wanted}), got {}",
                    rules.len()
                )));
            }
            let rules: Vec<Value> = rules
                .iter()
                .map(|r| json!({"endpointName": r["endpointName"], "ipAddress": r["ipAddress"]}))
                .collect();
            let doc = json!({
                "cloudProvider": "GCP",
                "endpointGroupName": id,
                "gcpProjectId": text("gcpProjectId"),
                "endpoints": rules,
                "portMappingEnabled": service.doc["portMappingEnabled"],
            });
            (id, doc, "status", "INITIATING")
        }
    };
    if id.is_empty() {
        return Err(invalid("the endpoint id must not be empty"));
    }
    let key = segment(&id);
    if cx.tx.get(endpoints, &key)?.is_some() {
        return Err(api_error!(
            PRIVATELINK_INTERFACE_ENDPOINT_ALREADY_EXISTS,
            id.as_str()
        ));
    }
    doc["deleteRequested"] = json!(false);
    // The id as given, for the service's list of its endpoints (internal: never rendered).
    doc["__id"] = json!(id);
    kinds::private_endpoint::CONNECT
        .on_field(field)
        .shown_as(from)
        .begin(cx.tx, &mut doc, cx.now.get())?;
    cx.tx.insert(endpoints, &key, &doc)?;
    Ok(Reply::json(cx.render.status(), cx.render.fit(&shown(&doc))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_resource_ids() {
        assert!(is_azure_resource_id(
            "/subscriptions/cba6d9c6-1d3f-3c11-83cb-c705d895e636/resourceGroups/rg-1/providers/Microsoft.Network/privateEndpoints/pe.1"
        ));
        assert!(!is_azure_resource_id(
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe"
        ));
        assert!(!is_azure_resource_id("vpce-0123456789abcdef0"));
    }
}
