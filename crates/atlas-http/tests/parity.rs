//! Parity with real Atlas: what it fills in that nobody sent, the codes real clients match, and
//! lookups as clients make them. Each test names its evidence: a recorded exchange of the
//! conformance corpus (by sequence) or the client whose reads depend on it.

mod common;

use common::{JSON_2023, Server, assert_atlas_error, assert_valid};
use serde_json::{Value, json};

/// Evidence: the Go SDK and the Terraform provider's `mongodbatlas_project` read every setting
/// back after creating a project; a missing one is a perpetual diff.
#[tokio::test]
async fn a_new_project_shows_every_setting_and_a_change_keeps_the_rest() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/settings", s.boot.project_id);
    let settings = assert_valid("getGroupSettings", &s.get(&uri).await);
    assert_eq!(settings["isDataExplorerEnabled"], true);
    assert_eq!(settings["isSchemaAdvisorEnabled"], true);
    assert_eq!(settings["isExtendedStorageSizesEnabled"], false);
    let changed = s
        .call(
            "PATCH",
            &uri,
            Some(JSON_2023),
            Some(&json!({"isSchemaAdvisorEnabled": false})),
        )
        .await;
    let changed = assert_valid("updateGroupSettings", &changed);
    assert_eq!(changed["isSchemaAdvisorEnabled"], false);
    assert_eq!(changed["isPerformanceAdvisorEnabled"], true);
    assert_eq!(s.get(&uri).await.json()["isSchemaAdvisorEnabled"], false);
}

/// Evidence: recorded database user answers (atlas-cli TestIndependendShardScalingCluster,
/// TestClustersM0Flags) carry the project and `NONE` for every external authentication type;
/// the provider's `mongodbatlas_database_user` reads `x509_type` and the others back.
#[tokio::test]
async fn database_users_show_their_project_and_authentication_types() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/databaseUsers", s.boot.project_id);
    let body = json!({"username": "u1", "password": "secret-123456", "databaseName": "admin",
        "groupId": s.boot.project_id,
        "roles": [{"roleName": "readWrite", "databaseName": "app"}]});
    let created = s.call("POST", &uri, Some(JSON_2023), Some(&body)).await;
    let created = assert_valid("createGroupDatabaseUser", &created);
    for doc in [
        created,
        s.get(&format!("{uri}/admin/u1")).await.json(),
        s.get(&uri).await.json()["results"][0].clone(),
    ] {
        assert_eq!(doc["groupId"], s.boot.project_id.as_str(), "{doc}");
        assert_eq!(doc["x509Type"], "NONE");
        assert_eq!(doc["awsIAMType"], "NONE");
        assert_eq!(doc["ldapAuthType"], "NONE");
        assert_eq!(doc["oidcAuthType"], "NONE");
        assert_eq!(doc["scopes"], json!([]));
        assert_eq!(doc["labels"], json!([]));
    }
    // An X.509 user keeps what it asked for.
    let x509 = json!({"username": "CN=app", "databaseName": "$external", "x509Type": "MANAGED",
        "groupId": s.boot.project_id,
        "roles": [{"roleName": "read", "databaseName": "app"}]});
    let made = s.call("POST", &uri, Some(JSON_2023), Some(&x509)).await;
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(made.json()["x509Type"], "MANAGED");
    assert_eq!(made.json()["awsIAMType"], "NONE");
}

/// Evidence: Atlas answers `USERNAME_NOT_FOUND` for a database user it does not have (semantics
/// reference; the Go SDK's `IsErrorCode(err, "USERNAME_NOT_FOUND")` is how tools test for it).
#[tokio::test]
async fn a_missing_database_user_is_username_not_found() {
    let s = Server::new();
    let uri = format!(
        "/api/atlas/v2/groups/{}/databaseUsers/admin/nosuchuser",
        s.boot.project_id
    );
    let missing = s.get(&uri).await;
    assert_atlas_error(&missing, 404, "USERNAME_NOT_FOUND");
    assert_eq!(missing.json()["parameters"], json!(["nosuchuser"]));
    assert_eq!(
        missing.json()["detail"],
        "No user with username nosuchuser exists."
    );
}

/// Evidence: the Go SDK's example and the provider wait on the status of an entry by the
/// address they created it with; the entry itself is found by its address too.
#[tokio::test]
async fn access_list_status_by_plain_address() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/accessList", s.boot.project_id);
    let body = json!([{"ipAddress": "192.0.2.10", "comment": "CI"}]);
    let created = s.call("POST", &uri, Some(JSON_2023), Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let status = s.get(&format!("{uri}/192.0.2.10/status")).await;
    assert_eq!(
        assert_valid("getGroupAccessListStatus", &status)["STATUS"],
        "ACTIVE"
    );
    assert_eq!(s.get(&format!("{uri}/192.0.2.11/status")).await.status, 404);
}

