//! `atlas-callgrind`: instructions per request, counted by `valgrind --tool=callgrind`, for a
//! fixed set of requests, compared with the committed baseline (`callgrind-baseline.json` beside
//! this crate's `Cargo.toml`). Unlike throughput, an instruction count does not depend on what
//! else the machine does, so CI can fail on a change that makes requests costlier.
//!
//! ```text
//! cargo build --release -p atlas-bench
//! target/release/atlas-callgrind            # measure and compare (exit 1 on a rise > margin)
//! target/release/atlas-callgrind --update   # measure and rewrite the baseline on purpose
//! target/release/atlas-callgrind --only get_project_bearer --keep DIR   # one, files kept
//! ```
//!
//! How a figure is made: for each scenario this binary runs itself under callgrind with
//! collection off (`--collect-atstart=no`) and only [`callgrind_measured`] toggling it on. The
//! child serves the real axum service of localatlas in process (the binary's allocator, a SQLite
//! file store, one current-thread runtime, no sockets: the kernel's and hyper's share is the
//! floor's too and not what a change here moves), prepares the state, sends the scenario's
//! requests once to warm every cache, builds the measured requests in advance (a Digest
//! client's hashing is the client's cost), and then sends them inside the marker function. The
//! figure is the collected instruction total divided by the number of requests.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;

use anyhow::{Context, bail};
use atlas_api::identity::credentials::digest_authorization;
use atlas_api::{Atlas, Config};
use atlas_http::{App, HttpConfig};
use atlas_store::sqlite::SqliteStore;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// The binary's allocator (crates/localatlas/src/main.rs): allocation is a real share of a
/// request's instructions, so the figure must count the same one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A rise beyond this fraction of the baseline fails. Repeated runs of the same binary differ by
/// well under 1% (hash seeds and allocator state), a toolchain or dependency update moves counts
/// by a few percent, while the regressions worth stopping (one more transaction, decode or
/// render per request) cost 10% or more: 5% catches those and not the noise.
const MARGIN: f64 = 0.05;

const JSON_2023: &str = "application/vnd.atlas.2023-01-01+json";
const JSON_2024: &str = "application/vnd.atlas.2024-08-05+json";
const JSON_CLUSTER: &str = "application/vnd.atlas.2024-10-23+json";

/// The fixed scenarios: name, requests measured, and what one request is.
const SCENARIOS: &[(&str, usize, &str)] = &[
    ("get_project_bearer", 200, "GET /groups/{id}, Bearer token"),
    (
        "list_100_clusters",
        20,
        "GET /groups/{id}/clusters?itemsPerPage=100 (100 clusters), Bearer token",
    ),
    (
        "get_project_bearer_rendered",
        200,
        "GET /groups/{id}, Bearer token, answers not kept (--kept-answers off)",
    ),
    (
        "list_100_clusters_rendered",
        20,
        "the 100-cluster list, answers not kept (--kept-answers off)",
    ),
    (
        "post_cluster",
        40,
        "POST /groups/{id}/clusters on a SQLite file (a durable commit), Bearer token",
    ),
    (
        "digest_challenge",
        200,
        "GET /orgs without credentials: the 401 with a fresh Digest nonce",
    ),
    (
        "digest_get_nonce_reused",
        200,
        "GET /orgs with Digest, one nonce, nc counting up (curl, the Go SDK)",
    ),
];

