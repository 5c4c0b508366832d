//! `atlas-bench`: localatlas side by side with the floor (a minimal axum server answering a
//! fixed body of the same size: this machine's HTTP limit) and, when npm can install it, Prism
//! mocking the same spec — same load generator, same machine, one run. Figures are reported as
//! ratios to the floor and to Prism, since absolute numbers on shared machines are noise.
//!
//! ```text
//! cargo build --release && cargo run --release -p atlas-bench -- [--quick] [--no-prism]
//!     [--only NAME] [--gen raw|hyper|both] [--conns 1,32] [--seconds N] [--no-scaling] [--out FILE]
//! ```
//!
//! Two load generators: `raw` (the default, `raw.rs`), as light as `wrk`, and `hyper`
//! (`load.rs`), the earlier one, whose own cost flatters the ratio; `--gen both` runs every
//! measurement with each, side by side.

mod load;
mod raw;
mod target;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::Method;
use serde_json::{Value, json};

use load::{Auth, MakeRequest, Stats};
use target::Target;

const JSON_2023: &str = "application/vnd.atlas.2023-01-01+json";
const JSON_2024: &str = "application/vnd.atlas.2024-08-05+json";

struct Options {
    duration: Duration,
    connections: Vec<usize>,
    prism: bool,
    scaling: Vec<usize>,
    out: Option<PathBuf>,
    /// Only scenarios whose name contains this (`--only`; `--only scaling` for the scaling
    /// figures alone), for profiling one of them.
    only: Option<String>,
    /// The load generators to measure with (`--gen`).
    generators: Vec<Generator>,
    /// Skip the list-scaling figures (`--no-scaling`).
    no_scaling: bool,
}

/// A load generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generator {
    /// Raw TCP, pre-built requests: what `wrk` measures.
    Raw,
    /// The hyper client.
    Hyper,
}

impl Generator {
    fn name(self) -> &'static str {
        match self {
            Generator::Raw => "raw",
            Generator::Hyper => "hyper",
        }
    }
}

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("floor") {
        let addr = args.get(1).context("floor ADDR BYTES")?.clone();
        let bytes: usize = args.get(2).context("floor ADDR BYTES")?.parse()?;
        return floor(&addr, bytes);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let options = Options {
        duration: match arg(&args, "--seconds") {
            Some(s) => Duration::from_secs_f64(s.parse().context("--seconds N")?),
            None => Duration::from_millis(if quick { 1000 } else { 4000 }),
        },
        connections: match arg(&args, "--conns") {
            Some(list) => list
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .context("--conns 1,32,128")?,
            None => vec![1, 32, 128],
        },
        prism: !args.iter().any(|a| a == "--no-prism"),
        scaling: if quick {
            vec![1, 10_000]
        } else {
            vec![1, 10_000, 100_000]
        },
        out: args
            .iter()
            .position(|a| a == "--out")
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from),
        only: args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .cloned(),
        no_scaling: args.iter().any(|a| a == "--no-scaling"),
        generators: match arg(&args, "--gen").map(String::as_str) {
            None | Some("raw") => vec![Generator::Raw],
            Some("hyper") => vec![Generator::Hyper],
            Some("both") => vec![Generator::Raw, Generator::Hyper],
            Some(other) => anyhow::bail!("--gen raw|hyper|both, not {other}"),
        },
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(options))
}