/// Evidence: the Terraform provider's acceptance logs (GET .../accessList/179.154.226.68 and
/// .../accessList/179.154.226.127%2F32: 404 ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND, "IP
/// Address 179.154.226.127/32 not on Atlas access list for group <id>.", parameters [entry,
/// group]); the provider reads the code as "the entry is gone" after a deletion.
#[tokio::test]
async fn a_missing_access_list_entry_is_atlas_network_permission_entry_not_found() {
    let s = Server::new();
    let group = s.boot.project_id.clone();
    let uri = format!("/api/atlas/v2/groups/{group}/accessList");
    for (path, named) in [
        ("192.0.2.11", "192.0.2.11"),
        ("10.1.0.0%2F16", "10.1.0.0/16"),
    ] {
        for method in ["GET", "DELETE"] {
            let missing = s
                .call(method, &format!("{uri}/{path}"), Some(JSON_2023), None)
                .await;
            assert_atlas_error(&missing, 404, "ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND");
            let body = missing.json();
            assert_eq!(
                body["detail"],
                format!("IP Address {named} not on Atlas access list for group {group}.")
            );
            assert_eq!(body["parameters"], json!([named, group]));
        }
    }
}

/// Evidence: recorded GET /groups/{groupId}/auditLog on a new project (atlas-cli TestAuditing).
#[tokio::test]
async fn a_new_projects_audit_log_is_off() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/auditLog", s.boot.project_id);
    let audit = assert_valid("getGroupAuditLog", &s.get(&uri).await);
    assert_eq!(audit["enabled"], false);
    assert_eq!(audit["auditAuthorizationSuccess"], false);
    assert_eq!(audit["configurationType"], "NONE");
    // Recorded PATCH with a filter (TestAuditing): 202 and FILTER_JSON.
    let filter = json!({"enabled": true, "auditAuthorizationSuccess": true,
        "auditFilter": "{\"atype\": \"authenticate\"}"});
    let patched = s.call("PATCH", &uri, Some(JSON_2023), Some(&filter)).await;
    let patched = assert_valid("updateGroupAuditLog", &patched);
    assert_eq!(patched["configurationType"], "FILTER_JSON");
    assert_eq!(s.get(&uri).await.json()["configurationType"], "FILTER_JSON");
}

