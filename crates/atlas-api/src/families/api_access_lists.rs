//! The API access lists of API keys and service accounts, through the API (the admission check
//! that enforces them is `crate::stages::admission::address_check`).
//!
//! One list per credential, whichever path addresses it: the project paths of a service account
//! (`/groups/{groupId}/serviceAccounts/{clientId}/accessList`) reach the same entries as the
//! organization paths, provided the account is assigned to that project. Entries are keyed by
//! their canonical block, so `192.0.2.1`, `192.0.2.1/32` and `192.0.2.1%2F32` name one entry;
//! adding an existing entry again keeps it (with its usage counters) unchanged.

use atlas_model::OperationId;
use atlas_store::Page;
use serde_json::Value;

use super::shared::support::{body_items, entity, list, param, with_self};
use super::{api_keys, service_accounts};
use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::stages::admission::address_check::{self, Kind};

pub struct ApiAccessLists;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListOrgApiKeyAccessListEntries,
    OperationId::CreateOrgApiKeyAccessListEntry,
    OperationId::GetOrgApiKeyAccessListEntry,
    OperationId::DeleteOrgApiKeyAccessListEntry,
    OperationId::ListOrgServiceAccountAccessList,
    OperationId::CreateOrgServiceAccountAccessList,
    OperationId::DeleteOrgServiceAccountAccessListEntry,
    OperationId::ListGroupServiceAccountAccessList,
    OperationId::CreateGroupServiceAccountAccessList,
    OperationId::DeleteGroupServiceAccountAccessListEntry,
];

impl Behaviour for ApiAccessLists {
    fn name(&self) -> &'static str {
        "api_access_lists"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn resolves_own_items(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        use OperationId as O;
        let collection = credential_list(cx)?;
        match cx.call.op.id {
            O::ListOrgApiKeyAccessListEntries
            | O::ListOrgServiceAccountAccessList
            | O::ListGroupServiceAccountAccessList => answer_list(cx, &collection),
            O::CreateOrgApiKeyAccessListEntry
            | O::CreateOrgServiceAccountAccessList
            | O::CreateGroupServiceAccountAccessList => {
                let kind = kind(cx.call.op.id);
                for item in body_items(cx) {
                    let (key, doc) = address_check::new_entry(kind, &item, cx.now.get())?;
                    if cx.tx.get(&collection, &key)?.is_none() {
                        cx.tx.insert(&collection, &key, &doc)?;
                    }
                }
                answer_list(cx, &collection)
            }
            O::GetOrgApiKeyAccessListEntry => {
                let key = entry_key(cx)?;
                let entry = cx.tx.get(&collection, &key)?.ok_or_else(|| missing(cx))?;
                let shown = shown_entry(cx, &collection, entry.key, entry.doc);
                Ok(entity(cx, &shown))
            }
            _ => {
                let key = entry_key(cx)?;
                if !cx.tx.delete(&collection, &key)? {
                    return Err(missing(cx));
                }
                Ok(Reply::empty(cx.render.status()))
            }
        }
    }
}

fn kind(op: OperationId) -> Kind {
    match op {
        OperationId::ListOrgApiKeyAccessListEntries
        | OperationId::CreateOrgApiKeyAccessListEntry
        | OperationId::GetOrgApiKeyAccessListEntry
        | OperationId::DeleteOrgApiKeyAccessListEntry => Kind::ApiKey,
        _ => Kind::ServiceAccount,
    }
}

/// The collection of the addressed credential's entries; the credential must exist (and, on a
/// project path, be assigned to the project).
fn credential_list(cx: &mut Ctx<'_>) -> Result<String, ApiError> {
    let org = cx.scope.org_id.clone().unwrap_or_default();
    match kind(cx.call.op.id) {
        Kind::ApiKey => {
            let key = api_keys::find(cx.tx, &org, &param(cx.call, "apiUserId"))?;
            Ok(address_check::collection(Kind::ApiKey, &org, &key.key))
        }
        Kind::ServiceAccount => {
            let client_id = param(cx.call, "clientId");
            match cx.scope.group_id.clone() {
                Some(group) => service_accounts::find_in_group(cx.tx, &org, &group, &client_id)?,
                None => service_accounts::find(cx.tx, &org, &client_id)?,
            };
            Ok(address_check::collection(
                Kind::ServiceAccount,
                &org,
                &client_id,
            ))
        }
    }
}

/// The entry key named by the path's `ipAddress`.
fn entry_key(cx: &Ctx<'_>) -> Result<String, ApiError> {
    let text = param(cx.call, "ipAddress");
    address_check::key_of(&text)
        .ok_or_else(|| api_error!(INVALID_IP_ADDRESS_OR_CIDR_NOTATION, text))
}

fn missing(cx: &Ctx<'_>) -> ApiError {
    api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str())
}

fn answer_list(cx: &mut Ctx<'_>, collection: &str) -> Result<Reply, ApiError> {
    let (entries, _) = cx.tx.list(collection, Page::ALL)?;
    let items: Vec<Value> = entries
        .into_iter()
        .map(|e| shown_entry(cx, collection, e.key, e.doc))
        .collect();
    Ok(list(cx, items))
}

/// An entry with its self link. An API key's single-address entry is linked by its address
/// (recorded atlas-cli TestAtlasOrgAPIKeyAccessList: `.../accessList/192.168.0.229`), where a
/// project's access list links the block (`.../accessList/192.168.0.243%2F32`, TestAccessList).
fn shown_entry(cx: &Ctx<'_>, collection: &str, key: String, doc: Value) -> Value {
    let address = doc.get("ipAddress").and_then(Value::as_str);
    let named = match (kind(cx.call.op.id), address) {
        (Kind::ApiKey, Some(address)) => address.to_owned(),
        _ => key,
    };
    with_self(cx, doc, &format!("{collection}/{named}"))
}
