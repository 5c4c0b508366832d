//! What the server saw, for the people running it: per operation, the answers it gave (the
//! coverage report: what a test run touched, how often, how often it failed, and what it never
//! touched), and a bounded ring of the most recent requests with status and latency (the
//! console). Both live in memory for the life of the process; the control API reads them.
//!
//! An HTTP Digest client sends each call twice when it has no nonce yet: once without
//! credentials, answered 401 with a challenge, then again with them. The recent requests fold
//! such a challenge leg into the retry that answered it (same client, method and path, within
//! [`FOLD_WINDOW`]), which then counts the challenges it took; a challenge nobody answered stays
//! a row of its own, marked as one.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use atlas_api::engine::Registry;
use atlas_model::{OPERATIONS, Operation};
use serde_json::{Value, json};

/// How many recent requests the ring keeps.
pub const RECENT: usize = 500;

/// Longest time between a Digest challenge and the retry it is folded into (clients answer
/// within milliseconds; a later request with the same path is another call).
pub const FOLD_WINDOW: time::Duration = time::Duration::seconds(10);

/// A response extension the pipeline sets once a request reached its operation (routed and
/// admitted): which operation, for whom. Requests that never got that far (a Digest challenge,
/// an unknown path) touch no operation.
#[derive(Clone, Debug)]
pub struct Touched {
    pub op: &'static Operation,
    pub principal: String,
}

/// A response extension for requests a fault rule fired on: which rule, the latency it adds
/// before the answer leaves, and whether the connection is dropped instead.
#[derive(Clone, Copy, Debug)]
pub struct Injected {
    pub rule: u64,
    pub latency: Option<Duration>,
    pub dropped: bool,
}

/// One finished request, as the pipeline reports it.
#[derive(Debug)]
pub struct Exchange<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The connection's peer, which pairs a Digest challenge with its retry.
    pub client: Option<IpAddr>,
    /// 0 for a connection dropped without an answer.
    pub status: u16,
    pub latency: Duration,
    pub touched: Option<&'a Touched>,
    pub injected: Option<Injected>,
    /// The request carried `Authorization: Digest …`.
    pub digest_sent: bool,
    /// The answer was a Digest challenge (401 with `WWW-Authenticate: Digest …`).
    pub challenged: bool,
}

/// One request in the ring.
#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    /// Formatted only when read: recording stays cheap on the request path.
    at: time::OffsetDateTime,
    method: String,
    path: String,
    client: Option<IpAddr>,
    status: u16,
    latency: Duration,
    op: Option<&'static str>,
    principal: Option<String>,
    injected: Option<Injected>,
    digest_sent: bool,
    challenged: bool,
}

/// The counters and the ring.
pub struct Observe {
    /// Answers per status, per operation (indexed by `OperationId`).
    statuses: Vec<Mutex<BTreeMap<u16, u64>>>,
    ring: Mutex<VecDeque<Entry>>,
    seq: AtomicU64,
}

