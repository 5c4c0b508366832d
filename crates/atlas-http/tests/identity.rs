//! Identity and access through HTTP: principals created through the API and the control API,
//! roles enforced on representative operations of every role family, API access lists, Digest
//! nonces, service-account tokens under the injected clock, and rate limits.
//!
//! Atlas facts asserted here carry their evidence (semantics reference sections): 401
//! `USER_UNAUTHORIZED` for a missing role (§5.4), 403 access-list answers with the caller's
//! address (§4.3), tokens valid 3600 s and at most 100 active (§4.2), the 429 body and headers
//! (§6), invitations expiring 30 days after creation (§8).

mod common;

use atlas_api::control::bootstrap::OWNER_USERNAME;
use atlas_model::operation_by_name;
use atlas_schema::{Hints, Mode, Schemas};
use common::{Client, JSON_2023, Options, Server, assert_atlas_error, digest};
use serde_json::{Value, json};

const V2025: &str = "application/vnd.atlas.2025-02-19+json";
const V2024: &str = "application/vnd.atlas.2024-08-05+json";

/// Creates a principal through the control API.
async fn principal(s: &Server, spec: Value) -> Value {
    let answer = s
        .control("POST", "/__localatlas/principals", Some(&spec))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()
}

/// A client for a principal made by [`principal`] (a token for service accounts and users).
async fn client_of(s: &Server, p: &Value) -> Client {
    match p["type"].as_str() {
        Some("apiKey") => s.key(
            p["publicKey"].as_str().unwrap(),
            p["privateKey"].as_str().unwrap(),
        ),
        Some("serviceAccount") => {
            let token = s
                .token_for(
                    p["clientId"].as_str().unwrap(),
                    p["clientSecret"].as_str().unwrap(),
                )
                .await;
            s.bearer_client(&token)
        }
        _ => s.bearer_client(p["accessToken"].as_str().unwrap()),
    }
}

/// A well-formed request body for an operation (its newest version), as the conformance walk
/// builds them, and the matching `Accept`.
fn example(op_name: &str, name: &str) -> (String, Value) {
    let op = operation_by_name(op_name).expect("operation");
    let media = op
        .request
        .iter()
        .filter(|m| m.version != "preview")
        .max_by_key(|m| m.version)
        .expect("request media");
    let mut hints = Hints::default();
    hints
        .values
        .insert("roles".into(), json!(["GROUP_READ_ONLY"]));
    let mut body = Schemas::global().example(media.schema.expect("schema"), Mode::Request, &hints);
    if body.is_object() {
        body["name"] = json!(name);
    }
    (
        format!("application/vnd.atlas.{}+json", media.version),
        body,
    )
}

/// `client` may read the project but not write its access list (401, §5.4).
async fn assert_read_only(client: &Client, group: &str) {
    let project = client.get(&format!("/api/atlas/v2/groups/{group}")).await;
    assert_eq!(project.status, 200, "{}", project.text());
    let (accept, body) = example("createGroupAccessListEntry", "x");
    let write = client
        .send(
            "POST",
            &format!("/api/atlas/v2/groups/{group}/accessList"),
            Some(&accept),
            Some(&body),
        )
        .await;
    assert_atlas_error(&write, 401, "USER_UNAUTHORIZED");
}