/// The floor: answers every request with the same JSON body of `bytes` bytes.
fn floor(addr: &str, bytes: usize) -> anyhow::Result<()> {
    let body: &'static str = Box::leak(
        format!("{{\"pad\":\"{}\"}}", "x".repeat(bytes.saturating_sub(10))).into_boxed_str(),
    );
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let app = axum::Router::new().fallback(move || async move {
                (
                    [(
                        "content-type",
                        "application/vnd.atlas.2023-01-01+json;charset=utf-8",
                    )],
                    body,
                )
            });
            axum::serve(listener, app).await?;
            anyhow::Ok(())
        })
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One preparatory request that must succeed; returns the JSON answer.
async fn once(
    addr: &str,
    auth: &Auth,
    method: Method,
    path: &str,
    accept: &'static str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let body = body.map(|b| b.to_string());
    let (status, bytes) = load::one(addr, auth, method, path, accept, body.as_deref()).await?;
    anyhow::ensure!(
        status < 400,
        "setup {path}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

struct Scenario {
    name: &'static str,
    accept: &'static str,
    bearer: bool,
    make: MakeRequest,
    /// Requests per user-level operation (a create + read-back pair counts as one).
    per_op: u64,
}

fn scenarios(project: &str, list_project: &str) -> Vec<Scenario> {
    let p = project.to_owned();
    let l = list_project.to_owned();
    let get = format!("/api/atlas/v2/groups/{p}");
    let list = format!("/api/atlas/v2/groups/{l}/clusters?itemsPerPage=100");
    let users = format!("/api/atlas/v2/groups/{p}/databaseUsers");
    let orgs = "/api/atlas/v2/orgs".to_owned();
    let g1 = get.clone();
    let g4 = get.clone();
    let g2 = orgs.clone();
    let g3 = orgs;
    let u1 = users.clone();
    let u2 = users;
    let pid = p.clone();
    let pid2 = p.clone();
    vec![
        Scenario {
            name: "GET one project",
            accept: JSON_2023,
            bearer: false,
            per_op: 1,
            make: Arc::new(move |_, _, _| (Method::GET, g1.clone(), None)),
        },
        // The request issue 16 measured with wrk: a project with a service account's token.
        Scenario {
            name: "Bearer GET one project",
            accept: JSON_2023,
            bearer: true,
            per_op: 1,
            make: Arc::new(move |_, _, _| (Method::GET, g4.clone(), None)),
        },
        Scenario {
            name: "GET 100 clusters",
            accept: JSON_2024,
            bearer: false,
            per_op: 1,
            make: Arc::new(move |_, _, _| (Method::GET, list.clone(), None)),
        },
        Scenario {
            name: "POST create + GET back",
            accept: JSON_2023,
            bearer: false,
            per_op: 2,
            make: Arc::new(move |run, c, step| {
                let name = format!("u{run}-{c}-{}", step / 2);
                if step % 2 == 0 {
                    let body = json!({"groupId": pid, "databaseName": "admin", "username": name, "password": "bench-password",
                        "roles": [{"databaseName": "admin", "roleName": "read"}]});
                    (Method::POST, u1.clone(), Some(body.to_string()))
                } else {
                    (Method::GET, format!("{u1}/admin/{name}"), None)
                }
            }),
        },
        Scenario {
            name: "PATCH",
            accept: JSON_2023,
            bearer: false,
            per_op: 1,
            // The spec requires the whole user in a PATCH body (`CloudDatabaseUser`).
            make: Arc::new(move |_, _, step| {
                let body = json!({"groupId": pid2, "databaseName": "admin", "username": "patched",
                    "description": format!("v{step}"), "roles": [{"databaseName": "admin", "roleName": "read"}]});
                (
                    Method::PATCH,
                    format!("{u2}/admin/patched"),
                    Some(body.to_string()),
                )
            }),
        },
        Scenario {
            name: "Digest GET /orgs",
            accept: JSON_2023,
            bearer: false,
            per_op: 1,
            make: Arc::new(move |_, _, _| (Method::GET, g2.clone(), None)),
        },
        Scenario {
            name: "Bearer GET /orgs",
            accept: JSON_2023,
            bearer: true,
            per_op: 1,
            make: Arc::new(move |_, _, _| (Method::GET, g3.clone(), None)),
        },
    ]
}

struct Row {
    scenario: &'static str,
    generator: Generator,
    connections: usize,
    target: &'static str,
    stats: Stats,
    cpu_us_per_request: f64,
    per_op: u64,
}

async fn measure(
    target: &Target,
    scenario: &Scenario,
    connections: usize,
    auth: &Auth,
    duration: Duration,
    generator: Generator,
) -> anyhow::Result<Row> {
    let before = target.cpu();
    let (addr, auth, accept, make) = (
        &target.addr,
        auth.clone(),
        scenario.accept,
        scenario.make.clone(),
    );
    let stats = match generator {
        Generator::Raw => raw::run(addr, connections, duration, auth, accept, make).await?,
        Generator::Hyper => load::run(addr, connections, duration, auth, accept, make).await?,
    };
    let cpu = target.cpu().saturating_sub(before);
    Ok(Row {
        scenario: scenario.name,
        generator,
        connections,
        target: target.name,
        cpu_us_per_request: cpu.as_micros() as f64 / stats.requests.max(1) as f64,
        stats,
        per_op: scenario.per_op,
    })
}

async fn token(addr: &str, boot: &Value) -> anyhow::Result<String> {
    // The token endpoint takes Basic credentials and a form body: a raw exchange is simplest.
    use base64::Engine as _;
    use std::io::{Read, Write};
    let id = boot["serviceAccount"]["clientId"]
        .as_str()
        .unwrap_or_default();
    let secret = boot["serviceAccount"]["clientSecret"]
        .as_str()
        .unwrap_or_default();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let body = "grant_type=client_credentials";
    let mut stream = std::net::TcpStream::connect(addr)?;
    write!(
        stream,
        "POST /api/oauth/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let json: Value = serde_json::from_str(reply.split("\r\n\r\n").nth(1).unwrap_or_default())?;
    json["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no token")
}

async fn bench(options: Options) -> anyhow::Result<()> {
    let root = workspace();
    let binary = std::env::var_os("LOCALATLAS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/localatlas"));
    anyhow::ensure!(
        binary.exists(),
        "build the server first: cargo build --release ({} missing)",
        binary.display()
    );
    let dir = tempfile::tempdir()?;
    let (atlas, boot) = target::localatlas(&binary, dir.path())?;
    let project = boot["projectId"].as_str().unwrap_or_default().to_owned();
    let org = boot["orgId"].as_str().unwrap_or_default().to_owned();
    let digest = Auth::Digest {
        user: boot["apiKey"]["publicKey"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        password: boot["apiKey"]["privateKey"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    let bearer = Auth::Bearer(token(&atlas.addr, &boot).await?);

    // State the scenarios read: a project with 100 clusters, a user to patch.
    once(
        &atlas.addr,
        &digest,
        Method::POST,
        "/api/atlas/v2/groups",
        JSON_2023,
        Some(json!({"name": "bench-list", "orgId": org})),
    )
    .await?;
    let list_project = project_id(&atlas, &digest, "bench-list").await?;
    for i in 0..100 {
        let body = json!({"name": format!("c{i}"), "replicationSpecs": [{"regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7, "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
        once(
            &atlas.addr,
            &digest,
            Method::POST,
            &format!("/api/atlas/v2/groups/{list_project}/clusters"),
            "application/vnd.atlas.2024-10-23+json",
            Some(body),
        )
        .await?;
    }
    let user = json!({"groupId": project, "databaseName": "admin", "username": "patched", "password": "bench-password", "roles": [{"databaseName": "admin", "roleName": "read"}]});
    once(
        &atlas.addr,
        &digest,
        Method::POST,
        &format!("/api/atlas/v2/groups/{project}/databaseUsers"),
        JSON_2023,
        Some(user),
    )
    .await?;
    let (_, sample) = load::one(
        &atlas.addr,
        &digest,
        Method::GET,
        &format!("/api/atlas/v2/groups/{project}"),
        JSON_2023,
        None,
    )
    .await?;
    let body_size = sample.len();
    let floor = target::floor(body_size)?;
    let prism = if options.prism {
        match target::prism(
            &root.join("target/bench-node"),
            &root.join("../shared/reference/atlas-admin-api-v2.openapi.yaml"),
        ) {
            Ok(p) => Some(p),
            Err(why) => {
                eprintln!("Prism skipped: {why}");
                None
            }
        }
    } else {
        None
    };

    let scenarios = scenarios(&project, &list_project);
    let mut rows = Vec::new();
    for scenario in scenarios.iter().filter(|s| {
        options
            .only
            .as_ref()
            .is_none_or(|o| s.name.contains(o.as_str()))
    }) {
        for &connections in &options.connections {
            for &generator in &options.generators {
                let auth = if scenario.bearer { &bearer } else { &digest };
                let d = options.duration;
                rows.push(measure(&atlas, scenario, connections, auth, d, generator).await?);
                rows.push(measure(&floor, scenario, connections, &Auth::None, d, generator).await?);
                if let Some(prism) = &prism {
                    let auth = Auth::Bearer("bench".into());
                    match measure(prism, scenario, connections, &auth, d, generator).await {
                        Ok(row) => rows.push(row),
                        Err(e) => eprintln!("prism {}: {e}", scenario.name),
                    }
                }
                eprintln!(
                    "done: {} x{connections} ({})",
                    scenario.name,
                    generator.name()
                );
            }
        }
    }
    let wanted = !options.no_scaling && options.only.as_ref().is_none_or(|o| o == "scaling");
    let scaling = if wanted {
        scaling(&atlas, &digest, &org, &options).await?
    } else {
        Vec::new()
    };
    let report = report(&options, &atlas, &floor, prism.as_ref(), &rows, &scaling);
    println!("{report}");
    if let Some(out) = &options.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// The id of a project by name (setup).
async fn project_id(atlas: &Target, auth: &Auth, name: &str) -> anyhow::Result<String> {
    let body = once(
        &atlas.addr,
        auth,
        Method::GET,
        &format!("/api/atlas/v2/groups/byName/{name}"),
        JSON_2023,
        None,
    )
    .await?;
    body["id"].as_str().map(str::to_owned).context("project id")
}

struct ScalePoint {
    resources: usize,
    p50_us: u64,
    p99_us: u64,
    rss_kib: u64,
}

/// List latency and memory as one project's access list grows (500 entries per bulk POST).
async fn scaling(
    atlas: &Target,
    auth: &Auth,
    org: &str,
    options: &Options,
) -> anyhow::Result<Vec<ScalePoint>> {
    once(
        &atlas.addr,
        auth,
        Method::POST,
        "/api/atlas/v2/groups",
        JSON_2023,
        Some(json!({"name": "bench-scale", "orgId": org})),
    )
    .await?;
    let project = project_id(atlas, auth, "bench-scale").await?;
    let uri = format!("/api/atlas/v2/groups/{project}/accessList");
    let mut stored = 0usize;
    let mut points = Vec::new();
    for &target_count in &options.scaling {
        while stored < target_count {
            let batch = (target_count - stored).min(500);
            let entries: Vec<Value> = (stored..stored + batch)
                .map(|i| json!({"ipAddress": format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)}))
                .collect();
            once(
                &atlas.addr,
                auth,
                Method::POST,
                &uri,
                JSON_2023,
                Some(Value::Array(entries)),
            )
            .await?;
            stored += batch;
        }
        let list = format!("{uri}?itemsPerPage=500");
        let make: MakeRequest = Arc::new(move |_, _, _| (Method::GET, list.clone(), None));
        let stats = load::run(
            &atlas.addr,
            1,
            options.duration / 2,
            auth.clone(),
            JSON_2023,
            make,
        )
        .await?;
        points.push(ScalePoint {
            resources: stored,
            p50_us: stats.p50_us,
            p99_us: stats.p99_us,
            rss_kib: atlas.memory().1,
        });
    }
    Ok(points)
}

fn ratio(a: f64, b: f64) -> String {
    if b <= 0.0 {
        "–".into()
    } else {
        format!("{:.2}", a / b)
    }
}

fn report(
    options: &Options,
    atlas: &Target,
    floor: &Target,
    prism: Option<&Target>,
    rows: &[Row],
    scaling: &[ScalePoint],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | gen | conns | target | ops/s | p50 ms | p99 ms | max ms | CPU µs/req | errors | vs floor | vs Prism |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let find = |name: &str| {
            rows.iter().find(|r| {
                r.scenario == row.scenario
                    && r.generator == row.generator
                    && r.connections == row.connections
                    && r.target == name
            })
        };
        let ops = row.stats.throughput() / row.per_op as f64;
        let vs = |name: &str| {
            find(name).map_or("–".to_owned(), |other| {
                ratio(ops, other.stats.throughput() / other.per_op as f64)
            })
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} | {} | {} | {} |",
            row.scenario,
            row.generator.name(),
            row.connections,
            row.target,
            ops,
            row.stats.p50_us as f64 / 1000.0,
            row.stats.p99_us as f64 / 1000.0,
            row.stats.max_us as f64 / 1000.0,
            row.cpu_us_per_request,
            if row.stats.errors == 0 {
                "0".to_owned()
            } else {
                format!("{:?}", row.stats.error_statuses)
            },
            if row.target == "floor" {
                "1.00".into()
            } else {
                vs("floor")
            },
            if row.target == "prism" {
                "1.00".into()
            } else {
                vs("prism")
            },
        );
    }
    let _ = writeln!(
        out,
        "\n| server | start-up to first answer | peak RSS (MiB) |"
    );
    let _ = writeln!(out, "|---|---|---|");
    for t in [Some(atlas), Some(floor), prism].into_iter().flatten() {
        let _ = writeln!(
            out,
            "| {} | {:.1} ms | {:.1} |",
            t.name,
            t.startup.as_secs_f64() * 1000.0,
            t.memory().0 as f64 / 1024.0
        );
    }
    let _ = writeln!(
        out,
        "\n| access-list entries in one project | list 500 p50 ms | p99 ms | RSS MiB |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for p in scaling {
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.2} | {:.1} |",
            p.resources,
            p.p50_us as f64 / 1000.0,
            p.p99_us as f64 / 1000.0,
            p.rss_kib as f64 / 1024.0
        );
    }
    let _ = writeln!(
        out,
        "\n{} s per measurement; connection counts {:?}.",
        options.duration.as_secs_f64(),
        options.connections
    );
    out
}
