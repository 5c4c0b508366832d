//! The project-level networking of Atlas Stream Processing:
//!
//! - private link connections (`/streams/privateLinkConnections`) to Kafka, Event Hubs, S3 ...
//!   endpoints; recorded (Atlas CLI e2e snapshots): the create answer echoes the request, a later
//!   read shows the provider upper-cased, `vendor: GENERIC` by default and `state: IDLE`;
//! - the account details a customer peers or links with (`/streams/accountDetails`), derived
//!   from the project so they are stable;
//! - VPC peering connections: these are requested from the customer's AWS account, which an
//!   emulator has no way to receive, so the lists are empty and an id names no connection.

use atlas_model::OperationId;
use serde_json::{Value, json};

use super::link;
use crate::api_error;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paging::Paging;
use crate::kernel::paths::segment;

pub(super) fn handle(cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
    let group = cx.scope.group_id.clone().unwrap_or_default();
    let links = format!("/groups/{group}/streams/privateLinkConnections");
    use OperationId as Op;
    match cx.call.op.id {
        Op::GetGroupStreamAccountDetails => account_details(cx, &group),
        Op::ListGroupStreamActiveVpcPeeringConnections
        | Op::ListGroupStreamVpcPeeringConnections => {
            let paging = Paging::of(cx.call);
            Ok(Reply::json(
                200,
                cx.render.fit(&paging.body(cx.call, Vec::new(), 0)),
            ))
        }
        Op::DeleteGroupStreamVpcPeeringConnection
        | Op::AcceptGroupStreamVpcPeeringConnection
        | Op::RejectGroupStreamVpcPeeringConnection => {
            Err(api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()))
        }
        Op::ListGroupStreamPrivateLinkConnections => {
            let paging = Paging::of(cx.call);
            let (records, total) = cx.tx.list(&links, paging.window())?;
            let results = records
                .iter()
                .map(|r| stored_view(cx, &links, &r.doc))
                .collect();
            Ok(Reply::json(
                200,
                cx.render.fit(&paging.body(cx.call, results, total)),
            ))
        }
        Op::CreateGroupStreamPrivateLinkConnection => {
            let mut doc = cx.call.body.clone().unwrap_or_else(|| json!({}));
            if doc["provider"].as_str().unwrap_or_default().is_empty() {
                return Err(api_error!(
                    VALIDATION_ERROR,
                    "the private link connection needs a provider"
                ));
            }
            let id = ids::object_id(cx.now.get());
            doc["_id"] = json!(id);
            cx.tx.insert(&links, &id, &doc)?;
            // The answer echoes the request; the stored connection is normalized on read.
            let mut answer = doc.clone();
            answer["links"] = link(cx, &format!("{links}/{id}"));
            Ok(Reply::json(cx.render.status(), cx.render.fit(&answer)))
        }
        _ => {
            let id = cx
                .call
                .path_param("connectionId")
                .unwrap_or_default()
                .to_owned();
            let mut record = cx
                .tx
                .get(&links, &segment(&id))?
                .ok_or_else(|| api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()))?;
            match cx.call.op.id {
                Op::GetGroupStreamPrivateLinkConnection => Ok(Reply::json(
                    200,
                    cx.render.fit(&stored_view(cx, &links, &record.doc)),
                )),
                Op::UpdateGroupStreamPrivateLinkConnection => {
                    if let Some(domain) = cx.call.body.as_ref().and_then(|b| b.get("dnsDomain")) {
                        record.doc["dnsDomain"] = domain.clone();
                    }
                    cx.tx.update(&links, &record.key, &record.doc)?;
                    Ok(Reply::json(
                        200,
                        cx.render.fit(&stored_view(cx, &links, &record.doc)),
                    ))
                }
                _ => {
                    cx.tx.delete(&links, &record.key)?;
                    // Recorded: 202 with `{}` (semantics §7.5).
                    Ok(Reply::json(cx.render.status(), json!({})))
                }
            }
        }
    }
}

/// A stored private link connection as reads show it.
fn stored_view(cx: &Ctx<'_>, links: &str, doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(provider) = doc["provider"].as_str() {
        doc["provider"] = json!(provider.to_ascii_uppercase());
    }
    if doc.get("vendor").is_none() {
        doc["vendor"] = json!("GENERIC");
    }
    doc["state"] = json!("IDLE");
    let id = doc["_id"].as_str().unwrap_or_default().to_owned();
    doc["links"] = link(cx, &format!("{links}/{id}"));
    doc
}

/// The Atlas-side account a project's stream processing runs in, per provider.
fn account_details(cx: &Ctx<'_>, group: &str) -> Result<Reply, ApiError> {
    let provider = cx
        .call
        .query_param("cloudProvider")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let region = cx.call.query_param("regionName").unwrap_or_default();
    let digits: String = group
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .take(12)
        .collect();
    let hex17 = &format!("{group}{group}")[..17];
    let doc = match provider.as_str() {
        "aws" => json!({
            "cloudProvider": "aws",
            "awsAccountId": digits,
            "cidrBlock": "192.168.248.0/21",
            "vpcId": format!("vpc-{hex17}"),
        }),
        "azure" => json!({
            "cloudProvider": "azure",
            "azureSubscriptionId": crate::kernel::ids::stable_uuid(group),
            "cidrBlock": "192.168.248.0/21",
            "virtualNetworkName": format!("vnet_{group}_{}", region.to_ascii_lowercase()),
        }),
        "gcp" => json!({
            "cloudProvider": "gcp",
            "cidrBlock": "192.168.248.0/21",
            "gcpProjectId": format!("p-{}", &group[..group.len().min(24)]),
            "vpcNetworkName": format!("nt-{group}-{}", region.to_ascii_lowercase()),
        }),
        _ => {
            return Err(api_error!(
                VALIDATION_ERROR,
                format!("cloudProvider {provider} is not one of aws, azure, gcp")
            ));
        }
    };
    Ok(Reply::json(200, cx.render.fit(&doc)))
}
