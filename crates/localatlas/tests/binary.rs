//! End-to-end tests against the built `localatlas` binary: start-up contract (bootstrap file,
//! health), persistence across a clean restart, no acknowledged write lost to `kill -9`,
//! operations (health, metrics, request ids, graceful shutdown), state export/import from the
//! command line, and the connection limits against hostile clients.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, exchange_raw};
use serde_json::{Value, json};

fn create_project(server: &Server, name: &str) -> String {
    let org = server.boot["orgId"].as_str().unwrap();
    let (status, body) = server.call(
        "POST",
        "/api/atlas/v2/groups",
        Some(&json!({"name": name, "orgId": org})),
    );
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

#[test]
fn state_and_bootstrap_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state.db");
    let store = store.to_str().unwrap();
    let first = Server::start(store, dir.path());
    let boot = first.boot.clone();
    let id = create_project(&first, "survives-restart");
    first.stop("-TERM");

    let second = Server::start(store, dir.path());
    for field in ["orgId", "projectId", "apiKey", "serviceAccount"] {
        assert_eq!(
            second.boot[field], boot[field],
            "{field} changed across restarts"
        );
    }
    let (status, body) = second.call("GET", &format!("/api/atlas/v2/groups/{id}"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "survives-restart");
    let (status, body) = second.call("GET", "/api/atlas/v2/groups/byName/survives-restart", None);
    assert_eq!((status, body["id"].as_str()), (200, Some(id.as_str())));
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state.db");
    let store = store.to_str().unwrap();
    let server = Server::start(store, dir.path());
    let acknowledged: Vec<String> = (0..25)
        .map(|i| create_project(&server, &format!("acked-{i}")))
        .collect();
    server.stop("-KILL");

    let again = Server::start(store, dir.path());
    for id in &acknowledged {
        let (status, body) = again.call("GET", &format!("/api/atlas/v2/groups/{id}"), None);
        assert_eq!(status, 200, "acknowledged project {id} lost: {body}");
    }
}

#[test]
fn memory_store_and_the_unauthenticated_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start("memory", dir.path());
    let (status, headers, body) = server.request("GET", "/api/atlas/v2/orgs", None, None);
    assert_eq!(status, 401);
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("www-authenticate: digest realm=\"mms public api\"")
    );
    assert!(body.contains("\"reason\" : \"Unauthorized\""));
    let (status, body) = server.call("GET", "/api/atlas/v2/orgs", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalCount"], 1);
}

#[test]
fn rate_limits_and_the_trusted_client_address_are_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let boot_call = |server: &Server, extra: &str| {
        let user = server.boot["apiKey"]["publicKey"]
            .as_str()
            .unwrap()
            .to_owned();
        let password = server.boot["apiKey"]["privateKey"]
            .as_str()
            .unwrap()
            .to_owned();
        server.call_as(&user, &password, "GET", "/api/atlas/v2/orgs", None, extra)
    };
    // On by default: GET /orgs has a capacity of 300.
    let on = Server::start("memory", dir.path());
    let (status, headers, _) = boot_call(&on, "");
    assert_eq!(status, 200);
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("ratelimit-limit: 300"),
        "{headers}"
    );
    drop(on);

    let off = Server::start_with(
        "memory",
        dir.path(),
        &["--rate-limit", "off"],
        &[("LOCALATLAS_TRUSTED_CLIENT_IP_HEADER", "X-Forwarded-For")],
    );
    let (status, headers, _) = boot_call(&off, "");
    assert_eq!(status, 200);
    assert!(
        !headers.to_ascii_lowercase().contains("ratelimit"),
        "{headers}"
    );
    // A key usable only from 203.0.113.0/24: the proxy's header decides.
    let (status, _, made) = off.request(
        "POST",
        "/__localatlas/principals",
        None,
        Some(&json!({"accessList": ["203.0.113.0/24"]})),
    );
    assert_eq!(status, 201, "{made}");
    let made: Value = serde_json::from_str(&made).unwrap();
    let (user, password) = (
        made["publicKey"].as_str().unwrap(),
        made["privateKey"].as_str().unwrap(),
    );
    let listed = "X-Forwarded-For: 198.51.100.1, 203.0.113.4\r\n";
    let (status, _, body) = off.call_as(user, password, "GET", "/api/atlas/v2/orgs", None, listed);
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = off.call_as(user, password, "GET", "/api/atlas/v2/orgs", None, "");
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errorCode"], "IP_ADDRESS_NOT_ON_ACCESS_LIST");
    assert_eq!(body["parameters"], json!(["127.0.0.1"]));
}

