//! `localatlas parity` end to end: a client's run recorded through `localatlas record` against
//! another localatlas (Digest and a service account, over HTTP and HTTPS) replays against a
//! fresh localatlas at 100 %, in-process and against a running server; a difference fails the
//! gate; and the conformance corpus next to the repository replays with the figures of the
//! corpus's own replayer (`replay.py`), when both are there.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{Client, Server, parity, recorder, recorder_of, wait_lines};
use serde_json::{Value, json};

/// A client of the recorder: the bootstrap API key with Digest (every call first gets its
/// challenge: two exchanges), or a service account's token (one).
enum Caller<'a> {
    Digest(&'a Server),
    Bearer(Client),
}

impl Caller<'_> {
    fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        match self {
            Caller::Digest(proxy) => proxy.call(method, path, body),
            Caller::Bearer(client) => client.send(method, path, body).expect("an answer"),
        }
    }

    fn exchanges_per_call(&self) -> usize {
        match self {
            Caller::Digest(_) => 2,
            Caller::Bearer(_) => 1,
        }
    }
}

/// What a tool does to a project: creates and reads it, a database user, access-list entries
/// (one a CIDR block, whose path segment holds an encoded `/`), an organization API key, and
/// meets Atlas errors; then cleans up. Returns the number of exchanges recorded.
fn workload(c: &mut Caller<'_>, org: &str, tag: &str) -> usize {
    let mut calls = 0;
    let mut call = |c: &mut Caller<'_>, method: &str, path: &str, body: Option<Value>| {
        calls += 1;
        let (status, answer) = c.call(method, path, body.as_ref());
        assert!(status < 500, "{method} {path}: {status} {answer}");
        (status, answer)
    };
    let (status, _) = call(c, "GET", "/api/atlas/v2/orgs", None);
    assert_eq!(status, 200);
    let name = format!("parity-{tag}");
    let (status, project) = call(
        c,
        "POST",
        "/api/atlas/v2/groups",
        Some(json!({"name": name, "orgId": org})),
    );
    assert_eq!(status, 201, "{project}");
    let group = project["id"].as_str().unwrap().to_owned();
    call(c, "GET", &format!("/api/atlas/v2/groups/{group}"), None);
    call(
        c,
        "GET",
        "/api/atlas/v2/groups?itemsPerPage=5&pageNum=1",
        None,
    );
    let (status, duplicate) = call(
        c,
        "POST",
        "/api/atlas/v2/groups",
        Some(json!({"name": name, "orgId": org})),
    );
    assert!(
        status >= 400 && duplicate["errorCode"].is_string(),
        "{duplicate}"
    );
    let (status, user) = call(
        c,
        "POST",
        &format!("/api/atlas/v2/groups/{group}/databaseUsers"),
        Some(
            json!({"databaseName": "admin", "groupId": group, "username": "app",
            "password": "Db-user-Pa55word-0123456789",
            "roles": [{"databaseName": "admin", "roleName": "readWriteAnyDatabase"}]}),
        ),
    );
    assert_eq!(status, 201, "{user}");
    call(
        c,
        "GET",
        &format!("/api/atlas/v2/groups/{group}/databaseUsers/admin/app"),
        None,
    );
    let (status, entries) = call(
        c,
        "POST",
        &format!("/api/atlas/v2/groups/{group}/accessList"),
        Some(json!([{"ipAddress": "192.0.2.7", "comment": "office"},
                    {"cidrBlock": "10.1.0.0/16"}])),
    );
    assert_eq!(status, 201, "{entries}");
    let (status, entry) = call(
        c,
        "GET",
        &format!("/api/atlas/v2/groups/{group}/accessList/10.1.0.0%2F16"),
        None,
    );
    assert_eq!(status, 200, "{entry}");
    call(
        c,
        "DELETE",
        &format!("/api/atlas/v2/groups/{group}/accessList/192.0.2.7"),
        None,
    );
    let (status, key) = call(
        c,
        "POST",
        &format!("/api/atlas/v2/orgs/{org}/apiKeys"),
        Some(json!({"desc": format!("parity {tag}"), "roles": ["ORG_MEMBER"]})),
    );
    assert_eq!(status, 200, "{key}");
    let key_id = key["id"].as_str().unwrap().to_owned();
    call(
        c,
        "GET",
        &format!("/api/atlas/v2/orgs/{org}/apiKeys/{key_id}"),
        None,
    );
    call(
        c,
        "DELETE",
        &format!("/api/atlas/v2/orgs/{org}/apiKeys/{key_id}"),
        None,
    );
    // Gone: an Atlas error with its errorCode (a name the run never produced, such as a
    // cluster it did not create, would be an external prerequisite, not sent).
    let (status, gone) = call(
        c,
        "GET",
        &format!("/api/atlas/v2/orgs/{org}/apiKeys/{key_id}"),
        None,
    );
    assert!(
        (400..500).contains(&status) && gone["errorCode"].is_string(),
        "{gone}"
    );
    call(
        c,
        "DELETE",
        &format!("/api/atlas/v2/groups/{group}/databaseUsers/admin/app"),
        None,
    );
    call(c, "DELETE", &format!("/api/atlas/v2/groups/{group}"), None);
    calls * c.exchanges_per_call()
}

