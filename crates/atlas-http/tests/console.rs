//! What the console reads, through HTTP only: a resource opened as Atlas answers it
//! (`GET /__localatlas/view`, in any version the operation serves, with a `curl` that holds no
//! secret, changing nothing), the overview's names and addresses, the catalogue the fault form
//! picks from, Digest challenges folded into their requests, and injected errors whose detail
//! names what the request names.

mod common;

use common::{Server, set_lifecycle, v};
use serde_json::{Value, json};

fn shard() -> Value {
    json!({"regionConfigs": [{
        "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
        "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}
    }]})
}

fn project_uri(s: &Server) -> String {
    format!("/api/atlas/v2/groups/{}", s.boot.project_id)
}

async fn create_cluster(s: &Server, name: &str) {
    let body = json!({"name": name, "clusterType": "REPLICASET", "replicationSpecs": [shard()]});
    let uri = format!("{}/clusters", project_uri(s));
    let answer = s
        .call("POST", &uri, Some(&v("2024-10-23")), Some(&body))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
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

/// `GET /__localatlas/view` of `path` (in `version`, else the default), answered 200.
async fn view(s: &Server, path: &str, version: Option<&str>) -> Value {
    let mut query = url_encode("path", path);
    if let Some(version) = version {
        query.push('&');
        query.push_str(&url_encode("version", version));
    }
    let answer = s
        .control("GET", &format!("/__localatlas/view?{query}"), None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

fn url_encode(name: &str, value: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish()
}

#[tokio::test]
async fn a_resource_opens_as_atlas_answers_it_in_each_version() {
    let s = Server::new();
    create_cluster(&s, "opened").await;
    let path = format!("{}/clusters/opened", project_uri(&s));
    let newest = view(&s, &path, None).await;
    assert_eq!(newest["operationId"], "getGroupCluster");
    let versions: Vec<&str> = newest["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(versions.len() >= 3, "{versions:?}");
    assert_eq!(newest["version"], versions[0]);
    assert_eq!(newest["status"], 200);
    assert_eq!(newest["body"]["name"], "opened");
    // The document a client reading next gets, in the same version.
    for version in [versions[0], "2023-02-01"] {
        let looked = view(&s, &path, Some(version)).await;
        assert_eq!(looked["version"], version);
        assert_eq!(
            looked["contentType"],
            format!("application/vnd.atlas.{version}+json;charset=utf-8")
        );
        let read = s.call("GET", &path, Some(&v(version)), None).await;
        assert_eq!(read.status, 200);
        assert_eq!(looked["body"], read.json(), "{version}");
    }
    let old = view(&s, &path, Some("2023-02-01")).await;
    assert_ne!(old["body"], newest["body"], "versions render differently");
    // A copy-ready curl as the bootstrap key, whose private key stays in the environment.
    let curl = newest["curl"].as_str().unwrap();
    assert!(
        curl.contains(&format!(
            "--digest -u \"{}:$PRIVATE_KEY\"",
            s.boot.public_key
        )),
        "{curl}"
    );
    assert!(curl.contains(&format!(
        "Accept: application/vnd.atlas.{}+json",
        versions[0]
    )));
    assert!(
        curl.contains(&format!("'http://localhost:8080{path}'")),
        "{curl}"
    );
    assert!(!newest.to_string().contains(&s.boot.private_key));
    assert_eq!(
        newest["readAs"],
        json!({"type": "apiKey", "name": s.boot.public_key, "bootstrap": true})
    );
}

#[tokio::test]
async fn a_look_changes_nothing_a_client_sees() {
    let s = Server::new();
    set_lifecycle(&s, "instant").await;
    create_cluster(&s, "watched").await;
    let path = format!("{}/clusters/watched", project_uri(&s));
    // Under `instant` the client's first read sees CREATING and settles the transition; however
    // often the console looks first, that read still sees CREATING.
    for _ in 0..3 {
        assert_eq!(view(&s, &path, None).await["body"]["stateName"], "CREATING");
    }
    let read = s.get(&path).await.json();
    assert_eq!(read["stateName"], "CREATING");
    assert_eq!(view(&s, &path, None).await["body"]["stateName"], "IDLE");
    // Looks are not client requests: neither the recent requests nor coverage count them.
    let recent = s
        .control("GET", "/__localatlas/requests", None)
        .await
        .json();
    let reads = recent["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["operationId"] == "getGroupCluster")
        .count();
    assert_eq!(reads, 1);
}

#[tokio::test]
async fn a_view_reads_only_and_says_what_it_needs() {
    let s = Server::new();
    let refused = |answer: common::Answer, status: u16, needle: &str| {
        assert_eq!(answer.status, status, "{}", answer.text());
        let detail = answer.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains(needle), "{detail}");
    };
    refused(
        s.control("GET", "/__localatlas/view", None).await,
        400,
        "path",
    );
    refused(
        s.control("GET", "/__localatlas/view?path=/__localatlas/state", None)
            .await,
        400,
        "/api/atlas/v2",
    );
    let write_only = format!(
        "/__localatlas/view?{}",
        url_encode("path", &format!("{}/access", project_uri(&s)))
    );
    refused(s.control("GET", &write_only, None).await, 400, "only reads");
    refused(
        s.control(
            "GET",
            "/__localatlas/view?path=/api/atlas/v2/nothing/here",
            None,
        )
        .await,
        404,
        "/api/atlas/v2/nothing/here",
    );
    let old = format!(
        "/__localatlas/view?{}&version=2001-01-01",
        url_encode("path", &project_uri(&s))
    );
    refused(s.control("GET", &old, None).await, 400, "2023-01-01");
    // A missing resource is Atlas's own answer, shown as such.
    let missing = view(&s, &format!("{}/clusters/nope", project_uri(&s)), None).await;
    assert_eq!(missing["status"], 404);
    assert_eq!(missing["body"]["errorCode"], "CLUSTER_NOT_FOUND");
}

#[tokio::test]
async fn atlas_credentials_never_open_a_view() {
    let s = Server::new();
    let uri = format!(
        "/__localatlas/view?{}",
        url_encode("path", &project_uri(&s))
    );
    let remote = s
        .key(&s.boot.public_key, &s.boot.private_key)
        .from("192.0.2.7");
    let answer = remote.send("GET", &uri, None, None).await;
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert_eq!(answer.json()["error"], "CONTROL_TOKEN_REQUIRED");
}

#[tokio::test]
async fn another_organization_is_read_as_its_own_owner() {
    let s = Server::new();
    let created = s
        .call(
            "POST",
            "/api/atlas/v2/orgs",
            Some(&v("2023-01-01")),
            Some(&json!({"name": "second", "apiKey": {"desc": "owner", "roles": ["ORG_OWNER"]}})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let org = created["organization"]["id"].as_str().unwrap();
    let looked = view(&s, &format!("/api/atlas/v2/orgs/{org}"), None).await;
    assert_eq!(looked["status"], 200, "{looked}");
    assert_eq!(looked["body"]["name"], "second");
    assert_eq!(
        looked["readAs"],
        json!({"type": "apiKey", "name": created["apiKey"]["publicKey"], "bootstrap": false})
    );
    // Not the bootstrap key: both halves of the credential come from the environment.
    let curl = looked["curl"].as_str().unwrap();
    assert!(curl.contains("-u \"$PUBLIC_KEY:$PRIVATE_KEY\""), "{curl}");
}

#[tokio::test]
async fn the_overview_names_things_as_people_know_them_and_says_where_to_read_them() {
    let s = Server::new();
    create_cluster(&s, "named").await;
    let project = project_uri(&s);
    let entry = s
        .call(
            "POST",
            &format!("{project}/accessList"),
            Some(&v("2023-01-01")),
            Some(&json!([{"cidrBlock": "203.0.113.7/32"}])),
        )
        .await;
    assert_eq!(entry.status, 201, "{}", entry.text());
    let user = json!({"databaseName": "admin", "username": "alice", "password": "secretpassw0rd",
        "groupId": s.boot.project_id, "roles": [{"databaseName": "admin", "roleName": "readWrite"}]});
    let created = s
        .call(
            "POST",
            &format!("{project}/databaseUsers"),
            Some(&v("2023-01-01")),
            Some(&user),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let settings = s
        .call(
            "PATCH",
            &format!("{project}/settings"),
            Some(&v("2023-01-01")),
            Some(&json!({"isDataExplorerEnabled": false})),
        )
        .await;
    assert_eq!(settings.status, 200, "{}", settings.text());
    let overview = s
        .control("GET", "/__localatlas/resources", None)
        .await
        .json();
    let org = find(&overview["organizations"], "id", &s.boot.org_id);
    let org_settings = find(&org["resources"], "collection", "settings");
    assert_eq!(org_settings["items"][0]["name"], "organization settings");
    assert_eq!(org["path"], format!("/api/atlas/v2/orgs/{}", s.boot.org_id));
    let keys = find(&org["resources"], "collection", "apiKeys");
    assert_eq!(keys["title"], "API keys");
    assert_eq!(keys["items"][0]["name"], s.boot.public_key);
    let project_node = find(&org["projects"], "id", &s.boot.project_id);
    assert_eq!(project_node["readBy"], "getGroup");
    let resources = &project_node["resources"];

    let access = find(resources, "collection", "accessList");
    assert_eq!(access["title"], "access list");
    let item = &access["items"][0];
    assert_eq!(item["name"], "203.0.113.7/32");
    assert_eq!(item["keyText"], "203.0.113.7/32");
    let opened = view(&s, item["path"].as_str().unwrap(), None).await;
    assert_eq!(opened["status"], 200, "{opened}");
    assert_eq!(opened["body"]["cidrBlock"], "203.0.113.7/32");

    let users = find(resources, "collection", "databaseUsers");
    assert_eq!(users["title"], "database users");
    let alice = &users["items"][0];
    assert_eq!(
        (alice["name"].as_str(), alice["keyText"].as_str()),
        (Some("alice"), Some("admin/alice"))
    );
    let opened = view(&s, alice["path"].as_str().unwrap(), None).await;
    assert_eq!(opened["operationId"], "getGroupDatabaseUser");
    assert_eq!(opened["body"]["username"], "alice");

    let settings = find(resources, "collection", "settings");
    let document = &settings["items"][0];
    assert_eq!(document["name"], "project settings");
    assert_eq!(document["document"], true);
    let opened = view(&s, document["path"].as_str().unwrap(), None).await;
    assert_eq!(opened["status"], 200, "{opened}");
    assert_eq!(opened["body"]["isDataExplorerEnabled"], false);

    let cluster = find(resources, "collection", "clusters");
    assert_eq!(cluster["items"][0]["readBy"], "getGroupCluster");
}

#[tokio::test]
async fn the_catalogue_lists_every_operation_and_error_code() {
    let s = Server::new();
    let catalogue = s
        .control("GET", "/__localatlas/catalogue", None)
        .await
        .json();
    let operations = catalogue["operations"].as_array().unwrap();
    assert_eq!(operations.len(), atlas_model::OPERATIONS.len());
    let create = find(
        &catalogue["operations"],
        "operationId",
        "createGroupDatabaseUser",
    );
    assert_eq!(create["method"], "POST");
    let code = find(&catalogue["errorCodes"], "code", "USER_ALREADY_EXISTS");
    assert_eq!(code["status"], 409);
    assert_eq!(
        catalogue["errorCodes"].as_array().unwrap().len(),
        atlas_api::kernel::error_codes::ALL.len()
    );
}

#[tokio::test]
async fn a_digest_challenge_folds_into_its_request() {
    let s = Server::new();
    let uri = project_uri(&s);
    // What a Digest client does without a nonce: ask, get challenged, ask again with credentials.
    let challenge = s.anonymous("GET", &uri, Some(&v("2023-01-01")), None).await;
    assert_eq!(challenge.status, 401);
    assert_eq!(s.get(&uri).await.status, 200);
    let recent = s
        .control("GET", "/__localatlas/requests", None)
        .await
        .json();
    let rows: Vec<&Value> = recent["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == uri.as_str())
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], 200);
    assert_eq!(rows[0]["digestChallenges"], 1);
    assert_eq!(rows[0]["principal"], s.boot.public_key.as_str());
}

#[tokio::test]
async fn an_injected_error_names_what_the_request_names() {
    let s = Server::new();
    let rule =
        json!({"operationId": "createGroupDatabaseUser", "errorCode": "USER_ALREADY_EXISTS"});
    let added = s.control("POST", "/__localatlas/faults", Some(&rule)).await;
    assert_eq!(added.status, 201, "{}", added.text());
    let user = json!({"databaseName": "admin", "username": "alice", "password": "secretpassw0rd",
        "groupId": s.boot.project_id, "roles": [{"databaseName": "admin", "roleName": "readWrite"}]});
    let answer = s
        .call(
            "POST",
            &format!("{}/databaseUsers", project_uri(&s)),
            Some(&v("2023-01-01")),
            Some(&user),
        )
        .await;
    common::assert_atlas_error(&answer, 409, "USER_ALREADY_EXISTS");
    let body = answer.json();
    assert_eq!(body["detail"], "A user with username alice already exists.");
    assert_eq!(body["parameters"], json!(["alice"]));
}

#[tokio::test]
async fn fault_rules_the_control_api_refuses_say_why() {
    let s = Server::new();
    let answer = s
        .control(
            "POST",
            "/__localatlas/faults",
            Some(&json!({"operationId": "createGroupCluster", "errorCode": "NOT_A_CODE"})),
        )
        .await;
    assert_eq!(answer.status, 400);
    let detail = answer.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("NOT_A_CODE"), "{detail}");
}
