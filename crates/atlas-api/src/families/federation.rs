//! Federated authentication: an organization's federation settings and the organization's
//! connection to them (`/orgs/{orgId}/federationSettings`,
//! `/federationSettings/{federationSettingsId}/connectedOrgConfigs[/{orgId}]`).
//!
//! Every organization has federation settings, and is connected to them, before anyone asks
//! (recorded: atlas-cli TestIdentityProviders reads the organization's settings, then reads and
//! changes its connected configuration without creating anything). Both are made on the first
//! read of the settings and kept; identity providers under the settings stay with the generic
//! engine.

use atlas_model::OperationId;
use atlas_store::Page;
use serde_json::{Value, json};

use super::shared::support::{entity, list, param};
use crate::api_error;
use crate::engine::{Behaviour, Ctx};
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paths::segment;
use crate::kernel::render::merge_patch;

pub struct Federation;

const OPERATIONS: &[OperationId] = &[
    OperationId::GetOrgFederationSettings,
    OperationId::ListFederationSettingConnectedOrgConfigs,
    OperationId::GetFederationSettingConnectedOrgConfig,
    OperationId::UpdateFederationSettingConnectedOrgConfig,
    OperationId::RemoveFederationSettingConnectedOrgConfig,
];

/// Where an organization's settings id is kept (one document, under the organization).
const CURRENT: &str = "current";

impl Behaviour for Federation {
    fn name(&self) -> &'static str {
        "federation"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    /// The settings and connections are found by this family (they exist before any create).
    fn resolves_own_items(&self) -> bool {
        true
    }

    /// The first read of an organization's settings makes them.
    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        if cx.call.op.id == OperationId::GetOrgFederationSettings {
            let org = param(cx.call, "orgId");
            let settings = ensure_settings(cx, &org)?;
            return Ok(entity(cx, &settings));
        }
        let settings_id = param(cx.call, "federationSettingsId");
        let connections = format!(
            "/federationSettings/{}/connectedOrgConfigs",
            segment(&settings_id)
        );
        if cx
            .tx
            .get("/federationSettings", &segment(&settings_id))?
            .is_none()
        {
            return Err(missing(cx));
        }
        if cx.call.op.id == OperationId::ListFederationSettingConnectedOrgConfigs {
            let (records, _) = cx.tx.list(&connections, Page::ALL)?;
            return Ok(list(cx, records.into_iter().map(|r| r.doc).collect()));
        }
        let org = param(cx.call, "orgId");
        let Some(mut record) = cx.tx.get(&connections, &segment(&org))? else {
            return Err(missing(cx));
        };
        match cx.call.op.id {
            OperationId::UpdateFederationSettingConnectedOrgConfig => {
                if let Some(body) = &cx.call.body {
                    merge_patch(&mut record.doc, body);
                }
                // The organization a connection belongs to is not the client's to change.
                record.doc["orgId"] = json!(org);
                cx.tx.update(&connections, &record.key, &record.doc)?;
                Ok(entity(cx, &record.doc))
            }
            OperationId::RemoveFederationSettingConnectedOrgConfig => {
                cx.tx.delete(&connections, &record.key)?;
                Ok(Reply::empty(cx.render.status()))
            }
            _ => Ok(entity(cx, &record.doc)),
        }
    }
}

fn missing(cx: &Ctx<'_>) -> ApiError {
    api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str())
}

/// The organization's federation settings, made (with its connection) on the first read.
fn ensure_settings(cx: &mut Ctx<'_>, org: &str) -> Result<Value, ApiError> {
    let pointer = format!("/orgs/{}/federationSettings", segment(org));
    if let Some(current) = cx.tx.get(&pointer, CURRENT)?
        && let Some(id) = current.doc.get("id").and_then(Value::as_str)
        && let Some(settings) = cx.tx.get("/federationSettings", &segment(id))?
    {
        return Ok(settings.doc);
    }
    let id = ids::object_id(cx.now.get());
    // Recorded (TestIdentityProviders): no domain, no role mapping, no active provider yet.
    let settings = json!({
        "id": id, "federatedDomains": [], "hasRoleMappings": false,
        "identityProviderId": null, "identityProviderStatus": "INACTIVE",
    });
    cx.tx
        .upsert("/federationSettings", &segment(&id), &settings)?;
    cx.tx.upsert(&pointer, CURRENT, &json!({"id": id}))?;
    // Recorded: the organization is connected with Organization Owner granted after login.
    let connection = json!({
        "orgId": org, "dataAccessIdentityProviderIds": [], "domainAllowList": [],
        "domainRestrictionEnabled": false, "identityProviderId": null,
        "instantUserProvisioningDisabled": false, "postAuthRoleGrants": ["ORG_OWNER"],
        "roleMappings": [], "userConflicts": null,
    });
    cx.tx.upsert(
        &format!("/federationSettings/{}/connectedOrgConfigs", segment(&id)),
        &segment(org),
        &connection,
    )?;
    Ok(settings)
}
