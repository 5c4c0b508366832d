//! What real clients need beyond the spec, through HTTP only: the private endpoints they call,
//! the request shapes MongoDB's MCP server sends (each fact found in its source is a test here),
//! fault injection through the control API, the coverage report, the recent-requests ring, the
//! console page and its read-only resources overview.

mod common;

use common::{JSON_2023, Server, assert_atlas_error, v};
use serde_json::{Value, json};

/// The version MongoDB's MCP server sends on every Admin API request (its `ATLAS_API_VERSION`).
const MCP_VERSION: &str = "2025-03-12";

fn shard() -> Value {
    json!({"regionConfigs": [{
        "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
        "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}
    }]})
}

fn clusters_uri(s: &Server) -> String {
    format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id)
}

async fn create_cluster(s: &Server, name: &str) -> common::Answer {
    let body = json!({"name": name, "clusterType": "REPLICASET", "replicationSpecs": [shard()]});
    s.call(
        "POST",
        &clusters_uri(s),
        Some(&v("2024-10-23")),
        Some(&body),
    )
    .await
}

/// The element of the JSON array `list` whose `field` is `value`.
fn find(list: &Value, field: &str, value: &str) -> Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e[field] == value)
        .unwrap_or_else(|| panic!("no {field} = {value} in {list}"))
        .clone()
}

/// One operation's entry of a coverage report.
fn operation(coverage: &Value, id: &str) -> Value {
    find(&coverage["operations"], "operationId", id)
}

async fn add_fault(s: &Server, rule: Value) -> Value {
    let answer = s.control("POST", "/__localatlas/faults", Some(&rule)).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()
}

