//! `localatlas parity FILE.jsonl`: replays a recording of real Atlas traffic (`localatlas
//! record`'s, or the conformance corpus) against localatlas and reports, per exchange and per
//! operation, whether the status, the media type, the JSON shape and the errorCode agree.
//!
//! Without `--url` the server is a fresh localatlas inside this process, started the way
//! `serve` starts one (memory store, instant lifecycle, an ephemeral loopback port), and the
//! replay authenticates with the API key its bootstrap mints. With `--url` (or `--bootstrap`)
//! it is a running server.
//!
//! This module wires the command; the parts are: [`corpus`] reads the recording, [`ids`] learns
//! and substitutes ids, [`client`] sends requests with Digest, [`replay`] decides what is sent
//! or skipped, [`score`] compares answers, [`report`] prints and writes the figures.

mod client;
mod corpus;
mod ids;
mod json;
mod replay;
mod report;
mod score;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use client::{Auth, Client};
use replay::{Options, Replayer};
use report::Floors;

#[derive(clap::Args)]
pub struct Args {
    /// The recording: one exchange per line (`localatlas record --out`, or the conformance
    /// corpus).
    #[arg(value_name = "FILE.jsonl")]
    file: PathBuf,
    /// Replay against this running localatlas (`http(s)://host:port`) instead of a fresh one
    /// started in this process.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The running server's bootstrap file (`serve --bootstrap-out`): its API key, organization
    /// and project, and its URL unless `--url` is given.
    #[arg(long, value_name = "FILE")]
    bootstrap: Option<PathBuf>,
    /// Credentials for `--url`: `digest PUBLIC_KEY:PRIVATE_KEY`, `bearer TOKEN` or `none`
    /// (default: the bootstrap file's API key, else none).
    #[arg(long, value_name = "SPEC")]
    auth: Option<String>,
    /// CA certificates (PEM) to trust for an https `--url` (`serve --tls-ca-out`) instead of the
    /// system's roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Write the JSON report (every exchange with what differed) to FILE.
    #[arg(long, visible_alias = "report", value_name = "FILE")]
    json: Option<PathBuf>,
    /// Fail (exit status 1) when the status match rate is below this.
    #[arg(long, value_name = "RATE")]
    min_status: Option<f64>,
    /// Fail when the mean shape similarity is below this.
    #[arg(long, value_name = "RATE")]
    min_shape: Option<f64>,
    /// Fail when the errorCode match rate is below this.
    #[arg(long, value_name = "RATE")]
    min_error_code: Option<f64>,
    /// Fail when more than this fraction of all exchanges is skipped for a missing prerequisite.
    #[arg(long, value_name = "FRACTION")]
    max_lost: Option<f64>,
    /// Floors from a JSON file (`status_match_rate`, `mean_shape_similarity`,
    /// `error_code_match_rate`, `max_lost_to_prerequisites`); the flags above override it.
    #[arg(long, value_name = "FILE")]
    floors: Option<PathBuf>,
    /// Only sequences whose name contains this (repeatable).
    #[arg(long, value_name = "TEXT")]
    sequence: Vec<String>,
    /// Only sequences of this source (`atlas-cli`, `terraform`, `localatlas-record`).
    #[arg(long, value_name = "SOURCE")]
    source: Option<String>,
    /// The organization that stands for recorded ones the sequences did not create (default:
    /// the bootstrap's, or the first the server lists).
    #[arg(long, value_name = "ID")]
    org_id: Option<String>,
    /// The project that stands for recorded ones the sequences did not create.
    #[arg(long, value_name = "ID")]
    project_id: Option<String>,
    /// Do not ask a running server (`GET /orgs`, `GET /groups`) for its organization and project.
    #[arg(long)]
    no_discover: bool,
    /// A recorded value and the server's to use for it (repeatable).
    #[arg(long = "map", value_name = "RECORDED=SERVER")]
    map: Vec<String>,
    /// Send the corpus's answer-projected body for writes whose body was not recorded.
    #[arg(long)]
    derived_bodies: bool,
    /// Also send exchanges outside the v2 spec.
    #[arg(long)]
    include_non_spec: bool,
    /// Also send exchanges whose path ids nothing earlier in the sequence produced.
    #[arg(long)]
    include_external: bool,
    /// Also skip writes whose body holds ObjectIds nothing earlier in the sequence produced.
    #[arg(long)]
    strict_external: bool,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    timeout: f64,
    /// One line per exchange on stderr.
    #[arg(short, long)]
    verbose: bool,
}