#[test]
fn health_metrics_and_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start("memory", dir.path());
    let (status, headers, body) = server.request("GET", "/__localatlas/health", None, None);
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (health["status"].as_str(), health["store"].as_str()),
        (Some("ok"), Some("memory"))
    );
    // Every answer carries an id; a plain one sent by a proxy is kept, anything else replaced.
    assert!(
        headers.to_ascii_lowercase().contains("x-request-id: "),
        "{headers}"
    );
    let (_, headers, _) = server.request_with(
        "GET",
        "/api/atlas/v2",
        None,
        None,
        "X-Request-Id: ci-42\r\n",
    );
    assert!(
        headers.to_ascii_lowercase().contains("x-request-id: ci-42"),
        "{headers}"
    );
    let (_, headers, _) =
        server.request_with("GET", "/api/atlas/v2", None, None, "X-Request-Id: a b\r\n");
    assert!(!headers.contains("a b"), "{headers}");

    let (status, _) = server.call("GET", "/api/atlas/v2/groups", None);
    assert_eq!(status, 200);
    let (status, _) = server.call("GET", "/api/atlas/v2/groups/0123456789abcdef01234567", None);
    assert_eq!(status, 404);
    let (status, headers, metrics) = server.request("GET", "/__localatlas/metrics", None, None);
    assert_eq!(status, 200);
    assert!(headers.contains("text/plain"), "{headers}");
    for line in [
        "localatlas_http_requests_total{operation=\"listGroups\",status=\"200\"} 1",
        "localatlas_http_requests_total{operation=\"getGroup\",status=\"404\"} 1",
        "localatlas_http_requests_total{operation=\"__control\",status=\"200\"}",
        "# TYPE localatlas_http_request_duration_seconds histogram",
        "localatlas_store_errors_total{kind=\"unavailable\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
}

/// SIGTERM while a request is in flight (its body half sent): the server stops accepting, still
/// answers that request, then exits 0.
#[test]
fn graceful_shutdown_answers_the_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state.db");
    let mut server = Server::start(store.to_str().unwrap(), dir.path());
    let body = common::project(&server, "in-flight").to_string();
    let token = server.token();
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /api/atlas/v2/groups HTTP/1.1\r\nHost: {}\r\nAccept: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        common::ACCEPT,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // No new connections once shutdown began.
    let refused = TcpStream::connect(&server.addr).is_err()
        || server.request("GET", "/__localatlas/health", None, None).0 == 0;
    stream.write_all(&body.as_bytes()[5..]).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let (status, _, text) = common::split_answer(&answer);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&text));
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit}: {}", server.log_text());
    assert!(refused, "a new connection was served during shutdown");
    let again = Server::start(store.to_str().unwrap(), dir.path());
    let (status, body) = again.call("GET", "/api/atlas/v2/groups/byName/in-flight", None);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn export_and_import_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.db");
    let first = first.to_str().unwrap();
    let server = Server::start(first, dir.path());
    let id = create_project(&server, "snapshotted");
    let boot = server.boot.clone();
    // The control API's snapshot is the command line's.
    let (status, _, snapshot) = server.request("GET", "/__localatlas/state", None, None);
    assert_eq!(status, 200);
    let snapshot: Value = serde_json::from_str(&snapshot).unwrap();
    assert_eq!(snapshot["format"], "localatlas-state");
    server.stop("-TERM");

    let export = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args(["export", "--store", first])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let exported: Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(exported, snapshot);

    let second = dir.path().join("second.db");
    let second = second.to_str().unwrap();
    let mut import = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args(["import", "--store", second])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    import
        .stdin
        .take()
        .unwrap()
        .write_all(&export.stdout)
        .unwrap();
    let done = import.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stderr).contains("imported"));

    // The imported store serves the same identities and resources.
    let again = Server::start(second, dir.path());
    assert_eq!(again.boot["apiKey"], boot["apiKey"]);
    assert_eq!(again.boot["projectId"], boot["projectId"]);
    let (status, body) = again.call("GET", &format!("/api/atlas/v2/groups/{id}"), None);
    assert_eq!((status, body["name"].as_str()), (200, Some("snapshotted")));
    // Claims came along: the name is still taken.
    let (status, body) = again.call(
        "POST",
        "/api/atlas/v2/groups",
        Some(&common::project(&again, "snapshotted")),
    );
    assert_eq!(status, 409, "{body}");

    // A snapshot loaded through the control API replaces what is there.
    let extra = create_project(&again, "after-import");
    let (status, _, loaded) = again.request("POST", "/__localatlas/state", None, Some(&snapshot));
    assert_eq!(status, 200, "{loaded}");
    let (status, _) = again.call("GET", &format!("/api/atlas/v2/groups/{extra}"), None);
    assert_eq!(status, 404);
    let (status, _, refused) = again.request(
        "POST",
        "/__localatlas/state",
        None,
        Some(&json!({"format": "x"})),
    );
    assert_eq!(status, 400, "{refused}");
}

