//! Cloud provider access roles (`/groups/{groupId}/cloudProviderAccess`): the identities Atlas
//! uses to reach a customer's AWS, Azure or GCP account (encryption at rest, data federation,
//! snapshot export, log export all name one by its id).
//!
//! What Atlas makes on `POST`, by provider (the spec's `CloudProviderAccessRole` branches):
//! - AWS: a `roleId`, Atlas's own AWS account (`atlasAWSAccountArn`, the same for every role:
//!   recorded as `arn:aws:iam::299602853325:root` in the data federation answer of atlas-cli
//!   TestDataFederationQueryLimit, whose `iamUserARN` is the role's Atlas account) and an
//!   external id per role (a UUID); `iamAssumedRoleArn` and `authorizedDate` appear only once the
//!   customer's role is authorized with `PATCH /{roleId}`.
//! - Azure: the customer's `atlasAzureAppId`, `servicePrincipalId` and `tenantId` as sent, with an
//!   `_id` (the role id), `createdDate` and `lastUpdatedDate`.
//! - GCP: a service account in Atlas's GCP project for the Atlas project
//!   (`mongodb-atlas-<16>@p-<24>.iam.gserviceaccount.com`, the spec's pattern) that Atlas sets up
//!   in the background: `status` `IN_PROGRESS`, then `COMPLETE`.
//!
//! Every role shows `featureUsages` (empty: nothing here records a feature's use of a role yet).
//! The list is not paginated: one object with an array per provider (`CloudProviderAccessRoles`).
//! A role is read and authorized by its id alone, but deauthorized at
//! `/{cloudProvider}/{roleId}`, which must name its provider.

use atlas_model::OperationId;
use atlas_store::{Page, Record, Tx};
use rand::RngExt as _;
use regex::Regex;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

use super::shared::support::{body_text, param};
use crate::api_error;
use crate::engine::{Behaviour, Ctx};
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle;
use crate::kernel::lifecycle::kinds::cloud_provider_access as kind;

pub struct CloudProviderAccess;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupCloudProviderAccess,
    OperationId::CreateGroupCloudProviderAccess,
    OperationId::GetGroupCloudProviderAccess,
    OperationId::AuthorizeGroupCloudProviderAccessRole,
    OperationId::DeauthorizeGroupCloudProviderAccessRole,
];

/// Atlas's AWS account, which every AWS role trusts (recorded: atlas-cli
/// TestDataFederationQueryLimit step 0, `cloudProviderConfig.aws.iamUserARN`; the same account
/// shows in the Atlas CLI's own `cloudProvider accessRole aws create` output).
pub const ATLAS_AWS_ACCOUNT_ARN: &str = "arn:aws:iam::299602853325:root";

impl Behaviour for CloudProviderAccess {
    fn name(&self) -> &'static str {
        "cloud_provider_access"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    /// Reads settle a GCP service account's set-up (`IN_PROGRESS` → `COMPLETE`).
    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let group = cx.scope.group_id.clone().unwrap_or_default();
        match cx.call.op.id {
            OperationId::ListGroupCloudProviderAccess => list(cx, &group),
            OperationId::CreateGroupCloudProviderAccess => create(cx, &group),
            OperationId::GetGroupCloudProviderAccess => {
                let record = found(cx, &group, None)?;
                Ok(Reply::json(cx.render.status(), cx.render.fit(&record.doc)))
            }
            OperationId::AuthorizeGroupCloudProviderAccessRole => authorize(cx, &group),
            _ => {
                // The catalogue notes Atlas refuses to deauthorize a role a feature still uses;
                // no recorded exchange gives the code, and no role here records a feature's use
                // (`featureUsages` stays empty), so deauthorizing is always allowed.
                let provider = param(cx.call, "cloudProvider");
                let record = found(cx, &group, Some(&provider))?;
                cx.tx.delete(&record.collection, &record.key)?;
                Ok(Reply::empty(cx.render.status()))
            }
        }
    }
}

/// Where a project's roles are kept (the collection the generic engine used, so roles it stored
/// stay visible).
fn collection(group: &str) -> String {
    format!("/groups/{group}/cloudProviderAccess")
}

