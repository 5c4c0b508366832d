//! What a replay found: figures per operation and overall, the table printed on stdout, the
//! JSON report, and the floors a gate holds the figures to.
//!
//! The overall figures and the report's field names are those of the conformance corpus's own
//! replayer (`replay.py` next to the corpus), so tools read either report alike. Rates are over
//! the exchanges actually replayed; skipped ones count only in the skip reasons and, for missing
//! prerequisites, in the lost fraction a gate bounds.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use serde_json::{Map, Value, json};

use super::replay::{ExchangeResult, Outcome};

/// Counts in the order values were first met, most frequent first when listed (ties keep that
/// order).
#[derive(Default)]
struct Counter(Vec<(String, usize)>);

impl Counter {
    fn add(&mut self, key: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 += 1,
            None => self.0.push((key.to_owned(), 1)),
        }
    }

    fn most_common(&self) -> Vec<(String, usize)> {
        let mut out = self.0.clone();
        out.sort_by_key(|e| std::cmp::Reverse(e.1));
        out
    }

    fn to_json(&self) -> Value {
        Value::Object(
            self.most_common()
                .into_iter()
                .map(|(k, n)| (k, json!(n)))
                .collect(),
        )
    }
}

fn mean(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let xs: Vec<f64> = xs.flatten().collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

fn rate(xs: impl Iterator<Item = Option<bool>>) -> Option<f64> {
    let xs: Vec<bool> = xs.flatten().collect();
    (!xs.is_empty()).then(|| xs.iter().filter(|x| **x).count() as f64 / xs.len() as f64)
}

/// The figures of one operation (`METHOD template`).
pub struct OperationFigures {
    pub operation: String,
    pub recorded: usize,
    pub replayed: usize,
    pub skipped: usize,
    pub errors: usize,
    pub status_exact: Option<f64>,
    pub status_class: Option<f64>,
    pub media_match: Option<f64>,
    pub shape_similarity: Option<f64>,
    pub error_code_match: Option<f64>,
    pub score: Option<f64>,
    pub top_missing_keys: Vec<String>,
    pub top_extra_keys: Vec<String>,
}

/// The figures of the whole replay.
pub struct Overall {
    pub exchanges: usize,
    pub replayed: usize,
    pub skipped: usize,
    pub errors: usize,
    skip_reasons: Counter,
    pub operations_replayed: usize,
    pub status_match_rate: Option<f64>,
    pub status_class_rate: Option<f64>,
    pub media_match_rate: Option<f64>,
    pub mean_shape_similarity: Option<f64>,
    pub error_code_match_rate: Option<f64>,
    pub mean_score: Option<f64>,
    pub mean_operation_score: Option<f64>,
    pub sent_with_external_body_ids: usize,
    request_body_origins: Counter,
}

impl Overall {
    /// Skip reasons without their particulars (`external prerequisite`, …), most frequent first.
    pub fn skip_reasons(&self) -> Vec<(String, usize)> {
        self.skip_reasons.most_common()
    }

    /// The fraction of all exchanges skipped for a missing prerequisite.
    pub fn lost_to_prerequisites(&self) -> f64 {
        let lost: usize = self
            .skip_reasons
            .0
            .iter()
            .filter(|(reason, _)| reason.starts_with("prerequisite"))
            .map(|(_, n)| n)
            .sum();
        if self.exchanges == 0 {
            0.0
        } else {
            lost as f64 / self.exchanges as f64
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "exchanges": self.exchanges,
            "replayed": self.replayed,
            "skipped": self.skipped,
            "errors": self.errors,
            "skip_reasons": self.skip_reasons.to_json(),
            "operations_replayed": self.operations_replayed,
            "status_match_rate": self.status_match_rate,
            "status_class_rate": self.status_class_rate,
            "media_match_rate": self.media_match_rate,
            "mean_shape_similarity": self.mean_shape_similarity,
            "error_code_match_rate": self.error_code_match_rate,
            "mean_score": self.mean_score,
            "mean_operation_score": self.mean_operation_score,
            "sent_with_external_body_ids": self.sent_with_external_body_ids,
            "request_body_origins": self.request_body_origins.to_json(),
        })
    }
}

