//! In-process tests of Atlas's protocol rules: authentication, version negotiation, error bodies,
//! paging, envelope and pretty, request validation. Each expectation cites the recorded Atlas
//! behaviour it reproduces (semantics reference sections).

mod common;

use common::{JSON_2023, Server, assert_atlas_error};
use serde_json::{Value, json};

fn json_v(date: &str) -> String {
    format!("application/vnd.atlas.{date}+json")
}

async fn create_project(s: &Server, name: &str) -> Value {
    let answer = s
        .call(
            "POST",
            "/api/atlas/v2/groups",
            Some(JSON_2023),
            Some(&json!({"name": name, "orgId": s.boot.org_id})),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()
}

// --- authentication (§4) -------------------------------------------------------------------

#[tokio::test]
async fn missing_credentials_get_the_digest_challenge() {
    let s = Server::new();
    let answer = s
        .anonymous("GET", "/api/atlas/v2/orgs", Some(JSON_2023), None)
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let www = answer.header("www-authenticate").unwrap();
    assert!(
        www.starts_with("Digest realm=\"MMS Public API\", domain=\"\", nonce=\""),
        "{www}"
    );
    assert!(
        www.ends_with("algorithm=MD5, qop=\"auth\", stale=false"),
        "{www}"
    );
    // Recorded body: pretty-printed, fields error/reason/detail/errorCode, no X-Error-Code.
    assert_eq!(
        answer.text(),
        "{\n  \"error\" : 401,\n  \"reason\" : \"Unauthorized\",\n  \"detail\" : \"You are not authorized for this resource.\",\n  \"errorCode\" : \"UNEXPECTED_ERROR\"\n}"
    );
    assert!(answer.header("x-error-code").is_none());
}

#[tokio::test]
async fn digest_with_the_bootstrap_key_lists_its_org() {
    let s = Server::new();
    let answer = s.get("/api/atlas/v2/orgs").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    let ids: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&s.boot.org_id.as_str()));
}

#[tokio::test]
async fn wrong_private_or_public_key_is_the_same_401() {
    let s = Server::new();
    let challenge = s
        .anonymous("GET", "/api/atlas/v2/orgs", Some(JSON_2023), None)
        .await;
    let www = challenge.header("www-authenticate").unwrap().to_owned();
    let nonce = www
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    for (user, password) in [
        (s.boot.public_key.as_str(), "wrong"),
        ("zzzzzzzz", s.boot.private_key.as_str()),
    ] {
        let auth = common::digest(user, password, "GET", "/api/atlas/v2/orgs", nonce, 1);
        let request = axum::http::Request::builder()
            .uri("/api/atlas/v2/orgs")
            .header("accept", JSON_2023)
            .header("authorization", auth)
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = tower::ServiceExt::oneshot(s.app.clone(), request)
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
    }
}

#[tokio::test]
async fn unauthenticated_requests_to_unknown_paths_get_401_first() {
    let s = Server::new();
    let answer = s
        .anonymous("GET", "/api/atlas/v2/noSuchThing", Some(JSON_2023), None)
        .await;
    assert_eq!(answer.status, 401);
    let answer = s.get("/api/atlas/v2/noSuchThing").await;
    assert_atlas_error(&answer, 404, "RESOURCE_NOT_FOUND");
    assert_eq!(
        answer.json()["detail"],
        "Cannot find resource /api/atlas/v2/noSuchThing."
    );
}

