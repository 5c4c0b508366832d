//! Scoring one replayed exchange against its recording: the status (exact, and its class), the
//! media type, the JSON shape and, for recorded errors, the errorCode.
//!
//! The shape compares key paths, not values: ids, names and dates differ between any two
//! servers, while a field the recorded service returned and the server under test leaves out
//! (or returns with another JSON type) is what a client notices.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::corpus::Record;
use super::ids::is_lower_hex24;
use super::json::Json;

/// `application/vnd.atlas.2023-01-01+json` from a `Content-Type` (parameters dropped, lower case).
pub fn media_type(content_type: Option<&str>) -> Option<String> {
    let ct = content_type.filter(|c| !c.is_empty())?;
    Some(
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Key paths of a JSON value with the JSON types found there, in the order first met.
#[derive(Default)]
struct Paths {
    order: Vec<String>,
    types: HashMap<String, BTreeSet<&'static str>>,
}

impl Paths {
    fn add(&mut self, path: &str, t: &'static str) {
        match self.types.get_mut(path) {
            Some(set) => {
                set.insert(t);
            }
            None => {
                self.order.push(path.to_owned());
                self.types.insert(path.to_owned(), BTreeSet::from([t]));
            }
        }
    }
}

/// Whether an object's keys are data rather than schema (regions, namespaces, ObjectIds): such
/// a map is compared as one `{*}` path, so the comparison does not depend on the data.
fn map_key(key: &str) -> bool {
    let k = key.strip_suffix('\n').unwrap_or(key);
    let upper = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    let separated = !k.contains('\n') && k.contains(['.', '/', ':', '@', ' ']);
    upper || is_lower_hex24(k) || separated
}

/// Flattens a value into key paths: `$.a.b`, array elements merged under `[]`, data-keyed
/// objects under `{*}`.
fn shape_paths(value: &Json, prefix: &str, out: &mut Paths) {
    out.add(prefix, value.type_name());
    match value {
        Json::Object(fields) => {
            let data_keys = !fields.is_empty() && fields.iter().all(|(k, _)| map_key(k));
            for (k, v) in fields {
                let path = if data_keys {
                    format!("{prefix}{{*}}")
                } else {
                    format!("{prefix}.{k}")
                };
                shape_paths(v, &path, out);
            }
        }
        Json::Array(items) => {
            let path = format!("{prefix}[]");
            for item in items {
                shape_paths(item, &path, out);
            }
        }
        _ => {}
    }
}

/// How the server's answer compares with the recorded one.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeComparison {
    /// The fraction of recorded key paths present with a compatible type.
    pub similarity: f64,
    pub total: usize,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub type_mismatch: Vec<String>,
}

/// Compares shapes. A recorded `null` is satisfied by any value present (the recorded service
/// answers `null` for unset fields); a `null` where a value was recorded is a mismatch; an
/// answer whose root has another type matches nothing.
pub fn compare_shapes(recorded: &Json, actual: Option<&Json>) -> ShapeComparison {
    let mut rec = Paths::default();
    shape_paths(recorded, "$", &mut rec);
    let mut act = Paths::default();
    if let Some(actual) = actual {
        shape_paths(actual, "$", &mut act);
    }
    let rec_root = rec.types.remove("$").unwrap_or_default();
    rec.order.retain(|p| p != "$");
    let act_root = act.types.remove("$");
    act.order.retain(|p| p != "$");
    let root_ok = act_root.is_some_and(|t| !t.is_disjoint(&rec_root));
    let extra = |act: &Paths, rec: &Paths| {
        let mut extra: Vec<String> = act
            .order
            .iter()
            .filter(|p| !rec.types.contains_key(*p))
            .cloned()
            .collect();
        extra.sort();
        extra
    };
    if rec.order.is_empty() {
        return ShapeComparison {
            similarity: if root_ok { 1.0 } else { 0.0 },
            total: 0,
            missing: Vec::new(),
            extra: extra(&act, &rec),
            type_mismatch: if root_ok {
                Vec::new()
            } else {
                vec!["$".to_owned()]
            },
        };
    }
    let (mut matched, mut missing, mut mismatch) = (0usize, Vec::new(), Vec::new());
    for path in &rec.order {
        let types = &rec.types[path];
        match act.types.get(path) {
            None => missing.push(path.clone()),
            Some(got) if types.contains("null") || !types.is_disjoint(got) => matched += 1,
            Some(got) => mismatch.push(format!(
                "{path}: {} != {}",
                types.iter().copied().collect::<Vec<_>>().join("|"),
                got.iter().copied().collect::<Vec<_>>().join("|")
            )),
        }
    }
    if !root_ok {
        matched = 0;
    }
    missing.sort();
    ShapeComparison {
        similarity: matched as f64 / rec.order.len() as f64,
        total: rec.order.len(),
        missing,
        extra: extra(&act, &rec),
        type_mismatch: mismatch,
    }
}

/// The scores of one replayed exchange.
#[derive(Debug, Clone)]
pub struct Score {
    pub actual_status: u16,
    pub status_exact: bool,
    pub status_class: bool,
    pub expected_media: Option<String>,
    pub actual_media: Option<String>,
    /// `None` when nothing is expected (no media type recorded, or an inferred one for a 204).
    pub media_match: Option<bool>,
    /// `recorded` or `inferred`, when the media type was scored.
    pub media_source: Option<&'static str>,
    /// `None` when the recorded answer was not a JSON object or array.
    pub shape: Option<ShapeComparison>,
    pub shape_note: Option<String>,
    pub actual_error_code: Option<String>,
    /// `None` unless the recording is an error with an errorCode.
    pub error_code_match: Option<bool>,
    /// The mean of the scored parts (status exact 1, same class 0.5).
    pub score: f64,
}

/// What the server under test answered.
pub struct Answer<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub x_error_code: Option<&'a str>,
    /// The body when it is JSON (and not `null`).
    pub body: Option<&'a Json>,
    pub body_len: usize,
}