/// Records both clients' workloads through a recorder in front of `upstream` (at `url`):
/// the recording and its number of exchanges.
fn record_both(upstream: &Server, url: &str, dir: &Path, flags: &[&str]) -> (PathBuf, usize) {
    let out = dir.join("run.jsonl");
    let proxy = recorder_of(url, &upstream.boot, dir, &out, flags);
    let org = upstream.boot["orgId"].as_str().unwrap().to_owned();
    let mut expected = workload(&mut Caller::Digest(&proxy), &org, "digest");
    let token = proxy.token(); // through the recorder: one more exchange, outside the v2 spec
    expected += 1;
    expected += workload(
        &mut Caller::Bearer(Client::new(&proxy.addr, &token)),
        &org,
        "service-account",
    );
    let recording = wait_lines(&out, expected);
    assert_eq!(recording.len(), expected);
    (out, expected)
}

/// Every replayed exchange agreed with the recording; only what cannot be sent was skipped.
fn assert_full_parity(ok: bool, stdout: &str, report: &Value, expected: usize) {
    let overall = &report["overall"];
    assert!(ok, "{stdout}");
    assert_eq!(overall["exchanges"], expected, "{stdout}");
    assert_eq!(overall["errors"], 0, "{stdout}");
    for figure in [
        "status_match_rate",
        "media_match_rate",
        "mean_shape_similarity",
        "error_code_match_rate",
    ] {
        assert_eq!(overall[figure], 1.0, "{figure}: {stdout}");
    }
    let reasons = overall["skip_reasons"].as_object().unwrap();
    for reason in reasons.keys() {
        assert!(
            ["digest challenge leg", "not in the v2 spec"].contains(&reason.as_str()),
            "{reason}: {stdout}"
        );
    }
    // Both clients' calls went out (the token request and the challenges did not).
    let challenges = reasons.get("digest challenge leg").and_then(Value::as_u64);
    assert_eq!(
        overall["replayed"].as_u64().unwrap() + challenges.unwrap_or(0) + 1,
        expected as u64,
        "{stdout}"
    );
    assert!(stdout.contains("status match rate     100%"), "{stdout}");
}

#[test]
fn digest_and_a_service_account_over_http_replay_at_full_parity() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Server::start("memory", dir.path());
    let url = format!("http://{}", upstream.addr);
    let (recording, expected) = record_both(&upstream, &url, dir.path(), &[]);

    // A fresh localatlas inside the command, with every floor at 100 %.
    let floors = [
        "--min-status",
        "1",
        "--min-shape",
        "1",
        "--min-error-code",
        "1",
        "--max-lost",
        "0",
    ];
    let (ok, stdout, report) = parity(&recording, dir.path(), &floors);
    assert_full_parity(ok, &stdout, &report, expected);
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
    assert_eq!(report["gate"]["passed"], true);

    // A running one, with credentials given as the corpus's replayer takes them; its
    // organization and project are discovered.
    let target = Server::start("memory", dir.path());
    let (public, private) = target.key();
    let (ok, stdout, report) = parity(
        &recording,
        dir.path(),
        &[
            "--url",
            &format!("http://{}", target.addr),
            "--auth",
            &format!("digest {public}:{private}"),
        ],
    );
    assert_full_parity(ok, &stdout, &report, expected);
    assert_eq!(
        report["bootstrap"]["discovered"]["org_id"],
        target.boot["orgId"]
    );

    // A recording that says Atlas answered otherwise: the difference is reported, and the
    // floor it breaks fails the command.
    let text = std::fs::read_to_string(&recording).unwrap();
    let edited: Vec<String> = text
        .lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            if v["operation_id"] == "getGroup" && v["kind"] == "api" {
                v["status"] = json!(203);
                v["response_body"]["extraField"] = json!("only in the recording");
            }
            v.to_string()
        })
        .collect();
    let differs = dir.path().join("differs.jsonl");
    std::fs::write(&differs, edited.join("\n")).unwrap();
    let (ok, stdout, report) = parity(&differs, dir.path(), &floors);
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("BELOW FLOOR"), "{stdout}");
    assert_eq!(report["gate"]["passed"], false);
    let changed: Vec<&Value> = report["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status_exact"] == false)
        .collect();
    assert_eq!(changed.len(), 2, "both clients read their project once");
    assert_eq!(changed[0]["actual_status"], 200);
    assert_eq!(changed[0]["missing_keys"], json!(["$.extraField"]));
}

