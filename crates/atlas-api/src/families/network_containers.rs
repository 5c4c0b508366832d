//! Network peering containers (`/groups/{groupId}/containers`): the project's network in each
//! cloud provider, which Atlas creates itself for the first dedicated cluster there.
//!
//! Recorded (`TestAccMockableAdvancedCluster_*`, listed with `providerName=AWS` and `AZURE` after
//! the cluster was created): one AWS container per region (`regionName`, a `vpcId`), the first
//! with `atlasCidrBlock` `192.168.248.0/21` and the next `192.168.240.0/21`; one Azure container
//! per region (`region`, `azureSubscriptionId`, `vnetName`), also from `192.168.248.0/21`; every
//! one `provisioned`. A second cluster in the same provider and region reuses the container. GCP
//! has one container per project for all regions (`regions`, `gcpProjectId`, `networkName`).
//!
//! Containers created explicitly (`POST`, and `PATCH`/`DELETE`) stay with the generic engine,
//! which keeps them in the same collection; this family serves the reads: the list filtered by
//! `providerName` (default `AWS`), `/containers/all`, and one container.

use atlas_model::OperationId;
use atlas_store::{Page, Record};
use serde_json::{Value, json};

use crate::engine::{Behaviour, Ctx};
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paging::Paging;
use crate::stages::scope::not_found;

pub struct NetworkContainers;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupContainers,
    OperationId::ListGroupContainerAll,
    OperationId::GetGroupContainer,
];

const TEMPLATE: &str = "/groups/{groupId}/containers";

impl Behaviour for NetworkContainers {
    fn name(&self) -> &'static str {
        "network_containers"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let group = cx.scope.group_id.clone().unwrap_or_default();
        match cx.call.op.id {
            OperationId::GetGroupContainer => {
                let id = cx.call.path_param("containerId").unwrap_or_default();
                match cx.tx.get(&collection(&group), id)? {
                    Some(record) => Ok(Reply::json(200, cx.render.fit(&record.doc))),
                    None => Err(not_found(TEMPLATE, cx.call, id)),
                }
            }
            op => {
                let provider = (op == OperationId::ListGroupContainers)
                    .then(|| cx.call.query_param("providerName").unwrap_or("AWS"));
                let (all, _) = cx.tx.list(&collection(&group), Page::ALL)?;
                let matching: Vec<Value> = all
                    .into_iter()
                    .map(|r| r.doc)
                    .filter(|doc| {
                        provider.is_none_or(|p| {
                            doc.get("providerName").and_then(Value::as_str) == Some(p)
                        })
                    })
                    .collect();
                let paging = Paging::of(cx.call);
                let total = matching.len() as u64;
                let body = paging.body(cx.call, paging.slice(matching), total);
                Ok(Reply::json(200, cx.render.fit_owned(body)))
            }
        }
    }
}

/// The collection of a project's containers (the generic engine's, for explicit ones too).
fn collection(group: &str) -> String {
    format!("/groups/{group}/containers")
}

/// The name of the field a provider's container names its region by.
fn region_field(provider: &str) -> &'static str {
    match provider {
        "AZURE" => "region",
        _ => "regionName",
    }
}

/// Whether `doc` is the container of `provider` serving `region`.
fn serves(doc: &Value, provider: &str, region: &str) -> bool {
    if doc.get("providerName").and_then(Value::as_str) != Some(provider) {
        return false;
    }
    if provider == "GCP" {
        return true;
    }
    doc.get(region_field(provider)).and_then(Value::as_str) == Some(region)
}

/// The `n`th `/21` block a provider hands out in a project, counting down from
/// `192.168.248.0/21`.
fn cidr_block(n: usize) -> String {
    let third = 248usize.saturating_sub(8 * n);
    format!("192.168.{third}.0/21")
}