pub fn score(rec: &Record, answer: &Answer<'_>) -> Score {
    let status_exact = answer.status == rec.status;
    let status_class = answer.status / 100 == rec.status / 100;
    let recorded_media = media_type(rec.content_type.as_deref()).filter(|m| !m.is_empty());
    let (expected_media, media_source) = match recorded_media {
        Some(m) => (Some(m), "recorded"),
        None => (rec.content_type_inferred.clone(), "inferred"),
    };
    let actual_media = media_type(answer.content_type);
    let (media_match, media_source) = match &expected_media {
        Some(expected) if rec.status != 204 || media_source == "recorded" => (
            Some(Some(expected) == actual_media.as_ref()),
            Some(media_source),
        ),
        _ => (None, None),
    };
    let (shape, shape_note) = if rec.response_body.is_container() {
        let note = answer
            .body
            .is_none()
            .then(|| format!("emulator body is not JSON ({} bytes)", answer.body_len));
        (Some(compare_shapes(&rec.response_body, answer.body)), note)
    } else {
        (None, None)
    };
    let (actual_error_code, error_code_match) = match &rec.error_code {
        Some(expected) if rec.status >= 400 => {
            let in_body = answer
                .body
                .and_then(|b| b.get("errorCode"))
                .filter(|c| c.truthy());
            let got = match in_body {
                Some(Json::String(s)) => Some(s.clone()),
                // A non-string errorCode never equals a recorded one.
                Some(other) => Some(serde_json::to_string(other).unwrap_or_default()),
                None => answer.x_error_code.map(str::to_owned),
            };
            let matched = matches!(in_body, None | Some(Json::String(_)))
                && got.as_deref() == Some(expected.as_str());
            (got, Some(matched))
        }
        _ => (None, None),
    };
    let mut parts = vec![if status_exact {
        1.0
    } else if status_class {
        0.5
    } else {
        0.0
    }];
    if let Some(m) = media_match {
        parts.push(if m { 1.0 } else { 0.0 });
    }
    if let Some(s) = &shape {
        parts.push(s.similarity);
    }
    if let Some(m) = error_code_match {
        parts.push(if m { 1.0 } else { 0.0 });
    }
    Score {
        actual_status: answer.status,
        status_exact,
        status_class,
        expected_media,
        actual_media,
        media_match,
        media_source,
        shape,
        shape_note,
        actual_error_code,
        error_code_match,
        score: parts.iter().sum::<f64>() / parts.len() as f64,
    }
}

