//! The API root (`GET /api/atlas/v2`): the system status document with the calling key.

use atlas_model::OperationId;
use atlas_store::Page;
use serde_json::{Value, json};

use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::principal::Principal;
use crate::stages::admission::address_check::{self, Kind};
use atlas_model::API_PREFIX;

pub struct Root;

impl Behaviour for Root {
    fn name(&self) -> &'static str {
        "root"
    }

    fn operations(&self) -> &'static [OperationId] {
        &[OperationId::GetSystemStatus]
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let api_key = match &cx.call.principal {
            Principal::ApiKey {
                id,
                public_key,
                org_id,
            } => {
                let stored = cx.tx.get(&format!("/orgs/{org_id}/apiKeys"), id)?;
                let roles = stored
                    .as_ref()
                    .and_then(|r| r.doc.get("roles").cloned())
                    .unwrap_or_else(|| json!([]));
                let list = address_check::collection(Kind::ApiKey, org_id, id);
                let (entries, _) = cx.tx.list(&list, Page::ALL)?;
                let access: Vec<Value> = entries
                    .into_iter()
                    .map(|e| json!({"ipAddress": e.doc.get("ipAddress"), "cidrBlock": e.doc.get("cidrBlock")}))
                    .collect();
                json!({"id": id, "publicKey": public_key, "roles": roles, "accessList": access})
            }
            // Service accounts have no API key; the field is nullable in practice (§9).
            _ => Value::Null,
        };
        let body = json!({
            "appName": "MongoDB Atlas",
            "build": build_id(),
            "throttling": false,
            "apiKey": api_key,
            "links": [{"href": format!("{}{API_PREFIX}", cx.call.origin.base_url), "rel": "self"}],
        });
        Ok(Reply::json(200, cx.render.fit_owned(body)))
    }
}

/// A 40-hex build id (Atlas reports its git sha), derived from this build's version.
fn build_id() -> String {
    let digest =
        crate::identity::credentials::sha256_hex(concat!("localatlas-", env!("CARGO_PKG_VERSION")));
    digest[..40].to_owned()
}
