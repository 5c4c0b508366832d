//! Cloud provider access roles and what depends on them. Evidence: the spec's
//! `CloudProviderAccessRole` branches, `CloudProviderAccessRoles` and the PATCH request schemas
//! (structure); the operation catalogue (POST answers 200, the list is one object with an array
//! per provider, DELETE names the provider); the recorded atlas-cli sequence
//! TestDataFederationQueryLimit (step 0: a federated database instance shows its AWS role's
//! external id, Atlas's account and the authorized role); the Terraform provider's expectation of
//! `CLOUD_PROVIDER_ACCESS_ROLE_NOT_FOUND` for a role the project does not have.

mod common;

use common::{
    Answer, JSON_2023, Server, advance_clock, assert_atlas_error, assert_valid, set_lifecycle,
};
use serde_json::{Value, json};

fn base(s: &Server) -> String {
    format!(
        "/api/atlas/v2/groups/{}/cloudProviderAccess",
        s.boot.project_id
    )
}

async fn send(s: &Server, method: &str, uri: &str, body: Option<&Value>) -> Answer {
    s.call(method, uri, Some(JSON_2023), body).await
}

async fn create(s: &Server, body: Value) -> Value {
    let made = send(s, "POST", &base(s), Some(&body)).await;
    // The catalogue: createGroupCloudProviderAccess answers 200.
    assert_eq!(made.status, 200, "{}", made.text());
    assert_valid("createGroupCloudProviderAccess", &made)
}

/// `n` characters, each one `allowed` takes.
fn all_of(s: &str, n: usize, allowed: fn(u8) -> bool) -> bool {
    s.len() == n && s.bytes().all(allowed)
}

fn lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn lower_alnum(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_lowercase()
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| all_of(g, n, lower_hex))
}

fn is_object_id(s: &str) -> bool {
    all_of(s, 24, lower_hex)
}

/// `arn:aws:iam::<12 digits>:root`.
fn is_account_root(s: &str) -> bool {
    s.strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
        .is_some_and(|account| all_of(account, 12, |b| b.is_ascii_digit()))
}

/// The spec's pattern for `gcpServiceAccountForAtlas`:
/// `mongodb-atlas-[0-9a-z]{16}@p-[0-9a-z]{24}.iam.gserviceaccount.com`.
fn is_gcp_service_account(s: &str) -> bool {
    let Some((name, domain)) = s.split_once('@') else {
        return false;
    };
    let project = domain.strip_suffix(".iam.gserviceaccount.com");
    name.strip_prefix("mongodb-atlas-")
        .is_some_and(|n| all_of(n, 16, lower_alnum))
        && project
            .and_then(|p| p.strip_prefix("p-"))
            .is_some_and(|p| all_of(p, 24, lower_alnum))
}

/// Evidence: the spec's `CloudProviderAccessAWSIAMRole`; Atlas's account as recorded in
/// TestDataFederationQueryLimit (`iamUserARN`). The role is not authorized until the PATCH.
#[tokio::test]
async fn an_aws_role_gets_atlas_account_and_external_id_and_is_authorized_by_patch() {
    let s = Server::new();
    let role = create(&s, json!({"providerName": "AWS"})).await;
    let id = role["roleId"].as_str().unwrap().to_owned();
    assert!(is_object_id(&id), "{role}");
    assert_eq!(role["providerName"], "AWS");
    let account = role["atlasAWSAccountArn"].as_str().unwrap();
    assert!(is_account_root(account), "{role}");
    let external = role["atlasAssumedRoleExternalId"].as_str().unwrap();
    assert!(is_uuid(external), "{role}");
    assert!(role["createdDate"].is_string());
    assert_eq!(role["featureUsages"], json!([]));
    assert!(role.get("iamAssumedRoleArn").is_none(), "{role}");
    assert!(role.get("authorizedDate").is_none(), "{role}");

    // A second role: the same Atlas account, its own external id.
    let other = create(&s, json!({"providerName": "AWS"})).await;
    assert_eq!(other["atlasAWSAccountArn"], account);
    assert_ne!(other["atlasAssumedRoleExternalId"], external);

    let arn = "arn:aws:iam::358363220050:role/mongodb-atlas-apix-atlascli-test";
    let authorized = send(
        &s,
        "PATCH",
        &format!("{}/{id}", base(&s)),
        Some(&json!({"providerName": "AWS", "iamAssumedRoleArn": arn})),
    )
    .await;
    let authorized = assert_valid("authorizeGroupCloudProviderAccessRole", &authorized);
    assert_eq!(authorized["iamAssumedRoleArn"], arn);
    assert!(authorized["authorizedDate"].is_string(), "{authorized}");
    assert_eq!(authorized["atlasAssumedRoleExternalId"], external);

    let read = send(&s, "GET", &format!("{}/{id}", base(&s)), None).await;
    let read = assert_valid("getGroupCloudProviderAccess", &read);
    assert_eq!(read["iamAssumedRoleArn"], arn);
    assert_eq!(read["authorizedDate"], authorized["authorizedDate"]);
}

