//! Federated database instances (`/groups/{groupId}/dataFederation`): the generic engine keeps
//! serving them (storage by name, defaults, `DATA_FEDERATION_TENANT_NOT_FOUND_FOR_NAME`); this
//! family adds what Atlas shows of the cloud provider access role an instance names.
//!
//! Recorded (atlas-cli TestDataFederationQueryLimit step 0): the `POST` sends
//! `cloudProviderConfig.aws` with only `roleId` and `testS3Bucket`, and Atlas answers the role's
//! external id (`externalId`), its own AWS account (`iamUserARN`) and the customer's authorized
//! role (`iamAssumedRoleARN`) beside the `roleId`. They are derived when an answer is rendered, so
//! an instance shows its role as it is now (authorized later, say); a role the project does not
//! have adds nothing (nothing is invented).

use atlas_model::OperationId;
use serde_json::Value;

use super::cloud_provider_access::{federation_config, federation_key, stored_role};
use super::shared::support::stable_tag;
use crate::engine::{Behaviour, Ctx, generic};
use crate::kernel::call::{Payload, Reply};
use crate::kernel::error::ApiError;

pub struct DataFederation;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupDataFederation,
    OperationId::CreateGroupDataFederation,
    OperationId::GetGroupDataFederation,
    OperationId::UpdateGroupDataFederation,
];

impl Behaviour for DataFederation {
    fn name(&self) -> &'static str {
        "data_federation"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let mut reply = generic::handle(cx)?;
        let group = cx.scope.group_id.clone().unwrap_or_default();
        if let Payload::Json(body) = &mut reply.payload {
            match body {
                Value::Array(instances) => {
                    for instance in instances {
                        with_roles(cx, &group, instance)?;
                        with_hostnames(&group, instance);
                    }
                }
                instance => {
                    with_roles(cx, &group, instance)?;
                    with_hostnames(&group, instance);
                }
            }
        }
        Ok(reply)
    }
}

/// The hostname clients connect to: the instance's name and a five-letter tag stable for its
/// project and name (recorded TestDataFederationQueryLimit:
/// `e2e-data-federation-218-g1nxq.a.query.mongodb-dev.net`, on Atlas's development domain).
fn with_hostnames(group: &str, instance: &mut Value) {
    let Some(name) = instance
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    let Value::Object(fields) = instance else {
        return;
    };
    if fields.contains_key("hostnames") {
        return;
    }
    let tag = stable_tag(&format!("{group}/{name}"));
    let hostname = format!("{name}-{tag}.a.query.mongodb.net");
    fields.insert(
        "hostnames".into(),
        Value::Array(vec![Value::String(hostname)]),
    );
}

/// Adds to each provider's `cloudProviderConfig` the fields of the role it names, when the
/// project has that role for that provider.
fn with_roles(cx: &mut Ctx<'_>, group: &str, instance: &mut Value) -> Result<(), ApiError> {
    let Some(Value::Object(configs)) = instance.get_mut("cloudProviderConfig") else {
        return Ok(());
    };
    for (provider, config) in configs.iter_mut() {
        let Some(config) = config.as_object_mut() else {
            continue;
        };
        let Some(id) = config.get("roleId").and_then(Value::as_str) else {
            continue;
        };
        let Some(role) = stored_role(cx.tx, group, id)? else {
            continue;
        };
        if federation_key(&role) == Some(provider.as_str()) {
            config.extend(federation_config(&role));
        }
    }
    Ok(())
}