fn baseline_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("callgrind-baseline.json")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = if args.first().map(String::as_str) == Some("child") {
        child(&args[1..]).map(|()| true)
    } else {
        parent(&args)
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("atlas-callgrind: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Measures every scenario under callgrind and compares with (or, `--update`, rewrites) the
/// baseline. `Ok(false)`: a figure rose beyond [`MARGIN`].
fn parent(args: &[String]) -> anyhow::Result<bool> {
    let update = args.iter().any(|a| a == "--update");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("valgrind not found: instruction counts not measured (skipped)");
        return Ok(true);
    }
    // `--keep DIR` keeps the callgrind files for `callgrind_annotate` (where the instructions go).
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let work = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let mut measured = serde_json::Map::new();
    for (name, requests, _) in SCENARIOS {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let out = keep
            .as_deref()
            .unwrap_or(work.path())
            .join(format!("{name}.callgrind"));
        let status = Command::new("valgrind")
            .args([
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=*callgrind_measured*",
                // Each thread's counts would go to a file of its own; one total is wanted.
                "--separate-threads=no",
            ])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&exe)
            .args(["child", name, &requests.to_string()])
            .arg(work.path().join(name))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output()
            .context("running valgrind")?;
        if !status.status.success() {
            bail!(
                "{name}: valgrind failed: {}",
                String::from_utf8_lossy(&status.stderr)
            );
        }
        let total = totals(&out)?;
        let per_request = total / *requests as u64;
        measured.insert((*name).to_owned(), json!(per_request));
    }
    let baseline: Value = std::fs::read(baseline_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let mut ok = true;
    println!("| scenario | instructions per request | baseline | change |\n|---|---|---|---|");
    for (name, _, what) in SCENARIOS {
        let Some(now) = measured.get(*name).and_then(Value::as_u64) else {
            continue;
        };
        let before = baseline["instructions"][name].as_u64();
        let change = before.map(|b| now as f64 / b as f64 - 1.0);
        let verdict = match change {
            Some(c) if c > MARGIN => {
                ok = false;
                " **over the margin**"
            }
            Some(c) if c < -MARGIN => " (lower: `--update` locks it in)",
            _ => "",
        };
        println!(
            "| {name} ({what}) | {now} | {} | {}{verdict} |",
            before.map_or("–".into(), |b| b.to_string()),
            change.map_or("–".into(), |c| format!("{:+.1}%", c * 100.0)),
        );
    }
    if update {
        let mut instructions = baseline["instructions"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        instructions.extend(measured);
        let doc = json!({
            "note": "Instructions per request counted by crates/atlas-bench/src/bin/atlas-callgrind.rs; \
                     rewritten only on purpose (--update), with the reason in the commit.",
            "margin": MARGIN,
            "instructions": instructions,
        });
        std::fs::write(baseline_path(), serde_json::to_string_pretty(&doc)? + "\n")?;
        println!("baseline rewritten: {}", baseline_path().display());
        return Ok(true);
    }
    if !ok {
        println!(
            "an instruction count rose more than {:.0}% above the baseline; find the cause, or \
             run with --update and give the reason in the commit",
            MARGIN * 100.0
        );
    }
    Ok(ok)
}

/// The instructions collected, from a callgrind output file's `totals:` (or `summary:`) line.
fn totals(file: &Path) -> anyhow::Result<u64> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no totals in the callgrind output")
}

/// The marker: callgrind collects only while this runs (`--toggle-collect`). Never inlined, so
/// the symbol exists; the name is what the parent toggles on.
#[inline(never)]
fn callgrind_measured<R>(work: impl FnOnce() -> R) -> R {
    std::hint::black_box(work())
}

/// The in-process server and the identities to call it with.
struct Child {
    app: axum::Router,
    runtime: tokio::runtime::Runtime,
    project: String,
    bearer: String,
    public_key: String,
    private_key: String,
}

/// One prepared request.
struct Prepared {
    method: &'static str,
    uri: String,
    accept: &'static str,
    authorization: Option<String>,
    body: Option<String>,
}

impl Prepared {
    fn request(&self) -> Request<Body> {
        let mut builder = Request::builder()
            .method(self.method)
            .uri(&self.uri)
            .header("host", "localhost:8080")
            .header("accept", self.accept);
        if let Some(auth) = &self.authorization {
            builder = builder.header("authorization", auth);
        }
        let body = match &self.body {
            Some(body) => {
                builder = builder.header("content-type", "application/json");
                Body::from(body.clone())
            }
            None => Body::empty(),
        };
        builder.body(body).unwrap_or_default()
    }
}

impl Child {
    fn new(dir: &Path, keep_answers: bool) -> anyhow::Result<Child> {
        std::fs::create_dir_all(dir)?;
        let store = Arc::new(SqliteStore::open(dir.join("callgrind.db"))?);
        let config = Config {
            keep_answers,
            ..Config::default()
        };
        let atlas = Atlas::new(store, config);
        let boot = atlas
            .bootstrap()
            .map_err(|e| anyhow::anyhow!("bootstrap: {e}"))?;
        let http = HttpConfig {
            rate_limits: false,
            ..HttpConfig::default()
        };
        let app = atlas_http::app(Arc::new(App::new(atlas, http)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut child = Child {
            app,
            runtime,
            project: boot.project_id.clone(),
            bearer: String::new(),
            public_key: boot.public_key.clone(),
            private_key: boot.private_key.clone(),
        };
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", boot.client_id, boot.client_secret));
        let request = Request::builder()
            .method("POST")
            .uri("/api/oauth/token")
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("grant_type=client_credentials"))?;
        let (status, body) = child.send(request);
        anyhow::ensure!(status == 200, "token: {status}");
        child.bearer = serde_json::from_slice::<Value>(&body)?["access_token"]
            .as_str()
            .context("token")?
            .to_owned();
        Ok(child)
    }

    fn send(&self, request: Request<Body>) -> (u16, Vec<u8>) {
        self.runtime.block_on(exchange(&self.app, request))
    }

    /// A prepared request that must succeed (setup).
    fn setup(&self, prepared: &Prepared) -> anyhow::Result<Value> {
        let (status, body) = self.send(prepared.request());
        anyhow::ensure!(
            status < 400,
            "setup {} {}: {status} {}",
            prepared.method,
            prepared.uri,
            String::from_utf8_lossy(&body)
        );
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn bearer(&self, method: &'static str, uri: String, accept: &'static str) -> Prepared {
        Prepared {
            method,
            uri,
            accept,
            authorization: Some(format!("Bearer {}", self.bearer)),
            body: None,
        }
    }

    /// A new project named `name`; its id.
    fn project(&self, name: &str) -> anyhow::Result<String> {
        let org = self.setup(&self.bearer(
            "GET",
            format!("/api/atlas/v2/groups/{}", self.project),
            JSON_2023,
        ))?["orgId"]
            .as_str()
            .context("orgId")?
            .to_owned();
        let mut create = self.bearer("POST", "/api/atlas/v2/groups".into(), JSON_2023);
        create.body = Some(json!({"name": name, "orgId": org}).to_string());
        self.setup(&create)?["id"]
            .as_str()
            .map(str::to_owned)
            .context("project id")
    }

    fn cluster(&self, project: &str, name: &str) -> Prepared {
        let mut post = self.bearer(
            "POST",
            format!("/api/atlas/v2/groups/{project}/clusters"),
            JSON_CLUSTER,
        );
        post.body = Some(
            json!({"name": name, "replicationSpecs": [{"regionConfigs": [{"providerName": "AWS",
                "regionName": "US_EAST_1", "priority": 7,
                "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]})
            .to_string(),
        );
        post
    }

    /// The scenario's warm-up and measured requests (the same kind, built in advance).
    fn scenario(&self, name: &str, n: usize) -> anyhow::Result<(Vec<Prepared>, Vec<Prepared>)> {
        let orgs = "/api/atlas/v2/orgs".to_owned();
        let batch = |make: &dyn Fn(usize) -> Prepared| -> (Vec<Prepared>, Vec<Prepared>) {
            ((0..n).map(make).collect(), (n..2 * n).map(make).collect())
        };
        Ok(match name {
            "get_project_bearer" => {
                let uri = format!("/api/atlas/v2/groups/{}", self.project);
                batch(&|_| self.bearer("GET", uri.clone(), JSON_2023))
            }
            "list_100_clusters" => {
                let project = self.project("callgrind-list")?;
                for i in 0..100 {
                    self.setup(&self.cluster(&project, &format!("c{i}")))?;
                }
                let uri = format!("/api/atlas/v2/groups/{project}/clusters?itemsPerPage=100");
                batch(&|_| self.bearer("GET", uri.clone(), JSON_2024))
            }
            "post_cluster" => {
                // Clusters per project are limited; each batch gets a project of its own.
                let warm = self.project("callgrind-post-warm")?;
                let measured = self.project("callgrind-post")?;
                (
                    (0..n)
                        .map(|i| self.cluster(&warm, &format!("w{i}")))
                        .collect(),
                    (0..n)
                        .map(|i| self.cluster(&measured, &format!("m{i}")))
                        .collect(),
                )
            }
            "digest_challenge" => batch(&|_| Prepared {
                method: "GET",
                uri: orgs.clone(),
                accept: JSON_2023,
                authorization: None,
                body: None,
            }),
            "digest_get_nonce_reused" => {
                let (status, _, www) = self.runtime.block_on(async {
                    let response = self
                        .app
                        .clone()
                        .oneshot(
                            Prepared {
                                method: "GET",
                                uri: orgs.clone(),
                                accept: JSON_2023,
                                authorization: None,
                                body: None,
                            }
                            .request(),
                        )
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let www = response
                        .headers()
                        .get("www-authenticate")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    anyhow::Ok((response.status().as_u16(), (), www))
                })?;
                anyhow::ensure!(status == 401, "challenge: {status}");
                let nonce = www
                    .split("nonce=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .context("nonce")?
                    .to_owned();
                batch(&|i| Prepared {
                    method: "GET",
                    uri: orgs.clone(),
                    accept: JSON_2023,
                    authorization: Some(digest_authorization(
                        &self.public_key,
                        &self.private_key,
                        "GET",
                        &orgs,
                        &nonce,
                        Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                    )),
                    body: None,
                })
            }
            other => bail!("unknown scenario {other}"),
        })
    }
}

async fn exchange(app: &axum::Router, request: Request<Body>) -> (u16, Vec<u8>) {
    match app.clone().oneshot(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            (status, body)
        }
        Err(never) => match never {},
    }
}

/// `child SCENARIO N DIR`: prepares, warms up, then sends N requests inside the marker.
fn child(args: &[String]) -> anyhow::Result<()> {
    let [name, n, dir] = args else {
        bail!("child SCENARIO N DIR");
    };
    let n: usize = n.parse()?;
    // The `_rendered` twins build every answer anew: what a request costs when the state
    // changed since the last identical one (and what the answers kept spare the others).
    let rendered = name.strip_suffix("_rendered");
    let child = Child::new(Path::new(dir), rendered.is_none())?;
    let (warm, measured) = child.scenario(rendered.unwrap_or(name), n)?;
    let expected = if name == "digest_challenge" { 401 } else { 299 };
    let check = |statuses: &[u16]| -> anyhow::Result<()> {
        for s in statuses {
            let fine = if expected == 401 {
                *s == 401
            } else {
                *s <= expected
            };
            anyhow::ensure!(fine, "{name}: status {s}");
        }
        Ok(())
    };
    let statuses: Vec<u16> = warm.iter().map(|p| child.send(p.request()).0).collect();
    check(&statuses)?;
    let requests: Vec<Request<Body>> = measured.iter().map(Prepared::request).collect();
    let statuses = callgrind_measured(|| {
        child.runtime.block_on(async {
            let mut statuses = Vec::with_capacity(requests.len());
            for request in requests {
                statuses.push(exchange(&child.app, request).await.0);
            }
            statuses
        })
    });
    check(&statuses)
}
