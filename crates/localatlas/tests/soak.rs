//! Soak test (ignored in the normal run; bounded in time): a steady concurrent load of mixed
//! reads and writes against the built binary on a SQLite file, then the figures the durability
//! issue asks for: requests, errors, memory at start and end, p99 latency at start and end.
//! It fails on any error, on memory that keeps growing, or on latency that degrades.
//!
//! ```text
//! cargo test -p localatlas --test soak -- --ignored --nocapture
//! LOCALATLAS_SOAK_SECONDS=300 LOCALATLAS_SOAK_CLIENTS=16 cargo test … (longer, wider)
//! ```

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Client, Server, rss_kib};
use serde_json::json;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `q` quantile of `samples` (microseconds), sorted in place.
fn quantile(samples: &mut [u64], q: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    samples.sort_unstable();
    let at = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[at]
}

#[test]
#[ignore = "a minute of load: run it on its own (see the module doc)"]
fn soak_mixed_reads_and_writes() {
    let seconds = setting("LOCALATLAS_SOAK_SECONDS", 60);
    let clients = setting("LOCALATLAS_SOAK_CLIENTS", 8) as usize;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("soak.db");
    let server = Server::start_with(
        store.to_str().unwrap(),
        dir.path(),
        &["--rate-limit", "off"],
        &[],
    );
    let token = server.token();
    let org = server.boot["orgId"].as_str().unwrap().to_owned();
    let group = server.boot["projectId"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    // (seconds since start, latency in µs, ok)
    let samples = Mutex::new(Vec::<(f64, u64, bool)>::new());
    let failures = Mutex::new(Vec::new());
    let mut memory = Vec::new();
    std::thread::scope(|scope| {
        for c in 0..clients {
            let (token, org, group, samples, failures) =
                (&token, &org, &group, &samples, &failures);
            let addr = server.addr.clone();
            scope.spawn(move || {
                let mut client = Client::new(&addr, token);
                let mut mine: Vec<String> = Vec::new();
                let mut local = Vec::new();
                let mut i = 0u64;
                while Instant::now() < until {
                    i += 1;
                    // 7 reads for 3 writes; this client's projects stay few (created, then
                    // deleted), so the state does not grow with time.
                    let (method, path, body, expect) = match i % 10 {
                        0 => (
                            "POST",
                            "/api/atlas/v2/groups".to_owned(),
                            Some(json!({"name": format!("soak-{c}-{i}"), "orgId": org})),
                            201,
                        ),
                        3 if !mine.is_empty() => (
                            "DELETE",
                            format!("/api/atlas/v2/groups/{}", mine.remove(0)),
                            None,
                            202,
                        ),
                        6 => (
                            "PATCH",
                            format!("/api/atlas/v2/groups/{group}/settings"),
                            Some(json!({"isDataExplorerEnabled": i % 20 == 6})),
                            200,
                        ),
                        1 | 4 => (
                            "GET",
                            "/api/atlas/v2/groups?itemsPerPage=100".to_owned(),
                            None,
                            200,
                        ),
                        2 | 5 | 8 => ("GET", format!("/api/atlas/v2/groups/{group}"), None, 200),
                        _ => (
                            "GET",
                            format!("/api/atlas/v2/groups/{group}/settings"),
                            None,
                            200,
                        ),
                    };
                    let sent = Instant::now();
                    let outcome = client.send(method, &path, body.as_ref());
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let ok = match &outcome {
                        Ok((status, body)) if *status == expect => {
                            if method == "POST" {
                                mine.push(body["id"].as_str().unwrap_or_default().to_owned());
                            }
                            true
                        }
                        other => {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{method} {path}: {other:?}"));
                            false
                        }
                    };
                    local.push((started.elapsed().as_secs_f64(), micros, ok));
                }
                samples.lock().unwrap().extend(local);
            });
        }
        // Memory: after a warm-up (allocator arenas, caches, statement caches filled), then
        // every few seconds until the end.
        std::thread::sleep(Duration::from_secs(seconds.min(50) / 10 + 1));
        while Instant::now() < until {
            memory.push(rss_kib(server.pid()));
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let samples = samples.into_inner().unwrap();
    let failures = failures.into_inner().unwrap();
    let window = seconds as f64 / 10.0;
    let mut first: Vec<u64> = samples
        .iter()
        .filter(|s| s.0 < window)
        .map(|s| s.1)
        .collect();
    let mut last: Vec<u64> = samples
        .iter()
        .filter(|s| s.0 >= seconds as f64 - window)
        .map(|s| s.1)
        .collect();
    let (p99_first, p99_last) = (quantile(&mut first, 0.99), quantile(&mut last, 0.99));
    let (p50_first, p50_last) = (quantile(&mut first, 0.5), quantile(&mut last, 0.5));
    let (mem_start, mem_end) = (
        memory.first().copied().unwrap_or(0),
        memory.last().copied().unwrap_or(0),
    );
    let mem_peak = memory.iter().copied().max().unwrap_or(0);
    let errors = samples.iter().filter(|s| !s.2).count();
    println!(
        "soak: {seconds} s, {clients} clients, {} requests ({:.0}/s), {errors} errors; \
         memory (RSS) {mem_start} KiB after warm-up, {mem_end} KiB at the end, peak {mem_peak} KiB; \
         p50 {p50_first} µs → {p50_last} µs, p99 {p99_first} µs → {p99_last} µs (first → last {window:.0} s)",
        samples.len(),
        samples.len() as f64 / seconds as f64,
    );
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
    // Flat memory: the end within 25 % (plus 16 MiB of slack) of the post-warm-up level.
    assert!(
        mem_end <= mem_start + mem_start / 4 + 16 * 1024,
        "memory grew from {mem_start} KiB to {mem_end} KiB"
    );
    // Stable latency: the last window's p99 no worse than 3× the first's (plus 5 ms of slack
    // for a shared machine).
    assert!(
        p99_last <= 3 * p99_first + 5_000,
        "p99 degraded from {p99_first} µs to {p99_last} µs"
    );
}