/// Evidence: the spec bounds `iamAssumedRoleArn` to 20..2048 characters and names it an IAM
/// role's ARN; a value that is none is refused with a 400 naming the attribute.
#[tokio::test]
async fn authorizing_with_something_not_an_iam_role_arn_is_a_400() {
    let s = Server::new();
    let role = create(&s, json!({"providerName": "AWS"})).await;
    let uri = format!("{}/{}", base(&s), role["roleId"].as_str().unwrap());
    for bad in [
        "arn:aws:iam::123456789012:user/not-a-role",
        "arn:aws:s3:::a-bucket-not-a-role",
        "short",
    ] {
        let refused = send(
            &s,
            "PATCH",
            &uri,
            Some(&json!({"providerName": "AWS", "iamAssumedRoleArn": bad})),
        )
        .await;
        assert_atlas_error(&refused, 400, "INVALID_ATTRIBUTE");
        assert_eq!(refused.json()["parameters"], json!(["iamAssumedRoleArn"]));
    }
    // Still not authorized.
    let read = send(&s, "GET", &uri, None).await.json();
    assert!(read.get("iamAssumedRoleArn").is_none(), "{read}");
}

/// Evidence: the spec's `CloudProviderAccessAzureServicePrincipal` (the customer's three ids as
/// sent; Atlas's `_id`, `createdDate`, `lastUpdatedDate`) and
/// `CloudProviderAccessGCPServiceAccount` (a service account matching the spec's pattern, a
/// `status` from its enum: `IN_PROGRESS` while Atlas sets it up, then `COMPLETE`).
#[tokio::test]
async fn azure_and_gcp_roles_take_their_providers_shapes() {
    let s = Server::new();
    set_lifecycle(&s, "realistic").await;
    let ids = json!({"providerName": "AZURE",
        "atlasAzureAppId": "9f2deb0d-be22-4524-a403-df531868bac0",
        "servicePrincipalId": "a3ee8aa9-3a73-4bf9-9f87-7ef4e3ac6f1d",
        "tenantId": "91402384-d71e-22f5-22dd-759e272cdc1c"});
    let azure = create(&s, ids.clone()).await;
    assert!(is_object_id(azure["_id"].as_str().unwrap()), "{azure}");
    for field in ["atlasAzureAppId", "servicePrincipalId", "tenantId"] {
        assert_eq!(azure[field], ids[field]);
    }
    assert!(azure["createdDate"].is_string() && azure["lastUpdatedDate"].is_string());
    assert_eq!(azure["featureUsages"], json!([]));
    // Without the customer's ids there is no service principal to record.
    let missing = send(
        &s,
        "POST",
        &base(&s),
        Some(&json!({"providerName": "AZURE", "tenantId": ids["tenantId"]})),
    )
    .await;
    assert_atlas_error(&missing, 400, "MISSING_ATTRIBUTE");

    let gcp = create(&s, json!({"providerName": "GCP"})).await;
    let account = gcp["gcpServiceAccountForAtlas"].as_str().unwrap();
    assert!(is_gcp_service_account(account), "{gcp}");
    assert!(is_object_id(gcp["roleId"].as_str().unwrap()));
    assert_eq!(gcp["status"], "IN_PROGRESS");
    let gcp_uri = format!("{}/{}", base(&s), gcp["roleId"].as_str().unwrap());
    advance_clock(&s, 120).await;
    let ready = assert_valid(
        "getGroupCloudProviderAccess",
        &send(&s, "GET", &gcp_uri, None).await,
    );
    assert_eq!(ready["status"], "COMPLETE");
    assert_eq!(ready["gcpServiceAccountForAtlas"], account);

    // Read by `_id` alone, as every role is.
    let azure_uri = format!("{}/{}", base(&s), azure["_id"].as_str().unwrap());
    let read = assert_valid(
        "getGroupCloudProviderAccess",
        &send(&s, "GET", &azure_uri, None).await,
    );
    assert_eq!(read["tenantId"], ids["tenantId"]);
}

