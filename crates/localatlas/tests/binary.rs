//! End-to-end tests against the built `localatlas` binary: start-up contract (bootstrap file,
//! health), persistence across a clean restart, and no acknowledged write lost to `kill -9`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atlas_api::credentials::{REALM, md5_hex};
use serde_json::{Value, json};

const ACCEPT: &str = "application/vnd.atlas.2023-01-01+json";

struct Server {
    child: Child,
    boot: Value,
    addr: String,
}

impl Server {
    fn start(store: &str, dir: &Path) -> Server {
        Server::start_with(store, dir, &[], &[])
    }

    /// Starts the binary with extra flags and environment variables.
    fn start_with(store: &str, dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> Server {
        let out = dir.join(format!("bootstrap-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&out);
        let child = Command::new(env!("CARGO_BIN_EXE_localatlas"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--store",
                store,
                "--bootstrap-out",
            ])
            .arg(&out)
            .args(flags)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        let boot = read_bootstrap(&out);
        let addr = boot["baseUrl"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://")
            .to_owned();
        let server = Server { child, boot, addr };
        // Ready = health answers 200 (blueprint §1.1).
        while server.request("GET", "/__localatlas/health", None, None).0 != 200 {
            assert!(Instant::now() < deadline, "never healthy");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// One HTTP/1.1 exchange: (status, headers text, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, String, String) {
        self.request_with(method, path, auth, body, "")
    }

    /// One exchange with extra header lines (`Name: value\r\n`).
    fn request_with(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&Value>,
        extra: &str,
    ) -> (u16, String, String) {
        let Ok(mut stream) = TcpStream::connect(&self.addr) else {
            return (0, String::new(), String::new());
        };
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: {ACCEPT}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        if let Some(auth) = auth {
            head.push_str(&format!("Authorization: {auth}\r\n"));
        }
        head.push_str(extra);
        head.push_str("\r\n");
        if stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body.as_bytes()))
            .is_err()
        {
            return (0, String::new(), String::new());
        }
        let mut raw = String::new();
        let _ = stream.read_to_string(&mut raw);
        let (headers, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = headers
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, headers.to_owned(), body.to_owned())
    }

    /// A request authenticated with the bootstrap API key (challenge, then Digest).
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let user = self.boot["apiKey"]["publicKey"]
            .as_str()
            .unwrap()
            .to_owned();
        let password = self.boot["apiKey"]["privateKey"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, _, body) = self.call_as(&user, &password, method, path, body, "");
        (status, body)
    }

    /// A request authenticated with an API key, with extra header lines: (status, headers, body).
    fn call_as(
        &self,
        user: &str,
        password: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &str,
    ) -> (u16, String, Value) {
        let (_, headers, _) = self.request(method, path, None, None);
        let nonce = headers
            .split("nonce=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("challenge")
            .to_owned();
        let ha1 = md5_hex(&format!("{user}:{REALM}:{password}"));
        let ha2 = md5_hex(&format!("{method}:{path}"));
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:abcdef:auth:{ha2}"));
        let auth = format!(
            "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{path}\", response=\"{response}\", qop=auth, nc=00000001, cnonce=\"abcdef\""
        );
        let (status, headers, text) = self.request_with(method, path, Some(&auth), body, extra);
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    fn stop(mut self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bootstrap file a starting server writes before it accepts connections.
fn read_bootstrap(out: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(out)
            && let Ok(v) = serde_json::from_str(&text)
        {
            return v;
        }
        assert!(Instant::now() < deadline, "no bootstrap file");
        std::thread::sleep(Duration::from_millis(20));
    }
}

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

/// Starts a TLS server; answers (child, bootstrap, CA file path).
fn start_tls(store: &str, dir: &Path, tag: &str) -> (Child, Value, std::path::PathBuf) {
    let out = dir.join(format!("bootstrap-tls-{tag}.json"));
    let ca = dir.join(format!("ca-{tag}.pem"));
    let child = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .arg("--bootstrap-out")
        .arg(&out)
        .arg("--tls-ca-out")
        .arg(&ca)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    (child, read_bootstrap(&out), ca)
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