impl Score {
    /// The scores' fields of an exchange in the report.
    pub fn write(&self, out: &mut serde_json::Map<String, Value>) {
        out.insert("actual_status".into(), json!(self.actual_status));
        out.insert("status_exact".into(), json!(self.status_exact));
        out.insert("status_class".into(), json!(self.status_class));
        out.insert("expected_media".into(), json!(self.expected_media));
        out.insert("actual_media".into(), json!(self.actual_media));
        out.insert("media_match".into(), json!(self.media_match));
        if let Some(source) = self.media_source {
            out.insert("media_source".into(), json!(source));
        }
        match &self.shape {
            Some(s) => {
                out.insert("shape_similarity".into(), json!(s.similarity));
                out.insert("shape_total".into(), json!(s.total));
                out.insert("missing_keys".into(), json!(s.missing));
                out.insert("extra_keys".into(), json!(s.extra));
                out.insert("type_mismatch".into(), json!(s.type_mismatch));
            }
            None => {
                out.insert("shape_similarity".into(), Value::Null);
            }
        }
        if let Some(note) = &self.shape_note {
            out.insert("shape_note".into(), json!(note));
        }
        if self.error_code_match.is_some() {
            out.insert("actual_error_code".into(), json!(self.actual_error_code));
        }
        out.insert("error_code_match".into(), json!(self.error_code_match));
        out.insert("score".into(), json!(self.score));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(text: &str) -> Json {
        Json::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn shapes_compare_key_paths_and_types() {
        let rec =
            j(r#"{"id":"x","n":1,"opt":null,"tags":[{"k":"a"}],"regions":{"US_EAST_1":{"p":1}}}"#);
        let act = j(
            r#"{"id":"y","n":"1","opt":5,"tags":[],"regions":{"EU_WEST_1":{"p":2}},"more":true}"#,
        );
        let c = compare_shapes(&rec, Some(&act));
        // id, opt (null accepts anything), tags, regions, regions{*}, regions{*}.p match;
        // n has another type; tags[] and tags[].k are missing.
        assert_eq!(c.total, 9);
        assert_eq!(c.missing, ["$.tags[]", "$.tags[].k"]);
        assert_eq!(c.type_mismatch, ["$.n: number != string"]);
        assert_eq!(c.extra, ["$.more"]);
        assert!((c.similarity - 6.0 / 9.0).abs() < 1e-9);
    }

    #[test]
    fn another_root_type_matches_nothing() {
        let c = compare_shapes(&j(r#"{"a":1}"#), Some(&j("[1]")));
        assert_eq!(c.similarity, 0.0);
        let empty = compare_shapes(&j("{}"), Some(&j(r#"{"a":1}"#)));
        assert_eq!(
            (empty.similarity, empty.extra),
            (1.0, vec!["$.a".to_owned()])
        );
        let none = compare_shapes(&j("[]"), None);
        assert_eq!(
            (none.similarity, none.type_mismatch),
            (0.0, vec!["$".to_owned()])
        );
    }

    #[test]
    fn data_keyed_maps() {
        assert!(map_key("US_EAST_1"));
        assert!(map_key("db.collection"));
        assert!(map_key("0123456789abcdef01234567"));
        assert!(!map_key("clusterName"));
        assert!(!map_key(""));
    }

    #[test]
    fn an_exchange_is_scored_on_each_part() {
        let line = r#"{"sequence":"s","method":"GET","path":"/p","status":404,
            "content_type":"application/json; charset=utf-8","error_code":"NOT_FOUND",
            "response_body":{"error":404,"errorCode":"NOT_FOUND"}}"#;
        let rec = Record::from_line_for_tests(line);
        let body = j(r#"{"error":404,"errorCode":"OTHER"}"#);
        let s = score(
            &rec,
            &Answer {
                status: 400,
                content_type: Some("application/json"),
                x_error_code: None,
                body: Some(&body),
                body_len: 10,
            },
        );
        assert!(!s.status_exact && s.status_class);
        assert_eq!(s.media_match, Some(true));
        assert_eq!(s.error_code_match, Some(false));
        assert_eq!(s.actual_error_code.as_deref(), Some("OTHER"));
        assert!((s.score - (0.5 + 1.0 + 1.0 + 0.0) / 4.0).abs() < 1e-9);
    }
}
