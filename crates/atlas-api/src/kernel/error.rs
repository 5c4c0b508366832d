//! [`ApiError`]: the one error type every stage of a request ends in.
//!
//! It carries exactly what Atlas puts in an error body (`error`, `errorCode`, `detail`,
//! `parameters`, `reason`) plus an internal cause that goes to the log, never to the client.
//! Lower layers keep their own errors (`StoreError`, schema violations); they are converted
//! here, once.

use serde_json::{Value, json};

use crate::kernel::error_codes::{self, ErrorCode};

/// An Atlas error answer. Boxed so `Result<_, ApiError>` stays one pointer wide.
#[derive(Debug, Clone)]
pub struct ApiError(Box<Inner>);

#[derive(Debug, Clone)]
struct Inner {
    status: u16,
    code: &'static str,
    detail: String,
    parameters: Vec<Value>,
    /// Extra response headers (e.g. `Allow` on 405).
    headers: Vec<(&'static str, String)>,
    /// What went wrong inside, for the log.
    cause: Option<String>,
    /// Whether the writes made before the error stand (e.g. a read that completed a deletion
    /// and so answers 404): the error is the answer, not a failure.
    keep_writes: bool,
}

/// Builds an [`ApiError`] from a catalogue code and its parameters:
/// `api_error!(CLUSTER_NOT_FOUND, name, group_id)`.
#[macro_export]
macro_rules! api_error {
    ($code:ident $(, $param:expr)* $(,)?) => {
        $crate::ApiError::new(
            $crate::kernel::error_codes::$code,
            vec![$($crate::kernel::error::Param::from($param).0),*],
        )
    };
}

/// Conversion of a parameter value to its JSON form (strings stay strings, numbers numbers).
pub struct Param(pub Value);

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param(Value::String(s.to_owned()))
    }
}
impl From<String> for Param {
    fn from(s: String) -> Self {
        Param(Value::String(s))
    }
}
impl From<&String> for Param {
    fn from(s: &String) -> Self {
        Param(Value::String(s.clone()))
    }
}
impl From<u64> for Param {
    fn from(n: u64) -> Self {
        Param(Value::from(n))
    }
}
impl From<Value> for Param {
    fn from(v: Value) -> Self {
        Param(v)
    }
}

impl ApiError {
    /// An error from the catalogue; `detail` is the template with the parameters substituted.
    pub fn new(code: ErrorCode, parameters: Vec<Value>) -> ApiError {
        let detail = fill_template(code.template, &parameters);
        ApiError(Box::new(Inner {
            status: code.status,
            code: code.name,
            detail,
            parameters,
            headers: Vec::new(),
            cause: None,
            keep_writes: false,
        }))
    }

    /// An error whose detail text is not the catalogue template (Atlas reuses some codes with
    /// free sentences, e.g. `INVALID_ATTRIBUTE` for semantic checks).
    pub fn with_detail(
        code: ErrorCode,
        detail: impl Into<String>,
        parameters: Vec<Value>,
    ) -> ApiError {
        let mut e = ApiError::new(code, parameters);
        e.0.detail = detail.into();
        e
    }

    /// The 500 answer for a failure inside localatlas; the cause is logged, not shown.
    pub fn internal(cause: impl Into<String>) -> ApiError {
        ApiError::new(error_codes::UNEXPECTED_ERROR, vec![]).caused_by(cause)
    }

    pub fn caused_by(mut self, cause: impl Into<String>) -> ApiError {
        self.0.cause = Some(cause.into());
        self
    }

    /// Marks the error as an answer that keeps the transaction's writes.
    pub fn keeping_writes(mut self) -> ApiError {
        self.0.keep_writes = true;
        self
    }

    pub fn keeps_writes(&self) -> bool {
        self.0.keep_writes
    }

    /// The same error answered with another status (an injected fault naming both a status and
    /// a catalogue code).
    pub fn with_status(mut self, status: u16) -> ApiError {
        self.0.status = status;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.0.headers.push((name, value.into()));
        self
    }

    pub fn status(&self) -> u16 {
        self.0.status
    }