impl OperationFigures {
    fn to_json(&self) -> Value {
        json!({
            "operation": self.operation,
            "recorded": self.recorded,
            "replayed": self.replayed,
            "skipped": self.skipped,
            "errors": self.errors,
            "status_exact": self.status_exact,
            "status_class": self.status_class,
            "media_match": self.media_match,
            "shape_similarity": self.shape_similarity,
            "error_code_match": self.error_code_match,
            "score": self.score,
            "top_missing_keys": self.top_missing_keys,
            "top_extra_keys": self.top_extra_keys,
        })
    }
}

/// Figures overall and per operation (operations in name order).
pub fn summarize(results: &[ExchangeResult]) -> (Overall, Vec<OperationFigures>) {
    let mut sorted: Vec<&ExchangeResult> = results.iter().collect();
    sorted.sort_by(|a, b| a.operation.cmp(&b.operation));
    let mut ops = Vec::new();
    for group in sorted.chunk_by(|a, b| a.operation == b.operation) {
        let rep: Vec<&ExchangeResult> = group
            .iter()
            .copied()
            .filter(|r| r.outcome == Outcome::Replayed)
            .collect();
        let scores = || rep.iter().filter_map(|r| r.score.as_ref());
        let (mut missing, mut extra) = (Counter::default(), Counter::default());
        for s in scores().filter_map(|s| s.shape.as_ref()) {
            s.missing.iter().for_each(|k| missing.add(k));
            s.extra.iter().for_each(|k| extra.add(k));
        }
        let top = |c: &Counter| {
            c.most_common()
                .into_iter()
                .take(8)
                .map(|(k, _)| k)
                .collect()
        };
        ops.push(OperationFigures {
            operation: group[0].operation.clone(),
            recorded: group.len(),
            replayed: rep.len(),
            skipped: group
                .iter()
                .filter(|r| r.outcome == Outcome::Skipped)
                .count(),
            errors: group.iter().filter(|r| r.outcome == Outcome::Error).count(),
            status_exact: rate(scores().map(|s| Some(s.status_exact))),
            status_class: rate(scores().map(|s| Some(s.status_class))),
            media_match: rate(scores().map(|s| s.media_match)),
            shape_similarity: mean(scores().map(|s| s.shape.as_ref().map(|c| c.similarity))),
            error_code_match: rate(scores().map(|s| s.error_code_match)),
            score: mean(scores().map(|s| Some(s.score))),
            top_missing_keys: top(&missing),
            top_extra_keys: top(&extra),
        });
    }
    let rep: Vec<&ExchangeResult> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Replayed)
        .collect();
    let scores = || rep.iter().filter_map(|r| r.score.as_ref());
    let mut skip_reasons = Counter::default();
    for r in results.iter().filter(|r| r.outcome == Outcome::Skipped) {
        let reason = r.skip_reason.as_deref().unwrap_or_default();
        // The kind of reason, without its particulars in parentheses.
        let kind = reason.find(" (").map_or(reason, |at| &reason[..at]);
        skip_reasons.add(kind);
    }
    let mut request_body_origins = Counter::default();
    for r in rep.iter().filter(|r| r.is_write()) {
        request_body_origins.add(r.request_body_origin.as_deref().unwrap_or("-"));
    }
    let overall = Overall {
        exchanges: results.len(),
        replayed: rep.len(),
        skipped: results
            .iter()
            .filter(|r| r.outcome == Outcome::Skipped)
            .count(),
        errors: results
            .iter()
            .filter(|r| r.outcome == Outcome::Error)
            .count(),
        skip_reasons,
        operations_replayed: ops.iter().filter(|o| o.replayed > 0).count(),
        status_match_rate: rate(scores().map(|s| Some(s.status_exact))),
        status_class_rate: rate(scores().map(|s| Some(s.status_class))),
        media_match_rate: rate(scores().map(|s| s.media_match)),
        mean_shape_similarity: mean(scores().map(|s| s.shape.as_ref().map(|c| c.similarity))),
        error_code_match_rate: rate(scores().map(|s| s.error_code_match)),
        mean_score: mean(scores().map(|s| Some(s.score))),
        mean_operation_score: mean(ops.iter().filter(|o| o.replayed > 0).map(|o| o.score)),
        sent_with_external_body_ids: rep
            .iter()
            .filter(|r| !r.external_body_ids.is_empty())
            .count(),
        request_body_origins,
    };
    (overall, ops)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "   -".to_owned(), |v| format!("{:3.0}%", 100.0 * v))
}