/// The bootstrap file's fields the replay uses.
#[derive(Default)]
struct Bootstrap {
    base_url: Option<String>,
    org_id: Option<String>,
    project_id: Option<String>,
    auth: Option<Auth>,
}

impl Bootstrap {
    fn from_json(v: &Value) -> Bootstrap {
        let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
        Bootstrap {
            base_url: text("/baseUrl"),
            org_id: text("/orgId"),
            project_id: text("/projectId"),
            auth: text("/apiKey/publicKey")
                .zip(text("/apiKey/privateKey"))
                .map(|(user, key)| Auth::Digest { user, key }),
        }
    }

    fn read(path: &Path) -> anyhow::Result<Bootstrap> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a bootstrap file", path.display()))?;
        Ok(Bootstrap::from_json(&v))
    }
}

/// Runs the command; `Ok(false)` when a figure is below its floor.
pub fn run(args: Args) -> anyhow::Result<bool> {
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        bail!("--timeout must be a positive number of seconds");
    }
    let mut floors = match &args.floors {
        Some(path) => Floors::read(path)?,
        None => Floors::default(),
    };
    floors.status = args.min_status.or(floors.status);
    floors.shape = args.min_shape.or(floors.shape);
    floors.error_code = args.min_error_code.or(floors.error_code);
    floors.max_lost = args.max_lost.or(floors.max_lost);
    let map = args
        .map
        .iter()
        .map(|m| {
            m.split_once('=')
                .map(|(r, s)| (r.to_owned(), s.to_owned()))
                .with_context(|| format!("--map takes RECORDED=SERVER, not {m}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    let sequences: Vec<(String, Vec<corpus::Record>)> =
        corpus::sequences(corpus::read(&args.file)?)
            .into_iter()
            .filter(|(name, records)| {
                (args.sequence.is_empty()
                    || args.sequence.iter().any(|s| name.contains(s.as_str())))
                    && args
                        .source
                        .as_ref()
                        .is_none_or(|s| records.first().is_some_and(|r| &r.source == s))
            })
            .collect();
    let names: Vec<String> = sequences.iter().map(|(n, _)| n.clone()).collect();

    // A running server, or a fresh one here: made before the runtime, as `serve` makes it.
    let boot_file = args.bootstrap.as_deref().map(Bootstrap::read).transpose()?;
    let running = args.url.is_some() || boot_file.is_some();
    if !running && (args.auth.is_some() || args.ca.is_some()) {
        bail!("--auth and --ca are for a running server: give its --url or --bootstrap file");
    }
    let fresh = if !running {
        Some(crate::prepare(crate::in_process_args()?)?)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let (server, boot) = match fresh {
            Some(prepared) => {
                let server = prepared.bind().await?.spawn();
                let boot = Bootstrap::from_json(&server.bootstrap);
                (Some(server), boot)
            }
            None => (None, boot_file.unwrap_or_default()),
        };
        let base_url = args
            .url
            .clone()
            .or_else(|| boot.base_url.clone())
            .context("the bootstrap file has no baseUrl: pass --url")?;
        let auth = match &args.auth {
            Some(spec) => Auth::parse(spec)?,
            None => boot.auth.clone().unwrap_or(Auth::None),
        };
        let mut client = Client::new(
            &base_url,
            auth,
            args.ca.as_deref(),
            Duration::from_secs_f64(args.timeout),
        )?;
        let mut org_id = args.org_id.clone().or(boot.org_id.clone());
        let mut project_id = args.project_id.clone().or(boot.project_id.clone());
        let mut discovered = serde_json::Map::new();
        if !args.no_discover && (org_id.is_none() || project_id.is_none()) {
            let (org, project) = replay::discover(&mut client).await;
            if org_id.is_none()
                && let Some(org) = org
            {
                discovered.insert("org_id".into(), json!(org));
                org_id = Some(org);
            }
            if project_id.is_none()
                && let Some(project) = project
            {
                discovered.insert("project_id".into(), json!(project));
                project_id = Some(project);
            }
        }
        let total: usize = sequences.iter().map(|(_, r)| r.len()).sum();
        match &server {
            Some(_) => println!(
                "replaying {total} exchanges in {} sequences against a fresh localatlas at {} \
                 (memory store, instant lifecycle)",
                sequences.len(),
                client.base_url()
            ),
            None => println!(
                "replaying {total} exchanges in {} sequences against {}",
                sequences.len(),
                client.base_url()
            ),
        }
        println!(
            "bootstrap org {}, project {}",
            org_id.as_deref().unwrap_or("(as recorded)"),
            project_id.as_deref().unwrap_or("(as recorded)")
        );
        let options = Options {
            org_id: org_id.clone(),
            project_id: project_id.clone(),
            map,
            derived_bodies: args.derived_bodies,
            include_non_spec: args.include_non_spec,
            include_external: args.include_external,
            strict_external: args.strict_external,
            verbose: args.verbose,
        };
        let mut replayer = Replayer::new(client, options);
        for (name, records) in &sequences {
            if args.verbose {
                eprintln!("== {name}");
            }
            replayer.run_sequence(records).await;
        }
        let requests_sent = replayer.requests_sent();
        let (client, results) = replayer.into_parts();
        let base_url = client.base_url();
        drop(client);
        if let Some(server) = server {
            server.stop().await;
        }

        let (overall, ops) = report::summarize(&results);
        let mut stdout = std::io::stdout().lock();
        report::print_table(&overall, &ops, &mut stdout)?;
        let checks = floors.check(&overall);
        let passed = checks.iter().all(|c| c.passed);
        if !checks.is_empty() {
            writeln!(stdout, "\nfigures against their floors:")?;
            for check in &checks {
                writeln!(stdout, "{}", check.line())?;
            }
            let failed = checks.iter().filter(|c| !c.passed).count();
            writeln!(stdout, "{} passed, {failed} failed", checks.len() - failed)?;
        }
        if let Some(path) = &args.json {
            let gate = json!({
                "lost_to_prerequisites": overall.lost_to_prerequisites(),
                "passed": passed,
                "checks": checks.iter().map(report::Check::to_json).collect::<Vec<_>>(),
            });
            let ctx = report::RunInfo {
                base_url: &base_url,
                corpus: &args.file,
                sequences: &names,
                options: options_json(&args),
                org_id: org_id.as_deref(),
                project_id: project_id.as_deref(),
                discovered: Value::Object(discovered),
                requests_sent,
                gate,
            };
            report::write_report(path, &ctx, &overall, &ops, &results)?;
            writeln!(stdout, "report: {}", path.display())?;
        }
        stdout.flush()?;
        Ok(passed)
    })
}

/// The options of the run, for the report (never the credentials).
fn options_json(args: &Args) -> Value {
    json!({
        "url": args.url,
        "bootstrap": args.bootstrap.as_ref().map(|p| p.display().to_string()),
        "sequence": args.sequence,
        "source": args.source,
        "org_id": args.org_id,
        "project_id": args.project_id,
        "no_discover": args.no_discover,
        "map": args.map,
        "derived_bodies": args.derived_bodies,
        "include_non_spec": args.include_non_spec,
        "include_external": args.include_external,
        "strict_external": args.strict_external,
        "timeout": args.timeout,
    })
}
