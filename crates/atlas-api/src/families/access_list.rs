//! The project IP access list (`/groups/{groupId}/accessList`): entries by IP address, CIDR
//! block or AWS security group, normalized the way Atlas shows them (an address is also its
//! `/32` or `/128` block), found by either form in the path (`10.0.0.0%2F16`), and the entry's
//! propagation status. Adding, re-adding and removing an entry records the project event Atlas
//! records (`NETWORK_PERMISSION_ENTRY_ADDED`, `…_UPDATED`, `…_REMOVED`, the spec's
//! `NDSAuditTypeViewForNdsGroup`), naming the entry in `whitelistEntry` (`NDSAuditViewForNdsGroup`).

use std::net::IpAddr;

use atlas_model::OperationId;
use serde_json::{Map, Value, json};

use super::events::project_event;
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::paging::Paging;
use crate::kernel::paths::segment;
use atlas_model::API_PREFIX;

pub struct AccessList;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupAccessListEntries,
    OperationId::CreateGroupAccessListEntry,
    OperationId::GetGroupAccessListEntry,
    OperationId::DeleteGroupAccessListEntry,
    OperationId::GetGroupAccessListStatus,
];

impl Behaviour for AccessList {
    fn name(&self) -> &'static str {
        "access_list"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    /// An entry is addressed by its address or its block (`192.0.2.10` is `192.0.2.10/32`), for
    /// the entry and for its `/status` alike: the family finds it, not the engine's parent check.
    fn resolves_own_items(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let collection = format!(
            "/groups/{}/accessList",
            cx.scope.group_id.as_deref().unwrap_or_default()
        );
        match cx.call.op.id {
            OperationId::ListGroupAccessListEntries => list(cx, &collection, 200),
            OperationId::CreateGroupAccessListEntry => {
                let entries = match &cx.call.body {
                    Some(Value::Array(items)) => items.clone(),
                    Some(other) => vec![other.clone()],
                    None => Vec::new(),
                };
                let group = cx.scope.group_id.clone().unwrap_or_default();
                for entry in entries {
                    let (key, doc) = normalize(&entry, &group)?;
                    // Re-adding an entry updates its comment and expiry instead of failing.
                    let existed = cx.tx.get(&collection, &segment(&key))?.is_some();
                    cx.tx.upsert(&collection, &segment(&key), &doc)?;
                    let event = if existed {
                        "NETWORK_PERMISSION_ENTRY_UPDATED"
                    } else {
                        "NETWORK_PERMISSION_ENTRY_ADDED"
                    };
                    project_event(cx, event, entry_details(&key))?;
                }
                // Recorded: 201 with the whole (paginated) access list (semantics §2.1, §7.5).
                list(cx, &collection, cx.render.status())
            }
            _ => {
                let raw = cx
                    .call
                    .path_param("entryValue")
                    .unwrap_or_default()
                    .to_owned();
                let key = canonical_key(&raw);
                let Some(record) = cx.tx.get(&collection, &segment(&key))? else {
                    let group = cx.scope.group_id.clone().unwrap_or_default();
                    return Err(api_error!(
                        ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND,
                        raw.as_str(),
                        group.as_str()
                    ));
                };
                match cx.call.op.id {
                    OperationId::DeleteGroupAccessListEntry => {
                        cx.tx.delete(&collection, &record.key)?;
                        project_event(cx, "NETWORK_PERMISSION_ENTRY_REMOVED", entry_details(&key))?;
                        Ok(Reply::empty(cx.render.status()))
                    }
                    OperationId::GetGroupAccessListStatus => Ok(Reply::json(
                        200,
                        cx.render.fit(&json!({"STATUS": "ACTIVE"})),
                    )),
                    _ => Ok(Reply::json(
                        200,
                        cx.render
                            .fit(&with_link(cx, &collection, &record.key, record.doc)),
                    )),
                }
            }
        }
    }
}

/// An access-list event's details: the entry as its block (or security group).
fn entry_details(key: &str) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert("whitelistEntry".into(), json!(key));
    details
}

fn with_link(cx: &Ctx<'_>, collection: &str, key: &str, mut doc: Value) -> Value {
    doc["links"] = json!([{"href": format!("{}{API_PREFIX}{collection}/{key}", cx.call.origin.base_url), "rel": "self"}]);
    doc
}

fn list(cx: &mut Ctx<'_>, collection: &str, status: u16) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let (records, total) = cx.tx.list(collection, paging.window())?;
    let items: Vec<Value> = records
        .into_iter()
        .map(|r| with_link(cx, collection, &r.key, r.doc))
        .collect();
    Ok(Reply::json(
        status,
        cx.render.fit_owned(paging.body(cx.call, items, total)),
    ))
}

/// The block an address stands for (`1.2.3.4` -> `1.2.3.4/32`); blocks and groups unchanged.
fn canonical_key(value: &str) -> String {
    match value.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => format!("{ip}/32"),
        Ok(IpAddr::V6(ip)) => format!("{ip}/128"),
        Err(_) => value.to_owned(),
    }
}

/// Checks one entry and returns its key and the document Atlas shows for it.
fn normalize(entry: &Value, group: &str) -> Result<(String, Value), ApiError> {
    let field = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut doc = entry.clone();
    doc["groupId"] = json!(group);
    let key = match (
        field("ipAddress"),
        field("cidrBlock"),
        field("awsSecurityGroup"),
    ) {
        (Some(ip), None, None) => {
            let parsed: IpAddr = ip.parse().map_err(|_| invalid(&ip))?;
            let key = canonical_key(&parsed.to_string());
            doc["cidrBlock"] = json!(key);
            key
        }
        (None, Some(block), None) => {
            let (address, bits) = block.split_once('/').ok_or_else(|| invalid(&block))?;
            let parsed: IpAddr = address.parse().map_err(|_| invalid(&block))?;
            let max = if parsed.is_ipv4() { 32 } else { 128 };
            let bits: u8 = bits
                .parse()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| invalid(&block))?;
            if bits == max {
                doc["ipAddress"] = json!(parsed.to_string());
            }
            format!("{parsed}/{bits}")
        }
        (None, None, Some(sg)) => sg,
        _ => {
            return Err(api_error!(
                MISSING_ATTRIBUTE,
                "ipAddress, cidrBlock or awsSecurityGroup"
            ));
        }
    };
    Ok((key, doc))
}

fn invalid(value: &str) -> ApiError {
    api_error!(INVALID_IP_ADDRESS_OR_CIDR_NOTATION, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_blocks_share_one_key() {
        let (key, doc) = normalize(&json!({"ipAddress": "192.0.2.10"}), "g").unwrap();
        assert_eq!(key, "192.0.2.10/32");
        assert_eq!(doc["cidrBlock"], "192.0.2.10/32");
        assert_eq!(canonical_key("192.0.2.10"), key);
        let (key, doc) = normalize(&json!({"cidrBlock": "198.51.100.0/24"}), "g").unwrap();
        assert_eq!(key, "198.51.100.0/24");
        assert!(doc.get("ipAddress").is_none());
        assert!(normalize(&json!({"cidrBlock": "198.51.100.0/33"}), "g").is_err());
        assert!(normalize(&json!({"ipAddress": "nope"}), "g").is_err());
        assert!(normalize(&json!({}), "g").is_err());
    }
}