fn three(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

/// The per-operation table and the overall figures.
pub fn print_table(
    overall: &Overall,
    ops: &[OperationFigures],
    out: &mut impl Write,
) -> std::io::Result<()> {
    let w = ops
        .iter()
        .map(|o| o.operation.chars().count())
        .chain([20])
        .max()
        .unwrap_or(20)
        .min(95);
    writeln!(
        out,
        "{:<w$} {:>5} {:>5} {:>5}  {:>5} {:>5} {:>5} {:>6} {:>5} {:>6}",
        "operation", "rec", "sent", "skip", "stat", "class", "media", "shape", "errc", "score"
    )?;
    for o in ops {
        let name: String = o.operation.chars().take(w).collect();
        writeln!(
            out,
            "{name:<w$} {:>5} {:>5} {:>5}  {:>5} {:>5} {:>5} {:>6} {:>5} {:>6}",
            o.recorded,
            o.replayed,
            o.skipped,
            pct(o.status_exact),
            pct(o.status_class),
            pct(o.media_match),
            three(o.shape_similarity),
            pct(o.error_code_match),
            three(o.score)
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "exchanges {}: replayed {}, skipped {}, transport errors {}",
        overall.exchanges, overall.replayed, overall.skipped, overall.errors
    )?;
    let reasons = overall.skip_reasons();
    if !reasons.is_empty() {
        let list: Vec<String> = reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(out, "skip reasons: {}", list.join(", "))?;
    }
    writeln!(out, "operations replayed: {}", overall.operations_replayed)?;
    writeln!(
        out,
        "status match rate     {} (same class {})",
        pct(overall.status_match_rate),
        pct(overall.status_class_rate)
    )?;
    writeln!(
        out,
        "media type match rate {}",
        pct(overall.media_match_rate)
    )?;
    writeln!(
        out,
        "mean shape similarity {}",
        three(overall.mean_shape_similarity)
    )?;
    writeln!(
        out,
        "errorCode match rate  {}",
        pct(overall.error_code_match_rate)
    )?;
    writeln!(
        out,
        "overall score         {} (mean over exchanges; per-operation mean {})",
        three(overall.mean_score),
        three(overall.mean_operation_score)
    )?;
    Ok(())
}

/// What the JSON report says besides the figures: where and how the replay ran.
pub struct RunInfo<'a> {
    pub base_url: &'a str,
    pub corpus: &'a Path,
    pub sequences: &'a [String],
    pub options: Value,
    pub org_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub discovered: Value,
    pub requests_sent: u64,
    pub gate: Value,
}

/// Writes the JSON report: the figures, every operation and every exchange.
pub fn write_report(
    path: &Path,
    ctx: &RunInfo<'_>,
    overall: &Overall,
    ops: &[OperationFigures],
    results: &[ExchangeResult],
) -> anyhow::Result<()> {
    let corpus = std::path::absolute(ctx.corpus).unwrap_or_else(|_| ctx.corpus.to_owned());
    let mut report = Map::new();
    report.insert("base_url".into(), json!(ctx.base_url));
    report.insert("corpus".into(), json!(corpus.display().to_string()));
    report.insert("sequences".into(), json!(ctx.sequences));
    report.insert("options".into(), ctx.options.clone());
    report.insert(
        "bootstrap".into(),
        json!({"org_id": ctx.org_id, "project_id": ctx.project_id,
               "discovered": ctx.discovered}),
    );
    report.insert("requests_sent".into(), json!(ctx.requests_sent));
    report.insert("overall".into(), overall.to_json());
    report.insert("gate".into(), ctx.gate.clone());
    report.insert(
        "operations".into(),
        ops.iter().map(OperationFigures::to_json).collect(),
    );
    report.insert(
        "exchanges".into(),
        results.iter().map(ExchangeResult::to_json).collect(),
    );
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let text = serde_json::to_vec_pretty(&Value::Object(report))?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The lowest figures a replay must reach (and the largest lost fraction it may have).
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Floors {
    pub status: Option<f64>,
    pub shape: Option<f64>,
    pub error_code: Option<f64>,
    pub max_lost: Option<f64>,
}

impl Floors {
    /// The floors of a JSON file with the report's names: `status_match_rate`,
    /// `mean_shape_similarity`, `error_code_match_rate`, `max_lost_to_prerequisites` (other
    /// keys, such as a note on the file, are ignored).
    pub fn read(path: &Path) -> anyhow::Result<Floors> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let get = |key: &str| -> anyhow::Result<Option<f64>> {
            match v.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => x
                    .as_f64()
                    .map(Some)
                    .with_context(|| format!("{}: {key} is not a number", path.display())),
            }
        };
        Ok(Floors {
            status: get("status_match_rate")?,
            shape: get("mean_shape_similarity")?,
            error_code: get("error_code_match_rate")?,
            max_lost: get("max_lost_to_prerequisites")?,
        })
    }

    /// Each figure against its floor. A figure with nothing to measure (no replayed error
    /// with an errorCode, say) passes.
    pub fn check(&self, overall: &Overall) -> Vec<Check> {
        let mut out = Vec::new();
        let mut at_least = |figure, value: Option<f64>, floor: Option<f64>| {
            if let Some(floor) = floor {
                out.push(Check {
                    figure,
                    value,
                    bound: floor,
                    at_least: true,
                    passed: value.is_none_or(|v| v >= floor),
                });
            }
        };
        at_least("status_match_rate", overall.status_match_rate, self.status);
        at_least(
            "mean_shape_similarity",
            overall.mean_shape_similarity,
            self.shape,
        );
        at_least(
            "error_code_match_rate",
            overall.error_code_match_rate,
            self.error_code,
        );
        if let Some(max) = self.max_lost {
            let lost = overall.lost_to_prerequisites();
            out.push(Check {
                figure: "lost_to_prerequisites",
                value: Some(lost),
                bound: max,
                at_least: false,
                passed: lost <= max,
            });
        }
        out
    }
}