/// Evidence: recorded cluster answers at 2023-02-01 and 2024-08-05 (atlas-cli TestRestores,
/// TestClustersFlags): the TLS defaults, the BI Connector's read preference and the log
/// redaction flag show on a cluster created without them, in every version that declares them.
#[tokio::test]
async fn a_cluster_shows_what_atlas_fills_in() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id);
    let body = json!({"name": "c1", "clusterType": "REPLICASET", "replicationSpecs": [{
        "regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
        "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
    let v2024 = common::v("2024-10-23");
    let created = s.call("POST", &uri, Some(&v2024), Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    for version in ["2023-02-01", "2024-08-05"] {
        let read = s
            .call("GET", &format!("{uri}/c1"), Some(&common::v(version)), None)
            .await;
        let doc = read.json();
        assert_eq!(read.status, 200, "{version}: {doc}");
        assert_eq!(
            doc["advancedConfiguration"]["minimumEnabledTlsProtocol"], "TLS1_2",
            "{version}"
        );
        assert_eq!(doc["biConnector"]["readPreference"], "secondary");
        if version == "2024-08-05" {
            assert_eq!(doc["redactClientLogData"], false);
        }
        assert_eq!(
            doc["replicationSpecs"][0]["regionConfigs"][0]["autoScaling"]["compute"]["enabled"],
            false
        );
    }
}

/// Where the spec and real Atlas disagree on a value, the recording wins: every enum value and
/// every value type Atlas answered with in the recorded traffic (`../shared/conformance`, when it
/// is next to the repository) is one the response schemas localatlas serves accept, so fitting
/// an answer never drops a value Atlas shows (the overlays in `atlas-codegen/overlays.json`
/// carry the corrections, each with its evidence).
#[test]
fn recorded_answers_fit_the_served_schemas() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/corpus.jsonl");
    let Ok(text) = std::fs::read_to_string(&corpus) else {
        eprintln!("conformance corpus not found next to the repository; check skipped");
        return;
    };
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in text.lines() {
        let Ok(exchange) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let status = exchange["status"].as_u64().unwrap_or(0) as u16;
        let body = &exchange["response_body"];
        let (Some(name), Some(accept)) = (
            exchange["operation_id"].as_str(),
            exchange["request_accept"].as_str(),
        ) else {
            continue;
        };
        if !(200..300).contains(&status) || !(body.is_object() || body.is_array()) {
            continue;
        }
        let Some(version) = accept
            .strip_prefix("application/vnd.atlas.")
            .and_then(|s| s.split('+').next())
        else {
            continue;
        };
        let Some(op) = atlas_model::operation_by_name(name) else {
            continue;
        };
        let Some(schema) = op
            .success_for(version)
            .find(|(s, _)| *s == status)
            .or_else(|| op.success_for(version).next())
            .and_then(|(_, m)| m.schema)
        else {
            continue;
        };
        checked += 1;
        if let Err(violations) =
            atlas_schema::Schemas::global().validate(schema, atlas_schema::Mode::Response, body)
        {
            for v in violations {
                // Atlas also answers `null` for many properties it has no value for; fitting
                // leaves those out, which docs/fidelity.md counts as a known difference.
                let null = v.value.as_ref().is_some_and(serde_json::Value::is_null);
                if !null
                    && matches!(
                        v.kind,
                        atlas_schema::ViolationKind::InvalidEnumValue
                            | atlas_schema::ViolationKind::WrongType
                    )
                {
                    wrong.push(format!(
                        "{name} {version} {schema}{}: {:?} {:?}",
                        v.pointer, v.kind, v.value
                    ));
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(checked > 100, "only {checked} recorded answers checked");
    assert!(
        wrong.is_empty(),
        "{} recorded values the served schemas refuse:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Evidence: recorded alert configuration answers (atlas-cli TestAlertConfig at 2023-01-01): a
/// PUT keeps the configuration's id and creation time, `updated` equals `created` at creation
/// and moves with each change, and the project is shown.
#[tokio::test]
async fn an_alert_configuration_keeps_its_identity_through_a_replacement() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/alertConfigs", s.boot.project_id);
    let body = json!({"enabled": true, "eventTypeName": "NO_PRIMARY", "matchers": [],
        "notifications": [{"delayMin": 0, "emailEnabled": true, "intervalMin": 5,
        "smsEnabled": false, "typeName": "GROUP"}]});
    let created = s.call("POST", &uri, Some(JSON_2023), Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    assert_eq!(created["updated"], created["created"]);
    assert_eq!(created["groupId"], s.boot.project_id.as_str());
    let id = created["id"].as_str().unwrap().to_owned();
    // Atlas gives each notification a notifierId, the same on every read.
    let notifier = created["notifications"][0]["notifierId"].clone();
    assert!(
        notifier.as_str().is_some_and(|n| n.len() == 24),
        "{created}"
    );
    assert_eq!(
        s.get(&format!("{uri}/{id}")).await.json()["notifications"][0]["notifierId"],
        notifier
    );
    common::advance_clock(&s, 60).await;
    let mut changed = body.clone();
    changed["enabled"] = json!(false);
    let put = s
        .call(
            "PUT",
            &format!("{uri}/{id}"),
            Some(JSON_2023),
            Some(&changed),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let put = put.json();
    assert_eq!(put["id"], id.as_str());
    assert_eq!(put["created"], created["created"]);
    assert_ne!(put["updated"], created["updated"]);
    assert_eq!(put["enabled"], false);
}

/// Evidence: atlas-cli TestIdentityProviders reads its organization's federation settings, then
/// reads and changes the organization's connected configuration without creating either: every
/// organization has both.
#[tokio::test]
async fn an_organization_is_connected_to_its_federation_settings() {
    let s = Server::new();
    let settings = s
        .get(&format!(
            "/api/atlas/v2/orgs/{}/federationSettings",
            s.boot.org_id
        ))
        .await;
    let settings = assert_valid("getOrgFederationSettings", &settings);
    assert_eq!(settings["identityProviderStatus"], "INACTIVE");
    let id = settings["id"].as_str().unwrap().to_owned();
    let again = s
        .get(&format!(
            "/api/atlas/v2/orgs/{}/federationSettings",
            s.boot.org_id
        ))
        .await;
    assert_eq!(again.json()["id"], id.as_str(), "the settings are kept");
    let uri = format!(
        "/api/atlas/v2/federationSettings/{id}/connectedOrgConfigs/{}",
        s.boot.org_id
    );
    let connected = assert_valid("getFederationSettingConnectedOrgConfig", &s.get(&uri).await);
    assert_eq!(connected["postAuthRoleGrants"], json!(["ORG_OWNER"]));
    assert_eq!(connected["orgId"], s.boot.org_id.as_str());
    // Recorded (TestIdentityProviders): with no identity provider, Atlas answers its id and the
    // user conflicts as null, in the settings and the connected configuration.
    assert_eq!(settings.get("identityProviderId"), Some(&Value::Null));
    assert_eq!(connected.get("identityProviderId"), Some(&Value::Null));
    assert_eq!(connected.get("userConflicts"), Some(&Value::Null));
    // A provider no organization uses lists no associated organization (recorded POST at
    // 2023-11-15, TestIdentityProviders#001).
    let provider = json!({"audience": "idp-646", "authorizationType": "GROUP",
        "description": "CLI TEST Provider", "displayName": "idp-646", "groupsClaim": "groups",
        "idpType": "WORKLOAD", "issuerUri": "https://accounts.google.com", "protocol": "OIDC",
        "userClaim": "user"});
    let made = s
        .call(
            "POST",
            &format!("/api/atlas/v2/federationSettings/{id}/identityProviders"),
            Some(&common::v("2023-11-15")),
            Some(&provider),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text());
    assert_eq!(made.json()["associatedOrgs"], json!([]));
    let changed = s
        .call(
            "PATCH",
            &uri,
            Some(JSON_2023),
            Some(
                &json!({"domainAllowList": ["example.com"], "domainRestrictionEnabled": false,
                "postAuthRoleGrants": ["ORG_MEMBER"]}),
            ),
        )
        .await;
    let changed = assert_valid("updateFederationSettingConnectedOrgConfig", &changed);
    assert_eq!(changed["domainAllowList"], json!(["example.com"]));
    assert_eq!(
        s.get(&uri).await.json()["postAuthRoleGrants"],
        json!(["ORG_MEMBER"])
    );
    let unknown = s
        .get(&format!(
            "/api/atlas/v2/federationSettings/{}/connectedOrgConfigs/{}",
            "aaaaaaaaaaaaaaaaaaaaaaaa", s.boot.org_id
        ))
        .await;
    assert_eq!(unknown.status, 404);
}

/// Evidence: atlas-cli TestDataFederationQueryLimit sets a query limit with PATCH on a tenant that has
/// none (Atlas answers 200 with the limit), reads it, lists it and deletes it.
#[tokio::test]
async fn a_data_federation_query_limit_is_set_by_patch() {
    let s = Server::new();
    let base = format!("/api/atlas/v2/groups/{}/dataFederation", s.boot.project_id);
    let tenant = json!({"name": "df1", "dataProcessRegion": {"cloudProvider": "AWS", "region": "VIRGINIA_USA"},
        "cloudProviderConfig": {"aws": {"roleId": "aaaaaaaaaaaaaaaaaaaaaaaa", "testS3Bucket": "b"}}});
    let made = s.call("POST", &base, Some(JSON_2023), Some(&tenant)).await;
    assert_eq!(made.status, 200, "{}", made.text());
    // Recorded (TestDataFederationQueryLimit): ACTIVE at once, no private endpoint hostnames,
    // storage with its databases and stores null.
    let made = made.json();
    assert_eq!(made["state"], "ACTIVE");
    assert_eq!(made["privateEndpointHostnames"], json!([]));
    // A hostname from the name and a tag that stays the same on every read.
    let host = made["hostnames"][0].as_str().unwrap_or_default().to_owned();
    assert!(
        host.starts_with("df1-") && host.ends_with(".a.query.mongodb.net"),
        "{made}"
    );
    assert_eq!(
        s.get(&format!("{base}/df1")).await.json()["hostnames"][0],
        host.as_str()
    );
    assert_eq!(
        made["storage"],
        json!({"databases": null, "stores": null}),
        "{made}"
    );
    let limit = format!("{base}/df1/limits/bytesProcessed.daily");
    let set = s
        .call(
            "PATCH",
            &limit,
            Some(JSON_2023),
            Some(&json!({"value": 1_000_000_000_u64, "overrunPolicy": "BLOCK"})),
        )
        .await;
    let set = assert_valid("setGroupDataFederationLimit", &set);
    assert_eq!(set["name"], "bytesProcessed.daily");
    // Recorded (TestDataFederationQueryLimit): nothing used yet, and the time of the change.
    assert_eq!(set["currentUsage"], 0);
    assert!(set["lastModifiedDate"].is_string(), "{set}");
    assert_eq!(s.get(&limit).await.json()["overrunPolicy"], "BLOCK");
    assert_eq!(
        s.call("DELETE", &limit, Some(JSON_2023), None).await.status,
        204
    );
    assert_eq!(s.get(&limit).await.status, 404);
}

/// Evidence: atlas-cli TestSearch loads the sample dataset into its cluster (201 with an `_id`
/// and `state: WORKING`) and polls the load by that `_id`.
#[tokio::test]
async fn a_sample_dataset_load_is_followed_by_its_id() {
    let s = Server::new();
    let group = format!("/api/atlas/v2/groups/{}", s.boot.project_id);
    let body = json!({"name": "c1", "clusterType": "REPLICASET", "replicationSpecs": [{
        "regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
        "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
    let v2024 = common::v("2024-10-23");
    let made = s
        .call(
            "POST",
            &format!("{group}/clusters"),
            Some(&v2024),
            Some(&body),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let load = s
        .call(
            "POST",
            &format!("{group}/sampleDatasetLoad/c1"),
            Some(JSON_2023),
            None,
        )
        .await;
    let load = assert_valid("requestGroupSampleDatasetLoad", &load);
    assert_eq!(load["state"], "WORKING");
    assert_eq!(load["clusterName"], "c1");
    let id = load["_id"].as_str().unwrap().to_owned();
    let polled = s.get(&format!("{group}/sampleDatasetLoad/{id}")).await;
    assert_eq!(
        assert_valid("getGroupSampleDatasetLoad", &polled)["_id"],
        id.as_str()
    );
    let again = s.get(&format!("{group}/sampleDatasetLoad/{id}")).await;
    assert_eq!(again.json()["state"], "COMPLETED");
    let missing = s
        .call(
            "POST",
            &format!("{group}/sampleDatasetLoad/nope"),
            Some(JSON_2023),
            None,
        )
        .await;
    assert_atlas_error(&missing, 404, "CLUSTER_NOT_FOUND");
}

/// Evidence: atlas-cli TestLinkToken deletes the organization's link token before making one:
/// 404 `UNEXPECTED_ERROR` "Could not find the requested external organization link.".
#[tokio::test]
async fn deleting_a_link_token_that_is_not_there_is_refused() {
    let s = Server::new();
    let uri = format!(
        "/api/atlas/v2/orgs/{}/liveMigrations/linkTokens",
        s.boot.org_id
    );
    let refused = s.call("DELETE", &uri, Some(JSON_2023), None).await;
    assert_atlas_error(&refused, 404, "UNEXPECTED_ERROR");
    assert_eq!(
        refused.json()["detail"],
        "Could not find the requested external organization link."
    );
}

/// Evidence: recorded integration answers (atlas-cli TestIntegrations at 2023-01-01): a Datadog
/// integration shows its metric flags off; a PagerDuty one has none.
#[tokio::test]
async fn integration_defaults_follow_the_integration_type() {
    let s = Server::new();
    let base = format!("/api/atlas/v2/groups/{}/integrations", s.boot.project_id);
    let pager = json!({"type": "PAGER_DUTY", "serviceKey": "11111111111111111111111111111111", "region": "US"});
    let made = s
        .call(
            "POST",
            &format!("{base}/PAGER_DUTY"),
            Some(JSON_2023),
            Some(&pager),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text());
    let datadog =
        json!({"type": "DATADOG", "apiKey": "11111111111111111111111111111111", "region": "US"});
    let made = s
        .call(
            "POST",
            &format!("{base}/DATADOG"),
            Some(JSON_2023),
            Some(&datadog),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text());
    let webhook = json!({"type": "WEBHOOK", "url": "https://example.com/hook"});
    let made = s
        .call(
            "POST",
            &format!("{base}/WEBHOOK"),
            Some(JSON_2023),
            Some(&webhook),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text());
    let results = made.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 3);
    for item in &results {
        let flag = &item["sendDatabaseMetrics"];
        match item["type"].as_str() {
            Some("DATADOG") => {
                assert_eq!(flag, false, "{item}");
                // Recorded: no custom endpoint is answered as null (overlay).
                assert_eq!(item.get("customEndpoint"), Some(&Value::Null), "{item}");
            }
            Some("WEBHOOK") => {
                // Recorded: a webhook without templates answers them as null (overlay).
                assert_eq!(item.get("bodyTemplate"), Some(&Value::Null), "{item}");
                assert_eq!(item.get("headersTemplate"), Some(&Value::Null), "{item}");
            }
            _ => assert!(flag.is_null(), "{item}"),
        }
    }
}

/// Evidence: recorded identity providers list (atlas-cli TestIdentityProviders at 2023-01-01):
/// certificates given inline answer `pemFileInfo.fileName: null` (overlay), so fitting a
/// provider's certificate information writes the null rather than leaving the name out.
#[test]
fn inline_certificates_have_no_file_name() {
    let fitted = atlas_schema::Schemas::global().fit(
        "PemFileInfo",
        &json!({"certificates": [{"notAfter": "2030-01-01T00:00:00Z", "notBefore": "2025-01-01T00:00:00Z"}]}),
        &atlas_schema::Hints::default(),
    );
    assert_eq!(fitted.get("fileName"), Some(&Value::Null), "{fitted}");
}

/// Evidence: recorded PUT of the backup compliance policy at 2023-10-01 (atlas-cli
/// TestBackupCompliancePolicySetup): the answer names who changed it and when.
#[tokio::test]
async fn the_compliance_policy_records_who_changed_it() {
    let s = Server::new();
    let uri = format!(
        "/api/atlas/v2/groups/{}/backupCompliancePolicy",
        s.boot.project_id
    );
    let body = json!({"authorizedEmail": "a@example.com", "authorizedUserFirstName": "a",
        "authorizedUserLastName": "b", "copyProtectionEnabled": false, "encryptionAtRestEnabled": false,
        "pitEnabled": false, "projectId": s.boot.project_id, "restoreWindowDays": 0,
        "scheduledPolicyItems": []});
    let put = s
        .call("PUT", &uri, Some(&common::v("2023-10-01")), Some(&body))
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let put = put.json();
    assert_eq!(put["updatedUser"], s.boot.public_key.as_str());
    assert!(put["updatedDate"].is_string(), "{put}");
    assert_eq!(put["deletable"], false);
    // Recorded (TestBackupCompliancePolicyDescribe): the PUT answers ENABLING, a read after it
    // ACTIVE; without an on-demand policy item Atlas answers it as null.
    assert_eq!(put["state"], "ENABLING");
    assert_eq!(
        put.get("onDemandPolicyItem"),
        Some(&serde_json::Value::Null)
    );
    // The instant lifecycle shows the transition to one read, then completes it.
    let mut states = Vec::new();
    for _ in 0..2 {
        let read = s
            .call("GET", &uri, Some(&common::v("2023-10-01")), None)
            .await;
        assert_eq!(read.status, 200, "{}", read.text());
        states.push(read.json()["state"].clone());
    }
    assert_eq!(states, vec![json!("ENABLING"), json!("ACTIVE")]);
}

/// Evidence: recorded POST of a federated database private endpoint (atlas-cli
/// TestDataFederationPrivateEndpointsAWS): the CLI sends a one-element array, Atlas answers 201
/// with the whole list, the entry `OK`, and serves it by its id.
#[tokio::test]
async fn federated_database_private_endpoints_are_added_as_a_list() {
    let s = Server::new();
    let uri = format!(
        "/api/atlas/v2/groups/{}/privateNetworkSettings/endpointIds",
        s.boot.project_id
    );
    let entry = json!({"endpointId": "vpce-0fcd9d80bbafe4871", "comment": "comment",
        "provider": "AWS", "type": "DATA_LAKE"});
    let made = s
        .call("POST", &uri, Some(JSON_2023), Some(&json!([entry])))
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let made = assert_valid("createGroupPrivateNetworkSettingEndpointId", &made);
    assert_eq!(made["totalCount"], 1);
    assert_eq!(made["results"][0]["status"], "OK");
    let one = s.get(&format!("{uri}/vpce-0fcd9d80bbafe4871")).await;
    assert_eq!(
        assert_valid("getGroupPrivateNetworkSettingEndpointId", &one)["comment"],
        "comment"
    );
}

/// Evidence: recorded answers of processArgs (TestClustersFlags at 2023-01-01,
/// TestAccMockableAdvancedCluster_replicasetAdvConfigUpdate at 2024-08-05), sample data loads
/// (TestSearch) and clusters (TestClustersFlags at 2024-08-05): Atlas answers the properties
/// nobody set as `null` rather than leaving them out (the overlays' `null_when_unset`).
#[tokio::test]
async fn unset_properties_atlas_answers_as_null() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id);
    let body = json!({"name": "c1", "clusterType": "REPLICASET", "replicationSpecs": [{
        "regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
        "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
    let made = s
        .call("POST", &uri, Some(&common::v("2024-08-05")), Some(&body))
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let cluster = made.json();
    assert_eq!(
        cluster.get("adaptiveCapacity"),
        Some(&serde_json::Value::Null)
    );
    assert_eq!(cluster["effectiveDatabaseEdition"], "CORE");
    assert_eq!(
        cluster["replicationSpecs"][0]["regionConfigs"][0]["autoScaling"]["compute"]["predictiveEnabled"],
        false
    );
    for version in ["2023-01-01", "2024-08-05"] {
        let args = s
            .call(
                "GET",
                &format!("{uri}/c1/processArgs"),
                Some(&common::v(version)),
                None,
            )
            .await;
        assert_eq!(args.status, 200, "{}", args.text());
        let args = args.json();
        assert_eq!(
            args.get("oplogMinRetentionHours"),
            Some(&serde_json::Value::Null),
            "{args}"
        );
        assert_eq!(args["javascriptEnabled"], true);
        let patch = s
            .call(
                "PATCH",
                &format!("{uri}/c1/processArgs"),
                Some(&common::v(version)),
                Some(&json!({"oplogSizeMB": 2048})),
            )
            .await;
        assert_eq!(patch.json()["oplogSizeMB"], 2048, "{}", patch.text());
    }
}

/// Evidence: tools scale a cluster by sending back the replication specs they read with one
/// size changed (the Go SDK and the Terraform provider; the Atlas CLI's recorded PATCH in
/// TestClustersFlags echoes read-only attributes and gets 200): the echoed spec ids are
/// accepted and say which spec changes, so the spec keeps its id.
#[tokio::test]
async fn a_scale_up_that_echoes_the_specs_keeps_their_ids() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id);
    let body = json!({"name": "c1", "clusterType": "REPLICASET", "replicationSpecs": [{
        "regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
        "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
    let v2024 = common::v("2024-10-23");
    let made = s.call("POST", &uri, Some(&v2024), Some(&body)).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let read = s
        .call("GET", &format!("{uri}/c1"), Some(&v2024), None)
        .await
        .json();
    let spec_id = read["replicationSpecs"][0]["id"].clone();
    assert!(spec_id.is_string(), "{read}");
    let mut specs = read["replicationSpecs"].clone();
    specs[0]["regionConfigs"][0]["electableSpecs"]["instanceSize"] = json!("M20");
    let changed = s
        .call(
            "PATCH",
            &format!("{uri}/c1"),
            Some(&v2024),
            Some(&json!({"replicationSpecs": specs, "stateName": "IDLE"})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let after = s
        .call("GET", &format!("{uri}/c1"), Some(&v2024), None)
        .await
        .json();
    assert_eq!(after["replicationSpecs"][0]["id"], spec_id);
    assert_eq!(
        after["replicationSpecs"][0]["regionConfigs"][0]["electableSpecs"]["instanceSize"],
        "M20"
    );
    // The echoed read-only state is ignored: the change shows its own transition.
    assert_ne!(changed.json()["stateName"], "IDLE");
}

/// Evidence: recorded on-demand snapshots (atlas-cli TestSnapshots at 2023-01-01) answer
/// `frequencyType: ondemand` and no policy items, in the take answer and in later reads.
#[tokio::test]
async fn an_on_demand_snapshot_says_so() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id);
    let body = json!({"name": "c1", "clusterType": "REPLICASET", "backupEnabled": true,
        "replicationSpecs": [{"regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1",
        "priority": 7, "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
    let made = s
        .call("POST", &uri, Some(&common::v("2024-10-23")), Some(&body))
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let snapshots = format!("{uri}/c1/backup/snapshots");
    let taken = s
        .call(
            "POST",
            &snapshots,
            Some(JSON_2023),
            Some(&json!({"description": "before", "retentionInDays": 1})),
        )
        .await;
    let taken = assert_valid("takeGroupClusterBackupSnapshots", &taken);
    assert_eq!(taken["frequencyType"], "ondemand");
    assert_eq!(taken["policyItems"], json!([]));
    let id = taken["id"].as_str().unwrap().to_owned();
    let read = s.get(&format!("{snapshots}/{id}")).await;
    assert_eq!(
        assert_valid("getGroupClusterBackupSnapshot", &read)["frequencyType"],
        "ondemand"
    );
}

/// Evidence: recorded `GET /orgs/{orgId}/users` of the Atlas CLI's test organization (atlas-cli
/// TestAtlasOrgs, TestAtlasTeamUsers at 2025-02-19): every organization has the person who
/// created it as an active `ORG_OWNER`, who owns its project too; the CLI's team tests name that
/// member in `POST /orgs/{orgId}/teams`, and TestAtlasUsers looks it up by name.
#[tokio::test]
async fn the_organization_has_its_owner_to_name() {
    use atlas_api::control::bootstrap::OWNER_USERNAME;
    let s = Server::new();
    let org = s.boot.org_id.clone();
    let users = s
        .call(
            "GET",
            &format!("/api/atlas/v2/orgs/{org}/users"),
            Some(&common::v("2025-02-19")),
            None,
        )
        .await;
    let users = assert_valid("listOrgUsers", &users);
    assert_eq!(users["results"][0]["username"], OWNER_USERNAME, "{users}");
    assert_eq!(users["results"][0]["id"], s.boot.owner_id.as_str());
    assert_eq!(
        users["results"][0]["roles"]["orgRoles"],
        json!(["ORG_OWNER"])
    );
    assert_eq!(
        users["results"][0]["roles"]["groupRoleAssignments"][0]["groupRoles"],
        json!(["GROUP_OWNER"])
    );
    let team = s
        .call(
            "POST",
            &format!("/api/atlas/v2/orgs/{org}/teams"),
            Some(JSON_2023),
            Some(&json!({"name": "t1", "usernames": [OWNER_USERNAME]})),
        )
        .await;
    assert_eq!(team.status, 201, "{}", team.text());
    let by_name = s
        .get(&format!("/api/atlas/v2/users/byName/{OWNER_USERNAME}"))
        .await;
    assert_eq!(
        assert_valid("getUserByName", &by_name)["id"],
        s.boot.owner_id.as_str()
    );
    // A reset keeps the owner, with its id, as it keeps the other bootstrap identities.
    let reset = s
        .control("POST", "/__localatlas/reset", Some(&json!({})))
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text());
    let again = s
        .get(&format!("/api/atlas/v2/users/byName/{OWNER_USERNAME}"))
        .await;
    assert_eq!(again.json()["id"], s.boot.owner_id.as_str());
}

/// Evidence: recorded POST of an API key's access list (atlas-cli TestAtlasOrgAPIKeyAccessList
/// at 2023-01-01): an entry never used shows `count: 0` (the spec's minimum of 1 is corrected by
/// an overlay), and a single address is linked by the address, not the block.
#[tokio::test]
async fn an_api_keys_new_access_list_entry_is_unused_and_linked_by_its_address() {
    let s = Server::new();
    let uri = format!(
        "/api/atlas/v2/orgs/{}/apiKeys/{}/accessList",
        s.boot.org_id, s.boot.api_key_id
    );
    let made = s
        .call(
            "POST",
            &uri,
            Some(JSON_2023),
            Some(&json!([{"ipAddress": "192.168.0.229"}])),
        )
        .await;
    let made = assert_valid("createOrgApiKeyAccessListEntry", &made);
    let entry = &made["results"][0];
    assert_eq!(entry["count"], 0, "{made}");
    let link = entry["links"][0]["href"].as_str().unwrap_or_default();
    assert!(link.ends_with("/accessList/192.168.0.229"), "{link}");
}

/// Evidence: recorded POST and GET of a database user's certificates (atlas-cli TestDBUserCerts
/// at 2023-01-01): the POST answers 201 (a PEM file: certificate and private key), the list shows
/// each certificate's serial as `_id`, its project, `notAfter` and `CN=<username>`.
#[tokio::test]
async fn managed_x509_users_get_real_certificates() {
    let s = Server::new();
    let group = s.boot.project_id.clone();
    let users = format!("/api/atlas/v2/groups/{group}/databaseUsers");
    let user = json!({"username": "user389", "databaseName": "$external", "x509Type": "MANAGED",
        "groupId": group, "roles": [{"roleName": "readAnyDatabase", "databaseName": "admin"}]});
    let made = s.call("POST", &users, Some(JSON_2023), Some(&user)).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let certs = format!("{users}/user389/certs");
    let issued = s
        .call(
            "POST",
            &certs,
            Some(JSON_2023),
            Some(&json!({"monthsUntilExpiration": 3})),
        )
        .await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    let pem = issued.json();
    let pem = pem.as_str().unwrap_or_default();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(pem.contains("-----BEGIN PRIVATE KEY-----"));
    let listed = assert_valid("listGroupDatabaseUserCerts", &s.get(&certs).await);
    assert_eq!(listed["totalCount"], 1, "{listed}");
    let cert = &listed["results"][0];
    assert!(cert["_id"].as_i64().is_some_and(|id| id > 0), "{cert}");
    assert_eq!(cert["subject"], "CN=user389");
    assert_eq!(cert["groupId"], group.as_str());
    assert!(cert["notAfter"].as_str() > cert["createdAt"].as_str());
    // Only Atlas-managed X.509 users get certificates; an unknown user is USERNAME_NOT_FOUND.
    let scram = json!({"username": "app", "databaseName": "admin", "password": "secret-password-1",
        "groupId": group, "roles": [{"roleName": "readAnyDatabase", "databaseName": "admin"}]});
    assert_eq!(
        s.call("POST", &users, Some(JSON_2023), Some(&scram))
            .await
            .status,
        201
    );
    let refused = s
        .call(
            "POST",
            &format!("{users}/app/certs"),
            Some(JSON_2023),
            Some(&json!({})),
        )
        .await;
    assert_atlas_error(&refused, 404, "USERNAME_NOT_FOUND");
    let too_long = s
        .call(
            "POST",
            &certs,
            Some(JSON_2023),
            Some(&json!({"monthsUntilExpiration": 0})),
        )
        .await;
    assert_eq!(too_long.status, 400, "{}", too_long.text());
}

/// Evidence: recorded GET of the alert matcher field names (atlas-cli TestAlertConfig) and of a
/// new cluster's performance advisor (atlas-cli TestPerformanceAdvisor, 2023-01-01): Atlas lists
/// its nine matcher fields, and a computed read with nothing to show answers empty lists.
#[tokio::test]
async fn catalogues_and_empty_computed_reads_answer_as_atlas_does() {
    let s = Server::new();
    let names = assert_valid(
        "listAlertConfigMatcherFieldNames",
        &s.get("/api/atlas/v2/alertConfigs/matchers/fieldNames")
            .await,
    );
    assert_eq!(names.as_array().map(Vec::len), Some(9), "{names}");
    assert_eq!(names[0], "ATLAS_NODE_TYPE");
    let advisor = format!(
        "/api/atlas/v2/groups/{}/processes/c1-shard-00-00.abcde.mongodb.net:27017/performanceAdvisor",
        s.boot.project_id
    );
    let namespaces = s.get(&format!("{advisor}/namespaces")).await;
    assert_eq!(namespaces.status, 200, "{}", namespaces.text());
    assert_eq!(namespaces.json()["namespaces"], json!([]));
    let suggested = s.get(&format!("{advisor}/suggestedIndexes")).await.json();
    assert_eq!(
        (
            suggested["shapes"].clone(),
            suggested["suggestedIndexes"].clone()
        ),
        (json!([]), json!([]))
    );
}