/// A request creating a small replica set (2024-10-23).
fn cluster(name: &str) -> (String, Value) {
    let body = json!({"name": name, "clusterType": "REPLICASET", "replicationSpecs": [{
        "regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
                           "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
    ("application/vnd.atlas.2024-10-23+json".to_owned(), body)
}

fn ids(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_read_only_key_lists_clusters_cannot_create_one_and_sees_no_other_organization() {
    let s = Server::new();
    let (org, group) = (s.boot.org_id.clone(), s.boot.project_id.clone());
    let clusters = format!("/api/atlas/v2/groups/{group}/clusters");
    let created = s
        .call(
            "POST",
            &format!("/api/atlas/v2/groups/{group}/apiKeys"),
            Some(JSON_2023),
            Some(&json!({"desc": "read only", "roles": ["GROUP_READ_ONLY"]})),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let key = created.json();
    let private = key["privateKey"].as_str().unwrap();
    assert_eq!(private.len(), 36, "shown in clear once");
    assert!(
        key["roles"]
            .as_array()
            .unwrap()
            .contains(&json!({"groupId": group, "roleName": "GROUP_READ_ONLY"}))
    );
    let ro = s.key(key["publicKey"].as_str().unwrap(), private);

    assert_eq!(ro.get(&clusters).await.status, 200);
    let (accept, body) = cluster("ro-cluster");
    let denied = ro.send("POST", &clusters, Some(&accept), Some(&body)).await;
    assert_atlas_error(&denied, 401, "USER_UNAUTHORIZED");
    // §5.4: exact body of an under-privileged call.
    assert_eq!(
        denied.json(),
        json!({"detail": "Current user is not authorized to perform this action.", "error": 401,
               "errorCode": "USER_UNAUTHORIZED", "parameters": [], "reason": "Unauthorized"})
    );
    let made = s.call("POST", &clusters, Some(&accept), Some(&body)).await;
    assert!(made.status.is_success(), "{}", made.text());
    assert_eq!(ro.get(&clusters).await.json()["totalCount"], 1);

    // Later reads mask the private key (§7.1).
    let id = key["id"].as_str().unwrap();
    let read = s
        .get(&format!("/api/atlas/v2/orgs/{org}/apiKeys/{id}"))
        .await;
    assert_eq!(
        read.json()["privateKey"],
        format!("********-****-****-{}", &private[24..])
    );

    // Another organization with its own owner key and project.
    let other = s
        .call(
            "POST",
            "/api/atlas/v2/orgs",
            Some(JSON_2023),
            Some(
                &json!({"name": "other-org", "apiKey": {"desc": "owner", "roles": ["ORG_OWNER"]}}),
            ),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.text());
    let other = other.json();
    let other_org = other["organization"]["id"].as_str().unwrap().to_owned();
    let owner = s.key(
        other["apiKey"]["publicKey"].as_str().unwrap(),
        other["apiKey"]["privateKey"].as_str().unwrap(),
    );
    let theirs = owner
        .with_body(
            "POST",
            "/api/atlas/v2/groups",
            &json!({"name": "their-project", "orgId": other_org}),
        )
        .await;
    assert_eq!(theirs.status, 201, "{}", theirs.text());
    let their_group = theirs.json()["id"].as_str().unwrap().to_owned();

    for path in [
        format!("/api/atlas/v2/orgs/{other_org}"),
        format!("/api/atlas/v2/orgs/{other_org}/groups"),
        format!("/api/atlas/v2/groups/{their_group}"),
        format!("/api/atlas/v2/groups/{their_group}/clusters"),
    ] {
        assert_atlas_error(&ro.get(&path).await, 401, "USER_UNAUTHORIZED");
        // Not even the bootstrap Organization Owner: it owns another organization.
        assert_atlas_error(&s.get(&path).await, 401, "USER_UNAUTHORIZED");
    }
    assert_eq!(
        ids(&ro.get("/api/atlas/v2/groups").await.json()),
        vec![group.clone()]
    );
    assert_eq!(ids(&ro.get("/api/atlas/v2/orgs").await.json()), vec![org]);
    // GET /clusters: clusters of every project the caller can see, and only those.
    let everywhere = ro.get("/api/atlas/v2/clusters").await.json();
    let seen: Vec<&str> = everywhere["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["groupId"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(seen, vec![group.as_str()], "{everywhere}");
    assert_eq!(
        ids(&owner.get("/api/atlas/v2/groups").await.json()),
        vec![their_group]
    );
}

#[tokio::test]
async fn deletion_unassignment_and_access_list_changes_apply_to_the_next_request() {
    let s = Server::new();
    let (org, group) = (s.boot.org_id.clone(), s.boot.project_id.clone());
    let clusters = format!("/api/atlas/v2/groups/{group}/clusters");
    let made = s
        .call(
            "POST",
            &format!("/api/atlas/v2/orgs/{org}/apiKeys"),
            Some(JSON_2023),
            Some(&json!({"desc": "member", "roles": ["ORG_MEMBER"]})),
        )
        .await
        .json();
    let id = made["id"].as_str().unwrap().to_owned();
    let key = || {
        s.key(
            made["publicKey"].as_str().unwrap(),
            made["privateKey"].as_str().unwrap(),
        )
    };
    let member = key();
    assert_atlas_error(&member.get(&clusters).await, 401, "USER_UNAUTHORIZED");

    let assignment = format!("/api/atlas/v2/groups/{group}/apiKeys/{id}");
    let roles = json!([{"roles": ["GROUP_READ_ONLY"]}]);
    let assigned = s
        .call("POST", &assignment, Some(JSON_2023), Some(&roles))
        .await;
    assert_eq!(assigned.status, 204, "{}", assigned.text());
    assert_eq!(member.get(&clusters).await.status, 200);
    let listed = s
        .get(&format!("/api/atlas/v2/groups/{group}/apiKeys"))
        .await;
    assert!(ids(&listed.json()).contains(&id));
    assert_eq!(
        s.call("DELETE", &assignment, Some(JSON_2023), None)
            .await
            .status,
        204
    );
    assert_atlas_error(&member.get(&clusters).await, 401, "USER_UNAUTHORIZED");
    s.call("POST", &assignment, Some(JSON_2023), Some(&roles))
        .await;

    // Access list: a host and a block; removing the host locks that address out at once.
    let list = format!("/api/atlas/v2/orgs/{org}/apiKeys/{id}/accessList");
    let entries = json!([{"ipAddress": "203.0.113.7"}, {"cidrBlock": "198.51.100.0/24"}]);
    let added = s.call("POST", &list, Some(JSON_2023), Some(&entries)).await;
    assert_eq!(added.status, 200, "{}", added.text());
    assert_eq!(added.json()["totalCount"], 2);
    assert_eq!(key().from("203.0.113.7").get(&clusters).await.status, 200);
    assert_eq!(key().from("198.51.100.9").get(&clusters).await.status, 200);
    let refused = key().from("192.0.2.1").get(&clusters).await;
    assert_atlas_error(&refused, 403, "IP_ADDRESS_NOT_ON_ACCESS_LIST");
    assert_eq!(refused.json()["parameters"], json!(["192.0.2.1"]));
    assert_eq!(
        refused.json()["detail"],
        "IP address 192.0.2.1 is not allowed to access this resource."
    );
    let entry = s.get(&format!("{list}/198.51.100.0%2F24")).await;
    assert_eq!(entry.json()["cidrBlock"], "198.51.100.0/24");
    // With a host entry inside the block, the host entry (the most specific) is the one that let
    // the request in, and only its use is counted.
    let host = json!([{"ipAddress": "198.51.100.20"}]);
    s.call("POST", &list, Some(JSON_2023), Some(&host)).await;
    let count = |page: &Value, address: &str| {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["ipAddress"] == address || e["cidrBlock"] == address)
            .map(|e| e["count"].as_u64().unwrap_or(0))
            .unwrap()
    };
    let before = s.get(&list).await.json();
    assert_eq!(key().from("198.51.100.20").get(&clusters).await.status, 200);
    let after = s.get(&list).await.json();
    assert_eq!(
        count(&after, "198.51.100.20"),
        count(&before, "198.51.100.20") + 1
    );
    assert_eq!(
        count(&after, "198.51.100.0/24"),
        count(&before, "198.51.100.0/24")
    );
    let removed = s
        .call(
            "DELETE",
            &format!("{list}/203.0.113.7"),
            Some(JSON_2023),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text());
    let now_refused = key().from("203.0.113.7").get(&clusters).await;
    assert_atlas_error(&now_refused, 403, "IP_ADDRESS_NOT_ON_ACCESS_LIST");
    assert_eq!(key().from("198.51.100.9").get(&clusters).await.status, 200);

    // Deleting the key: the next request is challenged again.
    let last = key().from("198.51.100.9");
    assert_eq!(last.get(&clusters).await.status, 200);
    let deleted = s
        .call(
            "DELETE",
            &format!("/api/atlas/v2/orgs/{org}/apiKeys/{id}"),
            Some(JSON_2023),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    let gone = last.get(&clusters).await;
    assert_eq!(gone.status, 401);
    assert!(gone.header("www-authenticate").is_some());
    let missing = s
        .get(&format!("/api/atlas/v2/orgs/{org}/apiKeys/{id}"))
        .await;
    // §3.3: a missing API key is a 400.
    assert_atlas_error(&missing, 400, "API_KEY_NOT_FOUND");
}

#[tokio::test]
async fn an_organization_requiring_access_lists_refuses_unlisted_credentials() {
    let s = Server::new();
    let org = s.boot.org_id.clone();
    let listed = principal(
        &s,
        json!({"type": "apiKey", "roles": [{"orgId": org, "roleName": "ORG_OWNER"}],
               "accessList": ["203.0.113.0/24"]}),
    )
    .await;
    let ok = client_of(&s, &listed).await.from("203.0.113.5");
    let settings = format!("/api/atlas/v2/orgs/{org}/settings");
    let set = ok
        .with_body("PATCH", &settings, &json!({"apiAccessListRequired": true}))
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["apiAccessListRequired"], true);

    // §4.3: required and no entries: 403 ORG_REQUIRES_ACCESS_LIST with the caller's address.
    let unlisted = s.get("/api/atlas/v2/groups").await;
    assert_atlas_error(&unlisted, 403, "ORG_REQUIRES_ACCESS_LIST");
    assert_eq!(unlisted.json()["parameters"], json!(["127.0.0.1"]));
    // Tokens are minted from anywhere, and refused when used.
    let token = s.token().await;
    let used = s
        .bearer(&token, "GET", "/api/atlas/v2/groups", Some(JSON_2023))
        .await;
    assert_atlas_error(&used, 403, "ORG_REQUIRES_ACCESS_LIST");

    assert_eq!(ok.get("/api/atlas/v2/groups").await.status, 200);
    let elsewhere = client_of(&s, &listed).await.from("192.0.2.1");
    let off_list = elsewhere.get("/api/atlas/v2/groups").await;
    assert_atlas_error(&off_list, 403, "IP_ADDRESS_NOT_ON_ACCESS_LIST");

    // The seed list shows the key's use: three requests so far from 203.0.113.5.
    let id = listed["id"].as_str().unwrap();
    let seen = ok
        .get(&format!("/api/atlas/v2/orgs/{org}/apiKeys/{id}/accessList"))
        .await
        .json();
    let entry = &seen["results"][0];
    assert_eq!(entry["cidrBlock"], "203.0.113.0/24");
    assert_eq!(entry["count"], 3, "{seen}");
    assert_eq!(entry["lastUsedAddress"], "203.0.113.5");
    assert!(entry["lastUsed"].is_string() && entry["created"].is_string());
    let again = ok
        .get(&format!("/api/atlas/v2/orgs/{org}/apiKeys/{id}/accessList"))
        .await
        .json();
    assert_eq!(again["results"][0]["count"], 4);

    ok.with_body("PATCH", &settings, &json!({"apiAccessListRequired": false}))
        .await;
    assert_eq!(s.get("/api/atlas/v2/groups").await.status, 200);
}

async fn groups_status(s: &Server, token: &str) -> u16 {
    s.bearer(token, "GET", "/api/atlas/v2/groups", Some(JSON_2023))
        .await
        .status
        .as_u16()
}

#[tokio::test]
async fn tokens_live_3600_seconds_of_the_injected_clock_and_die_when_revoked() {
    let s = Server::with_clock();
    let token = s.token().await;
    assert_eq!(groups_status(&s, &token).await, 200);
    s.advance(3599);
    assert_eq!(groups_status(&s, &token).await, 200);
    s.advance(1);
    assert_eq!(
        groups_status(&s, &token).await,
        401,
        "expired after 3600 s (§4.2)"
    );

    let fresh = s.token().await;
    assert_eq!(groups_status(&s, &fresh).await, 200);
    let (id, secret) = (s.boot.client_id.clone(), s.boot.client_secret.clone());
    let revoked = s
        .oauth(
            "/api/oauth/revoke",
            &id,
            &secret,
            &format!("token={fresh}&token_type_hint=access_token"),
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert!(revoked.bytes.is_empty());
    assert_eq!(groups_status(&s, &fresh).await, 401);
}

#[tokio::test]
async fn a_service_account_access_list_applies_to_using_tokens_not_to_minting_them() {
    let s = Server::new();
    let org = s.boot.org_id.clone();
    let account = principal(
        &s,
        json!({"type": "serviceAccount", "roles": [{"orgId": org, "roleName": "ORG_READ_ONLY"}],
               "accessList": ["203.0.113.9"]}),
    )
    .await;
    // Minted from 127.0.0.1, which is not listed.
    let client = client_of(&s, &account).await;
    let token_client = client.from("203.0.113.9");
    assert_eq!(token_client.get("/api/atlas/v2/groups").await.status, 200);
    let token = s
        .token_for(
            account["clientId"].as_str().unwrap(),
            account["clientSecret"].as_str().unwrap(),
        )
        .await;
    let refused = s
        .bearer_client(&token)
        .from("192.0.2.1")
        .get("/api/atlas/v2/groups")
        .await;
    assert_atlas_error(&refused, 403, "IP_ADDRESS_NOT_ON_ACCESS_LIST");
    let client_id = account["clientId"].as_str().unwrap();
    let list = s
        .call(
            "GET",
            &format!("/api/atlas/v2/orgs/{org}/serviceAccounts/{client_id}/accessList"),
            Some(V2024),
            None,
        )
        .await
        .json();
    let entry = &list["results"][0];
    assert_eq!(entry["ipAddress"], "203.0.113.9");
    assert_eq!(entry["requestCount"], 1, "{list}");
    assert_eq!(entry["lastUsedAddress"], "203.0.113.9");
}

#[tokio::test]
async fn a_replayed_digest_request_fails_and_an_old_nonce_is_stale() {
    replayed_digest_requests_fail(Server::with_clock()).await;
}

/// The same with the counters in the store (how instances sharing a store run).
#[tokio::test]
async fn stored_nonce_counts_refuse_replays_too() {
    replayed_digest_requests_fail(Server::with(Options {
        frozen_clock: true,
        counters_in_store: true,
        ..Options::default()
    }))
    .await;
}

async fn replayed_digest_requests_fail(s: Server) {
    let challenge = s
        .anonymous("GET", "/api/atlas/v2/groups", Some(JSON_2023), None)
        .await;
    let nonce = challenge
        .header("www-authenticate")
        .unwrap()
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (public, private) = (s.boot.public_key.clone(), s.boot.private_key.clone());
    let uri = "/api/atlas/v2/groups";
    let first = digest(&public, &private, "GET", uri, &nonce, 1);
    assert_eq!(s.with_authorization("GET", uri, &first).await.status, 200);
    let replay = s.with_authorization("GET", uri, &first).await;
    assert_eq!(replay.status, 401);
    assert!(
        replay
            .header("www-authenticate")
            .unwrap()
            .contains("stale=true")
    );
    assert!(
        replay.header("ratelimit-limit").is_none(),
        "no rate-limit headers on 401 (§6)"
    );
    // The same nonce with the next count is a new request; an overtaken count still works once.
    let third = digest(&public, &private, "GET", uri, &nonce, 3);
    assert_eq!(s.with_authorization("GET", uri, &third).await.status, 200);
    let second = digest(&public, &private, "GET", uri, &nonce, 2);
    assert_eq!(s.with_authorization("GET", uri, &second).await.status, 200);
    assert_eq!(s.with_authorization("GET", uri, &second).await.status, 401);
    // Five minutes later the nonce is stale: the client must take a new one.
    s.advance(301);
    let late = digest(&public, &private, "GET", uri, &nonce, 4);
    let stale = s.with_authorization("GET", uri, &late).await;
    assert_eq!(stale.status, 401);
    assert!(
        stale
            .header("www-authenticate")
            .unwrap()
            .contains("stale=true")
    );
    // A wrong password on a fresh nonce is not stale.
    let wrong = digest(&public, "wrong", "GET", uri, &nonce, 5);
    let bad = s.with_authorization("GET", uri, &wrong).await;
    assert!(
        bad.header("www-authenticate")
            .unwrap()
            .contains("stale=false")
    );
}

#[tokio::test]
async fn rate_limits_count_down_then_answer_429_with_retry_after() {
    rate_limits_count_down(Server::with_clock()).await;
}

/// The same with the buckets in the store (how instances sharing a store run).
#[tokio::test]
async fn stored_rate_limit_buckets_count_down_too() {
    rate_limits_count_down(Server::with(Options {
        frozen_clock: true,
        counters_in_store: true,
        ..Options::default()
    }))
    .await;
}

async fn rate_limits_count_down(s: Server) {
    // GET /orgs: capacity 300, refilled 100 per 60 s, per caller (§6, observed).
    for i in 0..300u64 {
        let answer = s.get("/api/atlas/v2/orgs").await;
        assert_eq!(answer.status, 200, "request {i}");
        assert_eq!(answer.header("ratelimit-limit"), Some("300"));
        assert_eq!(
            answer.header("ratelimit-remaining"),
            Some((299 - i).to_string().as_str())
        );
    }
    let limited = s.get("/api/atlas/v2/orgs").await;
    assert_atlas_error(&limited, 429, "RATE_LIMITED_TOKEN_BUCKET");
    let body = limited.json();
    assert_eq!(
        body["parameters"],
        json!(["api/atlas/v2/orgs", 0, 300, 100, 60])
    );
    assert_eq!(
        body["detail"],
        "Rate limit exceeded for api/atlas/v2/orgs. Please retry after 0 seconds. Request capacity: 300. Refill rate: 100 per 60 seconds. For more information, see: http://dochub.mongodb.org/core/atlas-api-rate-limit."
    );
    assert_eq!(limited.header("retry-after"), Some("0"));
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    // Other endpoint sets keep their own buckets.
    let group = s.boot.project_id.clone();
    let other = s
        .get(&format!("/api/atlas/v2/groups/{group}/clusters"))
        .await;
    assert_eq!(other.header("ratelimit-limit"), Some("10000"));
    assert_eq!(other.header("ratelimit-remaining"), Some("9999"));
    s.advance(60);
    let refilled = s.get("/api/atlas/v2/orgs").await;
    assert_eq!(refilled.status, 200);
    assert_eq!(refilled.header("ratelimit-remaining"), Some("99"));

    // No headers on an unknown project (recorded), nor on challenges; present on role refusals.
    let unknown = s
        .get("/api/atlas/v2/groups/5f0000000000000000000001/clusters")
        .await;
    assert_atlas_error(&unknown, 404, "GROUP_NOT_FOUND");
    assert!(unknown.header("ratelimit-limit").is_none());
    let challenge = s
        .anonymous("GET", "/api/atlas/v2/orgs", Some(JSON_2023), None)
        .await;
    assert!(challenge.header("ratelimit-limit").is_none());
    let reader = principal(
        &s,
        json!({"roles": [{"groupId": group, "roleName": "GROUP_READ_ONLY"}]}),
    )
    .await;
    let (accept, body) = example("createGroupAlertConfig", "alerts");
    let refused = client_of(&s, &reader)
        .await
        .send(
            "POST",
            &format!("/api/atlas/v2/groups/{group}/alertConfigs"),
            Some(&accept),
            Some(&body),
        )
        .await;
    assert_atlas_error(&refused, 401, "USER_UNAUTHORIZED");
    assert_eq!(refused.header("ratelimit-limit"), Some("1200"));
}

#[tokio::test]
async fn the_token_endpoint_limits_requests_and_active_tokens() {
    let s = Server::with_clock();
    let (id, secret) = (s.boot.client_id.clone(), s.boot.client_secret.clone());
    let form = "grant_type=client_credentials";
    for _ in 0..50 {
        s.token().await;
    }
    let limited = s.oauth("/api/oauth/token", &id, &secret, form).await;
    assert_atlas_error(&limited, 429, "RATE_LIMITED");
    assert_eq!(
        limited.json()["detail"],
        "Resource /api/oauth/token is limited to 50 requests every 1 minutes."
    );
    s.advance(60);
    for _ in 0..50 {
        s.token().await;
    }
    s.advance(60);
    // 100 tokens are active (each lasts 3600 s): the next is refused (§4.2).
    let full = s.oauth("/api/oauth/token", &id, &secret, form).await;
    assert_eq!(full.status, 403, "{}", full.text());
    assert_eq!(
        full.json(),
        json!({"error": "access_denied", "error_description": "Access Token limit reached. Please use the existing Access Tokens or create a new Service Account."})
    );
    // Once tokens expire, new ones can be minted.
    s.advance(3600);
    assert_eq!(
        s.oauth("/api/oauth/token", &id, &secret, form).await.status,
        200
    );
}

/// One role family against representative operations: `allowed` means authorization passed
/// (the operation may still answer 404 or 400 for its own reasons), otherwise 401.
struct Case {
    roles: Value,
    method: &'static str,
    path: String,
    op: Option<&'static str>,
    allowed: bool,
}

#[tokio::test]
async fn every_role_family_is_enforced_on_representative_operations() {
    let s = Server::new();
    let (org, group) = (s.boot.org_id.clone(), s.boot.project_id.clone());
    let o = |r: &str| json!([{"orgId": org, "roleName": r}]);
    let g = |r: &str| json!([{"orgId": org, "roleName": "ORG_MEMBER"}, {"groupId": group, "roleName": r}]);
    let gp = |tail: &str| format!("/api/atlas/v2/groups/{group}{tail}");
    let op = |tail: &str| format!("/api/atlas/v2/orgs/{org}{tail}");
    let case = |roles: Value, method, path: String, op: Option<&'static str>, allowed| Case {
        roles,
        method,
        path,
        op,
        allowed,
    };
    let cases = vec![
        // Organization roles.
        case(o("ORG_OWNER"), "PATCH", op(""), Some("updateOrg"), true),
        case(
            o("ORG_OWNER"),
            "POST",
            gp("/accessList"),
            Some("createGroupAccessListEntry"),
            true,
        ),
        case(o("ORG_READ_ONLY"), "GET", gp("/clusters"), None, true),
        case(o("ORG_READ_ONLY"), "GET", op("/apiKeys"), None, true),
        case(
            o("ORG_READ_ONLY"),
            "POST",
            gp("/accessList"),
            Some("createGroupAccessListEntry"),
            false,
        ),
        case(
            o("ORG_READ_ONLY"),
            "PATCH",
            op(""),
            Some("updateOrg"),
            false,
        ),
        case(o("ORG_MEMBER"), "GET", op(""), None, true),
        case(o("ORG_MEMBER"), "GET", gp(""), None, false),
        case(o("ORG_MEMBER"), "GET", op("/invoices"), None, false),
        case(
            o("ORG_BILLING_READ_ONLY"),
            "GET",
            op("/invoices"),
            None,
            true,
        ),
        case(o("ORG_BILLING_ADMIN"), "GET", op("/invoices"), None, true),
        case(o("ORG_BILLING_ADMIN"), "GET", gp("/clusters"), None, false),
        case(
            o("ORG_STREAM_PROCESSING_ADMIN"),
            "POST",
            gp("/streams"),
            Some("createGroupStreamWorkspace"),
            true,
        ),
        case(
            o("ORG_STREAM_PROCESSING_ADMIN"),
            "GET",
            gp("/clusters"),
            None,
            true,
        ),
        case(
            o("ORG_STREAM_PROCESSING_ADMIN"),
            "POST",
            gp("/accessList"),
            Some("createGroupAccessListEntry"),
            false,
        ),
        case(o("ORG_GROUP_CREATOR"), "GET", op("/teams"), None, true),
        // Project roles.
        case(g("GROUP_OWNER"), "DELETE", gp("/clusters/none"), None, true),
        case(
            g("GROUP_READ_ONLY"),
            "GET",
            gp("/databaseUsers"),
            None,
            true,
        ),
        case(
            g("GROUP_READ_ONLY"),
            "POST",
            gp("/databaseUsers"),
            Some("createGroupDatabaseUser"),
            false,
        ),
        case(
            g("GROUP_CLUSTER_MANAGER"),
            "PATCH",
            gp("/clusters/none"),
            Some("updateGroupCluster"),
            true,
        ),
        case(
            g("GROUP_CLUSTER_MANAGER"),
            "DELETE",
            gp("/clusters/none"),
            None,
            false,
        ),
        case(
            g("GROUP_CLUSTER_MANAGER"),
            "GET",
            gp("/clusters"),
            None,
            true,
        ),
        case(
            g("GROUP_NETWORK_ACCESS_MANAGER"),
            "POST",
            gp("/accessList"),
            Some("createGroupAccessListEntry"),
            true,
        ),
        case(
            g("GROUP_NETWORK_ACCESS_MANAGER"),
            "POST",
            gp("/alertConfigs"),
            Some("createGroupAlertConfig"),
            false,
        ),
        case(
            g("GROUP_ALERTS_MANAGER"),
            "POST",
            gp("/alertConfigs"),
            Some("createGroupAlertConfig"),
            true,
        ),
        case(
            g("GROUP_DATABASE_ACCESS_ADMIN"),
            "POST",
            gp("/databaseUsers"),
            Some("createGroupDatabaseUser"),
            true,
        ),
        case(
            g("GROUP_DATA_ACCESS_ADMIN"),
            "POST",
            gp("/streams"),
            Some("createGroupStreamWorkspace"),
            true,
        ),
        case(
            g("GROUP_STREAM_PROCESSING_OWNER"),
            "POST",
            gp("/streams"),
            Some("createGroupStreamWorkspace"),
            true,
        ),
        case(
            g("GROUP_BACKUP_MANAGER"),
            "POST",
            gp("/backup/exportBuckets"),
            Some("createGroupBackupExportBucket"),
            true,
        ),
        case(g("GROUP_BACKUP_MANAGER"), "DELETE", gp(""), None, false),
        case(
            g("GROUP_ACCESS_MANAGER"),
            "POST",
            gp("/apiKeys"),
            Some("createGroupApiKey"),
            true,
        ),
        case(
            g("GROUP_READ_ONLY"),
            "POST",
            gp("/apiKeys"),
            Some("createGroupApiKey"),
            false,
        ),
        case(g("GROUP_OWNER"), "PATCH", op(""), Some("updateOrg"), false),
    ];
    for (i, c) in cases.iter().enumerate() {
        for kind in ["apiKey", "serviceAccount"] {
            let p = principal(&s, json!({"type": kind, "roles": c.roles})).await;
            let client = client_of(&s, &p).await;
            let answer = match c.op {
                Some(name) => {
                    let (accept, body) = example(name, &format!("case-{i}"));
                    client
                        .send(c.method, &c.path, Some(&accept), Some(&body))
                        .await
                }
                None => {
                    let accept = if c.path.ends_with("/streams") {
                        "application/vnd.atlas.2023-02-01+json"
                    } else {
                        JSON_2023
                    };
                    client.send(c.method, &c.path, Some(accept), None).await
                }
            };
            let what = format!("{kind} {} {} {}", c.roles, c.method, c.path);
            if c.allowed {
                assert!(
                    !matches!(answer.status.as_u16(), 401 | 403),
                    "{what}: {} {}",
                    answer.status,
                    answer.text()
                );
            } else {
                assert_atlas_error(&answer, 401, "USER_UNAUTHORIZED");
            }
        }
    }
}

#[tokio::test]
async fn project_creators_own_what_they_create_and_others_are_refused() {
    let s = Server::new();
    let org = s.boot.org_id.clone();
    let creator = principal(
        &s,
        json!({"roles": [{"orgId": org, "roleName": "ORG_GROUP_CREATOR"}]}),
    )
    .await;
    let creator = client_of(&s, &creator).await;
    let made = creator
        .with_body(
            "POST",
            "/api/atlas/v2/groups",
            &json!({"name": "created", "orgId": org}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        creator
            .get(&format!("/api/atlas/v2/groups/{id}"))
            .await
            .status,
        200
    );
    let gone = creator
        .send(
            "DELETE",
            &format!("/api/atlas/v2/groups/{id}"),
            Some(JSON_2023),
            None,
        )
        .await;
    assert_eq!(gone.status, 202, "{}", gone.text());

    let member = principal(
        &s,
        json!({"roles": [{"orgId": org, "roleName": "ORG_MEMBER"}]}),
    )
    .await;
    let refused = client_of(&s, &member)
        .await
        .with_body(
            "POST",
            "/api/atlas/v2/groups",
            &json!({"name": "nope", "orgId": org}),
        )
        .await;
    assert_atlas_error(&refused, 401, "NOT_ORG_GROUP_CREATOR");
    assert_eq!(refused.json()["parameters"], json!([org]));
}

#[tokio::test]
async fn team_roles_reach_the_team_members() {
    let s = Server::new();
    let (org, group) = (s.boot.org_id.clone(), s.boot.project_id.clone());
    let user = principal(
        &s,
        json!({"type": "user", "username": "ops@example.com",
               "roles": [{"orgId": org, "roleName": "ORG_MEMBER"}]}),
    )
    .await;
    let uc = client_of(&s, &user).await;
    let cluster = format!("/api/atlas/v2/groups/{group}/clusters/none");
    let (accept, body) = example("updateGroupCluster", "none");
    assert_atlas_error(
        &uc.get(&format!("/api/atlas/v2/groups/{group}")).await,
        401,
        "USER_UNAUTHORIZED",
    );
    let team = s
        .call(
            "POST",
            &format!("/api/atlas/v2/orgs/{org}/teams"),
            Some(JSON_2023),
            Some(&json!({"name": "ops", "usernames": ["ops@example.com"]})),
        )
        .await;
    assert_eq!(team.status, 201, "{}", team.text());
    let team_id = team.json()["id"].as_str().unwrap().to_owned();
    let assigned = s
        .call(
            "POST",
            &format!("/api/atlas/v2/groups/{group}/teams"),
            Some(JSON_2023),
            Some(&json!([{"teamId": team_id, "roleNames": ["GROUP_CLUSTER_MANAGER"]}])),
        )
        .await;
    assert_eq!(assigned.status, 200, "{}", assigned.text());
    assert_eq!(
        ids(&uc.get("/api/atlas/v2/groups").await.json()),
        vec![group.clone()]
    );
    // The project's user list shows team members only when asked to flatten teams (its
    // direct member is the organization's owner, who owns the bootstrap project).
    let users = format!("/api/atlas/v2/groups/{group}/users");
    let direct = s.call("GET", &users, Some(V2025), None).await.json();
    let usernames = |list: &Value| -> Vec<String> {
        list["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["username"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(usernames(&direct), vec![OWNER_USERNAME], "{direct}");
    let flat = s
        .call(
            "GET",
            &format!("{users}?flattenTeams=true"),
            Some(V2025),
            None,
        )
        .await
        .json();
    assert_eq!(
        usernames(&flat),
        vec![OWNER_USERNAME, "ops@example.com"],
        "{flat}"
    );
    assert_eq!(
        flat["results"][1]["roles"],
        json!(["GROUP_CLUSTER_MANAGER"])
    );
    let patched = uc.send("PATCH", &cluster, Some(&accept), Some(&body)).await;
    assert_ne!(patched.status, 401, "{}", patched.text());
    assert_atlas_error(
        &uc.send("DELETE", &cluster, Some(JSON_2023), None).await,
        401,
        "USER_UNAUTHORIZED",
    );
    // Narrowing the team's roles, then removing the member, applies at once.
    let narrowed = s
        .call(
            "PATCH",
            &format!("/api/atlas/v2/groups/{group}/teams/{team_id}"),
            Some(JSON_2023),
            Some(&json!({"teamId": team_id, "roleNames": ["GROUP_READ_ONLY"]})),
        )
        .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.text());
    assert_eq!(
        narrowed.json()["results"][0]["roleNames"],
        json!(["GROUP_READ_ONLY"])
    );
    assert_atlas_error(
        &uc.send("PATCH", &cluster, Some(&accept), Some(&body)).await,
        401,
        "USER_UNAUTHORIZED",
    );
    assert_eq!(
        uc.get(&format!("/api/atlas/v2/groups/{group}"))
            .await
            .status,
        200
    );
    let removed = s
        .call(
            "POST",
            &format!("/api/atlas/v2/orgs/{org}/teams/{team_id}:removeUser"),
            Some(V2025),
            Some(&json!({"id": user["id"]})),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert_atlas_error(
        &uc.get(&format!("/api/atlas/v2/groups/{group}")).await,
        401,
        "USER_UNAUTHORIZED",
    );
}

#[tokio::test]
async fn invitations_stay_pending_until_the_invitee_accepts() {
    let s = Server::new();
    let (org, group) = (s.boot.org_id.clone(), s.boot.project_id.clone());
    let invites = format!("/api/atlas/v2/orgs/{org}/invites");
    let created = s
        .call(
            "POST",
            &invites,
            Some(JSON_2023),
            Some(&json!({"username": "newbie@example.com", "roles": ["ORG_MEMBER"],
                         "groupRoleAssignments": [{"groupId": group, "roles": ["GROUP_READ_ONLY"]}]})),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let invitation = created.json();
    assert_eq!(invitation["orgName"], "localatlas");
    assert_eq!(invitation["inviterUsername"], s.boot.public_key);
    assert_eq!(
        invitation["groupRoleAssignments"],
        json!([{"groupId": group, "groupRole": "GROUP_READ_ONLY"}])
    );
    // §8: expiresAt = createdAt + 30 days.
    let at = |field: &str| {
        time::OffsetDateTime::parse(
            invitation[field].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert_eq!(at("expiresAt") - at("createdAt"), time::Duration::days(30));

    // Seed: PATCH /orgs/{orgId}/invites finds the pending invitation by username.
    let patched = s
        .call(
            "PATCH",
            &invites,
            Some(JSON_2023),
            Some(&json!({"username": "NEWBIE@example.com", "roles": ["ORG_READ_ONLY"]})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(patched.json()["id"], invitation["id"]);
    assert_eq!(patched.json()["roles"], json!(["ORG_READ_ONLY"]));
    let nobody = s
        .call(
            "PATCH",
            &invites,
            Some(JSON_2023),
            Some(&json!({"username": "nobody@example.com", "roles": ["ORG_MEMBER"]})),
        )
        .await;
    assert_eq!(nobody.status, 404);
    // §5.1/§3.2: an unknown role name is INVALID_ENUM_VALUE with the value.
    let bad = s
        .call(
            "PATCH",
            &invites,
            Some(JSON_2023),
            Some(&json!({"username": "newbie@example.com",
                         "groupRoleAssignments": [{"groupId": group, "roles": ["INVALID_ROLE"]}]})),
        )
        .await;
    assert_atlas_error(&bad, 400, "INVALID_ENUM_VALUE");
    assert_eq!(
        bad.json()["detail"],
        "An invalid enumeration value INVALID_ROLE was specified."
    );

    // Seed: PATCH /groups/{groupId}/invites/{invitationId} changes a project invitation's roles.
    let project_invite = s
        .call(
            "POST",
            &format!("/api/atlas/v2/groups/{group}/invites"),
            Some(JSON_2023),
            Some(&json!({"username": "proj@example.com", "roles": ["GROUP_READ_ONLY"]})),
        )
        .await
        .json();
    let by_id = format!(
        "/api/atlas/v2/groups/{group}/invites/{}",
        project_invite["id"].as_str().unwrap()
    );
    let changed = s
        .call(
            "PATCH",
            &by_id,
            Some(JSON_2023),
            Some(&json!({"roles": ["GROUP_CLUSTER_MANAGER"]})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(changed.json()["roles"], json!(["GROUP_CLUSTER_MANAGER"]));
    assert_eq!(changed.json()["groupName"], "localatlas-project");
    let invalid = s
        .call(
            "PATCH",
            &by_id,
            Some(JSON_2023),
            Some(&json!({"roles": ["INVALID_ROLE"]})),
        )
        .await;
    assert_atlas_error(&invalid, 400, "INVALID_ENUM_VALUE");

    // The 2025 users API shows the invitee as pending.
    let users = s
        .call(
            "GET",
            &format!("/api/atlas/v2/orgs/{org}/users"),
            Some(V2025),
            None,
        )
        .await
        .json();
    let pending = users["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "newbie@example.com")
        .cloned()
        .expect("pending user");
    assert_eq!(pending["orgMembershipStatus"], "PENDING");
    assert_eq!(pending["invitationExpiresAt"], invitation["expiresAt"]);

    // Accepting is not part of the API: the control API does it for the invitee.
    let accepted = s
        .control(
            "POST",
            "/__localatlas/invitations/accept",
            Some(&json!({"username": "newbie@example.com"})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    let accepted = accepted.json();
    assert_eq!(accepted["accepted"], 1);
    assert_eq!(accepted["id"], pending["id"]);
    assert_eq!(s.get(&invites).await.json(), json!([]));
    let member = s
        .call(
            "GET",
            &format!(
                "/api/atlas/v2/orgs/{org}/users/{}",
                accepted["id"].as_str().unwrap()
            ),
            Some(V2025),
            None,
        )
        .await
        .json();
    assert_eq!(member["orgMembershipStatus"], "ACTIVE");
    assert_eq!(member["roles"]["orgRoles"], json!(["ORG_READ_ONLY"]));
    assert_eq!(
        member["roles"]["groupRoleAssignments"],
        json!([{"groupId": group, "groupRoles": ["GROUP_READ_ONLY"]}])
    );
    let session = s.bearer_client(accepted["accessToken"].as_str().unwrap());
    assert_eq!(
        session
            .get(&format!("/api/atlas/v2/groups/{group}"))
            .await
            .status,
        200
    );
    assert_read_only(&session, &group).await;
}

#[tokio::test]
async fn service_accounts_made_through_the_api_obtain_tokens_at_once() {
    let s = Server::new();
    let (org, group) = (s.boot.org_id.clone(), s.boot.project_id.clone());
    let accounts = format!("/api/atlas/v2/orgs/{org}/serviceAccounts");
    let made = s
        .call(
            "POST",
            &accounts,
            Some(V2024),
            Some(
                &json!({"name": "reader", "description": "reads", "roles": ["ORG_READ_ONLY"],
                         "secretExpiresAfterHours": 24}),
            ),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let account = made.json();
    let client_id = account["clientId"].as_str().unwrap().to_owned();
    assert!(client_id.starts_with("mdb_sa_id_"));
    let secret = account["secrets"][0]["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("mdb_sa_sk_"));
    let first = s.token_for(&client_id, &secret).await;
    let reader = s.bearer_client(&first);
    assert_eq!(
        reader
            .get(&format!("/api/atlas/v2/groups/{group}/clusters"))
            .await
            .status,
        200
    );
    assert_read_only(&reader, &group).await;

    // Shown once: later reads carry only the masked value.
    let read = s
        .call("GET", &format!("{accounts}/{client_id}"), Some(V2024), None)
        .await
        .json();
    assert!(read["secrets"][0].get("secret").is_none(), "{read}");
    assert_eq!(
        read["secrets"][0]["maskedSecretValue"],
        format!("mdb_sa_sk_...{}", &secret[secret.len() - 4..])
    );
    assert!(
        read["secrets"][0]["lastUsedAt"].is_string(),
        "a token was minted"
    );

    let second_secret = s
        .call(
            "POST",
            &format!("{accounts}/{client_id}/secrets"),
            Some(V2024),
            Some(&json!({"secretExpiresAfterHours": 24})),
        )
        .await
        .json();
    let second = s
        .token_for(&client_id, second_secret["secret"].as_str().unwrap())
        .await;
    let first_secret_id = account["secrets"][0]["id"].as_str().unwrap();
    let dropped = s
        .call(
            "DELETE",
            &format!("{accounts}/{client_id}/secrets/{first_secret_id}"),
            Some(V2024),
            None,
        )
        .await;
    assert_eq!(dropped.status, 204, "{}", dropped.text());
    assert_eq!(reader.get("/api/atlas/v2/groups").await.status, 401);
    let still = s.bearer_client(&second);
    assert_eq!(still.get("/api/atlas/v2/groups").await.status, 200);
    let deleted = s
        .call(
            "DELETE",
            &format!("{accounts}/{client_id}"),
            Some(V2024),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(still.get("/api/atlas/v2/groups").await.status, 401);

    // A project's service account is an organization member with project roles.
    let project_made = s
        .call(
            "POST",
            &format!("/api/atlas/v2/groups/{group}/serviceAccounts"),
            Some(V2024),
            Some(&json!({"name": "proj", "description": "project reader", "roles": ["GROUP_READ_ONLY"],
                         "secretExpiresAfterHours": 24})),
        )
        .await;
    assert_eq!(project_made.status, 201, "{}", project_made.text());
    let project_account = project_made.json();
    assert_eq!(project_account["roles"], json!(["GROUP_READ_ONLY"]));
    let token = s
        .token_for(
            project_account["clientId"].as_str().unwrap(),
            project_account["secrets"][0]["secret"].as_str().unwrap(),
        )
        .await;
    let project_reader = s.bearer_client(&token);
    assert_eq!(
        ids(&project_reader.get("/api/atlas/v2/groups").await.json()),
        vec![group.clone()]
    );
}

#[tokio::test]
async fn deleting_an_organization_removes_its_credentials() {
    let s = Server::new();
    let made = s
        .call(
            "POST",
            "/api/atlas/v2/orgs",
            Some(JSON_2023),
            Some(&json!({"name": "short-lived",
                         "apiKey": {"desc": "owner", "roles": ["ORG_OWNER"]},
                         "serviceAccount": {"name": "robot", "description": "first account",
                                            "roles": ["ORG_READ_ONLY"], "secretExpiresAfterHours": 48}})),
        )
        .await
        .json();
    let org = made["organization"]["id"].as_str().unwrap().to_owned();
    let owner = s.key(
        made["apiKey"]["publicKey"].as_str().unwrap(),
        made["apiKey"]["privateKey"].as_str().unwrap(),
    );
    assert_eq!(
        owner.get(&format!("/api/atlas/v2/orgs/{org}")).await.status,
        200
    );
    let robot = &made["serviceAccount"];
    let token = s
        .token_for(
            robot["clientId"].as_str().unwrap(),
            robot["secrets"][0]["secret"].as_str().unwrap(),
        )
        .await;
    let robot = s.bearer_client(&token);
    assert_eq!(
        robot.get(&format!("/api/atlas/v2/orgs/{org}")).await.status,
        200
    );
    let deleted = owner
        .send(
            "DELETE",
            &format!("/api/atlas/v2/orgs/{org}"),
            Some(JSON_2023),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let after = owner.get("/api/atlas/v2/orgs").await;
    assert_eq!(after.status, 401);
    assert!(after.header("www-authenticate").is_some());
    assert_eq!(robot.get("/api/atlas/v2/orgs").await.status, 401);
}

#[tokio::test]
async fn rate_limit_endpoint_sets_describe_what_is_enforced() {
    let s = Server::new();
    let v = "application/vnd.atlas.2025-03-12+json";
    let orgs = s
        .call("GET", "/api/atlas/v2/rateLimits/userOrgs", Some(v), None)
        .await;
    assert_eq!(orgs.status, 200, "{}", orgs.text());
    let orgs = orgs.json();
    assert_eq!(orgs["scope"], "USER");
    assert_eq!(orgs["capacity"]["value"], 300);
    assert_eq!(orgs["refillRate"]["value"], 100);
    assert_eq!(orgs["refillDurationSeconds"]["value"], 60);
    assert!(
        orgs["endpoints"]
            .as_array()
            .unwrap()
            .contains(&json!({"method": "GET", "path": "/api/atlas/v2/orgs"}))
    );
    let by_path = s
        .call(
            "GET",
            "/api/atlas/v2/rateLimits?endpointPath=/api/atlas/v2/groups/%7BgroupId%7D/clusters",
            Some(v),
            None,
        )
        .await
        .json();
    assert_eq!(by_path["totalCount"], 1, "{by_path}");
    assert_eq!(by_path["results"][0]["endpointSetId"], "groupClusters");
    assert_eq!(by_path["results"][0]["capacity"]["value"], 10_000);
    let missing = s
        .call("GET", "/api/atlas/v2/rateLimits/nothing", Some(v), None)
        .await;
    assert_atlas_error(&missing, 404, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn users_of_other_organizations_stay_invisible() {
    let s = Server::new();
    let other = s
        .call(
            "POST",
            "/api/atlas/v2/orgs",
            Some(JSON_2023),
            Some(&json!({"name": "elsewhere"})),
        )
        .await
        .json();
    let other_org = other["organization"]["id"].as_str().unwrap().to_owned();
    let stranger = principal(
        &s,
        json!({"type": "user", "username": "stranger@example.com",
               "roles": [{"orgId": other_org, "roleName": "ORG_OWNER"}]}),
    )
    .await;
    let id = stranger["id"].as_str().unwrap();
    let by_id = s.get(&format!("/api/atlas/v2/users/{id}")).await;
    assert_atlas_error(&by_id, 404, "USER_NOT_FOUND");
    let by_name = s
        .get("/api/atlas/v2/users/byName/stranger%40example.com")
        .await;
    assert_atlas_error(&by_name, 404, "USERNAME_NOT_FOUND");
    // The stranger sees itself, with its roles.
    let me = client_of(&s, &stranger)
        .await
        .get(&format!("/api/atlas/v2/users/{id}"))
        .await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(
        me.json()["roles"],
        json!([{"orgId": other_org, "roleName": "ORG_OWNER"}])
    );
}

#[tokio::test]
async fn reset_forgets_every_identity_but_the_bootstrap_ones() {
    let s = Server::new();
    let key = principal(&s, json!({"type": "apiKey"})).await;
    let key = client_of(&s, &key).await;
    let account = principal(&s, json!({"type": "serviceAccount"})).await;
    let account = client_of(&s, &account).await;
    assert_eq!(key.get("/api/atlas/v2/orgs").await.status, 200);
    assert_eq!(account.get("/api/atlas/v2/orgs").await.status, 200);
    let token = s.token().await;
    assert_eq!(
        s.control("POST", "/__localatlas/reset", None).await.status,
        200
    );
    assert_eq!(key.get("/api/atlas/v2/orgs").await.status, 401);
    assert_eq!(account.get("/api/atlas/v2/orgs").await.status, 401);
    assert_eq!(s.get("/api/atlas/v2/orgs").await.status, 200);
    assert_eq!(groups_status(&s, &token).await, 200);
}

#[tokio::test]
async fn the_control_api_checks_the_roles_it_is_given() {
    let s = Server::new();
    let bad = s
        .control(
            "POST",
            "/__localatlas/principals",
            Some(&json!({"roles": [{"orgId": s.boot.org_id, "roleName": "ORG_WIZARD"}]})),
        )
        .await;
    assert_atlas_error(&bad, 400, "INVALID_ENUM_VALUE");
    let needs_group = s
        .control(
            "POST",
            "/__localatlas/principals",
            Some(&json!({"roles": [{"roleName": "GROUP_OWNER"}]})),
        )
        .await;
    assert_atlas_error(&needs_group, 400, "ROLE_NEEDS_GROUP_ID");
    let nothing = s
        .control(
            "POST",
            "/__localatlas/invitations/accept",
            Some(&json!({"username": "x@example.com"})),
        )
        .await;
    assert_eq!(nothing.status, 404);
}

/// Side-by-side cost of admission (run with `--ignored --nocapture`): the same cheap read sent
/// with a Digest key, a Bearer token and an access-listed key, with rate limits on and off.
/// Prints requests per second; asserts nothing about time.
#[tokio::test]
#[ignore]
async fn measure_admission() {
    const N: u32 = 2000;
    for limits in [true, false] {
        let s = if limits {
            Server::new()
        } else {
            Server::without_rate_limits()
        };
        let group = s.boot.project_id.clone();
        let uri = format!("/api/atlas/v2/groups/{group}/databaseUsers");
        let token = s.token().await;
        let listed = principal(
            &s,
            json!({"roles": [{"groupId": group, "roleName": "GROUP_READ_ONLY"}],
                   "accessList": ["203.0.113.0/24"]}),
        )
        .await;
        let clients = [
            ("digest", s.key(&s.boot.public_key, &s.boot.private_key)),
            ("bearer", s.bearer_client(&token)),
            (
                "digest+accessList",
                client_of(&s, &listed).await.from("203.0.113.1"),
            ),
        ];
        for (name, client) in &clients {
            let started = std::time::Instant::now();
            for _ in 0..N {
                assert_eq!(client.get(&uri).await.status, 200);
            }
            let rate = f64::from(N) / started.elapsed().as_secs_f64();
            eprintln!("rate limits {limits:5} {name:18} {rate:8.0} requests/s");
        }
    }
}

/// RFC 2617 without `qop` has no request count, so such a nonce serves exactly one request: the
/// same header again is a replay (401, `stale=true`: the client fetches a fresh nonce).
#[tokio::test]
async fn a_digest_without_qop_is_good_for_one_request() {
    let s = Server::new();
    let challenge = s
        .anonymous("GET", "/api/atlas/v2/groups", Some(JSON_2023), None)
        .await;
    let www = challenge.header("www-authenticate").unwrap().to_owned();
    let nonce = www
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let uri = "/api/atlas/v2/groups";
    let header = atlas_api::identity::credentials::digest_authorization(
        &s.boot.public_key,
        &s.boot.private_key,
        "GET",
        uri,
        nonce,
        None,
    );
    assert!(!header.contains("qop"));
    assert_eq!(s.with_authorization("GET", uri, &header).await.status, 200);
    let replay = s.with_authorization("GET", uri, &header).await;
    assert_eq!(replay.status, 401);
    assert!(
        replay
            .header("www-authenticate")
            .unwrap()
            .contains("stale=true")
    );
}

/// Revoking a token another client holds answers 200 and changes nothing (RFC 7009 §2.1: the
/// server does not reveal whether the token was someone else's).
#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let s = Server::new();
    let token = s.token().await;
    let other = s
        .control(
            "POST",
            "/__localatlas/principals",
            Some(&json!({"type": "serviceAccount", "roles": [{"orgId": s.boot.org_id, "roleName": "ORG_READ_ONLY"}]})),
        )
        .await
        .json();
    let revoked = s
        .oauth(
            "/api/oauth/revoke",
            other["clientId"].as_str().unwrap(),
            other["clientSecret"].as_str().unwrap(),
            &format!("token={token}"),
        )
        .await;
    assert_eq!(revoked.status, 200);
    let still = s
        .bearer(&token, "GET", "/api/atlas/v2/orgs", Some(JSON_2023))
        .await;
    assert_eq!(still.status, 200, "{}", still.text());
}
