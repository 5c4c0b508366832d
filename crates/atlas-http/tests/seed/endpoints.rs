//! Private endpoint services and their endpoints, for the three providers.

use serde_json::{Value, json};

use super::common::{Server, advance_clock, assert_atlas_error, assert_valid, set_lifecycle};
use super::{call, project};

const V: &str = "2023-01-01";
const VPCE: &str = "vpce-0a1b2c3d4e5f6a7b8";
const AZURE_ID: &str = "/subscriptions/cba6d9c6-1d3f-3c11-83cb-c705d895e636/resourceGroups/rg-1/providers/Microsoft.Network/privateEndpoints/pe-1";

#[tokio::test]
async fn private_endpoints_per_provider() {
    let s = Server::new();
    let gid = project(&s, "endpoints").await;
    let pe = format!("/api/atlas/v2/groups/{gid}/privateEndpoint");
    set_lifecycle(&s, "manual").await;

    // Recorded: POST answers 201 INITIATING without the provider's names yet.
    let body = json!({"providerName": "AWS", "region": "us-east-1"});
    let created = call(
        &s,
        "POST",
        &format!("{pe}/endpointService"),
        V,
        Some(body.clone()),
    )
    .await;
    assert_eq!(created.status, 201);
    let aws = assert_valid("createGroupPrivateEndpointEndpointService", &created);
    assert_eq!(
        (aws["status"].as_str(), aws["regionName"].as_str()),
        (Some("INITIATING"), Some("US_EAST_1"))
    );
    assert_eq!(aws["interfaceEndpoints"], json!([]));
    // Recorded (TestPrivateEndpointsAWS): the names Atlas does not have yet are answered null.
    assert_eq!(aws.get("endpointServiceName"), Some(&Value::Null));
    assert_eq!(aws.get("supportedRemoteRegions"), Some(&Value::Null));
    assert_eq!(aws.get("errorMessage"), Some(&Value::Null));
    let sid = aws["id"].as_str().unwrap().to_owned();
    let service = format!("{pe}/AWS/endpointService/{sid}");
    // One service per provider and region ([D]); a bad region is refused.
    let again = call(&s, "POST", &format!("{pe}/endpointService"), V, Some(body)).await;
    assert_atlas_error(
        &again,
        409,
        "PRIVATELINK_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION",
    );
    let moon = call(
        &s,
        "POST",
        &format!("{pe}/endpointService"),
        V,
        Some(json!({"providerName": "AWS", "region": "moon-1"})),
    )
    .await;
    assert_atlas_error(&moon, 400, "INVALID_REGION");
    // Endpoints wait for the service ([D] PRIVATELINK_CANNOT_ACCEPT_ENDPOINTS).
    let early = call(
        &s,
        "POST",
        &format!("{service}/endpoint"),
        V,
        Some(json!({"id": VPCE})),
    )
    .await;
    assert_atlas_error(&early, 409, "PRIVATELINK_CANNOT_ACCEPT_ENDPOINTS");

    advance_clock(&s, 150).await;
    let available = assert_valid(
        "getGroupPrivateEndpointEndpointService",
        &call(&s, "GET", &service, V, None).await,
    );
    assert_eq!(available["status"], "AVAILABLE");
    assert!(
        available["endpointServiceName"]
            .as_str()
            .unwrap()
            .starts_with("com.amazonaws.vpce.us-east-1.vpce-svc-")
    );

    // The seed GET: the AWS interface endpoint shape.
    let endpoint = call(
        &s,
        "POST",
        &format!("{service}/endpoint"),
        V,
        Some(json!({"id": VPCE})),
    )
    .await;
    let endpoint = assert_valid(
        "createGroupPrivateEndpointEndpointServiceEndpoint",
        &endpoint,
    );
    assert_eq!(endpoint["connectionStatus"], "PENDING_ACCEPTANCE");
    let twice = call(
        &s,
        "POST",
        &format!("{service}/endpoint"),
        V,
        Some(json!({"id": VPCE})),
    )
    .await;
    assert_atlas_error(&twice, 409, "PRIVATELINK_INTERFACE_ENDPOINT_ALREADY_EXISTS");
    advance_clock(&s, 120).await;
    let read = call(
        &s,
        "GET",
        &format!("{service}/endpoint/{VPCE}?pretty=true&envelope=true"),
        V,
        None,
    )
    .await;
    assert_eq!(read.json()["status"], 200);
    let read = assert_valid(
        "getGroupPrivateEndpointEndpointServiceEndpoint",
        &call(&s, "GET", &format!("{service}/endpoint/{VPCE}"), V, None).await,
    );
    assert_eq!(
        read,
        json!({"cloudProvider": "AWS", "connectionStatus": "AVAILABLE", "deleteRequested": false, "interfaceEndpointId": VPCE})
    );
    let listed = assert_valid(
        "getGroupPrivateEndpointEndpointService",
        &call(&s, "GET", &service, V, None).await,
    );
    assert_eq!(listed["interfaceEndpoints"], json!([VPCE]));
    let unknown = call(
        &s,
        "GET",
        &format!("{service}/endpoint/vpce-0ffffffffffffffff"),
        V,
        None,
    )
    .await;
    assert_atlas_error(&unknown, 404, "PRIVATELINK_INTERFACE_ENDPOINT_NOT_FOUND");
    let no_service = call(
        &s,
        "GET",
        &format!("{pe}/AWS/endpointService/5f0000000000000000000abc/endpoint/{VPCE}"),
        V,
        None,
    )
    .await;
    assert_atlas_error(&no_service, 404, "PRIVATELINK_NOT_FOUND");

    // A service with endpoints stays; a project with services cannot close.
    assert_atlas_error(
        &call(&s, "DELETE", &service, V, None).await,
        409,
        "CANNOT_DELETE_PRIVATELINK_WITH_ENDPOINTS",
    );
    let close = call(
        &s,
        "DELETE",
        &format!("/api/atlas/v2/groups/{gid}"),
        V,
        None,
    )
    .await;
    assert_atlas_error(
        &close,
        409,
        "CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_PRIVATE_ENDPOINT_SERVICES",
    );

    // Azure: the private endpoint is named by its resource id, URL-encoded in the path.
    let azure = call(
        &s,
        "POST",
        &format!("{pe}/endpointService"),
        V,
        Some(json!({"providerName": "AZURE", "region": "eastus2"})),
    )
    .await;
    let azure = assert_valid("createGroupPrivateEndpointEndpointService", &azure);
    assert_eq!(azure["regionName"], "US_EAST_2");
    let azure_service = format!(
        "{pe}/AZURE/endpointService/{}",
        azure["id"].as_str().unwrap()
    );
    advance_clock(&s, 60).await;
    let shown = assert_valid(
        "getGroupPrivateEndpointEndpointService",
        &call(&s, "GET", &azure_service, V, None).await,
    );
    assert!(
        shown["privateLinkServiceName"]
            .as_str()
            .unwrap()
            .starts_with("pls_")
    );
    let body =
        json!({"cloudProvider": "AZURE", "id": AZURE_ID, "privateEndpointIPAddress": "10.0.0.4"});
    let created = call(
        &s,
        "POST",
        &format!("{azure_service}/endpoint"),
        V,
        Some(body),
    )
    .await;
    assert_eq!(
        assert_valid(
            "createGroupPrivateEndpointEndpointServiceEndpoint",
            &created
        )["status"],
        "INITIATING"
    );
    let encoded = AZURE_ID.replace('/', "%2F");
    let read = call(
        &s,
        "GET",
        &format!("{azure_service}/endpoint/{encoded}"),
        V,
        None,
    )
    .await;
    let read = assert_valid("getGroupPrivateEndpointEndpointServiceEndpoint", &read);
    assert_eq!(
        (
            read["cloudProvider"].as_str(),
            read["privateEndpointResourceId"].as_str()
        ),
        (Some("AZURE"), Some(AZURE_ID))
    );
    assert_eq!(read["privateEndpointIPAddress"], "10.0.0.4");

    // GCP: an endpoint group with one forwarding rule per service attachment.
    let gcp = call(
        &s,
        "POST",
        &format!("{pe}/endpointService"),
        V,
        Some(json!({"providerName": "GCP", "region": "us-central1", "portMappingEnabled": true})),
    )
    .await;
    let gcp = assert_valid("createGroupPrivateEndpointEndpointService", &gcp);
    // Recorded (TestPrivateEndpointsGCP): the names are empty lists until endpoints are made.
    assert_eq!(
        (
            gcp["endpointGroupNames"].clone(),
            gcp["serviceAttachmentNames"].clone()
        ),
        (json!([]), json!([]))
    );
    let gcp_service = format!("{pe}/GCP/endpointService/{}", gcp["id"].as_str().unwrap());
    advance_clock(&s, 240).await;
    let shown = assert_valid(
        "getGroupPrivateEndpointEndpointService",
        &call(&s, "GET", &gcp_service, V, None).await,
    );
    assert_eq!(shown["serviceAttachmentNames"].as_array().unwrap().len(), 1);
    let group = json!({"cloudProvider": "GCP", "endpointGroupName": "psc-group", "gcpProjectId": "p-0123456789abcdefghijklmn",
        "endpoints": [{"endpointName": "psc-0", "ipAddress": "10.1.0.2"}]});
    assert_valid(
        "createGroupPrivateEndpointEndpointServiceEndpoint",
        &call(
            &s,
            "POST",
            &format!("{gcp_service}/endpoint"),
            V,
            Some(group),
        )
        .await,
    );
    advance_clock(&s, 120).await;
    let read = assert_valid(
        "getGroupPrivateEndpointEndpointServiceEndpoint",
        &call(
            &s,
            "GET",
            &format!("{gcp_service}/endpoint/psc-group"),
            V,
            None,
        )
        .await,
    );
    assert_eq!(
        read["endpoints"][0],
        json!({"endpointName": "psc-0", "ipAddress": "10.1.0.2", "status": "AVAILABLE"})
    );
    let listed = call(&s, "GET", &format!("{pe}/GCP/endpointService"), V, None).await;
    let listed = assert_valid("listGroupPrivateEndpointEndpointService", &listed);
    assert_eq!(listed[0]["endpointGroupNames"], json!(["psc-group"]));

    // Regional mode: a project setting, toggled with a 202 (semantics §7.5).
    let mode = assert_valid(
        "getGroupPrivateEndpointRegionalMode",
        &call(&s, "GET", &format!("{pe}/regionalMode"), V, None).await,
    );
    assert_eq!(mode, json!({"enabled": false}));
    let toggled = call(
        &s,
        "PATCH",
        &format!("{pe}/regionalMode"),
        V,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(toggled.status, 202);
    assert_eq!(
        call(&s, "GET", &format!("{pe}/regionalMode"), V, None)
            .await
            .json(),
        json!({"enabled": true})
    );

    // Deleting: `deleteRequested`, the deleting state, then gone; the service follows.
    let endpoints = [
        (format!("{service}/endpoint/{VPCE}"), "connectionStatus"),
        (format!("{azure_service}/endpoint/{encoded}"), "status"),
        (format!("{gcp_service}/endpoint/psc-group"), "status"),
    ];
    for (uri, field) in &endpoints {
        assert_eq!(call(&s, "DELETE", uri, V, None).await.status, 204);
        let deleting = call(&s, "GET", uri, V, None).await.json();
        assert_eq!(
            (
                deleting["deleteRequested"].as_bool(),
                deleting[*field].as_str()
            ),
            (Some(true), Some("DELETING"))
        );
    }
    advance_clock(&s, 60).await;
    for (uri, _) in &endpoints {
        assert_eq!(call(&s, "GET", uri, V, None).await.status, 404);
    }
    for uri in [&service, &azure_service, &gcp_service] {
        let deleted = call(&s, "DELETE", uri, V, None).await;
        assert_eq!((deleted.status.as_u16(), deleted.json()), (202, json!({})));
        assert_eq!(
            call(&s, "GET", uri, V, None).await.json()["status"],
            "DELETING"
        );
    }
    advance_clock(&s, 60).await;
    assert_atlas_error(
        &call(&s, "GET", &service, V, None).await,
        404,
        "PRIVATELINK_NOT_FOUND",
    );
    let close = call(
        &s,
        "DELETE",
        &format!("/api/atlas/v2/groups/{gid}"),
        V,
        None,
    )
    .await;
    assert_eq!(close.status, 202, "{}", close.text());
}
