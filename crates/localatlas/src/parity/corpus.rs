//! Reading a recording: one JSON object per line, in the format of the conformance corpus
//! (`localatlas record` writes it too), grouped into its sequences.
//!
//! Only the fields the replay uses are kept. Fields a recording may leave empty read as absent
//! (`""` like `null`), so a record from either source means the same thing.

use std::path::Path;

use anyhow::{Context, bail};

use super::json::Json;

/// The methods whose requests carry a body.
pub const WRITE_METHODS: [&str; 3] = ["POST", "PUT", "PATCH"];

/// One recorded exchange.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub source: String,
    pub sequence: String,
    pub step: i64,
    /// `api`, `auth-challenge` (the first leg of Digest) or `non-spec`.
    pub kind: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The spec's path template the path matched.
    pub template: Option<String>,
    /// Path parameter values (decoded), in the order the recording lists them.
    pub path_params: Vec<(String, String)>,
    pub request_version: Option<String>,
    pub request_accept: Option<String>,
    pub request_body: Json,
    pub request_body_origin: Option<String>,
    /// A body projected from the answer, for writes whose body was not recorded.
    pub request_body_derived: Json,
    pub status: u16,
    pub error_code: Option<String>,
    pub content_type: Option<String>,
    /// The media type a recording without a `Content-Type` implies.
    pub content_type_inferred: Option<String>,
    pub response_body: Json,
}

impl Record {
    pub fn is_write(&self) -> bool {
        WRITE_METHODS.contains(&self.method.as_str())
    }

    /// A record from one line of a recording, for tests.
    #[cfg(test)]
    pub fn from_line_for_tests(line: &str) -> Record {
        Record::from_json(&Json::parse(line.as_bytes()).expect("JSON")).expect("a record")
    }

    fn from_json(line: &Json) -> anyhow::Result<Record> {
        let text = |name: &str| -> Option<String> {
            match line.get(name) {
                Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            }
        };
        let field = |name: &str| line.get(name).cloned().unwrap_or(Json::Null);
        let number = |name: &str| match line.get(name) {
            Some(Json::Number(n)) => n.as_i64(),
            _ => None,
        };
        let sequence = text("sequence").context("no sequence")?;
        let step = number("step").unwrap_or(0);
        let method = text("method").context("no method")?.to_ascii_uppercase();
        let status = number("status")
            .and_then(|s| u16::try_from(s).ok())
            .context("no status")?;
        let path_params = match line.get("path_params") {
            Some(Json::Object(fields)) => fields
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        Json::String(s) => s.clone(),
                        other => serde_json::to_string(other).unwrap_or_default(),
                    };
                    (k.clone(), value)
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Record {
            id: text("id").unwrap_or_else(|| format!("{sequence}#{step:03}")),
            source: text("source").unwrap_or_default(),
            step,
            kind: text("kind").unwrap_or_else(|| "api".to_owned()),
            path: text("path").context("no path")?,
            query: text("query"),
            template: text("template"),
            path_params,
            request_version: text("request_version"),
            request_accept: text("request_accept"),
            request_body: field("request_body"),
            request_body_origin: text("request_body_origin"),
            request_body_derived: field("request_body_derived"),
            status,
            error_code: text("error_code"),
            content_type: text("content_type"),
            content_type_inferred: text("content_type_inferred"),
            response_body: field("response_body"),
            method,
            sequence,
        })
    }
}

/// Every record of a JSONL file, in file order.
pub fn read(path: &Path) -> anyhow::Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value = Json::parse(line.as_bytes())
            .with_context(|| format!("{}:{}: not JSON", path.display(), n + 1))?;
        let record = Record::from_json(&value)
            .with_context(|| format!("{}:{}: not a recorded exchange", path.display(), n + 1))?;
        records.push(record);
    }
    if records.is_empty() {
        bail!("{} holds no recorded exchange", path.display());
    }
    Ok(records)
}

/// The records grouped by sequence, sequences in the order they first appear, each in step
/// order (records of one step keep their file order).
pub fn sequences(records: Vec<Record>) -> Vec<(String, Vec<Record>)> {
    let mut out: Vec<(String, Vec<Record>)> = Vec::new();
    let mut at = std::collections::HashMap::new();
    for record in records {
        let i = *at.entry(record.sequence.clone()).or_insert_with(|| {
            out.push((record.sequence.clone(), Vec::new()));
            out.len() - 1
        });
        out[i].1.push(record);
    }
    for (_, records) in &mut out {
        records.sort_by_key(|r| r.step);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: &str) -> Record {
        Record::from_line_for_tests(line)
    }

    #[test]
    fn fields_and_empty_values() {
        let r = record(
            r#"{"sequence":"s","step":2,"method":"get","path":"/api/atlas/v2/groups/g1/clusters/c1",
               "template":"/api/atlas/v2/groups/{groupId}/clusters/{clusterName}",
               "path_params":{"groupId":"g1","clusterName":"c1"},"query":"","status":404,
               "error_code":"CLUSTER_NOT_FOUND","request_body":null,"response_body":{"a":1}}"#,
        );
        assert_eq!(r.id, "s#002");
        assert_eq!(r.method, "GET");
        assert_eq!(r.kind, "api");
        assert_eq!(r.query, None);
        assert_eq!(
            r.path_params,
            [
                ("groupId".into(), "g1".into()),
                ("clusterName".into(), "c1".into())
            ]
        );
        assert!(r.request_body.is_null());
        assert_eq!(r.error_code.as_deref(), Some("CLUSTER_NOT_FOUND"));
    }

    #[test]
    fn sequences_keep_first_appearance_and_step_order() {
        let line = |seq: &str, step: i64| {
            record(&format!(
                r#"{{"sequence":"{seq}","step":{step},"method":"GET","path":"/p","status":200}}"#
            ))
        };
        let grouped = sequences(vec![line("b", 1), line("a", 0), line("b", 0)]);
        let names: Vec<&str> = grouped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(grouped[0].1[0].step, 0);
    }
}