/// One figure against its floor (or, for the lost fraction, its ceiling).
pub struct Check {
    pub figure: &'static str,
    pub value: Option<f64>,
    pub bound: f64,
    /// The figure must be at least the bound (else at most).
    pub at_least: bool,
    pub passed: bool,
}

impl Check {
    pub fn to_json(&self) -> Value {
        let side = if self.at_least { "min" } else { "max" };
        json!({"figure": self.figure, "value": self.value, (side): self.bound,
               "passed": self.passed})
    }

    /// `  status_match_rate        0.979  (floor >= 0.978)  ok`
    pub fn line(&self) -> String {
        format!(
            "  {:<24} {}  (floor {} {})  {}",
            self.figure,
            self.value
                .map_or_else(|| "    -".to_owned(), |v| format!("{v:.3}")),
            if self.at_least { ">=" } else { "<=" },
            self.bound,
            if self.passed { "ok" } else { "BELOW FLOOR" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keep_first_seen_order_among_ties() {
        let mut c = Counter::default();
        for k in ["b", "a", "a", "c", "b", "d"] {
            c.add(k);
        }
        let keys: Vec<String> = c.most_common().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a", "c", "d"]);
    }

    #[test]
    fn rates_and_means_ignore_what_was_not_measured() {
        assert_eq!(rate([Some(true), None, Some(false)].into_iter()), Some(0.5));
        assert_eq!(rate([None].into_iter()), None);
        assert_eq!(mean([Some(1.0), Some(0.0), None].into_iter()), Some(0.5));
        assert_eq!(pct(Some(0.979)), " 98%");
        assert_eq!(pct(None), "   -");
    }

    #[test]
    fn floors_read_the_floors_file_format() {
        let dir = std::env::temp_dir().join(format!("parity-floors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("floors.json");
        std::fs::write(
            &file,
            r#"{"about": "x", "status_match_rate": 0.9, "mean_shape_similarity": 0.8,
                "error_code_match_rate": 0.7, "max_lost_to_prerequisites": 0.1}"#,
        )
        .unwrap();
        let floors = Floors::read(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            floors,
            Floors {
                status: Some(0.9),
                shape: Some(0.8),
                error_code: Some(0.7),
                max_lost: Some(0.1)
            }
        );
    }
}
