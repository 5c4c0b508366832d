//! Third-party integrations: one per type per project, secrets redacted on read.

use serde_json::json;

use super::common::{Server, assert_atlas_error, assert_valid};
use super::{call, g};

const V: &str = "2023-01-01";
const KEY: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn integrations_one_per_type_with_secrets_redacted() {
    let s = Server::new();
    let datadog = g(&s, "/integrations/DATADOG");

    // [D] INVALID_DATADOG_API_KEY: a Datadog key is 32 hexadecimal digits.
    let bad = call(
        &s,
        "POST",
        &datadog,
        V,
        Some(json!({"type": "DATADOG", "apiKey": "nope", "region": "US"})),
    )
    .await;
    assert_atlas_error(&bad, 400, "INVALID_DATADOG_API_KEY");
    // Creating answers the project's whole list (the spec's PaginatedIntegrationView).
    let body =
        json!({"type": "DATADOG", "apiKey": KEY, "region": "EU", "sendDatabaseMetrics": true});
    let created = assert_valid(
        "createGroupIntegration",
        &call(&s, "POST", &datadog, V, Some(body.clone())).await,
    );
    assert_eq!(created["totalCount"], 1);
    // The spec: the key "appears partially redacted" when read.
    let shown = &created["results"][0];
    assert_eq!(shown["apiKey"], format!("{}cdef", "*".repeat(28)));
    assert_eq!(
        (
            shown["region"].as_str(),
            shown["sendDatabaseMetrics"].as_bool()
        ),
        (Some("EU"), Some(true))
    );
    // [D] INTEGRATION_ALREADY_CONFIGURED: one configuration per type and project.
    let twice = call(&s, "POST", &datadog, V, Some(body)).await;
    assert_atlas_error(&twice, 409, "INTEGRATION_ALREADY_CONFIGURED");
    assert_eq!(
        twice.json()["detail"],
        "The integration of type 'DATADOG' is already configured for this group."
    );

    // A replacement that sends the redacted key back keeps the stored one.
    let read = assert_valid(
        "getGroupIntegration",
        &call(&s, "GET", &datadog, V, None).await,
    );
    let mut replacement = read.clone();
    replacement["region"] = json!("US");
    if let Some(map) = replacement.as_object_mut() {
        map.remove("id");
    }
    let replaced = call(&s, "PUT", &datadog, V, Some(replacement)).await;
    let replaced = assert_valid("updateGroupIntegration", &replaced);
    assert_eq!(replaced["results"][0]["apiKey"], read["apiKey"]);
    assert_eq!(replaced["results"][0]["region"], "US");
    assert_eq!(replaced["results"][0]["id"], read["id"]);

    // Every type keeps its own shape; the webhook secret is "completely redacted".
    let webhook =
        json!({"type": "WEBHOOK", "url": "https://hooks.example.com/atlas", "secret": "s3cr3t"});
    let listed = call(
        &s,
        "POST",
        &g(&s, "/integrations/WEBHOOK"),
        V,
        Some(webhook),
    )
    .await;
    let listed = assert_valid("createGroupIntegration", &listed);
    let hook = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "WEBHOOK")
        .unwrap()
        .clone();
    let url = format!(
        "{}tlas",
        "*".repeat("https://hooks.example.com/atlas".len() - 4)
    );
    assert_eq!(
        (hook["url"].as_str(), hook["secret"].as_str()),
        (Some(url.as_str()), Some("******"))
    );
    let prometheus = json!({"type": "PROMETHEUS", "enabled": true, "serviceDiscovery": "http", "username": "prom", "password": "pw"});
    let listed = call(
        &s,
        "POST",
        &g(&s, "/integrations/PROMETHEUS"),
        V,
        Some(prometheus),
    )
    .await;
    assert!(
        !assert_valid("createGroupIntegration", &listed)
            .to_string()
            .contains("\"pw\"")
    );
    let pager = call(
        &s,
        "POST",
        &g(&s, "/integrations/PAGER_DUTY"),
        V,
        Some(json!({"type": "PAGER_DUTY", "serviceKey": "short"})),
    )
    .await;
    assert_atlas_error(&pager, 400, "INVALID_PAGER_DUTY_SERVICE_KEY");
    let mismatch = call(
        &s,
        "POST",
        &g(&s, "/integrations/OPS_GENIE"),
        V,
        Some(json!({"type": "VICTOR_OPS", "apiKey": "k"})),
    )
    .await;
    assert_atlas_error(&mismatch, 400, "VALIDATION_ERROR");

    let all = assert_valid(
        "listGroupIntegrations",
        &call(&s, "GET", &g(&s, "/integrations?itemsPerPage=2"), V, None).await,
    );
    assert_eq!(
        (
            all["totalCount"].as_u64(),
            all["results"].as_array().unwrap().len()
        ),
        (Some(3), 2)
    );

    // [D] INTEGRATION_NOT_CONFIGURED for a type the project has not configured.
    let none = call(&s, "GET", &g(&s, "/integrations/SLACK"), V, None).await;
    assert_atlas_error(&none, 404, "INTEGRATION_NOT_CONFIGURED");
    assert_atlas_error(
        &call(
            &s,
            "PUT",
            &g(&s, "/integrations/SLACK"),
            V,
            Some(json!({"type": "SLACK", "apiToken": "t", "channelName": "c"})),
        )
        .await,
        404,
        "INTEGRATION_NOT_CONFIGURED",
    );
    assert_eq!(call(&s, "DELETE", &datadog, V, None).await.status, 204);
    assert_atlas_error(
        &call(&s, "GET", &datadog, V, None).await,
        404,
        "INTEGRATION_NOT_CONFIGURED",
    );
}