/// Random lowercase letters and digits.
fn alnum(id: &str, len: usize) -> String {
    // Derived from the container id so the name is stable; the id's random tail varies.
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    id.bytes()
        .chain(std::iter::repeat_n(0, len))
        .enumerate()
        .map(|(i, b)| {
            h = (h ^ u64::from(b) ^ i as u64).wrapping_mul(0x0100_0000_01b3);
            char::from(ALPHABET[(h % 36) as usize])
        })
        .skip(id.len())
        .collect()
}

/// Makes sure the project has the container of `provider` for `region`, as creating a dedicated
/// cluster there does in Atlas; an existing one (created earlier by a cluster or explicitly) is
/// kept. GCP's one container lists every region it serves.
pub fn ensure(cx: &mut Ctx<'_>, group: &str, provider: &str, region: &str) -> Result<(), ApiError> {
    let now = cx.now.get();
    if !["AWS", "AZURE", "GCP"].contains(&provider) {
        return Ok(());
    }
    let collection = collection(group);
    let (existing, _) = cx.tx.list(&collection, Page::ALL)?;
    if let Some(record) = existing.iter().find(|r| serves(&r.doc, provider, region)) {
        return add_gcp_region(cx, record, region);
    }
    let same_provider = existing
        .iter()
        .filter(|r| r.doc.get("providerName").and_then(Value::as_str) == Some(provider))
        .count();
    let id = ids::object_id(now);
    let doc = match provider {
        "AWS" => json!({
            "id": id, "providerName": "AWS", "regionName": region,
            "atlasCidrBlock": cidr_block(same_provider), "provisioned": true,
            "vpcId": format!("vpc-{}", &ids::derived(now, &[id.as_bytes()])[7..]),
        }),
        "AZURE" => json!({
            "id": id, "providerName": "AZURE", "region": region,
            "atlasCidrBlock": cidr_block(same_provider), "provisioned": true,
            "azureSubscriptionId": ids::derived(now, &[group.as_bytes(), b"azure"]),
            "vnetName": format!("vnet_{id}_{}", alnum(&id, 8)),
        }),
        _ => json!({
            "id": id, "providerName": "GCP", "regions": [region],
            "atlasCidrBlock": "192.168.0.0/18", "provisioned": true,
            "gcpProjectId": format!("p-{}", alnum(&id, 24)),
            "networkName": format!("nt-{id}-{}", alnum(&id, 8)),
        }),
    };
    cx.tx.insert(&collection, &id, &doc)?;
    Ok(())
}

fn add_gcp_region(cx: &mut Ctx<'_>, record: &Record, region: &str) -> Result<(), ApiError> {
    if record.doc.get("providerName").and_then(Value::as_str) != Some("GCP") {
        return Ok(());
    }
    let mut doc = record.doc.clone();
    let regions = doc
        .as_object_mut()
        .map(|m| m.entry("regions").or_insert_with(|| json!([])));
    if let Some(Value::Array(list)) = regions
        && !list.iter().any(|r| r.as_str() == Some(region))
    {
        list.push(json!(region));
        cx.tx.update(&record.collection, &record.key, &doc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_count_down_from_the_recorded_default() {
        assert_eq!(cidr_block(0), "192.168.248.0/21");
        assert_eq!(cidr_block(1), "192.168.240.0/21");
    }

    #[test]
    fn containers_serve_their_provider_and_region() {
        let aws = json!({"providerName": "AWS", "regionName": "US_EAST_1"});
        assert!(serves(&aws, "AWS", "US_EAST_1"));
        assert!(!serves(&aws, "AWS", "EU_WEST_1"));
        let azure = json!({"providerName": "AZURE", "region": "US_EAST_2"});
        assert!(serves(&azure, "AZURE", "US_EAST_2"));
        let gcp = json!({"providerName": "GCP", "regions": ["CENTRAL_US"]});
        assert!(serves(&gcp, "GCP", "WESTERN_EUROPE"));
        assert_eq!(alnum("abc", 8).len(), 8);
    }
}
