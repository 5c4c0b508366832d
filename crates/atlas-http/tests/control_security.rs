//! The control plane's gate (issue 15, `atlas_http::gate`): each of the four findings — a page
//! of another site driving the control API, DNS rebinding reading the state, every client behind
//! a trusted proxy counting as loopback, any Atlas principal acting as root — is refused with a
//! 4xx and changes nothing, while loopback use without credentials (scripts, tests, the console)
//! works as before; the control token, the `--control` modes, `--allowed-host`, and the same
//! browser rules for the private endpoints.

mod common;

use atlas_http::HttpConfig;
use atlas_http::gate::ControlAccess;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use common::{CLIENT_IP_HEADER, JSON_2023, Options, Server};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// The address a reverse proxy reports for a client on another machine.
const REMOTE: &str = "203.0.113.9";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

/// One request with exactly the given headers (plus `Host: localhost:8080` unless one is given).
async fn send(s: &Server, method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut builder = Request::builder().method(method).uri(uri);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        builder = builder.header("host", "localhost:8080");
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = s
        .app
        .clone()
        .oneshot(builder.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn assert_refused(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"], error, "{}", reply.body);
    assert!(reply.body["detail"].as_str().is_some_and(|d| d.len() > 20));
    assert!(
        !reply.headers.contains_key("access-control-allow-origin"),
        "no CORS allowances"
    );
}

fn server(control: ControlAccess) -> Server {
    let mut options = Options::default();
    options.frozen_clock = true;
    options.config = HttpConfig {
        control,
        ..options.config
    };
    Server::with(options)
}

async fn clock(s: &Server) -> Value {
    s.control("GET", "/__localatlas/clock", None).await.json()["now"].clone()
}

/// A project created through Atlas: a reset would delete it.
async fn witness(s: &Server) -> String {
    let created = s
        .call(
            "POST",
            "/api/atlas/v2/groups",
            Some(JSON_2023),
            Some(&json!({"name": "witness", "orgId": s.boot.org_id})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    created.json()["id"].as_str().unwrap().to_owned()
}

async fn still_there(s: &Server, project: &str) {
    let read = s.get(&format!("/api/atlas/v2/groups/{project}")).await;
    assert_eq!(read.status, 200, "the state changed: {}", read.text());
}

#[tokio::test]
async fn finding_1_pages_of_other_sites_cannot_drive_the_control_api() {
    let s = server(ControlAccess::Auto);
    let project = witness(&s).await;
    let before = clock(&s).await;
    // The forged requests a page can send without a CORS preflight: text/plain, forms.
    let evil = "http://evil.example";
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let moved = send(
            &s,
            "POST",
            "/__localatlas/clock",
            &[("origin", evil), ("content-type", content_type)],
            r#"{"advanceSeconds": 3600}"#,
        )
        .await;
        assert_refused(&moved, 403, "FOREIGN_ORIGIN");
    }
    let reset = send(&s, "POST", "/__localatlas/reset", &[("origin", evil)], "").await;
    assert_refused(&reset, 403, "FOREIGN_ORIGIN");
    // Even a JSON body (which would need a preflight no answer allows) from a foreign origin.
    let minted = send(
        &s,
        "POST",
        "/__localatlas/principals",
        &[("origin", evil), ("content-type", "application/json")],
        r#"{"type": "apiKey"}"#,
    )
    .await;
    assert_refused(&minted, 403, "FOREIGN_ORIGIN");
    // A sandboxed frame or a file: page sends `Origin: null`.
    let null = send(&s, "POST", "/__localatlas/reset", &[("origin", "null")], "").await;
    assert_refused(&null, 403, "FOREIGN_ORIGIN");
    // A browser that marks the fetch cross-site, and one that sends no Origin at all: the body
    // still is no JSON, which no script needs to send.
    let marked = send(
        &s,
        "POST",
        "/__localatlas/lifecycle/advance",
        &[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "no-cors"),
        ],
        "",
    )
    .await;
    assert_refused(&marked, 403, "CROSS_SITE_REQUEST");
    let plain = send(
        &s,
        "POST",
        "/__localatlas/clock",
        &[("content-type", "text/plain")],
        r#"{"advanceSeconds": 3600}"#,
    )
    .await;
    assert_refused(&plain, 415, "JSON_REQUIRED");
    // The preflight a JSON fetch needs gets no allowance.
    let preflight = send(
        &s,
        "OPTIONS",
        "/__localatlas/clock",
        &[
            ("origin", evil),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
        "",
    )
    .await;
    assert!(preflight.status.is_client_error());
    assert!(
        !preflight
            .headers
            .contains_key("access-control-allow-origin")
    );

    assert_eq!(clock(&s).await, before, "the clock moved");
    still_there(&s, &project).await;
    let keys = s
        .get(&format!("/api/atlas/v2/orgs/{}/apiKeys", s.boot.org_id))
        .await
        .json();
    assert_eq!(keys["totalCount"], 1, "a key was minted: {keys}");
}

#[tokio::test]
async fn finding_2_a_rebound_host_name_reads_nothing() {
    let s = server(ControlAccess::Auto);
    for path in ["/__localatlas/state", "/__localatlas/resources", "/"] {
        let read = send(&s, "GET", path, &[("host", "evil.example:8080")], "").await;
        assert_refused(&read, 403, "HOST_NOT_ALLOWED");
        assert!(!read.body.to_string().contains(&s.boot.private_key));
    }
    let reset = send(
        &s,
        "POST",
        "/__localatlas/reset",
        &[("host", "evil.example:8080")],
        "",
    )
    .await;
    assert_refused(&reset, 403, "HOST_NOT_ALLOWED");
    // Addresses and localhost names are what a rebinding page can never send.
    for host in [
        "127.0.0.1:8080",
        "[::1]:8080",
        "localhost",
        "console.localhost:8080",
    ] {
        let read = send(&s, "GET", "/__localatlas/state", &[("host", host)], "").await;
        assert_eq!(read.status, 200, "{host}: {}", read.body);
    }
    // The probe of a load balancer answers under any name.
    let health = send(
        &s,
        "GET",
        "/__localatlas/health",
        &[("host", "lb-probe")],
        "",
    )
    .await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn allowed_host_names_are_served() {
    let mut options = Options::default();
    options.config.allowed_hosts = vec!["atlas.internal".into()];
    let s = Server::with(options);
    let named = send(
        &s,
        "GET",
        "/__localatlas/state",
        &[("host", "atlas.internal:8080")],
        "",
    )
    .await;
    assert_eq!(named.status, 200, "{}", named.body);
    let other = send(
        &s,
        "GET",
        "/__localatlas/state",
        &[("host", "other.internal")],
        "",
    )
    .await;
    assert_refused(&other, 403, "HOST_NOT_ALLOWED");
}

#[tokio::test]
async fn finding_3_behind_a_proxy_loopback_is_the_client_not_the_proxy() {
    // The harness trusts X-Forwarded-For, as `--trusted-client-ip-header` does; the in-process
    // peer is local, as a proxy on the same machine is.
    let s = server(ControlAccess::Auto);
    let project = witness(&s).await;
    let forwarded = [(CLIENT_IP_HEADER, REMOTE)];
    let read = send(&s, "GET", "/__localatlas/state", &forwarded, "").await;
    assert_refused(&read, 401, "CONTROL_TOKEN_REQUIRED");
    assert_eq!(
        read.headers.get("www-authenticate").unwrap(),
        atlas_http::gate::REALM
    );
    let reset = send(&s, "POST", "/__localatlas/reset", &forwarded, "").await;
    assert_refused(&reset, 401, "CONTROL_TOKEN_REQUIRED");
    let console = send(&s, "GET", "/", &forwarded, "").await;
    assert_refused(&console, 401, "CONTROL_TOKEN_REQUIRED");
    still_there(&s, &project).await;
    // A loopback client behind the proxy is loopback.
    let local = send(
        &s,
        "GET",
        "/__localatlas/state",
        &[(CLIENT_IP_HEADER, "127.0.0.1")],
        "",
    )
    .await;
    assert_eq!(local.status, 200);
    // The control token opens it from anywhere: Bearer for scripts, Basic for browsers.
    let token = s.boot.control_token.clone();
    let bearer = format!("Bearer {token}");
    let with_token = send(
        &s,
        "GET",
        "/__localatlas/state",
        &[(CLIENT_IP_HEADER, REMOTE), ("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(with_token.status, 200);
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("me:{token}"))
    );
    let page = send(
        &s,
        "GET",
        "/",
        &[(CLIENT_IP_HEADER, REMOTE), ("authorization", &basic)],
        "",
    )
    .await;
    assert_eq!(page.status, 200);
    let wrong = send(
        &s,
        "GET",
        "/__localatlas/state",
        &[
            (CLIENT_IP_HEADER, REMOTE),
            ("authorization", "Bearer lact_guess"),
        ],
        "",
    )
    .await;
    assert_refused(&wrong, 401, "CONTROL_TOKEN_INVALID");
}

#[tokio::test]
async fn finding_4_atlas_principals_are_never_admins_of_the_emulator() {
    let s = server(ControlAccess::Auto);
    let project = witness(&s).await;
    let minted = s
        .control(
            "POST",
            "/__localatlas/principals",
            Some(&json!({"type": "apiKey", "roles": [{"groupId": s.boot.project_id, "roleName": "GROUP_READ_ONLY"}]})),
        )
        .await
        .json();
    let (public, private) = (
        minted["publicKey"].as_str().unwrap(),
        minted["privateKey"].as_str().unwrap(),
    );
    let read_only = s.key(public, private).from(REMOTE);
    // The key works where Atlas lets it ...
    let atlas = read_only
        .get(&format!("/api/atlas/v2/groups/{}", s.boot.project_id))
        .await;
    assert_eq!(atlas.status, 200, "{}", atlas.text());
    // ... and opens nothing of the emulator's; neither does the Organization Owner key, nor a
    // service account's token.
    let owner = s.key(&s.boot.public_key, &s.boot.private_key).from(REMOTE);
    let token = s.token().await;
    let bearer = s.bearer_client(&token).from(REMOTE);
    for client in [&read_only, &owner, &bearer] {
        let state = client.send("GET", "/__localatlas/state", None, None).await;
        assert_eq!(state.status, 401, "{}", state.text());
        assert!(!state.text().contains(&s.boot.private_key));
        let reset = client.send("POST", "/__localatlas/reset", None, None).await;
        assert_eq!(reset.status, 401, "{}", reset.text());
        assert!(
            reset.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("CONTROL_TOKEN_")
        );
    }
    still_there(&s, &project).await;
}

#[tokio::test]
async fn loopback_use_is_unchanged() {
    let s = server(ControlAccess::Auto);
    // Scripts: no credentials, JSON bodies or none.
    let moved = s
        .control(
            "POST",
            "/__localatlas/clock",
            Some(&json!({"advanceSeconds": 60})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(
        s.control("POST", "/__localatlas/lifecycle/advance", None)
            .await
            .status,
        200
    );
    assert_eq!(
        s.control("GET", "/__localatlas/state", None).await.status,
        200
    );
    assert_eq!(
        s.control("DELETE", "/__localatlas/faults", None)
            .await
            .status,
        200
    );
    // The console: the page, its reads, and its writes from its own origin.
    let browser = [
        ("host", "127.0.0.1:8080"),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-mode", "cors"),
    ];
    assert_eq!(send(&s, "GET", "/", &browser, "").await.status, 200);
    assert_eq!(
        send(&s, "GET", "/__localatlas/resources", &browser, "")
            .await
            .status,
        200
    );
    let mut posting = browser.to_vec();
    posting.push(("origin", "http://127.0.0.1:8080"));
    posting.push(("content-type", "application/json"));
    let rule = send(
        &s,
        "POST",
        "/__localatlas/faults",
        &posting,
        r#"{"status": 503, "times": 1}"#,
    )
    .await;
    assert_eq!(rule.status, 201, "{}", rule.body);
    let id = rule.body["id"].to_string();
    posting.pop();
    let removed = send(
        &s,
        "DELETE",
        &format!("/__localatlas/faults/{id}"),
        &posting,
        "",
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    // A link from another site opens the console.
    let link = [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
    ];
    let opened = send(&s, "GET", "/", &link, "").await;
    assert_eq!(opened.status, 200);
    assert_eq!(opened.headers.get("x-frame-options").unwrap(), "DENY");
}

#[tokio::test]
async fn the_control_modes() {
    // off: nothing but the health probe, from anywhere.
    let off = server(ControlAccess::Off);
    assert_refused(
        &send(&off, "GET", "/__localatlas/state", &[], "").await,
        404,
        "CONTROL_API_OFF",
    );
    assert_refused(
        &send(&off, "GET", "/", &[], "").await,
        404,
        "CONTROL_API_OFF",
    );
    let bearer = format!("Bearer {}", off.boot.control_token);
    assert_refused(
        &send(
            &off,
            "POST",
            "/__localatlas/reset",
            &[("authorization", &bearer)],
            "",
        )
        .await,
        404,
        "CONTROL_API_OFF",
    );
    assert_eq!(
        send(&off, "GET", "/__localatlas/health", &[], "")
            .await
            .status,
        200
    );
    // The Atlas API is not affected.
    assert_eq!(off.get("/api/atlas/v2/groups").await.status, 200);

    // loopback: the token opens nothing from elsewhere.
    let local = server(ControlAccess::Loopback);
    let bearer = format!("Bearer {}", local.boot.control_token);
    let remote = send(
        &local,
        "GET",
        "/__localatlas/state",
        &[(CLIENT_IP_HEADER, REMOTE), ("authorization", &bearer)],
        "",
    )
    .await;
    assert_refused(&remote, 403, "CONTROL_LOOPBACK_ONLY");
    assert_eq!(
        send(&local, "GET", "/__localatlas/state", &[], "")
            .await
            .status,
        200
    );

    // token: required from loopback too.
    let strict = server(ControlAccess::Token);
    assert_refused(
        &send(&strict, "GET", "/__localatlas/state", &[], "").await,
        401,
        "CONTROL_TOKEN_REQUIRED",
    );
    let bearer = format!("Bearer {}", strict.boot.control_token);
    assert_eq!(
        send(
            &strict,
            "GET",
            "/__localatlas/state",
            &[("authorization", &bearer)],
            ""
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn the_control_token_survives_reset_and_stays_out_of_snapshots() {
    let s = server(ControlAccess::Auto);
    let token = s.boot.control_token.clone();
    assert!(token.starts_with("lact_"));
    assert_eq!(
        s.control("POST", "/__localatlas/reset", None).await.status,
        200
    );
    assert!(s.state.atlas.is_control_token(&token).unwrap());
    assert_eq!(s.state.atlas.bootstrap().unwrap().control_token, token);
    let snapshot = s.control("GET", "/__localatlas/state", None).await;
    assert!(
        !snapshot.text().contains(&token),
        "the snapshot carries the control token"
    );
    // An import (here of another store's state) keeps this store's token.
    let other = server(ControlAccess::Auto);
    let theirs = other
        .control("GET", "/__localatlas/state", None)
        .await
        .json();
    let imported = s
        .control("POST", "/__localatlas/state", Some(&theirs))
        .await;
    assert_eq!(imported.status, 200, "{}", imported.text());
    assert!(s.state.atlas.is_control_token(&token).unwrap());
    assert!(
        !s.state
            .atlas
            .is_control_token(&other.boot.control_token)
            .unwrap()
    );
    // `--control-token` replaces it for every instance on the store.
    s.state
        .atlas
        .set_control_token("chosen-by-the-operator")
        .unwrap();
    assert!(
        s.state
            .atlas
            .is_control_token("chosen-by-the-operator")
            .unwrap()
    );
    assert!(!s.state.atlas.is_control_token(&token).unwrap());
    assert!(s.state.atlas.set_control_token("short").is_err());
}

#[tokio::test]
async fn the_private_endpoints_are_not_reachable_cross_site() {
    let s = server(ControlAccess::Auto);
    let telemetry = "/api/private/unauth/telemetry/events";
    let json = [("content-type", "application/json")];
    assert_eq!(send(&s, "POST", telemetry, &json, "[]").await.status, 200);
    let forged = send(
        &s,
        "POST",
        telemetry,
        &[
            ("origin", "http://evil.example"),
            ("content-type", "text/plain"),
        ],
        "[]",
    )
    .await;
    assert_refused(&forged, 403, "FOREIGN_ORIGIN");
    let rebound = send(
        &s,
        "GET",
        "/api/private/unauth/nds/defaultMongoDBMajorVersion",
        &[("host", "evil.example")],
        "",
    )
    .await;
    assert_refused(&rebound, 403, "HOST_NOT_ALLOWED");
    let fetched = send(
        &s,
        "GET",
        "/api/private/ipinfo",
        &[("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "cors")],
        "",
    )
    .await;
    assert_refused(&fetched, 403, "CROSS_SITE_REQUEST");
}