#[tokio::test]
async fn ipinfo_answers_the_callers_address_to_authenticated_callers() {
    let s = Server::new();
    let anonymous = s
        .anonymous("GET", "/api/private/ipinfo", Some("application/json"), None)
        .await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").is_some());
    let by_key = s
        .call("GET", "/api/private/ipinfo", Some("application/json"), None)
        .await;
    assert_eq!(by_key.status, 200, "{}", by_key.text());
    assert_eq!(by_key.header("content-type"), Some("application/json"));
    assert_eq!(by_key.json(), json!({"currentIpv4Address": "127.0.0.1"}));
    // The MCP server calls it with its Bearer token and `Accept: application/json`.
    let token = s.token().await;
    let by_token = s
        .bearer(
            &token,
            "GET",
            "/api/private/ipinfo",
            Some("application/json"),
        )
        .await;
    assert_eq!(by_token.json()["currentIpv4Address"], "127.0.0.1");
    let wrong_method = s.call("POST", "/api/private/ipinfo", None, None).await;
    assert_atlas_error(&wrong_method, 405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn unauthenticated_private_endpoints() {
    let s = Server::new();
    let version = s
        .anonymous(
            "GET",
            "/api/private/unauth/nds/defaultMongoDBMajorVersion",
            None,
            None,
        )
        .await;
    assert_eq!(version.status, 200);
    assert_eq!(
        version.header("content-type"),
        Some("text/plain;charset=iso-8859-1")
    );
    assert_eq!(version.text(), "8.0");
    let events =
        json!([{"timestamp": "2026-01-01T00:00:00Z", "source": "mdbmcp", "properties": {}}]);
    let unauth = s
        .anonymous(
            "POST",
            "/api/private/unauth/telemetry/events",
            Some("application/json"),
            Some(&events),
        )
        .await;
    assert_eq!(unauth.status, 200);
    // The authenticated telemetry endpoint refuses anonymous callers (the MCP server then falls
    // back to the unauthenticated one) and accepts a token.
    let refused = s
        .anonymous(
            "POST",
            "/api/private/v1.0/telemetry/events",
            Some("application/json"),
            Some(&events),
        )
        .await;
    assert_eq!(refused.status, 401);
    let token = s.token().await;
    let accepted = s
        .bearer(&token, "POST", "/api/private/v1.0/telemetry/events", None)
        .await;
    assert_eq!(accepted.status, 200);
    let unknown = s
        .anonymous("GET", "/api/private/unauth/nothing", None, None)
        .await;
    assert_atlas_error(&unknown, 404, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn the_mcp_servers_requests_are_served() {
    let s = Server::new();
    // Its token request: Basic from the raw id and secret, an empty client-credentials form
    // (oauth4webapi adds `grant_type`), `Accept: application/json`.
    let token = s.token().await;
    let accept = v(MCP_VERSION);
    let project = &s.boot.project_id;
    // Every read its Atlas tools make, with the one version it sends everywhere: negotiation
    // serves the newest version dated on or before 2025-03-12 (semantics §0.1).
    for path in [
        "/api/atlas/v2/orgs".to_owned(),
        format!("/api/atlas/v2/orgs/{}/groups", s.boot.org_id),
        "/api/atlas/v2/groups".to_owned(),
        format!("/api/atlas/v2/groups/{project}"),
        format!("/api/atlas/v2/groups/{project}/clusters"),
        format!("/api/atlas/v2/groups/{project}/flexClusters"),
        format!("/api/atlas/v2/groups/{project}/accessList"),
        format!("/api/atlas/v2/groups/{project}/databaseUsers"),
        format!("/api/atlas/v2/groups/{project}/alerts"),
        format!("/api/atlas/v2/groups/{project}/streams"),
        format!("/api/atlas/v2/groups/{project}/encryptionAtRest"),
        "/api/atlas/v2/clusters".to_owned(),
    ] {
        let answer = s.bearer(&token, "GET", &path, Some(&accept)).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        let served = answer.header("content-type").unwrap_or_default();
        assert!(
            served.starts_with("application/vnd.atlas."),
            "{path}: {served}"
        );
    }
    // `atlas-create-access-list` posts an array of entries, each with `groupId` and a comment.
    let entries = json!([{"groupId": project, "ipAddress": "127.0.0.1",
        "comment": "Added by MongoDB MCP Server to enable tool access"}]);
    let uri = format!("/api/atlas/v2/groups/{project}/accessList");
    let created = s.call("POST", &uri, Some(&accept), Some(&entries)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    // Adding the same address again is not an error (the MCP server would read a 409 as
    // "already present"; Atlas keeps one entry).
    let again = s.call("POST", &uri, Some(&accept), Some(&entries)).await;
    assert_eq!(again.status, 201, "{}", again.text());
    assert_eq!(again.json()["totalCount"], 1);
    // `atlas-create-cluster` sets compute auto-scaling bounds (the spec calls them read-only;
    // Atlas takes them), backup and version settings, with its one version.
    let cluster = json!({
        "name": "mcp-cluster", "clusterType": "REPLICASET", "terminationProtectionEnabled": false,
        "backupEnabled": true, "pitEnabled": false, "versionReleaseSystem": "CONTINUOUS",
        "encryptionAtRestProvider": "NONE",
        "replicationSpecs": [{"regionConfigs": [{
            "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
            "electableSpecs": {"instanceSize": "M10", "nodeCount": 3},
            "autoScaling": {
                "compute": {"enabled": true, "scaleDownEnabled": true, "minInstanceSize": "M10", "maxInstanceSize": "M30"},
                "diskGB": {"enabled": true}
            }
        }]}]
    });
    let made = s
        .call("POST", &clusters_uri(&s), Some(&accept), Some(&cluster))
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    // `atlas-create-free-cluster`: an M0 on the TENANT provider, with the project's id in the body.
    let free = json!({
        "groupId": project, "name": "mcp-free", "clusterType": "REPLICASET",
        "terminationProtectionEnabled": false,
        "replicationSpecs": [{"zoneName": "Zone 1", "regionConfigs": [{
            "providerName": "TENANT", "backingProviderName": "AWS", "regionName": "US_EAST_1",
            "electableSpecs": {"instanceSize": "M0"}
        }]}]
    });
    let made = s
        .call("POST", &clusters_uri(&s), Some(&accept), Some(&free))
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    // A read-only `groupId` is ignored whatever it names: the entry belongs to the path's project.
    let foreign = json!([{"groupId": "ffffffffffffffffffffffff", "ipAddress": "192.0.2.1"}]);
    let added = s.call("POST", &uri, Some(&accept), Some(&foreign)).await;
    assert_eq!(added.status, 201, "{}", added.text());
    let entry = s.get(&format!("{uri}/192.0.2.1")).await.json();
    assert_eq!(entry["groupId"], project.as_str());
}

#[tokio::test]
async fn a_fault_rule_fails_the_next_two_cluster_creations_then_lets_the_third_through() {
    let s = Server::new();
    let rule = add_fault(
        &s,
        json!({"operationId": "createGroupCluster", "status": 503, "times": 2}),
    )
    .await;
    assert_eq!(rule["remaining"], 2);
    for _ in 0..2 {
        let failed = create_cluster(&s, "flaky").await;
        assert_atlas_error(&failed, 503, "SERVICE_UNAVAILABLE");
    }
    let third = create_cluster(&s, "flaky").await;
    assert_eq!(third.status, 201, "{}", third.text());
    // Spent rules disappear; the failures were never applied to the state.
    let rules = s.control("GET", "/__localatlas/faults", None).await.json();
    assert_eq!(rules["rules"], json!([]));
    let list = s.get(&clusters_uri(&s)).await.json();
    assert_eq!(list["totalCount"], 1);
    // The coverage report shows the error rate the client met.
    let coverage = s
        .control("GET", "/__localatlas/coverage", None)
        .await
        .json();
    let entry = operation(&coverage, "createGroupCluster");
    assert_eq!(entry["calls"], 3);
    assert_eq!(entry["serverErrors"], 2);
    assert_eq!(entry["statuses"], json!({"201": 1, "503": 2}));
}

#[tokio::test]
async fn fault_rules_match_principals_paths_and_answer_429s_and_codes() {
    let s = Server::new();
    let made = s
        .control(
            "POST",
            "/__localatlas/principals",
            Some(&json!({"type": "apiKey", "roles": [{"orgId": s.boot.org_id, "roleName": "ORG_OWNER"}]})),
        )
        .await
        .json();
    let other = s.key(
        made["publicKey"].as_str().unwrap(),
        made["privateKey"].as_str().unwrap(),
    );
    add_fault(
        &s,
        json!({"path": "/api/atlas/v2/groups/*", "principal": made["publicKey"], "retryAfterSeconds": 9}),
    )
    .await;
    let project = format!("/api/atlas/v2/groups/{}", s.boot.project_id);
    // Only the named principal is limited.
    assert_eq!(s.get(&project).await.status, 200);
    let limited = other.get(&project).await;
    assert_atlas_error(&limited, 429, "RATE_LIMITED_TOKEN_BUCKET");
    assert_eq!(limited.header("retry-after"), Some("9"));
    // A chosen code with its catalogue status, on a spec path template.
    add_fault(
        &s,
        json!({"method": "GET", "path": "/api/atlas/v2/groups/{groupId}/clusters", "errorCode": "CLUSTER_NOT_FOUND", "detail": "gone fishing"}),
    )
    .await;
    let coded = s.get(&clusters_uri(&s)).await;
    assert_atlas_error(&coded, 404, "CLUSTER_NOT_FOUND");
    assert_eq!(coded.json()["detail"], "gone fishing");
    // Listed with their counts, removable one by one, and the control API itself is never faulted.
    add_fault(&s, json!({"path": "/**", "status": 500})).await;
    let listed = s.control("GET", "/__localatlas/faults", None).await.json();
    let rules = listed["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0]["injected"], 1);
    let id = rules[2]["id"].as_u64().unwrap();
    let removed = s
        .control("DELETE", &format!("/__localatlas/faults/{id}"), None)
        .await;
    assert_eq!(removed.status, 200);
    let again = s
        .control("DELETE", &format!("/__localatlas/faults/{id}"), None)
        .await;
    assert_eq!(again.status, 404);
    let refused = s
        .control(
            "POST",
            "/__localatlas/faults",
            Some(&json!({"status": 200})),
        )
        .await;
    assert_atlas_error(&refused, 400, "VALIDATION_ERROR");
    assert_eq!(
        s.control("DELETE", "/__localatlas/faults", None)
            .await
            .status,
        200
    );
    assert_eq!(s.get(&clusters_uri(&s)).await.status, 200);
}

#[tokio::test]
async fn latency_rules_delay_the_real_answer() {
    let s = Server::new();
    add_fault(
        &s,
        json!({"operationId": "listOrgs", "latencyMs": 150, "times": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    let answer = s.get("/api/atlas/v2/orgs").await;
    assert_eq!(answer.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    let recent = s
        .control("GET", "/__localatlas/requests", None)
        .await
        .json();
    let last = &recent["requests"][0];
    assert_eq!(last["operationId"], "listOrgs");
    assert_eq!(last["status"], 200);
    assert!(last["faultRule"].is_u64(), "{last}");
    assert!(last["latencyMs"].as_f64().unwrap() >= 150.0, "{last}");
}

#[tokio::test]
async fn coverage_counts_what_reached_an_operation_and_lists_the_untouched() {
    let s = Server::new();
    // A Digest challenge or an unknown path touches no operation.
    s.anonymous("GET", "/api/atlas/v2/orgs", Some(JSON_2023), None)
        .await;
    s.get("/api/atlas/v2/nothing/here").await;
    s.get("/api/atlas/v2/orgs").await;
    s.get("/api/atlas/v2/groups/ffffffffffffffffffffffff").await;
    let coverage = s
        .control("GET", "/__localatlas/coverage", None)
        .await
        .json();
    let find = |id: &str| operation(&coverage, id);
    assert_eq!(find("listOrgs")["calls"], 1);
    assert_eq!(find("getGroup")["clientErrors"], 1);
    assert_eq!(find("getGroup")["errorRate"], 1.0);
    let summary = &coverage["summary"];
    assert_eq!(summary["touched"], 2);
    assert_eq!(summary["untouched"], 540 - 2);
    assert_eq!(summary["calls"], 2);
    // The recent requests hold everything, including what touched nothing.
    let recent = s
        .control("GET", "/__localatlas/requests", None)
        .await
        .json();
    assert!(recent["requests"].as_array().unwrap().len() >= 4);
}

#[tokio::test]
async fn the_console_page_and_its_read_only_overview() {
    let s = Server::new();
    let page = s.anonymous("GET", "/", None, None).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("localatlas console"));
    assert_eq!(
        s.anonymous("GET", "/__localatlas/console", None, None)
            .await
            .status,
        200
    );

    let created = create_cluster(&s, "watched").await;
    assert_eq!(created.status, 201, "{}", created.text());
    let state = |overview: &Value| {
        let org = find(&overview["organizations"], "id", &s.boot.org_id);
        let project = find(&org["projects"], "id", &s.boot.project_id);
        let clusters = find(&project["resources"], "collection", "clusters");
        (
            clusters["items"][0]["state"].clone(),
            clusters["items"][0]["to"].clone(),
        )
    };
    // Watching never advances a lifecycle: under `instant`, however often the console looks,
    // the client's first read still sees CREATING.
    for _ in 0..3 {
        let overview = s
            .control("GET", "/__localatlas/resources", None)
            .await
            .json();
        assert_eq!(state(&overview), (json!("CREATING"), json!("IDLE")));
    }
    let read = s.get(&format!("{}/watched", clusters_uri(&s))).await.json();
    assert_eq!(read["stateName"], "CREATING");
    let overview = s
        .control("GET", "/__localatlas/resources", None)
        .await
        .json();
    assert_eq!(state(&overview), (json!("IDLE"), Value::Null));
    // The events timeline, newest first.
    let events = s.control("GET", "/__localatlas/events", None).await.json();
    let names: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["eventTypeName"].as_str())
        .collect();
    assert!(names.contains(&"CLUSTER_CREATED"), "{names:?}");
}

#[tokio::test]
async fn the_console_needs_credentials_from_other_addresses() {
    use tower::ServiceExt as _;
    let s = Server::new();
    let mut request = axum::http::Request::builder()
        .uri("/")
        .body(axum::body::Body::empty())
        .unwrap();
    let remote: std::net::SocketAddr = "192.0.2.7:40000".parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(remote));
    let answer = s.app.clone().oneshot(request).await.unwrap();
    assert_eq!(answer.status(), 401);
    assert!(answer.headers().contains_key("www-authenticate"));
}