/// Evidence: the catalogue ("not paginated: one object with an array per provider") and the
/// spec's `CloudProviderAccessRoles`, whose arrays hold each provider's branch.
#[tokio::test]
async fn the_list_has_an_array_per_provider() {
    let s = Server::new();
    let empty = assert_valid(
        "listGroupCloudProviderAccess",
        &send(&s, "GET", &base(&s), None).await,
    );
    assert_eq!(
        empty,
        json!({"awsIamRoles": [], "azureServicePrincipals": [], "gcpServiceAccounts": []})
    );
    let aws = create(&s, json!({"providerName": "AWS"})).await;
    let gcp = create(&s, json!({"providerName": "GCP"})).await;
    let azure = create(
        &s,
        json!({"providerName": "AZURE",
            "atlasAzureAppId": "9f2deb0d-be22-4524-a403-df531868bac0",
            "servicePrincipalId": "a3ee8aa9-3a73-4bf9-9f87-7ef4e3ac6f1d",
            "tenantId": "91402384-d71e-22f5-22dd-759e272cdc1c"}),
    )
    .await;
    let list = assert_valid(
        "listGroupCloudProviderAccess",
        &send(&s, "GET", &base(&s), None).await,
    );
    assert_eq!(list["awsIamRoles"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["awsIamRoles"][0]["roleId"], aws["roleId"]);
    assert_eq!(
        list["awsIamRoles"][0]["atlasAssumedRoleExternalId"],
        aws["atlasAssumedRoleExternalId"]
    );
    assert_eq!(list["azureServicePrincipals"][0]["_id"], azure["_id"]);
    assert_eq!(list["gcpServiceAccounts"][0]["roleId"], gcp["roleId"]);
    assert!(list.get("results").is_none() && list.get("totalCount").is_none());
}

/// Evidence: the spec's DELETE `/{cloudProvider}/{roleId}` answering 204 and 404; the Terraform
/// provider's expectation of `CLOUD_PROVIDER_ACCESS_ROLE_NOT_FOUND` for a role the project does
/// not have.
#[tokio::test]
async fn a_role_is_deauthorized_by_its_provider_and_id_and_then_missing() {
    let s = Server::new();
    let role = create(&s, json!({"providerName": "AWS"})).await;
    let id = role["roleId"].as_str().unwrap();
    let uri = format!("{}/{id}", base(&s));
    // The path must name the role's provider.
    let wrong = send(&s, "DELETE", &format!("{}/GCP/{id}", base(&s)), None).await;
    assert_atlas_error(&wrong, 404, "CLOUD_PROVIDER_ACCESS_ROLE_NOT_FOUND");
    let gone = send(&s, "DELETE", &format!("{}/AWS/{id}", base(&s)), None).await;
    assert_eq!(gone.status, 204, "{}", gone.text());
    let missing = send(&s, "GET", &uri, None).await;
    assert_atlas_error(&missing, 404, "CLOUD_PROVIDER_ACCESS_ROLE_NOT_FOUND");
    assert_eq!(missing.json()["parameters"], json!([id]));
    let patch = send(
        &s,
        "PATCH",
        &uri,
        Some(&json!({"providerName": "AWS", "iamAssumedRoleArn": "arn:aws:iam::123456789012:role/r"})),
    )
    .await;
    assert_atlas_error(&patch, 404, "CLOUD_PROVIDER_ACCESS_ROLE_NOT_FOUND");
    let again = send(&s, "DELETE", &format!("{}/AWS/{id}", base(&s)), None).await;
    assert_atlas_error(&again, 404, "CLOUD_PROVIDER_ACCESS_ROLE_NOT_FOUND");
    let list = send(&s, "GET", &base(&s), None).await.json();
    assert_eq!(list["awsIamRoles"], json!([]));
}

/// Evidence: atlas-cli TestDataFederationQueryLimit step 0: the POST sends
/// `cloudProviderConfig.aws` with `roleId` and `testS3Bucket`; Atlas answers `externalId` (the
/// role's external id), `iamUserARN` (Atlas's account) and `iamAssumedRoleARN` (the authorized
/// role) beside the `roleId`. A role the project does not have adds nothing.
#[tokio::test]
async fn a_federated_database_instance_shows_its_aws_role() {
    let s = Server::new();
    let role = create(&s, json!({"providerName": "AWS"})).await;
    let id = role["roleId"].as_str().unwrap();
    let arn = "arn:aws:iam::358363220050:role/mongodb-atlas-apix-atlascli-test";
    let authorized = send(
        &s,
        "PATCH",
        &format!("{}/{id}", base(&s)),
        Some(&json!({"providerName": "AWS", "iamAssumedRoleArn": arn})),
    )
    .await;
    assert_eq!(authorized.status, 200, "{}", authorized.text());
    let federation = format!("/api/atlas/v2/groups/{}/dataFederation", s.boot.project_id);
    let body = json!({"name": "e2e-data-federation-218",
        "cloudProviderConfig": {"aws": {"roleId": id, "testS3Bucket": "test-bucket"}}});
    let made = send(&s, "POST", &federation, Some(&body)).await;
    let made = assert_valid("createGroupDataFederation", &made);
    let expected = json!({"externalId": role["atlasAssumedRoleExternalId"],
        "iamAssumedRoleARN": arn, "iamUserARN": role["atlasAWSAccountArn"], "roleId": id});
    assert_eq!(made["cloudProviderConfig"]["aws"], expected, "{made}");
    // The same on every read: one instance, and the list.
    let one = send(
        &s,
        "GET",
        &format!("{federation}/e2e-data-federation-218"),
        None,
    )
    .await;
    let one = assert_valid("getGroupDataFederation", &one);
    assert_eq!(one["cloudProviderConfig"]["aws"], expected);
    let all = assert_valid(
        "listGroupDataFederation",
        &send(&s, "GET", &federation, None).await,
    );
    assert_eq!(all[0]["cloudProviderConfig"]["aws"], expected);

    // A role the project does not have: only what was sent (and is not write-only) shows.
    let unknown = json!({"name": "df-unknown-role",
        "cloudProviderConfig": {"aws": {"roleId": "c0123456789abcdef012345c", "testS3Bucket": "b"}}});
    let made = send(&s, "POST", &federation, Some(&unknown)).await;
    let made = assert_valid("createGroupDataFederation", &made);
    assert_eq!(
        made["cloudProviderConfig"]["aws"],
        json!({"roleId": "c0123456789abcdef012345c"}),
        "{made}"
    );
}

/// Evidence: as above; a role authorized after the instance was made shows in later answers
/// (Atlas reads the role, the instance stores only its id). Before that, the unauthorized role
/// shows its external id and Atlas's account but no assumed role.
#[tokio::test]
async fn a_federated_database_instance_follows_its_role_authorization() {
    let s = Server::new();
    let role = create(&s, json!({"providerName": "AWS"})).await;
    let id = role["roleId"].as_str().unwrap();
    let federation = format!("/api/atlas/v2/groups/{}/dataFederation", s.boot.project_id);
    let body = json!({"name": "df1",
        "cloudProviderConfig": {"aws": {"roleId": id, "testS3Bucket": "test-bucket"}}});
    let made = send(&s, "POST", &federation, Some(&body)).await;
    let made = assert_valid("createGroupDataFederation", &made);
    let aws = &made["cloudProviderConfig"]["aws"];
    assert_eq!(aws["externalId"], role["atlasAssumedRoleExternalId"]);
    assert!(aws.get("iamAssumedRoleARN").is_none(), "{made}");
    let arn = "arn:aws:iam::123456789012:role/later";
    send(
        &s,
        "PATCH",
        &format!("{}/{id}", base(&s)),
        Some(&json!({"providerName": "AWS", "iamAssumedRoleArn": arn})),
    )
    .await;
    let read = send(&s, "GET", &format!("{federation}/df1"), None)
        .await
        .json();
    assert_eq!(read["cloudProviderConfig"]["aws"]["iamAssumedRoleARN"], arn);
}