    pub fn code(&self) -> &'static str {
        self.0.code
    }

    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    pub fn parameters(&self) -> &[Value] {
        &self.0.parameters
    }

    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.0.headers
    }

    pub fn cause(&self) -> Option<&str> {
        self.0.cause.as_deref()
    }

    pub fn reason(&self) -> &'static str {
        error_codes::reason_phrase(self.0.status)
    }

    /// The Atlas error body (`ApiError` schema). Keys come out in the alphabetical order Atlas
    /// emits them in.
    pub fn body(&self) -> Value {
        json!({
            "detail": self.0.detail,
            "error": self.0.status,
            "errorCode": self.0.code,
            "parameters": self.0.parameters,
            "reason": self.reason(),
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.0.status, self.0.code, self.0.detail)
    }
}

impl std::error::Error for ApiError {}

/// Store errors that reached the API, by kind (`unavailable`, `corrupt`, `duplicate`), since the
/// process started: every one passes through the conversion below exactly once. Read by the
/// metrics endpoint.
static STORE_ERRORS: [std::sync::atomic::AtomicU64; 3] = [
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
];

/// `(kind, count)` of the store errors that reached the API so far.
pub fn store_errors() -> [(&'static str, u64); 3] {
    let count = |i: usize| STORE_ERRORS[i].load(std::sync::atomic::Ordering::Relaxed);
    [
        ("unavailable", count(0)),
        ("corrupt", count(1)),
        ("duplicate", count(2)),
    ]
}

impl From<atlas_store::StoreError> for ApiError {
    fn from(e: atlas_store::StoreError) -> Self {
        let kind = match &e {
            atlas_store::StoreError::Unavailable(_) => 0,
            atlas_store::StoreError::Corrupt { .. } => 1,
            atlas_store::StoreError::Duplicate(_) => 2,
        };
        STORE_ERRORS[kind].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(error = %e, "store error");
        match e {
            atlas_store::StoreError::Unavailable(_) => {
                ApiError::new(error_codes::SERVICE_UNAVAILABLE, vec![]).caused_by(e.to_string())
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

fn fill_template(template: &str, parameters: &[Value]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut params = parameters.iter();
    let mut rest = template;
    while let Some(at) = rest.find("{}") {
        out.push_str(&rest[..at]);
        match params.next() {
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            None => {}
        }
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_not_found_matches_the_recorded_body() {
        // Recorded Atlas answer (semantics §3.1):
        // {"detail":"No cluster named cluster-607 exists in group 6a793f362c88faeba59b8a26.",
        //  "error":404,"errorCode":"CLUSTER_NOT_FOUND",
        //  "parameters":["cluster-607","6a793f362c88faeba59b8a26"],"reason":"Not Found"}
        let e = api_error!(CLUSTER_NOT_FOUND, "cluster-607", "6a793f362c88faeba59b8a26");
        assert_eq!(
            serde_json::to_string(&e.body()).unwrap(),
            r#"{"detail":"No cluster named cluster-607 exists in group 6a793f362c88faeba59b8a26.","error":404,"errorCode":"CLUSTER_NOT_FOUND","parameters":["cluster-607","6a793f362c88faeba59b8a26"],"reason":"Not Found"}"#
        );
    }

    #[test]
    fn version_error_matches_the_recorded_body() {
        // [F] {"detail":"Invalid accept header or version date.","error":406,
        //      "errorCode":"INVALID_VERSION_DATE","parameters":[],"reason":"Not Acceptable"}
        let e = api_error!(INVALID_VERSION_DATE);
        assert_eq!(
            serde_json::to_string(&e.body()).unwrap(),
            r#"{"detail":"Invalid accept header or version date.","error":406,"errorCode":"INVALID_VERSION_DATE","parameters":[],"reason":"Not Acceptable"}"#
        );
    }

    #[test]
    fn numbers_stay_numbers_in_parameters() {
        let e = api_error!(PAYLOAD_TOO_LARGE, 1024u64);
        assert_eq!(e.parameters(), &[Value::from(1024)]);
        assert!(e.detail().contains("1024 bytes"));
    }
}