impl Default for Observe {
    fn default() -> Self {
        Observe {
            statuses: OPERATIONS.iter().map(|_| Mutex::default()).collect(),
            ring: Mutex::new(VecDeque::with_capacity(RECENT)),
            seq: AtomicU64::new(0),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters stay meaningful even if a holder panicked.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Observe {
    /// Records one finished request.
    pub fn record(&self, exchange: Exchange<'_>) {
        if let Some(t) = exchange.touched {
            *lock(&self.statuses[t.op.id as usize])
                .entry(exchange.status)
                .or_insert(0) += 1;
        }
        let entry = Entry {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            at: time::OffsetDateTime::now_utc(),
            method: exchange.method.to_owned(),
            path: exchange.path.to_owned(),
            client: exchange.client,
            status: exchange.status,
            latency: exchange.latency,
            op: exchange.touched.map(|t| t.op.name),
            principal: exchange
                .touched
                .map(|t| t.principal.clone())
                .filter(|p| !p.is_empty()),
            injected: exchange.injected,
            digest_sent: exchange.digest_sent,
            challenged: exchange.challenged,
        };
        let mut ring = lock(&self.ring);
        if ring.len() == RECENT {
            ring.pop_front();
        }
        ring.push_back(entry);
    }

    /// The recent requests, newest first, Digest challenge legs folded into their retries
    /// (`digestChallenges`: how many a row took; `challenge`: a row that is an unanswered one).
    pub fn recent(&self) -> Value {
        let ring = lock(&self.ring);
        let (hidden, challenges) = fold_challenges(&ring);
        let requests: Vec<Value> = ring
            .iter()
            .enumerate()
            .rev()
            .filter(|(i, _)| !hidden.contains(i))
            .map(|(i, e)| {
                let mut row = json!({
                    "seq": e.seq,
                    "at": atlas_api::kernel::clock::atlas_timestamp(e.at),
                    "method": e.method,
                    "path": e.path,
                    // A dropped connection got no status at all.
                    "status": if e.status == 0 { Value::Null } else { json!(e.status) },
                    "latencyMs": (e.latency.as_secs_f64() * 10_000.0).round() / 10.0,
                    "operationId": e.op,
                    "principal": e.principal,
                    "faultRule": e.injected.map(|i| i.rule),
                });
                if let Some(n) = challenges.get(&i) {
                    row["digestChallenges"] = json!(n);
                }
                if e.challenged {
                    row["challenge"] = json!(true);
                }
                row
            })
            .collect();
        json!({"requests": requests, "capacity": RECENT})
    }

    /// The coverage report: per operation who serves it, how many calls reached it and how they
    /// were answered; a summary with what was touched and what was not.
    pub fn coverage(&self, behaviours: &Registry) -> Value {
        let mut touched = 0;
        let (mut total_calls, mut total_errors) = (0u64, 0u64);
        let mut by_behaviour = 0;
        let operations: Vec<Value> = OPERATIONS
            .iter()
            .map(|op| {
                let statuses = lock(&self.statuses[op.id as usize]).clone();
                let calls: u64 = statuses.values().sum();
                let client: u64 = statuses.range(400..500).map(|(_, n)| n).sum();
                // No answer at all (a dropped connection, status 0) fails like a 5xx.
                let server: u64 = statuses
                    .iter()
                    .filter(|(s, _)| **s == 0 || **s >= 500)
                    .map(|(_, n)| n)
                    .sum();
                let served_by = behaviours.served_by(op.id);
                touched += usize::from(calls > 0);
                by_behaviour += usize::from(served_by.is_some());
                total_calls += calls;
                total_errors += client + server;
                json!({
                    "operationId": op.name,
                    "method": op.method.as_str(),
                    "path": op.path,
                    "servedBy": if served_by.is_some() { "behaviour" } else { "generic" },
                    "behaviour": served_by,
                    "calls": calls,
                    "clientErrors": client,
                    "serverErrors": server,
                    "errorRate": rate(client + server, calls),
                    "statuses": statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                })
            })
            .collect();
        json!({
            "operations": operations,
            "summary": {
                "total": OPERATIONS.len(),
                "behaviour": by_behaviour,
                "generic": OPERATIONS.len() - by_behaviour,
                "touched": touched,
                "untouched": OPERATIONS.len() - touched,
                "calls": total_calls,
                "errors": total_errors,
                "errorRate": rate(total_errors, total_calls),
            },
        })
    }
}

/// Which entries (by ring index) are challenge legs folded into a later retry, and how many
/// challenges each retry absorbed (a retry challenged again — a stale nonce, a wrong key — passes
/// its own and its predecessors' on to the next retry).
fn fold_challenges(ring: &VecDeque<Entry>) -> (HashSet<usize>, HashMap<usize, u32>) {
    let mut hidden = HashSet::new();
    let mut absorbed: HashMap<usize, u32> = HashMap::new();
    let mut pending: HashMap<(Option<IpAddr>, &str, &str), usize> = HashMap::new();
    for (i, e) in ring.iter().enumerate() {
        let key = (e.client, e.method.as_str(), e.path.as_str());
        if e.digest_sent
            && let Some(j) = pending.remove(&key)
            && e.at - ring[j].at <= FOLD_WINDOW
        {
            hidden.insert(j);
            let before = absorbed.remove(&j).unwrap_or(0);
            absorbed.insert(i, before + 1);
        }
        if e.challenged {
            pending.insert(key, i);
        }
    }
    (hidden, absorbed)
}

/// `part / whole` rounded to four places; 0 when nothing was called.
fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str) -> &'static Operation {
        OPERATIONS.iter().find(|o| o.name == name).unwrap()
    }

