//! Durability and scale-out, end to end with the built binary:
//! - `kill -9` in the middle of a concurrent write load, then a restart: every acknowledged write
//!   is there and nothing half-written is visible (SQLite always; PostgreSQL when a server is
//!   given);
//! - PostgreSQL restarted under a running server: requests in flight fail with Atlas 503 bodies,
//!   the server reconnects by itself, nothing acknowledged is lost;
//! - two instances on one PostgreSQL database with concurrent clients on both: unique names,
//!   no lost updates, the same answers, tokens, nonces, clock, lifecycles and rate-limit buckets
//!   shared.
//!
//! PostgreSQL tests need `LOCALATLAS_TEST_POSTGRES` (see `.ci/run`); the restart test also runs
//! a PostgreSQL of its own through `.ci/postgres`. Runs of the kill test: `LOCALATLAS_KILL_RUNS`
//! (default 3).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Client, Server};
use serde_json::{Value, json};

/// What a write load saw.
#[derive(Default)]
struct Load {
    /// Project names whose creation was acknowledged (201), with their ids.
    acknowledged: Vec<(String, String)>,
    /// Names attempted without an acknowledgement (in flight at the kill, or failed).
    unacknowledged: Vec<String>,
    /// Answers with a 5xx status, and whether each carried an Atlas error body.
    server_errors: Vec<(u16, Value)>,
}

