//! Prometheus metrics of one server process, served at `/__localatlas/metrics` in the text
//! exposition format (written by hand: three families do not justify a metrics framework):
//!
//! - `localatlas_http_requests_total{operation, status}`: answers by Atlas `operationId` (or
//!   `__control`, `__oauth`, `__private`, `__unrouted`) and HTTP status;
//! - `localatlas_http_request_duration_seconds`: a latency histogram of every answer;
//! - `localatlas_store_errors_total{kind}`: store failures that reached the API
//!   (`unavailable`: the database could not be reached or gave up; `corrupt`; `duplicate`
//!   that no behaviour expected);
//! - `localatlas_uptime_seconds`.
//!
//! Counters are per process: with several instances, Prometheus sums them across targets.

use rustc_hash::FxHashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The operation label of an answer, set by the pipeline as a response extension.
#[derive(Debug, Clone, Copy)]
pub struct OperationLabel(pub &'static str);

pub struct Metrics {
    started: Instant,
    requests: Mutex<FxHashMap<(&'static str, u16), u64>>,
    /// Cumulative counts per bucket of `BUCKETS`, then `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            requests: Mutex::new(FxHashMap::default()),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one answer.
    pub fn record(&self, operation: &'static str, status: u16, took: Duration) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((operation, status))
            .or_default() += 1;
        let seconds = took.as_secs_f64();
        let at = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[at].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The exposition text.
    pub fn render(&self, store_errors: &[(&'static str, u64)]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP localatlas_http_requests_total Answers by operation and HTTP status.\n\
             # TYPE localatlas_http_requests_total counter\n",
        );
        let mut requests: Vec<_> = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        requests.sort_unstable();
        for ((operation, status), count) in requests {
            let _ = writeln!(
                out,
                "localatlas_http_requests_total{{operation=\"{operation}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP localatlas_http_request_duration_seconds Time from request to answer.\n\
             # TYPE localatlas_http_request_duration_seconds histogram\n",
        );
        let mut cumulative = 0;
        for (i, counter) in self.buckets.iter().enumerate() {
            cumulative += counter.load(Ordering::Relaxed);
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(
                out,
                "localatlas_http_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "localatlas_http_request_duration_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "localatlas_http_request_duration_seconds_count {cumulative}"
        );
        out.push_str(
            "# HELP localatlas_store_errors_total Store failures that reached the API.\n\
             # TYPE localatlas_store_errors_total counter\n",
        );
        for (kind, count) in store_errors {
            let _ = writeln!(
                out,
                "localatlas_store_errors_total{{kind=\"{kind}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP localatlas_uptime_seconds Seconds since the server started.\n\
             # TYPE localatlas_uptime_seconds gauge\nlocalatlas_uptime_seconds {}",
            self.started.elapsed().as_secs()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_are_cumulative() {
        let m = Metrics::default();
        m.record("listGroups", 200, Duration::from_micros(300));
        m.record("listGroups", 200, Duration::from_millis(3));
        m.record("createGroup", 409, Duration::from_secs(9));
        let text = m.render(&[("unavailable", 2)]);
        assert!(
            text.contains(
                "localatlas_http_requests_total{operation=\"listGroups\",status=\"200\"} 2"
            )
        );
        assert!(text.contains(
            "localatlas_http_requests_total{operation=\"createGroup\",status=\"409\"} 1"
        ));
        assert!(text.contains("localatlas_http_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("localatlas_http_request_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("localatlas_http_request_duration_seconds_bucket{le=\"5\"} 2"));
        assert!(text.contains("localatlas_http_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("localatlas_http_request_duration_seconds_count 3"));
        assert!(text.contains("localatlas_store_errors_total{kind=\"unavailable\"} 2"));
    }
}
