//! The control token and the gate on the real binary (issue 15): generated on the first start,
//! printed and written to the bootstrap file, the same after a restart, set with
//! `--control-token`; `--control`, the trusted proxy header and the `Host` rule over real TCP
//! from loopback; `localatlas coverage --control-token`.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use common::Server;

fn token_of(server: &Server) -> String {
    server.boot["controlToken"]
        .as_str()
        .expect("controlToken in the bootstrap file")
        .to_owned()
}

#[test]
fn the_token_is_printed_written_kept_and_settable() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("la.db");
    let store = store.to_str().unwrap();

    // Printed at start-up, as the bootstrap file has it.
    let out = dir.path().join("printed.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .arg("--bootstrap-out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("ready in") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let boot: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let token = boot["controlToken"].as_str().unwrap().to_owned();
    assert!(token.starts_with("lact_"), "{boot}");
    assert!(
        printed.contains(&format!("  control token:   {token}\n")),
        "{printed}"
    );

    // Kept across restarts and resets.
    let server = Server::start(store, dir.path());
    assert_eq!(token_of(&server), token);
    let (status, _, _) = server.request("POST", "/__localatlas/reset", None, None);
    assert_eq!(status, 200);
    drop(server);

    // Set by the operator: every later start shows that one; `--control token` asks for it
    // from loopback too.
    let chosen = "operator-chosen-control-token";
    let server = Server::start_with(
        store,
        dir.path(),
        &["--control", "token"],
        &[("LOCALATLAS_CONTROL_TOKEN", chosen)],
    );
    assert_eq!(token_of(&server), chosen);
    let (status, headers, body) = server.request("GET", "/__localatlas/state", None, None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("CONTROL_TOKEN_REQUIRED"), "{body}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"localatlas control\""),
        "{headers}"
    );
    let bearer = format!("Bearer {chosen}");
    let (status, _, _) = server.request("GET", "/__localatlas/state", Some(&bearer), None);
    assert_eq!(status, 200);
    let (status, _, body) =
        server.request("GET", "/__localatlas/state", Some("Bearer lact_old"), None);
    assert_eq!(status, 401, "{body}");
    // `localatlas coverage` says why, and passes the token on.
    let url = format!("http://{}", server.addr);
    let refused = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args(["coverage", "--url", &url])
        .env_remove("LOCALATLAS_CONTROL_TOKEN")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("control token"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let report = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args(["coverage", "--url", &url, "--control-token", chosen])
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    drop(server);

    let again = Server::start(store, dir.path());
    assert_eq!(token_of(&again), chosen);
    // A token too short to be safe is refused at start-up.
    let short = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", "memory"])
        .args(["--control-token", "short"])
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("16 characters"));
}

#[test]
fn behind_a_proxy_on_the_same_machine_only_loopback_clients_are_local() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        "memory",
        dir.path(),
        &["--trusted-client-ip-header", "X-Forwarded-For"],
        &[],
    );
    // The TCP peer is loopback (the proxy); the client it reports is not.
    let forwarded = "X-Forwarded-For: 203.0.113.9\r\n";
    let (status, _, body) =
        server.request_with("GET", "/__localatlas/state", None, None, forwarded);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains(server.boot["apiKey"]["privateKey"].as_str().unwrap()));
    let (status, _, _) = server.request_with("POST", "/__localatlas/reset", None, None, forwarded);
    assert_eq!(status, 401);
    let bearer = format!("Bearer {}", token_of(&server));
    let (status, _, _) =
        server.request_with("GET", "/__localatlas/state", Some(&bearer), None, forwarded);
    assert_eq!(status, 200);
    // Loopback without the header: as before.
    let (status, _, _) = server.request("GET", "/__localatlas/state", None, None);
    assert_eq!(status, 200);
}

#[test]
fn host_names_and_the_off_switch_on_the_real_listener() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        "memory",
        dir.path(),
        &[
            "--allowed-host",
            "atlas.test",
            "--allowed-host",
            "other.test",
        ],
        &[],
    );
    let raw = |host: &str| {
        let request = format!(
            "GET /__localatlas/state HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        common::exchange_raw(&server.addr, request.as_bytes()).0
    };
    assert_eq!(raw("evil.example"), 403);
    assert_eq!(raw("atlas.test:8080"), 200);
    assert_eq!(raw("other.test"), 200);
    assert_eq!(raw(&server.addr), 200);
    drop(server);

    let off = Server::start_with("memory", dir.path(), &["--control", "off"], &[]);
    let (status, _, body) = off.request("GET", "/__localatlas/state", None, None);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("CONTROL_API_OFF"));
    let (status, _) = off.call("GET", "/api/atlas/v2/orgs", None);
    assert_eq!(status, 200);
}
