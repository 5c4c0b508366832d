//! `localatlas record` end to end: a localatlas server is the upstream, the recorder forwards a
//! Digest client and a service-account client (token, Bearer calls, revoke) to it, and the
//! recording must hold every exchange in the corpus's fields, the answers must be the
//! upstream's, and no secret of the run may appear anywhere in the file.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{Client, Server, exchange_raw, lines, recorder, recorder_of, wait_lines};
use serde_json::{Value, json};

#[test]
fn a_recording_through_the_proxy_holds_every_exchange_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Server::start("memory", dir.path());
    let out = dir.path().join("run.jsonl");
    let proxy = recorder(&upstream, dir.path(), &out, &["--redact", "comment"]);
    let group = upstream.boot["projectId"].as_str().unwrap().to_owned();
    let org = upstream.boot["orgId"].as_str().unwrap().to_owned();
    let (public_key, private_key) = upstream.key();
    let client_secret = upstream.boot["serviceAccount"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut expected = 0;

    // Digest through the proxy: a challenge, then the signed request (two exchanges).
    let (status, through) = proxy.call("GET", &format!("/api/atlas/v2/groups/{group}"), None);
    assert_eq!(status, 200, "{through}");
    expected += 2;
    let (status, direct) = upstream.call("GET", &format!("/api/atlas/v2/groups/{group}"), None);
    assert_eq!(status, 200);
    assert_eq!(through, direct, "the client gets the upstream's answer");

    // A database user with a password in the body.
    let db_password = "Db-user-Pa55word-0123456789";
    let user = json!({"databaseName": "admin", "groupId": group, "username": "app",
        "password": db_password, "roles": [{"databaseName": "admin", "roleName": "readWriteAnyDatabase"}]});
    let (status, created) = proxy.call(
        "POST",
        &format!("/api/atlas/v2/groups/{group}/databaseUsers"),
        Some(&user),
    );
    assert_eq!(status, 201, "{created}");
    expected += 2;

    // An API key: its private key is in the answer.
    let (status, key) = proxy.call(
        "POST",
        &format!("/api/atlas/v2/orgs/{org}/apiKeys"),
        Some(&json!({"desc": "recorded", "roles": ["ORG_MEMBER"]})),
    );
    assert_eq!(status, 200, "{key}"); // Atlas answers 200 here, not the spec's 201
    let new_private_key = key["privateKey"].as_str().unwrap().to_owned();
    expected += 2;

    // An Atlas error, with its errorCode.
    let (status, missing) = proxy.call(
        "GET",
        &format!("/api/atlas/v2/groups/{group}/clusters/nope"),
        None,
    );
    assert_eq!(status, 404, "{missing}");
    expected += 2;

    // The service account: a token through the proxy, Bearer calls, then its revocation.
    let token = proxy.token();
    expected += 1;
    let mut bearer = Client::new(&proxy.addr, &token);
    let (status, orgs) = bearer.send("GET", "/api/atlas/v2/orgs", None).unwrap();
    assert_eq!(status, 200, "{orgs}");
    let (status, made) = bearer
        .send(
            "POST",
            "/api/atlas/v2/groups",
            Some(&json!({"name": "recorded-project", "orgId": org})),
        )
        .unwrap();
    assert_eq!(status, 201, "{made}");
    let (status, entry) = bearer
        .send(
            "POST",
            &format!("/api/atlas/v2/groups/{group}/accessList"),
            Some(&json!([{"ipAddress": "192.0.2.7", "comment": "private-comment-0123"}])),
        )
        .unwrap();
    assert_eq!(status, 201, "{entry}");
    expected += 3;
    let (status, _) = bearer
        .send("GET", "/api/atlas/v2/groups?itemsPerPage=5&pageNum=1", None)
        .unwrap();
    assert_eq!(status, 200);
    expected += 1;
    let id = upstream.boot["serviceAccount"]["clientId"]
        .as_str()
        .unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{client_secret}"));
    let form = format!("token={token}&token_type_hint=access_token");
    let raw = format!(
        "POST /api/oauth/revoke HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Basic {basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        proxy.addr,
        form.len()
    );
    let (status, _, _) = exchange_raw(&proxy.addr, raw.as_bytes());
    assert_eq!(status, 200, "revoke passes through");
    expected += 1;
    // The revoked token is refused by the upstream, through the proxy.
    let (status, _) = bearer.send("GET", "/api/atlas/v2/orgs", None).unwrap();
    assert_eq!(status, 401);
    expected += 1;
    // Something the upstream made for this test: a project through the proxy is there directly.
    let (status, listed) = upstream.call("GET", "/api/atlas/v2/groups", None);
    assert_eq!(status, 200);
    assert!(listed.to_string().contains("recorded-project"), "{listed}");

    let recording = wait_lines(&out, expected);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(recording.len(), expected, "{text}");

    // No secret of the run anywhere in the file.
    for secret in [
        private_key.as_str(),
        new_private_key.as_str(),
        client_secret.as_str(),
        token.as_str(),
        db_password,
        "private-comment-0123",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the recording");
    }
    assert!(
        !text.to_ascii_lowercase().contains("authorization"),
        "{text}"
    );
    assert!(
        text.contains(key["publicKey"].as_str().unwrap()),
        "public keys are ids, kept"
    );
    assert!(
        !text.contains(&public_key),
        "request headers are never recorded"
    );

    // The corpus's fields on every line; one sequence for this client session (per User-Agent:
    // the harness sends none, so every exchange is the same client), steps in order.
    let fields = [
        "id",
        "sequence",
        "step",
        "kind",
        "method",
        "path",
        "query",
        "template",
        "operation_id",
        "in_spec",
        "path_params",
        "request_version",
        "request_accept",
        "request_body",
        "status",
        "content_type",
        "response_media",
        "response_headers",
        "error_code",
        "response_body",
    ];
    for line in &recording {
        for field in fields {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
    }
    let mut steps: Vec<u64> = recording
        .iter()
        .map(|l| l["step"].as_u64().unwrap())
        .collect();
    steps.sort_unstable();
    assert_eq!(steps, (0..expected as u64).collect::<Vec<_>>());
    let sequence = recording[0]["sequence"].as_str().unwrap();
    assert!(sequence.starts_with("record/"), "{sequence}");
    assert!(recording.iter().all(|l| l["sequence"] == sequence));

    let find = |method: &str, op: &str| -> &Value {
        recording
            .iter()
            .find(|l| l["method"] == method && l["operation_id"] == op && l["kind"] == "api")
            .unwrap_or_else(|| panic!("no {method} {op} in {text}"))
    };
    let get = find("GET", "getGroup");
    assert_eq!(get["template"], "/api/atlas/v2/groups/{groupId}");
    assert_eq!(get["path_params"]["groupId"], group.as_str());
    assert_eq!(get["status"], 200);
    assert_eq!(get["request_version"], "2023-01-01");
    assert_eq!(
        get["request_accept"],
        "application/vnd.atlas.2023-01-01+json"
    );
    assert_eq!(
        get["response_body"], direct,
        "the recorded answer is the upstream's"
    );
    assert!(
        get["response_media"]
            .as_str()
            .unwrap()
            .starts_with("application/vnd.atlas.")
    );

    let challenges: Vec<&Value> = recording
        .iter()
        .filter(|l| l["kind"] == "auth-challenge")
        .collect();
    assert_eq!(challenges.len(), 4, "one per Digest call");
    let www = challenges[0]["response_headers"]["WWW-Authenticate"]
        .as_str()
        .unwrap();
    assert!(www.contains("nonce=\"[REDACTED]\""), "{www}");
    // Every redacted place is listed in its line (docs/fidelity.md), the challenge's too.
    for challenge in &challenges {
        assert!(
            challenge["redacted"]
                .as_array()
                .unwrap()
                .contains(&json!("response_headers.WWW-Authenticate")),
            "{challenge}"
        );
    }

    let user_line = find("POST", "createGroupDatabaseUser");
    assert_eq!(user_line["status"], 201);
    assert_eq!(user_line["request_body"]["password"], "[REDACTED]");
    assert_eq!(user_line["request_body"]["username"], "app");
    let key_line = find("POST", "createOrgApiKey");
    assert_eq!(key_line["response_body"]["privateKey"], "[REDACTED]");
    assert_eq!(key_line["response_body"]["publicKey"], key["publicKey"]);

    let missing_line = find("GET", "getGroupCluster");
    assert_eq!(missing_line["status"], 404);
    assert_eq!(missing_line["error_code"], missing["errorCode"]);

    let paged = find("GET", "listGroups");
    assert_eq!(paged["query"], "itemsPerPage=5&pageNum=1");
    let access = find("POST", "createGroupAccessListEntry");
    assert_eq!(
        access["request_body"][0]["comment"], "[REDACTED]",
        "--redact"
    );

    let oauth: Vec<&Value> = recording
        .iter()
        .filter(|l| {
            l["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/oauth/"))
        })
        .collect();
    assert_eq!(oauth.len(), 2, "token and revoke");
    assert!(oauth.iter().all(|l| l["kind"] == "non-spec"));
    assert_eq!(oauth[0]["response_body"]["access_token"], "[REDACTED]");
    assert_eq!(oauth[1]["request_body"]["token"], "[REDACTED]");
    assert_eq!(oauth[1]["status"], 200);

    // Every exchange also reached the upstream.
    let (status, users) = upstream.call(
        "GET",
        &format!("/api/atlas/v2/groups/{group}/databaseUsers"),
        None,
    );
    assert_eq!(status, 200);
    assert!(users.to_string().contains("\"app\""), "{users}");
}