/// Hostile clients at the socket level: oversized heads, slow heads, stalled bodies, invalid
/// UTF-8, deep nesting, a huge body. Each gets a 4xx or a closed connection, never a 5xx, and the
/// server keeps answering others meanwhile.
#[test]
fn connection_limits_hold_against_hostile_clients() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        "memory",
        dir.path(),
        &[
            "--header-read-timeout",
            "1",
            "--body-read-timeout",
            "1",
            "--max-header-bytes",
            "16384",
            "--max-body-bytes",
            "65536",
        ],
        &[],
    );
    let token = server.token();
    let addr = server.addr.clone();
    let healthy = || server.request("GET", "/__localatlas/health", None, None).0 == 200;

    // Headers beyond the limit: 431 and closed.
    let big = format!(
        "GET /api/atlas/v2 HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40_000)
    );
    let (status, _, _) = exchange_raw(&addr, big.as_bytes());
    assert!(status == 431 || status == 0, "{status}");
    let many: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, _, _) = exchange_raw(
        &addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    );
    assert!((400..500).contains(&status) || status == 0, "{status}");

    // A slow client that never finishes its headers is cut off after the header timeout.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    slow.write_all(b"GET /api/atlas/v2 HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "slow head held {:?}",
        started.elapsed()
    );
    let (status, _, _) = common::split_answer(&rest);
    assert!(status == 0 || (400..500).contains(&status), "{status}");
    assert!(healthy());

    // A client that connects and sends nothing at all is cut off too (before hyper has even
    // decided between HTTP/1.1 and HTTP/2).
    let mut silent = TcpStream::connect(&addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "silent connection held {:?}",
        started.elapsed()
    );
    assert!(healthy());

    // A body that stops mid-way: Atlas 408 after the body timeout.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /api/atlas/v2/groups HTTP/1.1\r\nHost: x\r\nAccept: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"na",
        common::ACCEPT
    );
    stalled.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stalled.read_to_end(&mut answer);
    let (status, _, body) = common::split_answer(&answer);
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&body));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errorCode"], "REQUEST_TIMEOUT");

    // A declared body beyond the limit: 413 without reading it.
    let head = format!(
        "POST /api/atlas/v2/groups HTTP/1.1\r\nHost: x\r\nAccept: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n",
        common::ACCEPT
    );
    let (status, _, _) = exchange_raw(&addr, head.as_bytes());
    assert_eq!(status, 413);

    // Invalid UTF-8 in the path and in headers, deep JSON nesting: 4xx.
    let mut client = common::Client::new(&addr, &token);
    let raw = [
        b"GET /api/atlas/v2/groups/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        format!("GET /api/atlas/v2/groups HTTP/1.1\r\nHost: x\r\nAccept: {}\r\nAuthorization: Bearer {token}\r\nX-Odd: \u{0}\r\nConnection: close\r\n\r\n", common::ACCEPT).into_bytes(),
        b"GET /api/atlas/v2/groups HTTP/1.1\r\nHost: x\r\nAuthorization: Digest username=\"\xff\xff\"\r\nConnection: close\r\n\r\n".to_vec(),
    ];
    for request in raw {
        let (status, _, body) = exchange_raw(&addr, &request);
        assert!(
            status == 0 || (400..500).contains(&status),
            "{status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    for nested in [
        format!("{}1{}", "[".repeat(5000), "]".repeat(5000)),
        format!(
            "{{\"name\":{}\"x\"{}}}",
            "{\"a\":".repeat(3000),
            "}".repeat(3000)
        ),
    ] {
        let head = format!(
            "POST /api/atlas/v2/groups HTTP/1.1\r\nHost: x\r\nAccept: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{nested}",
            common::ACCEPT,
            nested.len()
        );
        let (status, _, body) = exchange_raw(&addr, head.as_bytes());
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    }
    assert!(healthy());
    let (status, _) = client.send("GET", "/api/atlas/v2/groups", None).unwrap();
    assert_eq!(status, 200);
}