/// `writers` threads create uniquely named projects on `addr` until `stop` is set.
fn write_load(
    addr: &str,
    token: &str,
    org: &str,
    prefix: &str,
    writers: usize,
    stop: &AtomicBool,
    acked: &AtomicUsize,
) -> Load {
    let load = Mutex::new(Load::default());
    std::thread::scope(|scope| {
        for w in 0..writers {
            let load = &load;
            scope.spawn(move || {
                let mut client = Client::new(addr, token);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("{prefix}-{w}-{i}");
                    i += 1;
                    let body = json!({"name": name, "orgId": org});
                    let outcome = client.send("POST", "/api/atlas/v2/groups", Some(&body));
                    let mut load = load.lock().unwrap();
                    match outcome {
                        Ok((201, body)) => {
                            acked.fetch_add(1, Ordering::Relaxed);
                            load.acknowledged
                                .push((name, body["id"].as_str().unwrap_or_default().to_owned()));
                        }
                        Ok((status, body)) => {
                            if status >= 500 {
                                load.server_errors.push((status, body));
                            }
                            load.unacknowledged.push(name);
                        }
                        Err(_) => {
                            load.unacknowledged.push(name);
                            drop(load);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            });
        }
    });
    load.into_inner().unwrap()
}

/// Every acknowledged project is there, whole; every attempted name is either absent or a whole
/// project (name claim and document agree); the list shows exactly the whole ones.
/// Returns how many unacknowledged writes turned out committed.
fn verify(server: &Server, load: &Load, prefix: &str) -> usize {
    let token = server.token();
    let mut client = Client::new(&server.addr, &token);
    let mut get = |path: &str| client.send("GET", path, None).expect("server answers");
    let mut present = BTreeSet::new();
    for (name, id) in &load.acknowledged {
        let (status, body) = get(&format!("/api/atlas/v2/groups/{id}"));
        assert_eq!(
            status, 200,
            "acknowledged project {name} ({id}) lost: {body}"
        );
        assert_eq!(body["name"], name.as_str());
        let (status, body) = get(&format!("/api/atlas/v2/groups/byName/{name}"));
        assert_eq!(
            (status, body["id"].as_str()),
            (200, Some(id.as_str())),
            "{name}: name claim lost"
        );
        present.insert(id.clone());
    }
    let mut late = 0;
    for name in &load.unacknowledged {
        let (status, body) = get(&format!("/api/atlas/v2/groups/byName/{name}"));
        match status {
            404 => {}
            200 => {
                // Committed before the kill but never answered: it must be whole.
                let id = body["id"].as_str().unwrap().to_owned();
                let (status, _) = get(&format!("/api/atlas/v2/groups/{id}"));
                assert_eq!(status, 200, "{name}: claim without its project");
                present.insert(id);
                late += 1;
            }
            other => panic!("{name}: {other} {body}"),
        }
    }
    // The list holds exactly the projects found whole (plus the bootstrap project).
    let mut listed = BTreeSet::new();
    for page in 1.. {
        let (status, body) = get(&format!(
            "/api/atlas/v2/groups?itemsPerPage=500&pageNum={page}"
        ));
        assert_eq!(status, 200, "{body}");
        let results = body["results"].as_array().unwrap();
        listed.extend(
            results
                .iter()
                .filter(|p| p["name"].as_str().unwrap_or_default().starts_with(prefix))
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
        if results.len() < 500 {
            break;
        }
    }
    let extra: Vec<_> = listed.difference(&present).collect();
    let missing: Vec<_> = present.difference(&listed).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "the list shows projects that are not whole {extra:?}, or misses whole ones {missing:?}"
    );
    late
}

fn kill_runs() -> usize {
    std::env::var("LOCALATLAS_KILL_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// Runs the kill test on `store`: `runs` times, start → concurrent writes → SIGKILL at a varying
/// moment → restart → verify. Prints the counts.
fn kill_under_load(store: &str, dir: &Path, label: &str) {
    let runs = kill_runs();
    let (mut acknowledged, mut late, mut attempted) = (0, 0, 0);
    for run in 0..runs {
        let server = Server::start_with(store, dir, &["--rate-limit", "off"], &[]);
        let token = server.token();
        let org = server.boot["orgId"].as_str().unwrap().to_owned();
        let (stop, acked) = (AtomicBool::new(false), AtomicUsize::new(0));
        let load = std::thread::scope(|scope| {
            let load = scope.spawn(|| {
                let prefix = format!("run{run}");
                write_load(&server.addr, &token, &org, &prefix, 6, &stop, &acked)
            });
            // A different moment in each run: after some acknowledged writes (however slow the
            // machine), plus a pause that varies by run, in the middle of the load.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while acked.load(Ordering::Relaxed) < 20 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(100 + 150 * (run as u64 % 5)));
            Command::new("kill")
                .args(["-KILL", &server.pid().to_string()])
                .status()
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            stop.store(true, Ordering::Relaxed);
            load.join().unwrap()
        });
        drop(server);
        assert!(
            !load.acknowledged.is_empty(),
            "run {run}: no write was acknowledged before the kill"
        );
        let again = Server::start_with(store, dir, &["--rate-limit", "off"], &[]);
        let committed_late = verify(&again, &load, &format!("run{run}-"));
        acknowledged += load.acknowledged.len();
        attempted += load.acknowledged.len() + load.unacknowledged.len();
        late += committed_late;
        drop(again);
    }
    println!(
        "kill -9 under load ({label}): {runs} runs, {attempted} writes attempted, {acknowledged} \
         acknowledged, 0 lost, {late} committed but unanswered at the kill (whole)"
    );
}

#[test]
fn kill_9_under_concurrent_writes_loses_nothing_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state.db");
    kill_under_load(store.to_str().unwrap(), dir.path(), "SQLite");
}

#[test]
fn kill_9_under_concurrent_writes_loses_nothing_postgres() {
    let Some(url) = common::postgres("kill") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    kill_under_load(&url, dir.path(), "PostgreSQL");
}

/// A PostgreSQL of this test's own, so restarting it cannot disturb other tests.
struct OwnPostgres {
    dir: tempfile::TempDir,
    url: String,
}

impl OwnPostgres {
    /// Runs `.ci/postgres VERB DIR` (`start`, `restart`, `stop`) and returns its output.
    fn script(dir: &Path, verb: &str) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/postgres");
        Command::new("bash")
            .arg(script)
            .arg(verb)
            .arg(dir.join("pg"))
            .output()
            .unwrap()
    }

    fn checked(dir: &Path, verb: &str) -> String {
        let out = Self::script(dir, verb);
        assert!(
            out.status.success(),
            "{verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn start() -> OwnPostgres {
        let dir = tempfile::tempdir().unwrap();
        let url = Self::checked(dir.path(), "start");
        OwnPostgres { dir, url }
    }

    fn restart(&self) {
        Self::checked(self.dir.path(), "restart");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Self::script(self.dir.path(), "stop");
    }
}

#[test]
fn postgres_restarted_under_the_server() {
    if common::postgres("restart_probe").is_none() {
        return;
    }
    let pg = OwnPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&pg.url, dir.path(), &["--rate-limit", "off"], &[]);
    let token = server.token();
    let org = server.boot["orgId"].as_str().unwrap().to_owned();
    let (stop, acked) = (AtomicBool::new(false), AtomicUsize::new(0));
    let load = std::thread::scope(|scope| {
        let load = scope.spawn(|| write_load(&server.addr, &token, &org, "pg", 4, &stop, &acked));
        std::thread::sleep(Duration::from_millis(700));
        pg.restart();
        // Keep writing after the restart: the server must recover by itself.
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        load.join().unwrap()
    });
    for (status, body) in &load.server_errors {
        assert_eq!(*status, 503, "{body}");
        assert_eq!(body["errorCode"], "SERVICE_UNAVAILABLE", "{body}");
        assert_eq!(body["error"], 503);
    }
    // Writes succeed again after the restart.
    let mut client = Client::new(&server.addr, &token);
    let (status, body) = client
        .send(
            "POST",
            "/api/atlas/v2/groups",
            Some(&json!({"name": "after-restart", "orgId": org})),
        )
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let late = verify(&server, &load, "pg-");
    println!(
        "PostgreSQL restart under load: {} acknowledged, {} failed with Atlas 503, 0 lost, {late} committed but unanswered",
        load.acknowledged.len(),
        load.server_errors.len()
    );
    let (status, _, health) = server.request("GET", "/__localatlas/health", None, None);
    assert_eq!(status, 200, "{health}");
}

/// Two servers on one PostgreSQL database, clients on both at once.
#[test]
fn two_instances_on_one_postgres() {
    let Some(url) = common::postgres("two") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--lifecycle", "manual", "--rate-limit", "off"];
    let a = Server::start_with(&url, dir.path(), &flags, &[]);
    let b = Server::start_with(&url, dir.path(), &flags, &[]);
    for field in ["orgId", "projectId", "apiKey", "serviceAccount"] {
        assert_eq!(a.boot[field], b.boot[field], "{field}");
    }
    let org = a.boot["orgId"].as_str().unwrap().to_owned();
    let group = a.boot["projectId"].as_str().unwrap().to_owned();

    // Tokens minted on one are good on the other; so are Digest nonces.
    let token = a.token();
    let mut on_b = Client::new(&b.addr, &token);
    assert_eq!(
        on_b.send("GET", "/api/atlas/v2/groups", None).unwrap().0,
        200
    );
    let (user, password) = a.key();
    let nonce = a.nonce().unwrap();
    let auth = common::digest(&user, &password, "GET", "/api/atlas/v2/orgs", &nonce, 1);
    let (status, _, body) = b.request("GET", "/api/atlas/v2/orgs", Some(&auth), None);
    assert_eq!(status, 200, "a nonce of A on B: {body}");
    // … and spent everywhere: the same nonce count replayed on A is refused.
    let (status, _, _) = a.request("GET", "/api/atlas/v2/orgs", Some(&auth), None);
    assert_eq!(
        status, 401,
        "a replayed nonce count was accepted by the other instance"
    );

    // The same project names from both at once: one winner per name, Atlas's 409 for the other.
    const NAMES: usize = 30;
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        for (server, side) in [(&a, "a"), (&b, "b"), (&a, "a2"), (&b, "b2")] {
            let outcomes = outcomes.clone();
            let (token, org) = (token.clone(), org.clone());
            scope.spawn(move || {
                let mut client = Client::new(&server.addr, &token);
                for i in 0..NAMES {
                    let name = format!("shared-{i}");
                    let (status, body) = client
                        .send(
                            "POST",
                            "/api/atlas/v2/groups",
                            Some(&json!({"name": name, "orgId": org})),
                        )
                        .unwrap();
                    outcomes.lock().unwrap().push((name, side, status, body));
                }
            });
        }
    });
    let outcomes = outcomes.lock().unwrap();
    for i in 0..NAMES {
        let name = format!("shared-{i}");
        let answers: Vec<_> = outcomes.iter().filter(|o| o.0 == name).collect();
        let wins = answers.iter().filter(|o| o.2 == 201).count();
        assert_eq!(wins, 1, "{name}: {answers:?}");
        for loser in answers.iter().filter(|o| o.2 != 201) {
            assert_eq!(loser.2, 409, "{loser:?}");
            assert_eq!(loser.3["errorCode"], "GROUP_ALREADY_EXISTS", "{loser:?}");
        }
    }

    // Clusters with one name from both instances: one is created, the other is Atlas's 400.
    let clusters = format!("/api/atlas/v2/groups/{group}/clusters");
    let cluster = |name: &str| {
        json!({"name": name, "clusterType": "REPLICASET", "replicationSpecs": [{"zoneName": "Zone 1",
            "regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
                "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]})
    };
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for server in [&a, &b, &a, &b] {
            let (token, clusters, results) = (&token, &clusters, &results);
            scope.spawn(move || {
                let mut client = Client::new(&server.addr, token);
                client.accept = "application/vnd.atlas.2024-10-23+json".into();
                for i in 0..5 {
                    let answer = client
                        .send("POST", clusters, Some(&cluster(&format!("race{i}"))))
                        .unwrap();
                    results.lock().unwrap().push((i, answer));
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    for i in 0..5 {
        let answers: Vec<_> = results.iter().filter(|r| r.0 == i).map(|r| &r.1).collect();
        assert_eq!(
            answers.iter().filter(|a| a.0 == 201).count(),
            1,
            "race{i}: {answers:?}"
        );
        for (status, body) in answers.iter().filter(|a| a.0 != 201) {
            assert_eq!(
                (*status, body["errorCode"].as_str()),
                (400, Some("DUPLICATE_CLUSTER_NAME")),
                "{body}"
            );
        }
    }

    // Lifecycles: created CREATING (manual policy), the same state from both; advanced through
    // B's control API, IDLE from A.
    let mut on_a = Client::new(&a.addr, &token);
    on_a.accept = "application/vnd.atlas.2024-10-23+json".into();
    on_b.accept = on_a.accept.clone();
    let state = |client: &mut Client| {
        let (status, body) = client
            .send("GET", &format!("{clusters}/race0"), None)
            .unwrap();
        assert_eq!(status, 200, "{body}");
        body["stateName"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        (state(&mut on_a), state(&mut on_b)),
        ("CREATING".into(), "CREATING".into())
    );
    assert_eq!(
        b.request("POST", "/__localatlas/lifecycle/advance", None, None)
            .0,
        200
    );
    assert_eq!(
        (state(&mut on_a), state(&mut on_b)),
        ("IDLE".into(), "IDLE".into())
    );

    // No lost updates: concurrent PATCHes of different settings of one project, half through
    // each instance, all land.
    let settings = format!("/api/atlas/v2/groups/{group}/settings");
    let fields = [
        "isCollectDatabaseSpecificsStatisticsEnabled",
        "isDataExplorerEnabled",
        "isPerformanceAdvisorEnabled",
        "isRealtimePerformancePanelEnabled",
        "isSchemaAdvisorEnabled",
    ];
    on_a.accept = common::ACCEPT.into();
    let (status, before) = on_a.send("GET", &settings, None).unwrap();
    assert_eq!(status, 200, "{before}");
    std::thread::scope(|scope| {
        for (i, field) in fields.iter().enumerate() {
            let server = if i % 2 == 0 { &a } else { &b };
            let (token, settings, before) = (&token, &settings, &before);
            scope.spawn(move || {
                let mut client = Client::new(&server.addr, token);
                let wanted = !before[*field].as_bool().unwrap_or(true);
                let (status, body) = client
                    .send("PATCH", settings, Some(&json!({*field: wanted})))
                    .unwrap();
                assert_eq!(status, 200, "{field}: {body}");
            });
        }
    });
    let (_, after_a) = on_a.send("GET", &settings, None).unwrap();
    on_b.accept = common::ACCEPT.into();
    let (_, after_b) = on_b.send("GET", &settings, None).unwrap();
    assert_eq!(after_a, after_b);
    for field in fields {
        assert_ne!(
            after_a[field], before[field],
            "the PATCH of {field} was lost: {after_a}"
        );
    }

    // The same answers from either instance.
    let list = "/api/atlas/v2/groups?itemsPerPage=500";
    // (Links name the host the client addressed, which differs by instance.)
    let (from_a, from_b) = (
        on_a.send("GET", list, None).unwrap(),
        on_b.send("GET", list, None).unwrap(),
    );
    assert_eq!(
        from_a.1.to_string().replace(&a.addr, "HOST"),
        from_b.1.to_string().replace(&b.addr, "HOST")
    );
    assert_eq!((from_a.0, from_b.0), (200, 200));
    // Rate-limit buckets are shared: alternating instances see one bucket drain.
    let limited_a = Server::start_with(&url, dir.path(), &[], &[]);
    let remaining = |server: &Server| {
        let (user, password) = server.key();
        let (status, headers, _) =
            server.call_as(&user, &password, "GET", "/api/atlas/v2/orgs", None, "");
        assert_eq!(status, 200);
        headers
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("ratelimit-remaining: ")
                    .map(str::to_owned)
            })
            .and_then(|v| v.trim().parse::<i64>().ok())
            .expect("RateLimit-Remaining")
    };
    let limited_b = Server::start_with(&url, dir.path(), &[], &[]);
    let first = remaining(&limited_a);
    let second = remaining(&limited_b);
    assert!(second < first, "B's bucket ({second}) is not A's ({first})");

    // The clock moved through A is B's clock (last: a day later the tokens above expired).
    let (status, _, moved) = a.request(
        "POST",
        "/__localatlas/clock",
        None,
        Some(&json!({"advanceSeconds": 86400})),
    );
    assert_eq!(status, 200, "{moved}");
    let moved: Value = serde_json::from_str(&moved).unwrap();
    let (_, _, seen) = b.request("GET", "/__localatlas/clock", None, None);
    let seen: Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(seen["offsetSeconds"], moved["offsetSeconds"]);
}