#[test]
fn digest_and_a_service_account_over_https_replay_at_full_parity() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, ca) = Server::start_tls(dir.path());
    let url = upstream.boot["baseUrl"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://"), "{url}");
    let ca_arg = ca.to_str().unwrap();
    let (recording, expected) =
        record_both(&upstream, &url, dir.path(), &["--upstream-ca", ca_arg]);

    let (ok, stdout, report) = parity(&recording, dir.path(), &[]);
    assert_full_parity(ok, &stdout, &report, expected);

    // A running HTTPS localatlas named by its bootstrap file, trusting its local CA.
    let (target, target_ca) = Server::start_tls(dir.path());
    let boot_file = dir.path().join("target-bootstrap.json");
    std::fs::write(&boot_file, target.boot.to_string()).unwrap();
    let (ok, stdout, report) = parity(
        &recording,
        dir.path(),
        &[
            "--bootstrap",
            boot_file.to_str().unwrap(),
            "--ca",
            target_ca.to_str().unwrap(),
        ],
    );
    assert_full_parity(ok, &stdout, &report, expected);
    assert_eq!(report["base_url"], target.boot["baseUrl"]);
    assert_eq!(report["bootstrap"]["org_id"], target.boot["orgId"]);
}

#[test]
fn a_recording_of_the_plain_recorder_replays_too() {
    // The recorder's own test harness (`recorder`) in front of a plain upstream, one Digest
    // call: the smallest recording, and an unreadable file is an error, not a report.
    let dir = tempfile::tempdir().unwrap();
    let upstream = Server::start("memory", dir.path());
    let out = dir.path().join("small.jsonl");
    let proxy = recorder(&upstream, dir.path(), &out, &["--sequence", "small"]);
    let (status, _) = proxy.call("GET", "/api/atlas/v2/orgs", None);
    assert_eq!(status, 200);
    wait_lines(&out, 2);
    let (ok, stdout, report) = parity(&out, dir.path(), &["--sequence", "small"]);
    assert!(ok, "{stdout}");
    assert_eq!(report["overall"]["replayed"], 1);
    assert_eq!(report["sequences"], json!(["small"]));

    std::fs::write(dir.path().join("broken.jsonl"), "{not json\n").unwrap();
    let broken = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .arg("parity")
        .arg(dir.path().join("broken.jsonl"))
        .output()
        .unwrap();
    assert!(!broken.status.success());
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("broken.jsonl:1"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
}

/// `../shared` next to the repository (the conformance corpus and its replayer), when present.
fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    dir.join("conformance/corpus.jsonl")
        .is_file()
        .then_some(dir)
}

fn python_with_yaml() -> bool {
    Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn lost(overall: &Value) -> f64 {
    let lost: u64 = overall["skip_reasons"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(reason, _)| reason.starts_with("prerequisite"))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    lost as f64 / overall["exchanges"].as_f64().unwrap()
}

#[test]
fn the_corpus_replays_with_the_figures_of_its_own_replayer() {
    let Some(shared) = shared() else {
        eprintln!("conformance corpus not found next to the repository (../shared); skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let corpus = shared.join("conformance/corpus.jsonl");
    let started = Instant::now();
    let (ok, stdout, ours) = parity(&corpus, dir.path(), &[]);
    assert!(ok, "{stdout}");
    eprintln!("localatlas parity: {:?}", started.elapsed());
    let ours = &ours["overall"];
    assert!(ours["replayed"].as_u64().unwrap() > 400, "{stdout}");

    let replayer = shared.join("tools/conformance/replay.py");
    if !replayer.is_file() || !python_with_yaml() {
        eprintln!(
            "python3 with PyYAML or replay.py not found: the comparison with the corpus's own \
             replayer is skipped"
        );
        return;
    }
    let server = Server::start("memory", dir.path());
    let (public, private) = server.key();
    let report = dir.path().join("replay-report.json");
    let started = Instant::now();
    let out = Command::new("python3")
        .arg(&replayer)
        .arg(format!("http://{}", server.addr))
        .arg("--auth")
        .arg(format!("digest {public}:{private}"))
        .arg("--report")
        .arg(&report)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("replay.py: {:?}", started.elapsed());
    let theirs: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let theirs = &theirs["overall"];
    assert_eq!(ours["exchanges"], theirs["exchanges"]);
    for figure in [
        "status_match_rate",
        "mean_shape_similarity",
        "error_code_match_rate",
        "media_match_rate",
    ] {
        let (a, b) = (
            ours[figure].as_f64().unwrap(),
            theirs[figure].as_f64().unwrap(),
        );
        eprintln!("{figure:24} parity {a:.3}  replay.py {b:.3}");
        assert!((a - b).abs() <= 0.01, "{figure}: {a} vs {b}");
    }
    let (a, b) = (lost(ours), lost(theirs));
    eprintln!(
        "{:24} parity {a:.3}  replay.py {b:.3}",
        "lost_to_prerequisites"
    );
    assert!((a - b).abs() <= 0.01, "lost: {a} vs {b}");
}