/// The id a role is addressed by: `roleId`, or `_id` for an Azure service principal.
fn role_id(doc: &Value) -> Option<&str> {
    doc.get("roleId")
        .or_else(|| doc.get("_id"))
        .and_then(Value::as_str)
}

fn provider_of(doc: &Value) -> &str {
    doc.get("providerName")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The project's role `id` as stored, whatever its provider (`None` when it has none). Other
/// families (data federation) read a role through this.
pub fn stored_role(tx: &mut dyn Tx, group: &str, id: &str) -> Result<Option<Value>, ApiError> {
    Ok(find(tx, group, id)?.map(|r| r.doc))
}

fn find(tx: &mut dyn Tx, group: &str, id: &str) -> Result<Option<Record>, ApiError> {
    // Looked up by field, not key: the generic engine keyed roles it stored otherwise.
    let (records, _) = tx.list(&collection(group), Page::ALL)?;
    Ok(records.into_iter().find(|r| role_id(&r.doc) == Some(id)))
}

/// The role the path names, settled for this call, or Atlas's 404; `provider`, when the path
/// names one, must be the role's.
fn found(cx: &mut Ctx<'_>, group: &str, provider: Option<&str>) -> Result<Record, ApiError> {
    let id = param(cx.call, "roleId");
    let missing = || api_error!(CLOUD_PROVIDER_ACCESS_ROLE_NOT_FOUND, id.as_str());
    let Some(record) = find(cx.tx, group, &id)? else {
        return Err(missing());
    };
    if provider.is_some_and(|p| p != provider_of(&record.doc)) {
        return Err(missing());
    }
    lifecycle::present(cx.tx, cx.lifecycle, record, &cx.now)?
        .ok_or_else(|| missing().keeping_writes())
}

fn list(cx: &mut Ctx<'_>, group: &str) -> Result<Reply, ApiError> {
    let roles = lifecycle::settle_all(cx.tx, cx.lifecycle, &collection(group), &cx.now)?;
    let mut by_provider: [Vec<Value>; 3] = Default::default();
    for record in roles {
        let slot = match provider_of(&record.doc) {
            "AWS" => 0,
            "AZURE" => 1,
            "GCP" => 2,
            _ => continue,
        };
        by_provider[slot].push(record.doc);
    }
    let [aws, azure, gcp] = by_provider;
    let body = json!({
        "awsIamRoles": aws,
        "azureServicePrincipals": azure,
        "gcpServiceAccounts": gcp,
    });
    Ok(Reply::json(cx.render.status(), cx.render.fit_owned(body)))
}

fn create(cx: &mut Ctx<'_>, group: &str) -> Result<Reply, ApiError> {
    let provider = body_text(cx, "providerName").unwrap_or_default();
    let id = ids::object_id(cx.now.get());
    let created = atlas_timestamp(cx.now.get());
    let mut doc = match provider.as_str() {
        "AWS" => json!({
            "providerName": "AWS",
            "roleId": id,
            "atlasAWSAccountArn": ATLAS_AWS_ACCOUNT_ARN,
            "atlasAssumedRoleExternalId": ids::uuid(),
            "createdDate": created,
            "featureUsages": [],
        }),
        "AZURE" => {
            let mut doc = json!({
                "providerName": "AZURE",
                "_id": id,
                "createdDate": created,
                "lastUpdatedDate": created,
                "featureUsages": [],
            });
            // The customer's application, service principal and tenant are what Atlas
            // authenticates as: a service principal without them names nothing (the Terraform
            // provider's `azure_config` requires all three).
            for field in AZURE_FIELDS {
                let value =
                    body_text(cx, field).ok_or_else(|| api_error!(MISSING_ATTRIBUTE, *field))?;
                doc[*field] = json!(value);
            }
            doc
        }
        // The validation stage admits only the spec's three providers: this is GCP.
        _ => json!({
            "providerName": "GCP",
            "roleId": id,
            "gcpServiceAccountForAtlas": gcp_service_account(group),
            "createdDate": created,
            "featureUsages": [],
        }),
    };
    if provider == "GCP" {
        kind::GCP_SET_UP.begin(cx.tx, &mut doc, cx.now.get())?;
    }
    cx.tx.insert(&collection(group), &id, &doc)?;
    Ok(Reply::json(cx.render.status(), cx.render.fit(&doc)))
}

/// The customer's Azure identifiers a service principal role carries.
const AZURE_FIELDS: &[&str] = &["atlasAzureAppId", "servicePrincipalId", "tenantId"];

fn authorize(cx: &mut Ctx<'_>, group: &str) -> Result<Reply, ApiError> {
    let mut record = found(cx, group, None)?;
    let provider = provider_of(&record.doc).to_owned();
    // The body's discriminator chose the request branch the validation stage checked; a body
    // for another provider's branch cannot authorize this role (localatlas's rule: no recorded
    // exchange sends one).
    if body_text(cx, "providerName").is_some_and(|p| p != provider) {
        return Err(api_error!(INVALID_ATTRIBUTE, "providerName"));
    }
    let now = atlas_timestamp(cx.now.get());
    match provider.as_str() {
        "AWS" => {
            let arn = body_text(cx, "iamAssumedRoleArn")
                .ok_or_else(|| api_error!(MISSING_ATTRIBUTE, "iamAssumedRoleArn"))?;
            if !is_iam_role_arn(&arn) {
                // The spec bounds the value's length only (the validation stage refuses a short
                // one with this code); a value that is no IAM role ARN gets the same answer,
                // naming the attribute. Atlas's own code for it is not recorded.
                return Err(api_error!(INVALID_ATTRIBUTE, "iamAssumedRoleArn"));
            }
            record.doc["iamAssumedRoleArn"] = json!(arn);
            record.doc["authorizedDate"] = json!(now);
        }
        "AZURE" => {
            for field in AZURE_FIELDS {
                if let Some(value) = body_text(cx, field) {
                    record.doc[*field] = json!(value);
                }
            }
            record.doc["lastUpdatedDate"] = json!(now);
        }
        // A GCP service account has nothing to authorize (its update schema is the
        // discriminator alone): the role is answered as it is.
        _ => {}
    }
    cx.tx.update(&record.collection, &record.key, &record.doc)?;
    Ok(Reply::json(cx.render.status(), cx.render.fit(&record.doc)))
}

/// Whether `arn` names an IAM role: `arn:<partition>:iam::<12-digit account>:role/<path/name>`
/// (AWS's ARN format for roles; names take letters, digits and `+=,.@_-`).
fn is_iam_role_arn(arn: &str) -> bool {
    static ROLE: OnceLock<Option<Regex>> = OnceLock::new();
    ROLE.get_or_init(|| {
        Regex::new(r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
            .ok()
    })
    .as_ref()
    .is_some_and(|re| re.is_match(arn))
}

/// A new service account for Atlas in the project's Atlas-side GCP project: a random name, and
/// the GCP project derived from the Atlas project so every role of the project shares it.
fn gcp_service_account(group: &str) -> String {
    let mut rng = rand::rng();
    let name: String = (0..16).map(|_| alnum(rng.random_range(0..36u8))).collect();
    format!(
        "mongodb-atlas-{name}@p-{}.iam.gserviceaccount.com",
        gcp_project(group)
    )
}

/// 24 lowercase letters and digits, stable for `group` (FNV-1a over the id, one step a letter).
fn gcp_project(group: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    (0..24u8)
        .map(|i| {
            for b in group.bytes().chain([i]) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            alnum((h % 36) as u8)
        })
        .collect()
}

fn alnum(n: u8) -> char {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    char::from(ALPHABET[usize::from(n % 36)])
}

/// A role's fields a federated database instance's `cloudProviderConfig.<provider>` shows,
/// under that schema's names (`DataLakeAWSCloudProviderConfig` and its Azure and GCP siblings):
/// recorded for AWS (atlas-cli TestDataFederationQueryLimit step 0: `externalId` is the role's
/// external id, `iamUserARN` Atlas's account, `iamAssumedRoleARN` the authorized role). Fields
/// the role does not have yet (an AWS role not authorized) are left out.
pub fn federation_config(role: &Value) -> Map<String, Value> {
    let pairs: &[(&str, &str)] = match provider_of(role) {
        "AWS" => &[
            ("externalId", "atlasAssumedRoleExternalId"),
            ("iamUserARN", "atlasAWSAccountArn"),
            ("iamAssumedRoleARN", "iamAssumedRoleArn"),
        ],
        "AZURE" => &[
            ("atlasAppId", "atlasAzureAppId"),
            ("servicePrincipalId", "servicePrincipalId"),
            ("tenantId", "tenantId"),
        ],
        "GCP" => &[("gcpServiceAccount", "gcpServiceAccountForAtlas")],
        _ => &[],
    };
    pairs
        .iter()
        .filter_map(|(to, from)| Some(((*to).to_owned(), role.get(*from)?.clone())))
        .collect()
}

/// The provider key of `cloudProviderConfig` a role's provider is shown under.
pub fn federation_key(role: &Value) -> Option<&'static str> {
    match provider_of(role) {
        "AWS" => Some("aws"),
        "AZURE" => Some("azure"),
        "GCP" => Some("gcp"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atlas_account_is_an_account_root_arn() {
        let re = Regex::new(r"^arn:aws:iam::[0-9]{12}:root$").unwrap();
        assert!(re.is_match(ATLAS_AWS_ACCOUNT_ARN));
        // The spec bounds it to 20..2048 characters.
        assert!((20..=2048).contains(&ATLAS_AWS_ACCOUNT_ARN.len()));
    }

    #[test]
    fn external_ids_are_uuids_per_role() {
        let (a, b) = (ids::uuid(), ids::uuid());
        assert!(ids::is_uuid(&a) && ids::is_uuid(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn gcp_service_accounts_follow_the_spec_pattern() {
        // The spec's pattern for `gcpServiceAccountForAtlas`.
        let re = Regex::new(r"^mongodb-atlas-[0-9a-z]{16}@p-[0-9a-z]{24}.iam.gserviceaccount.com$")
            .unwrap();
        let group = "6a793f5ac0eb9e7a177143e3";
        let first = gcp_service_account(group);
        let second = gcp_service_account(group);
        assert!(re.is_match(&first), "{first}");
        assert_ne!(first, second);
        // One Atlas-side GCP project per Atlas project.
        assert_eq!(
            first.split_once('@').unwrap().1,
            second.split_once('@').unwrap().1
        );
        assert_ne!(gcp_project(group), gcp_project("6a793f5ac0eb9e7a177143e4"));
    }

    #[test]
    fn iam_role_arns_are_recognized() {
        // Recorded (TestDataFederationQueryLimit): the customer's role.
        assert!(is_iam_role_arn(
            "arn:aws:iam::358363220050:role/mongodb-atlas-apix-atlascli-test"
        ));
        assert!(is_iam_role_arn(
            "arn:aws:iam::123456789012:role/path/to/app-role"
        ));
        assert!(is_iam_role_arn("arn:aws-us-gov:iam::123456789012:role/r"));
        assert!(!is_iam_role_arn("arn:aws:iam::123456789012:user/someone"));
        assert!(!is_iam_role_arn("arn:aws:iam::1234:role/short-account"));
        assert!(!is_iam_role_arn("arn:aws:s3:::my-bucket-name-here"));
        assert!(!is_iam_role_arn("not-an-arn-but-long-enough"));
    }

    #[test]
    fn federation_config_takes_the_roles_fields_under_its_names() {
        let role = json!({"providerName": "AWS", "roleId": "c0123456789abcdef012345c",
            "atlasAWSAccountArn": ATLAS_AWS_ACCOUNT_ARN,
            "atlasAssumedRoleExternalId": "c6956c40-f7f3-404e-8123-a122deb6162f",
            "iamAssumedRoleArn": "arn:aws:iam::358363220050:role/r"});
        let config = federation_config(&role);
        assert_eq!(config["iamUserARN"], ATLAS_AWS_ACCOUNT_ARN);
        assert_eq!(config["externalId"], "c6956c40-f7f3-404e-8123-a122deb6162f");
        assert_eq!(
            config["iamAssumedRoleARN"],
            "arn:aws:iam::358363220050:role/r"
        );
        assert_eq!(federation_key(&role), Some("aws"));
        // Not authorized yet: no assumed role to show.
        let mut pending = role.clone();
        pending.as_object_mut().unwrap().remove("iamAssumedRoleArn");
        assert!(!federation_config(&pending).contains_key("iamAssumedRoleARN"));
    }
}