/// Starts a TLS server; answers (child, bootstrap, CA file path).
fn start_tls(store: &str, dir: &Path, tag: &str) -> (Child, Value, std::path::PathBuf) {
    let out = dir.join(format!("bootstrap-tls-{tag}.json"));
    let ca = dir.join(format!("ca-{tag}.pem"));
    let log = dir.join(format!("server-tls-{tag}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .arg("--bootstrap-out")
        .arg(&out)
        .arg("--tls-ca-out")
        .arg(&ca)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("binary starts");
    let boot = common::read_bootstrap(&out, &mut child, &log);
    (child, boot, ca)
}

/// `localatlas coverage` against `url`: (success, stdout + stderr).
fn coverage(url: &str, extra: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args(["coverage", "--url", url])
        .args(extra)
        .output()
        .expect("coverage runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn tls_serves_https_from_a_ca_kept_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state.db");
    let store = store.to_str().unwrap();
    let (mut first, boot, ca) = start_tls(store, dir.path(), "first");
    let url = boot["baseUrl"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    // The coverage command is a rustls client that trusts only the CA file: the server's
    // certificate chains to it and names 127.0.0.1.
    let (ok, text) = coverage(&url, &["--cacert".as_ref(), ca.as_os_str()]);
    assert!(ok, "{text}");
    assert!(text.contains("operations touched"), "{text}");
    // Without the CA the same client refuses the connection.
    let (ok, text) = coverage(&url, &[]);
    assert!(!ok, "{text}");
    // Plain HTTP to the TLS port gets no HTTP answer.
    let addr = url.trim_start_matches("https://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(b"GET /__localatlas/health HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert!(
        !raw.starts_with(b"HTTP/1.1 200"),
        "plain HTTP answered on the TLS port"
    );
    let ca_first = std::fs::read_to_string(&ca).unwrap();
    let _ = Command::new("kill").arg(first.id().to_string()).status();
    let _ = first.wait();

    // A restart with the same store keeps the CA, so clients keep trusting it.
    let (mut second, _, ca_again) = start_tls(store, dir.path(), "second");
    assert_eq!(std::fs::read_to_string(&ca_again).unwrap(), ca_first);
    let _ = second.kill();
    let _ = second.wait();
}

#[test]
fn a_drop_rule_closes_the_connection_without_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start("memory", dir.path());
    let (status, _, body) = server.request(
        "POST",
        "/__localatlas/faults",
        None,
        Some(&json!({"operationId": "listOrgs", "drop": true, "times": 1})),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.call("GET", "/api/atlas/v2/orgs", None);
    assert_eq!(status, 0, "the connection answered: {body}");
    let (status, body) = server.call("GET", "/api/atlas/v2/orgs", None);
    assert_eq!(status, 200, "{body}");
    let (_, _, recent) = server.request("GET", "/__localatlas/requests", None, None);
    let recent: Value = serde_json::from_str(&recent).unwrap();
    let dropped = recent["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["faultRule"].is_u64())
        .unwrap()
        .clone();
    assert_eq!(dropped["status"], Value::Null);
    // The coverage command reads the same report over plain HTTP.
    let (ok, text) = coverage(
        &format!("http://{}", server.addr),
        &["--untouched".as_ref()],
    );
    assert!(ok, "{text}");
    assert!(text.contains("listOrgs"), "{text}");
    assert!(text.contains("never touched (539)"), "{text}");
}