#[tokio::test]
async fn the_unauthenticated_operation_is_open() {
    let s = Server::new();
    let answer = s
        .anonymous(
            "GET",
            "/api/atlas/v2/unauth/controlPlaneIPAddresses",
            Some(&json_v("2023-11-15")),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[tokio::test]
async fn oauth_token_bearer_and_revocation() {
    let s = Server::new();
    let token = s.token().await;
    let answer = s
        .bearer(&token, "GET", "/api/atlas/v2/orgs", Some(JSON_2023))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let garbage = s
        .bearer("not-a-token", "GET", "/api/atlas/v2/orgs", Some(JSON_2023))
        .await;
    assert_eq!(garbage.status, 401);
    let revoke = s
        .oauth(
            "/api/oauth/revoke",
            &s.boot.client_id,
            &s.boot.client_secret,
            &format!("token={token}&token_type_hint=access_token"),
        )
        .await;
    assert_eq!(revoke.status, 200);
    assert!(revoke.bytes.is_empty());
    let after = s
        .bearer(&token, "GET", "/api/atlas/v2/orgs", Some(JSON_2023))
        .await;
    assert_eq!(after.status, 401);
}

#[tokio::test]
async fn oauth_errors_are_oauth_shaped() {
    let s = Server::new();
    let ok = s
        .oauth(
            "/api/oauth/token",
            &s.boot.client_id,
            &s.boot.client_secret,
            "grant_type=client_credentials",
        )
        .await;
    let body = ok.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let bad_secret = s
        .oauth(
            "/api/oauth/token",
            &s.boot.client_id,
            "mdb_sa_sk_wrong",
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(bad_secret.status, 401);
    assert_eq!(bad_secret.json()["error"], "invalid_client");
    let bad_grant = s
        .oauth(
            "/api/oauth/token",
            &s.boot.client_id,
            &s.boot.client_secret,
            "grant_type=password",
        )
        .await;
    assert_eq!(bad_grant.status, 400);
    assert_eq!(bad_grant.json()["error"], "unsupported_grant_type");
    // Token answers are never cached (RFC 6749 §5.1), errors included.
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    assert_eq!(bad_grant.header("cache-control"), Some("no-store"));
    let no_grant = s
        .oauth(
            "/api/oauth/token",
            &s.boot.client_id,
            &s.boot.client_secret,
            "",
        )
        .await;
    assert_eq!(no_grant.status, 400);
    assert_eq!(no_grant.json()["error"], "invalid_request");
    // Revocation authenticates the client first (401), then wants the token (400).
    let token = ok.json()["access_token"].as_str().unwrap().to_owned();
    let revoke_bad_client = s
        .oauth(
            "/api/oauth/revoke",
            &s.boot.client_id,
            "mdb_sa_sk_wrong",
            &format!("token={token}"),
        )
        .await;
    assert_eq!(revoke_bad_client.status, 401);
    assert_eq!(revoke_bad_client.json()["error"], "invalid_client");
    let revoke_no_token = s
        .oauth(
            "/api/oauth/revoke",
            &s.boot.client_id,
            &s.boot.client_secret,
            "",
        )
        .await;
    assert_eq!(revoke_no_token.status, 400);
    assert_eq!(revoke_no_token.json()["error"], "invalid_request");
    // Only POST reaches the token endpoint.
    let get = s.anonymous("GET", "/api/oauth/token", None, None).await;
    assert_eq!(get.status, 405);
    assert_eq!(get.json()["errorCode"], "METHOD_NOT_ALLOWED");
}

// --- versions (§1.2–§1.4) ------------------------------------------------------------------

#[tokio::test]
async fn versions_are_negotiated_by_date() {
    let s = Server::new();
    let orgs = s
        .call(
            "GET",
            "/api/atlas/v2/orgs",
            Some(&json_v("2025-03-12")),
            None,
        )
        .await;
    assert_eq!(
        orgs.header("content-type"),
        Some("application/vnd.atlas.2023-01-01+json;charset=utf-8")
    );
    let clusters = format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id);
    let between = s
        .call("GET", &clusters, Some(&json_v("2024-01-01")), None)
        .await;
    assert_eq!(between.status, 200, "{}", between.text());
    assert_eq!(
        between.header("content-type"),
        Some("application/vnd.atlas.2023-02-01+json;charset=utf-8")
    );
    // The served (deprecated) version carries Deprecation/Sunset in Java's RFC 1123 form.
    assert_eq!(
        between.header("deprecation"),
        Some("Mon, 5 Aug 2024 00:00:00 GMT")
    );
    assert_eq!(
        between.header("sunset"),
        Some("Thu, 1 Jul 2027 00:00:00 GMT")
    );
    let newest = s
        .call("GET", &clusters, Some(&json_v("2024-08-05")), None)
        .await;
    assert_eq!(
        newest.header("content-type"),
        Some("application/vnd.atlas.2024-08-05+json;charset=utf-8")
    );
    assert!(newest.header("deprecation").is_none() && newest.header("sunset").is_none());
}

#[tokio::test]
async fn no_or_too_old_version_is_406() {
    let s = Server::new();
    for accept in [
        None,
        Some(json_v("2022-01-01")),
        Some("application/json".to_owned()),
        Some("*/*".to_owned()),
    ] {
        let answer = s
            .call("GET", "/api/atlas/v2/orgs", accept.as_deref(), None)
            .await;
        assert_atlas_error(&answer, 406, "INVALID_VERSION_DATE");
        // Recorded body, byte for byte.
        assert_eq!(
            answer.text(),
            r#"{"detail":"Invalid accept header or version date.","error":406,"errorCode":"INVALID_VERSION_DATE","parameters":[],"reason":"Not Acceptable"}"#
        );
    }
    let flex = format!("/api/atlas/v2/groups/{}/flexClusters", s.boot.project_id);
    let answer = s
        .call("GET", &flex, Some(&json_v("2024-11-12")), None)
        .await;
    assert_atlas_error(&answer, 406, "INVALID_VERSION_DATE");
}

#[tokio::test]
async fn request_bodies_accept_plain_and_versioned_json() {
    let s = Server::new();
    for (i, content_type) in ["application/json", "application/vnd.atlas.2023-01-01+json"]
        .iter()
        .enumerate()
    {
        let uri = "/api/atlas/v2/groups";
        let auth = s.digest_header("POST", uri).await;
        let request = axum::http::Request::builder()
            .method("POST")
            .uri(uri)
            .header("accept", JSON_2023)
            .header("content-type", *content_type)
            .header("authorization", auth)
            .body(axum::body::Body::from(
                json!({"name": format!("ct-{i}"), "orgId": s.boot.org_id}).to_string(),
            ))
            .unwrap();
        let answer = tower::ServiceExt::oneshot(s.app.clone(), request)
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
    }
}

// --- errors (§3) ------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_project_is_group_not_found() {
    let s = Server::new();
    let answer = s.get("/api/atlas/v2/groups/5f0000000000000000000001").await;
    assert_atlas_error(&answer, 404, "GROUP_NOT_FOUND");
    assert_eq!(
        answer.json()["parameters"],
        json!(["5f0000000000000000000001"])
    );
    assert_eq!(
        answer.json()["detail"],
        "No group with ID 5f0000000000000000000001 exists."
    );
    let nested = s
        .get("/api/atlas/v2/groups/5f0000000000000000000001/clusters")
        .await;
    assert_atlas_error(&nested, 404, "GROUP_NOT_FOUND");
}

#[tokio::test]
async fn malformed_ids_and_query_values_are_400() {
    let s = Server::new();
    let answer = s.get("/api/atlas/v2/groups/zz").await;
    assert_atlas_error(&answer, 400, "INVALID_GROUP_ID");
    for query in [
        "itemsPerPage=abc",
        "itemsPerPage=0",
        "itemsPerPage=501",
        "pageNum=0",
        "includeCount=maybe",
    ] {
        let answer = s.get(&format!("/api/atlas/v2/groups?{query}")).await;
        assert_atlas_error(&answer, 400, "INVALID_QUERY_PARAMETER");
    }
    let garbage = s.get("/api/atlas/v2/groups/%00%ff..%2F..%5c").await;
    assert!(garbage.status.is_client_error(), "{}", garbage.text());
    assert_eq!(garbage.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn bad_bodies_get_atlas_validation_codes() {
    let s = Server::new();
    let uri = "/api/atlas/v2/groups";
    let malformed = s.raw("POST", uri, JSON_2023, "{\"name\": ").await;
    assert_atlas_error(&malformed, 400, "MALFORMED_JSON");
    let org = s.boot.org_id.clone();
    let unknown = s
        .call(
            "POST",
            uri,
            Some(JSON_2023),
            Some(&json!({"name": "p", "orgId": org, "probeUnknownField": 1})),
        )
        .await;
    assert_atlas_error(&unknown, 400, "INVALID_ATTRIBUTE");
    assert_eq!(
        unknown.json()["detail"],
        "Invalid attribute probeUnknownField specified."
    );
    assert_eq!(unknown.json()["parameters"], json!(["probeUnknownField"]));
    let read_only = s
        .call(
            "POST",
            uri,
            Some(JSON_2023),
            Some(&json!({"name": "p", "orgId": org, "clusterCount": 1,
                "created": "0001-01-01T00:00:00Z"})),
        )
        .await;
    // Read-only attributes are accepted and ignored: the Go SDK's `admin.Group` always sends
    // `clusterCount` and `created` (no omitempty), so every Go tool and the Terraform provider
    // create projects with them, and Atlas answers 201.
    assert_eq!(read_only.status, 201, "{}", read_only.text());
    assert_eq!(read_only.json()["clusterCount"], 0);
    assert_ne!(read_only.json()["created"], "0001-01-01T00:00:00Z");
    let missing = s
        .call("POST", uri, Some(JSON_2023), Some(&json!({"orgId": org})))
        .await;
    assert_atlas_error(&missing, 400, "MISSING_ATTRIBUTE");
    assert_eq!(
        missing.json()["detail"],
        "The required attribute name was not specified."
    );
    let wrong_type = s
        .call(
            "POST",
            uri,
            Some(JSON_2023),
            Some(&json!({"name": 12345, "orgId": org})),
        )
        .await;
    assert_eq!(wrong_type.status, 400);
    let bad_enum = s
        .call(
            "POST",
            uri,
            Some(JSON_2023),
            Some(&json!({"name": "p", "orgId": org, "regionUsageRestrictions": "MOON"})),
        )
        .await;
    assert_atlas_error(&bad_enum, 400, "INVALID_ENUM_VALUE");
    assert_eq!(bad_enum.json()["parameters"], json!(["MOON"]));
}

#[tokio::test]
async fn duplicate_project_names_conflict() {
    let s = Server::new();
    create_project(&s, "twice").await;
    let again = s
        .call(
            "POST",
            "/api/atlas/v2/groups",
            Some(JSON_2023),
            Some(&json!({"name": "twice", "orgId": s.boot.org_id})),
        )
        .await;
    assert_atlas_error(&again, 409, "GROUP_ALREADY_EXISTS");
    assert_eq!(
        again.json()["detail"],
        "A group with name \"twice\" already exists."
    );
}

#[tokio::test]
async fn unsupported_method_on_a_known_path() {
    let s = Server::new();
    let answer = s
        .call("PUT", "/api/atlas/v2/orgs", Some(JSON_2023), None)
        .await;
    assert_atlas_error(&answer, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(answer.header("allow"), Some("GET, POST"));
}

// --- paging, envelope, pretty (§2) ------------------------------------------------------------

#[tokio::test]
async fn pages_and_links() {
    let s = Server::new();
    for i in 0..4 {
        create_project(&s, &format!("page-{i}")).await;
    }
    // Five projects: the bootstrap one and four more.
    let page1 = s
        .get("/api/atlas/v2/groups?includeCount=true&itemsPerPage=2&pageNum=1")
        .await;
    let body = page1.json();
    assert_eq!(body["totalCount"], 5);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    let links = body["links"].as_array().unwrap();
    assert_eq!(links[0]["rel"], "self");
    assert_eq!(
        links[0]["href"],
        "http://localhost:8080/api/atlas/v2/groups?includeCount=true&pageNum=1&itemsPerPage=2"
    );
    assert_eq!(links[1]["rel"], "next");
    assert_eq!(
        links[1]["href"],
        "http://localhost:8080/api/atlas/v2/groups?includeCount=true&itemsPerPage=2&pageNum=2"
    );
    let last = s
        .get("/api/atlas/v2/groups?itemsPerPage=2&pageNum=3")
        .await
        .json();
    assert_eq!(last["results"].as_array().unwrap().len(), 1);
    let rels: Vec<&str> = last["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert_eq!(rels, ["self", "previous"]);
    let past = s
        .get("/api/atlas/v2/groups?itemsPerPage=2&pageNum=9")
        .await
        .json();
    assert_eq!(past["results"], json!([]));
    assert_eq!(past["totalCount"], 5);
    let uncounted = s
        .get("/api/atlas/v2/groups?includeCount=false")
        .await
        .json();
    assert_eq!(uncounted["totalCount"], 0);
}

#[tokio::test]
async fn envelope_and_pretty() {
    let s = Server::new();
    let item = s
        .get(&format!(
            "/api/atlas/v2/groups/{}?envelope=true",
            s.boot.project_id
        ))
        .await
        .json();
    assert_eq!(item["status"], 200);
    assert_eq!(item["content"]["id"], s.boot.project_id.as_str());
    let list = s.get("/api/atlas/v2/groups?envelope=true").await.json();
    assert_eq!(list["status"], 200);
    assert!(list["results"].is_array());
    let pretty = s
        .get(&format!(
            "/api/atlas/v2/groups/{}?pretty=true",
            s.boot.project_id
        ))
        .await
        .text();
    assert!(pretty.starts_with("{\n  \""), "{pretty}");
    assert!(pretty.contains("\" : "), "{pretty}");
    let compact = s
        .get(&format!("/api/atlas/v2/groups/{}", s.boot.project_id))
        .await
        .text();
    assert!(
        !compact.contains('\n') && !compact.contains("\": "),
        "{compact}"
    );
}

// --- projects, fully real (issue: spine §6) ---------------------------------------------------

#[tokio::test]
async fn project_lifecycle() {
    let s = Server::new();
    let created = create_project(&s, "lifecycle").await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["clusterCount"], 0);
    assert_eq!(created["orgId"], s.boot.org_id.as_str());
    assert_eq!(created["withDefaultAlertsSettings"], true);
    assert!(created["created"].as_str().unwrap().ends_with('Z'));
    let by_name = s.get("/api/atlas/v2/groups/byName/lifecycle").await;
    assert_eq!(by_name.json()["id"], id.as_str());
    let renamed = s
        .call(
            "PATCH",
            &format!("/api/atlas/v2/groups/{id}"),
            Some(JSON_2023),
            Some(&json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(renamed.json()["name"], "renamed");
    assert_eq!(
        s.get("/api/atlas/v2/groups/byName/lifecycle").await.status,
        404
    );
    // The old name is free again.
    create_project(&s, "lifecycle").await;
    let in_org = s
        .get(&format!("/api/atlas/v2/orgs/{}/groups", s.boot.org_id))
        .await
        .json();
    assert_eq!(in_org["totalCount"], 3);
    let deleted = s
        .call(
            "DELETE",
            &format!("/api/atlas/v2/groups/{id}"),
            Some(JSON_2023),
            None,
        )
        .await;
    assert_eq!(deleted.status, 202);
    assert_eq!(deleted.json(), json!({}));
    assert_atlas_error(
        &s.get(&format!("/api/atlas/v2/groups/{id}")).await,
        404,
        "GROUP_NOT_FOUND",
    );
}

#[tokio::test]
async fn generic_collections_round_trip() {
    let s = Server::new();
    let base = format!("/api/atlas/v2/groups/{}/alertConfigs", s.boot.project_id);
    let body = json!({
        "eventTypeName": "NO_PRIMARY",
        "enabled": true,
        "notifications": [{"typeName": "GROUP", "intervalMin": 5, "delayMin": 0, "emailEnabled": true, "smsEnabled": false}]
    });
    let created = s.call("POST", &base, Some(JSON_2023), Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let fetched = s.get(&format!("{base}/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json()["eventTypeName"], "NO_PRIMARY");
    assert_eq!(fetched.json()["groupId"], s.boot.project_id.as_str());
    let listed = s.get(&base).await.json();
    assert_eq!(listed["totalCount"], 1);
    let deleted = s
        .call("DELETE", &format!("{base}/{id}"), Some(JSON_2023), None)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(s.get(&format!("{base}/{id}")).await.status, 404);
}

#[tokio::test]
async fn some_lists_are_bare_arrays() {
    // Recorded: GET /groups/{id}/invites and /alertConfigs/matchers/fieldNames answer a bare JSON
    // array, no paging envelope (semantics §2.1).
    let s = Server::new();
    let invites = s
        .get(&format!(
            "/api/atlas/v2/groups/{}/invites",
            s.boot.project_id
        ))
        .await;
    assert_eq!(invites.status, 200, "{}", invites.text());
    assert!(invites.json().is_array(), "{}", invites.text());
    let fields = s
        .get("/api/atlas/v2/alertConfigs/matchers/fieldNames")
        .await;
    assert!(fields.json().is_array(), "{}", fields.text());
}

#[tokio::test]
async fn patterns_lengths_and_ranges_are_enforced() {
    let s = Server::new();
    let org = s.boot.org_id.clone();
    // Project names: 1-64 characters of a restricted alphabet.
    for bad in ["", "has/slash", &"n".repeat(65)] {
        let answer = s
            .call(
                "POST",
                "/api/atlas/v2/groups",
                Some(JSON_2023),
                Some(&json!({"name": bad, "orgId": org})),
            )
            .await;
        assert_atlas_error(&answer, 400, "INVALID_ATTRIBUTE");
        assert_eq!(answer.json()["parameters"], json!(["name"]), "{bad}");
    }
    // An orgId that breaks its pattern is an invalid attribute, not a missing organization.
    let answer = s
        .call(
            "POST",
            "/api/atlas/v2/groups",
            Some(JSON_2023),
            Some(&json!({"name": "ok", "orgId": "nope"})),
        )
        .await;
    assert_atlas_error(&answer, 400, "INVALID_ATTRIBUTE");
    // A well-formed but unknown organization is 404.
    let answer = s
        .call(
            "POST",
            "/api/atlas/v2/groups",
            Some(JSON_2023),
            Some(&json!({"name": "ok", "orgId": "5f0000000000000000000001"})),
        )
        .await;
    assert_atlas_error(&answer, 404, "ORG_NOT_FOUND");
}

#[tokio::test]
async fn duplicate_names_in_named_collections() {
    let s = Server::new();
    let uri = format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id);
    let body = json!({
        "name": "twin",
        "clusterType": "REPLICASET",
        "replicationSpecs": [{"regionConfigs": [{
            "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
            "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}
        }]}]
    });
    let accept = json_v("2024-10-23");
    let first = s.call("POST", &uri, Some(&accept), Some(&body)).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let second = s.call("POST", &uri, Some(&accept), Some(&body)).await;
    // Atlas answers a taken cluster name with 400, not 409 (semantics §3.3).
    assert_atlas_error(&second, 400, "DUPLICATE_CLUSTER_NAME");
    assert_eq!(
        second.json()["parameters"],
        json!(["twin", s.boot.project_id])
    );
}

#[tokio::test]
async fn control_api_health_coverage_and_reset() {
    let s = Server::new();
    let health = s.anonymous("GET", "/__localatlas/health", None, None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    create_project(&s, "before-reset").await;
    let coverage = s
        .anonymous("GET", "/__localatlas/coverage", None, None)
        .await
        .json();
    let ops = coverage["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 540);
    let create = ops
        .iter()
        .find(|o| o["operationId"] == "createGroup")
        .unwrap();
    assert_eq!(create["servedBy"], "behaviour");
    assert_eq!(create["calls"], 1);
    let token = s.token().await;
    let reset = s.anonymous("POST", "/__localatlas/reset", None, None).await;
    assert_eq!(reset.status, 200, "{}", reset.text());
    let groups = s.get("/api/atlas/v2/groups").await.json();
    assert_eq!(groups["totalCount"], 1, "{groups}");
    assert_eq!(groups["results"][0]["id"], s.boot.project_id.as_str());
    // Tokens already issued to the bootstrap service account stay valid (blueprint §1.2).
    let after = s
        .bearer(&token, "GET", "/api/atlas/v2/orgs", Some(JSON_2023))
        .await;
    assert_eq!(after.status, 200);
}