#[test]
fn a_named_sequence_and_an_unreachable_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Server::start("memory", dir.path());
    let out = dir.path().join("named.jsonl");
    let proxy = recorder(&upstream, dir.path(), &out, &["--sequence", "my-tool"]);
    let (status, _) = proxy.call("GET", "/api/atlas/v2/orgs", None);
    assert_eq!(status, 200);
    let recording = wait_lines(&out, 2);
    assert_eq!(recording.len(), 2);
    assert!(recording.iter().all(|l| l["sequence"] == "my-tool"));
    assert_eq!(recording[1]["id"], "my-tool#001");
    assert_eq!(recording[1]["operation_id"], "listOrgs");
    drop(upstream);
    // The upstream gone: the client gets a 502 from the recorder, and nothing is recorded.
    let (status, _, body) = proxy.request("GET", "/api/atlas/v2/orgs", None, None);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("localatlas record"), "{body}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(lines(&out).len(), 2);
}

#[test]
fn an_https_upstream_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, ca) = Server::start_tls(dir.path());
    let url = upstream.boot["baseUrl"].as_str().unwrap().to_owned();
    let out = dir.path().join("tls.jsonl");
    let ca_arg = ca.to_str().unwrap();
    let proxy = recorder_of(
        &url,
        &upstream.boot,
        dir.path(),
        &out,
        &["--upstream-ca", ca_arg],
    );
    let (status, orgs) = proxy.call("GET", "/api/atlas/v2/orgs", None);
    assert_eq!(status, 200, "{orgs}");
    let token = proxy.token();
    let (status, _) = Client::new(&proxy.addr, &token)
        .send("GET", "/api/atlas/v2/groups", None)
        .unwrap();
    assert_eq!(status, 200);
    let recording = wait_lines(&out, 4);
    assert_eq!(recording.len(), 4);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains(&token));
    assert!(!text.contains(upstream.key().1.as_str()));

    // Without the CA the system's roots do not trust localatlas's certificate: 502, nothing
    // recorded.
    let untrusted_out = dir.path().join("untrusted.jsonl");
    let untrusted = recorder_of(&url, &upstream.boot, dir.path(), &untrusted_out, &[]);
    let (status, _, body) = untrusted.request("GET", "/api/atlas/v2/orgs", None, None);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("certificate"), "{body}");
    assert!(lines(&untrusted_out).is_empty());
}