    fn exchange<'a>(
        method: &'a str,
        path: &'a str,
        status: u16,
        touched: Option<&'a Touched>,
    ) -> Exchange<'a> {
        Exchange {
            method,
            path,
            client: None,
            status,
            latency: Duration::from_millis(1),
            touched,
            injected: None,
            digest_sent: false,
            challenged: false,
        }
    }

    #[test]
    fn digest_challenges_fold_into_the_retry_that_answered_them() {
        let o = Observe::default();
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let leg = |path: &'static str, client, digest_sent, challenged, status| Exchange {
            client: Some(client),
            digest_sent,
            challenged,
            ..exchange("GET", path, status, None)
        };
        // curl --digest: a challenge, then the retry with credentials.
        o.record(leg("/a", client, false, true, 401));
        o.record(leg("/a", client, true, false, 200));
        // A challenge, a retry refused with a fresh challenge (stale nonce), a second retry.
        o.record(leg("/b", client, false, true, 401));
        o.record(leg("/b", client, true, true, 401));
        o.record(leg("/b", client, true, false, 200));
        // Another client's challenge is not this client's; an unanswered one stays.
        o.record(leg("/c", other, false, true, 401));
        o.record(leg("/c", client, true, false, 200));
        let recent = o.recent();
        let rows: Vec<(String, Value, Value, Value)> = recent["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["path"].as_str().unwrap().to_owned(),
                    r["status"].clone(),
                    r["digestChallenges"].clone(),
                    r["challenge"].clone(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("/c".into(), json!(200), Value::Null, Value::Null),
                ("/c".into(), json!(401), Value::Null, json!(true)),
                ("/b".into(), json!(200), json!(2), Value::Null),
                ("/a".into(), json!(200), json!(1), Value::Null),
            ]
        );
    }

    #[test]
    fn the_ring_is_bounded_and_newest_first() {
        let o = Observe::default();
        for i in 0..(RECENT + 10) {
            o.record(exchange("GET", &format!("/p/{i}"), 200, None));
        }
        let recent = o.recent();
        let list = recent["requests"].as_array().unwrap();
        assert_eq!(list.len(), RECENT);
        assert_eq!(list[0]["path"], format!("/p/{}", RECENT + 9));
        assert_eq!(list[RECENT - 1]["path"], "/p/10");
    }

    #[test]
    fn coverage_counts_statuses_and_error_rates_per_operation() {
        let o = Observe::default();
        let t = Touched {
            op: op("createGroupCluster"),
            principal: "k".into(),
        };
        for status in [503, 503, 201, 400] {
            o.record(exchange("POST", "/x", status, Some(&t)));
        }
        let report = o.coverage(&atlas_api::families::standard());
        let entry = report["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["operationId"] == "createGroupCluster")
            .unwrap()
            .clone();
        assert_eq!(entry["calls"], 4);
        assert_eq!(entry["serverErrors"], 2);
        assert_eq!(entry["clientErrors"], 1);
        assert_eq!(entry["errorRate"], 0.75);
        assert_eq!(entry["statuses"], json!({"201": 1, "400": 1, "503": 2}));
        assert_eq!(report["summary"]["touched"], 1);
        assert_eq!(report["summary"]["untouched"], OPERATIONS.len() - 1);
    }
}
