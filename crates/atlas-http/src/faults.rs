//! Fault injection: rules, set through the control API (`/__localatlas/faults`), that make
//! matching requests fail the way real Atlas sometimes does — an Atlas error with a chosen status
//! and code, a 429 with `Retry-After`, added latency, or a dropped connection — so a team can
//! test its own error handling, which real Atlas never lets it do on purpose.
//!
//! A rule matches by operation id, method, path pattern and principal (all optional) and fires
//! for its next N matches (`times`), an evenly spread fraction of them (`fraction`), or until
//! removed. Rules live in this process only: they are test fixtures, not Atlas state, and a
//! restart clears them. The control API itself is never faulted, so rules can always be removed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use atlas_api::kernel::error_codes::{self, ErrorCode};
use atlas_api::stages::admission::throttle;
use atlas_api::{ApiError, Principal, api_error};
use atlas_model::Operation;
use serde_json::{Map, Value, json};

/// The fraction unit: a fraction is counted in millionths so spreading never drifts.
const PARTS: u64 = 1_000_000;
/// Longest latency a rule may add (a test that wants a hang uses `drop` or a client timeout).
const MAX_LATENCY_MS: u64 = 300_000;

/// What a rule does to a request it fires on.
#[derive(Debug, Clone)]
enum Answer {
    /// Serve the request normally (after the rule's latency).
    Proceed,
    /// An Atlas error: catalogue code, optional status override and detail.
    Error {
        code: ErrorCode,
        status: u16,
        detail: Option<String>,
    },
    /// Atlas's 429 with `Retry-After`.
    RateLimited { retry_after: u64 },
    /// Close the connection without answering.
    Drop,
}

#[derive(Debug, Clone)]
struct Rule {
    id: u64,
    operation_id: Option<String>,
    method: Option<String>,
    path: Option<Vec<String>>,
    principal: Option<String>,
    answer: Answer,
    latency_ms: u64,
    /// Injections left (`times`), or unlimited.
    remaining: Option<u64>,
    /// Millionths of matching calls to fault, and the credit accumulated towards the next one.
    fraction: Option<(u64, u64)>,
    matched: u64,
    injected: u64,
    /// The rule as given, echoed back in listings.
    spec: Map<String, Value>,
}

/// What the pipeline does with a faulted request.
#[derive(Debug)]
pub enum Action {
    Proceed,
    Error(Box<ApiError>),
    Drop,
}

/// A rule firing on a request.
#[derive(Debug)]
pub struct Decision {
    pub rule: u64,
    pub latency: Option<Duration>,
    pub action: Action,
}

/// The request as rules see it.
pub struct Target<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub op: Option<&'static Operation>,
    pub principal: Option<&'a Principal>,
    /// The operation's path parameters as sent (still percent-encoded): what an injected error's
    /// detail names (`{groupId}`, `{clusterName}`).
    pub params: &'a [(&'static str, String)],
    /// The request body as sent, read only when an injected error's detail needs a field of it
    /// (the `username` of a database user being created).
    pub body: Option<&'a [u8]>,
}

/// The rules of this server.
#[derive(Default)]
pub struct Faults {
    /// Whether any rule exists: lets requests skip the lock when no rule is set (the usual case).
    active: AtomicBool,
    rules: Mutex<Rules>,
}

#[derive(Default)]
struct Rules {
    next_id: u64,
    list: Vec<Rule>,
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, Rules> {
        // A panic while holding the lock cannot leave a rule half-updated in a way that matters.
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The first rule that matches and fires on `target`, counting the match on every rule
    /// that matches. Spent rules (`times` reached) are removed.
    pub fn check(&self, target: &Target<'_>) -> Option<Decision> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let mut rules = self.lock();
        let mut decision = None;
        for rule in rules.list.iter_mut().filter(|r| r.matches(target)) {
            rule.matched += 1;
            if decision.is_none() && rule.fires() {
                rule.injected += 1;
                if let Some(left) = &mut rule.remaining {
                    *left -= 1;
                }
                decision = Some(Decision {
                    rule: rule.id,
                    latency: (rule.latency_ms > 0).then(|| Duration::from_millis(rule.latency_ms)),
                    action: rule.action(target),
                });
            }
        }
        rules.list.retain(|r| r.remaining != Some(0));
        self.active.store(!rules.list.is_empty(), Ordering::Release);
        decision
    }

    /// Every rule, in the order they are tried.
    pub fn list(&self) -> Value {
        Value::Array(self.lock().list.iter().map(Rule::to_json).collect())
    }

    /// Adds a rule from its JSON description; answers the stored rule.
    pub fn add(&self, spec: &Value) -> Result<Value, String> {
        let mut rules = self.lock();
        rules.next_id += 1;
        let rule = Rule::parse(rules.next_id, spec)?;
        let shown = rule.to_json();
        rules.list.push(rule);
        self.active.store(true, Ordering::Release);
        Ok(shown)
    }

    /// Removes one rule; false if there was none with that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.lock();
        let before = rules.list.len();
        rules.list.retain(|r| r.id != id);
        self.active.store(!rules.list.is_empty(), Ordering::Release);
        rules.list.len() != before
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().list.clear();
        self.active.store(false, Ordering::Release);
    }
}

impl Rule {
    fn parse(id: u64, spec: &Value) -> Result<Rule, String> {
        let map = spec
            .as_object()
            .ok_or("a fault rule is a JSON object")?
            .clone();
        const KNOWN: &[&str] = &[
            "operationId",
            "method",
            "path",
            "principal",
            "status",
            "errorCode",
            "detail",
            "retryAfterSeconds",
            "latencyMs",
            "drop",
            "times",
            "fraction",
        ];
        if let Some(unknown) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(format!(
                "unknown field `{unknown}`; a rule has {}",
                KNOWN.join(", ")
            ));
        }
        let text = |name: &str| -> Result<Option<String>, String> {
            match map.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(_) => Err(format!("`{name}` is a non-empty string")),
            }
        };
        let number = |name: &str| -> Result<Option<u64>, String> {
            match map.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| format!("`{name}` is a non-negative integer")),
            }
        };
        let operation_id = text("operationId")?;
        if let Some(name) = &operation_id
            && !atlas_model::OPERATIONS.iter().any(|op| op.name == name)
        {
            return Err(format!("no operation has the id `{name}`"));
        }
        let method = text("method")?.map(|m| m.to_ascii_uppercase());
        let path = text("path")?.map(|p| segments(&p));
        let principal = text("principal")?;
        let latency_ms = number("latencyMs")?.unwrap_or(0);
        if latency_ms > MAX_LATENCY_MS {
            return Err(format!("`latencyMs` is at most {MAX_LATENCY_MS}"));
        }
        let drop = match map.get("drop") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err("`drop` is a boolean".into()),
        };
        let status = number("status")?;
        let code = text("errorCode")?;
        let detail = text("detail")?;
        let retry_after = number("retryAfterSeconds")?;
        let answer = match (drop, status, code, retry_after) {
            (true, None, None, None) => Answer::Drop,
            (true, ..) => {
                return Err("`drop` takes no status, errorCode or retryAfterSeconds".into());
            }
            (false, status, None, Some(retry_after)) if status.is_none_or(|s| s == 429) => {
                Answer::RateLimited { retry_after }
            }
            (false, _, _, Some(_)) => {
                return Err(
                    "`retryAfterSeconds` makes a 429; it takes no other status or errorCode".into(),
                );
            }
            (false, None, None, None) => Answer::Proceed,
            (false, status, code, None) => {
                let status = match status {
                    None => None,
                    Some(s) => Some(
                        u16::try_from(s)
                            .ok()
                            .filter(|s| (400..=599).contains(s))
                            .ok_or("`status` is an error status, 400 to 599")?,
                    ),
                };
                let code = match code {
                    Some(name) => error_codes::ALL
                        .iter()
                        .find(|c| c.name == name)
                        .copied()
                        .ok_or_else(|| {
                            format!("`{name}` is not an Atlas error code localatlas knows")
                        })?,
                    None => default_code(status.unwrap_or(503)),
                };
                Answer::Error {
                    code,
                    status: status.unwrap_or(code.status),
                    detail,
                }
            }
        };
        if matches!(answer, Answer::Proceed) && latency_ms == 0 {
            return Err(
                "a rule needs an effect: status/errorCode, retryAfterSeconds, latencyMs or drop"
                    .into(),
            );
        }
        let remaining = number("times")?;
        if remaining == Some(0) {
            return Err(
                "`times` is at least 1 (omit it to fault until the rule is removed)".into(),
            );
        }
        let fraction = match map.get("fraction") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_f64() {
                Some(f) if f > 0.0 && f <= 1.0 => Some(((f * PARTS as f64).round() as u64, 0)),
                _ => return Err("`fraction` is a number above 0 and at most 1".into()),
            },
        };
        Ok(Rule {
            id,
            operation_id,
            method,
            path,
            principal,
            answer,
            latency_ms,
            remaining,
            fraction,
            matched: 0,
            injected: 0,
            spec: map,
        })
    }

    fn matches(&self, t: &Target<'_>) -> bool {
        self.operation_id
            .as_deref()
            .is_none_or(|id| t.op.is_some_and(|op| op.name == id))
            && self.method.as_deref().is_none_or(|m| m == t.method)
            && self
                .path
                .as_ref()
                .is_none_or(|pattern| path_matches(pattern, &segments(t.path)))
            && self.principal.as_deref().is_none_or(|p| {
                t.principal
                    .is_some_and(|principal| principal.name() == p || principal.label() == p)
            })
    }

    /// Whether this match is one the rule's fraction faults.
    fn fires(&mut self) -> bool {
        match &mut self.fraction {
            None => true,
            Some((share, credit)) => {
                *credit += *share;
                if *credit >= PARTS {
                    *credit -= PARTS;
                    true
                } else {
                    false
                }
            }
        }
    }

    fn action(&self, t: &Target<'_>) -> Action {
        match &self.answer {
            Answer::Proceed => Action::Proceed,
            Answer::Drop => Action::Drop,
            Answer::Error {
                code,
                status,
                detail,
            } => {
                let mut e = match detail {
                    Some(d) => ApiError::with_detail(*code, d.clone(), vec![]),
                    // A rate-limit code reads like the real 429: the endpoint set's figures and
                    // a `Retry-After`.
                    None if *code == error_codes::RATE_LIMITED_TOKEN_BUCKET => {
                        let set =
                            t.op.and_then(throttle::endpoint_set)
                                .unwrap_or_else(throttle::token_endpoint);
                        let exhausted = throttle::Exhausted {
                            retry_after: DEFAULT_RETRY_AFTER,
                        };
                        throttle::exhausted_error(&set, t.path, exhausted)
                    }
                    None if *code == error_codes::RATE_LIMITED => {
                        token_endpoint_limited(t, DEFAULT_RETRY_AFTER)
                    }
                    None => default_error(*code, t),
                };
                if *status != e.status() {
                    e = e.with_status(*status);
                }
                Action::Error(Box::new(
                    e.caused_by(format!("injected by fault rule {}", self.id)),
                ))
            }
            Answer::RateLimited { retry_after } => {
                Action::Error(Box::new(rate_limited(t, *retry_after)))
            }
        }
    }

    fn to_json(&self) -> Value {
        let mut shown = self.spec.clone();
        shown.insert("id".into(), json!(self.id));
        shown.insert("remaining".into(), json!(self.remaining));
        shown.insert("matched".into(), json!(self.matched));
        shown.insert("injected".into(), json!(self.injected));
        Value::Object(shown)
    }
}

/// The code an injected error gets when the rule names only a status.
fn default_code(status: u16) -> ErrorCode {
    match status {
        503 => error_codes::SERVICE_UNAVAILABLE,
        500 => error_codes::UNEXPECTED_ERROR,
        404 => error_codes::RESOURCE_NOT_FOUND,
        _ => error_codes::ALL
            .iter()
            .find(|c| c.status == status)
            .copied()
            .unwrap_or(error_codes::UNEXPECTED_ERROR),
    }
}

/// `Retry-After` of an injected rate-limit code whose rule names no `retryAfterSeconds`.
const DEFAULT_RETRY_AFTER: u64 = 60;

/// Atlas's 429 for the request's endpoint set, with `Retry-After`.
fn rate_limited(t: &Target<'_>, retry_after: u64) -> ApiError {
    let exhausted = throttle::Exhausted { retry_after };
    match t.op.and_then(throttle::endpoint_set) {
        Some(set) => throttle::exhausted_error(&set, t.path, exhausted),
        None => token_endpoint_limited(t, retry_after),
    }
}

/// The token endpoint's 429 (`RATE_LIMITED`), with `Retry-After`.
fn token_endpoint_limited(t: &Target<'_>, retry_after: u64) -> ApiError {
    let set = throttle::token_endpoint();
    api_error!(RATE_LIMITED, t.path, set.capacity, set.refill_seconds / 60)
        .with_header("Retry-After", retry_after.to_string())
}

/// What fills one `{}` of a catalogue template, by the words just before it (lower case, closing
/// quotes dropped; the longest match wins): the request's path parameters, then its body's
/// fields, by these names. Atlas's templates name what goes in each placeholder this way ("user
/// with username {}", "in group {}"), so a rule injecting `USER_ALREADY_EXISTS` into a
/// database-user creation reads "A user with username alice already exists."
const HOLES: &[(&str, Fill)] = &[
    ("resource", Fill::RequestPath),
    ("method", Fill::Method),
    ("username", Fill::Names(&["username"])),
    ("user with id", Fill::Names(&["userId", "id"])),
    ("user", Fill::Names(&["userId", "username"])),
    ("group with name", Fill::Names(&["groupName", "name"])),
    ("group with id", Fill::Group),
    ("group id", Fill::Group),
    ("group", Fill::Group),
    ("project", Fill::Group),
    ("organization with name", Fill::Names(&["name"])),
    ("organization with id", Fill::Org),
    ("organization id", Fill::Org),
    ("organization", Fill::Org),
    ("cluster named", Fill::Names(&["clusterName", "name"])),
    ("instance named", Fill::Names(&["clusterName", "name"])),
    ("cluster", Fill::Names(&["clusterName", "name"])),
    ("stream instance", Fill::Names(&["tenantName", "name"])),
    ("and name", Fill::Names(&["tenantName", "name"])),
    ("team named", Fill::Names(&["name", "teamName"])),
    ("team with name", Fill::Names(&["teamName", "name"])),
    ("team with id", Fill::Names(&["teamId"])),
    ("team", Fill::Names(&["teamId"])),
    ("api key with id", Fill::Names(&["apiUserId", "id"])),
    (
        "address",
        Fill::Names(&["ipAddress", "cidrBlock", "entryValue"]),
    ),
    ("role", Fill::Names(&["roleName"])),
    ("snapshot with id", Fill::Names(&["snapshotId"])),
    (
        "restore with id",
        Fill::Names(&["restoreJobId", "restoreId"]),
    ),
    ("region", Fill::Names(&["regionName", "region"])),
    ("provider", Fill::Names(&["providerName", "cloudProvider"])),
    (
        "already exists for",
        Fill::Names(&["providerName", "cloudProvider"]),
    ),
    (
        "privatelink with id",
        Fill::Names(&["endpointServiceId", "id"]),
    ),
    ("specified id", Fill::Names(&["endpointId", "id"])),
    ("endpoint with id", Fill::Names(&["endpointId", "id"])),
    ("type", Fill::Names(&["integrationType", "type"])),
    ("namespace", Fill::Names(&["namespace", "db"])),
    ("content type", Fill::Names(&["contentType"])),
];

/// Words that say nothing about the value after them (`within {} seconds`): a placeholder is
/// then named by the word after the value.
const LINKING: &[&str] = &[
    "the", "for", "and", "with", "of", "within", "either", "or", "in", "to", "a", "an",
];

/// Where one placeholder's value comes from.
#[derive(Debug, Clone, Copy)]
enum Fill {
    /// The request path (Atlas's "Cannot find resource {}").
    RequestPath,
    Method,
    /// `groupId` of the path or body.
    Group,
    /// `orgId` of the path or body, else the principal's organization.
    Org,
    /// The first of these a path parameter or body field gives.
    Names(&'static [&'static str]),
}

impl Fill {
    fn value(self, t: &Target<'_>, body: Option<&Value>) -> Option<String> {
        let named = |names: &[&str]| {
            names.iter().find_map(|name| {
                let in_path = t.params.iter().find(|(n, _)| n == name).map(|(_, raw)| {
                    percent_encoding::percent_decode_str(raw)
                        .decode_utf8_lossy()
                        .into_owned()
                });
                in_path.or_else(|| match body?.get(*name)? {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            })
        };
        match self {
            Fill::RequestPath => Some(t.path.to_owned()),
            Fill::Method => Some(t.method.to_owned()),
            Fill::Group => named(&["groupId"]),
            Fill::Org => named(&["orgId"]).or_else(|| match t.principal? {
                Principal::ApiKey { org_id, .. } | Principal::ServiceAccount { org_id, .. } => {
                    Some(org_id.clone())
                }
                _ => None,
            }),
            Fill::Names(names) => named(names),
        }
    }
}

/// The catalogue error with its template's placeholders filled from the request (see
/// [`HOLES`]); what the request does not carry reads as a placeholder naming it (`<username>`).
fn default_error(code: ErrorCode, t: &Target<'_>) -> ApiError {
    let body = t
        .body
        .filter(|b| !b.iter().all(u8::is_ascii_whitespace))
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        // A list body (access-list entries) speaks through its first entry.
        .map(|v| match v {
            Value::Array(items) => items.into_iter().next().unwrap_or(Value::Null),
            other => other,
        });
    let pieces: Vec<&str> = code.template.split("{}").collect();
    let parameters = pieces
        .windows(2)
        .map(|pair| Value::String(fill(pair[0], pair[1], t, body.as_ref())))
        .collect();
    ApiError::new(code, parameters)
}

/// The value of the placeholder between `before` and `after`.
fn fill(before: &str, after: &str, t: &Target<'_>, body: Option<&Value>) -> String {
    let phrase = before
        .trim_end()
        .trim_end_matches(['"', '\''])
        .trim_end()
        .to_lowercase();
    let rule = HOLES
        .iter()
        .filter(|(words, _)| {
            phrase == *words
                || phrase
                    .strip_suffix(words)
                    .is_some_and(|rest| rest.ends_with(' '))
        })
        .max_by_key(|(words, _)| words.len());
    if let Some((_, how)) = rule
        && let Some(value) = how.value(t, body)
    {
        return value;
    }
    let word = |text: Option<&str>| {
        text.map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty() && !LINKING.contains(&w.as_str()))
    };
    let name = match rule {
        Some((_, Fill::Names(names))) => names[0].to_owned(),
        Some((_, Fill::Group)) => "groupId".to_owned(),
        Some((_, Fill::Org)) => "orgId".to_owned(),
        _ => word(phrase.rsplit(' ').next())
            .or_else(|| word(after.split_whitespace().next()))
            .unwrap_or_else(|| "value".to_owned()),
    };
    format!("<{name}>")
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Path patterns: `*` within a segment matches any text, a whole `{name}` segment matches one
/// segment (so a spec path template works as a pattern), `**` matches any number of segments.
fn path_matches(pattern: &[String], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| path_matches(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((segment, tail)) => segment_matches(first, segment) && path_matches(rest, tail),
            None => false,
        },
    }
}

fn segment_matches(pattern: &str, segment: &str) -> bool {
    if pattern.starts_with('{') && pattern.ends_with('}') {
        return true;
    }
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = segment.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(method: &'a str, path: &'a str, op: Option<&'static str>) -> Target<'a> {
        Target {
            method,
            path,
            op: op.map(|name| {
                atlas_model::OPERATIONS
                    .iter()
                    .find(|o| o.name == name)
                    .unwrap()
            }),
            principal: None,
            params: &[],
            body: None,
        }
    }

    fn injected(faults: &Faults, t: &Target<'_>) -> ApiError {
        match faults.check(t).map(|d| d.action) {
            Some(Action::Error(e)) => *e,
            other => panic!("no error injected: {other:?}"),
        }
    }

    #[test]
    fn injected_details_name_what_the_request_names() {
        let faults = Faults::default();
        faults
            .add(&json!({"operationId": "createGroupDatabaseUser", "errorCode": "USER_ALREADY_EXISTS"}))
            .unwrap();
        let params = [("groupId", "6b1195f2c5a1ab7597878db0".to_owned())];
        let body = br#"{"databaseName": "admin", "username": "alice", "groupId": "6b1195f2c5a1ab7597878db0"}"#;
        let t = Target {
            params: &params,
            body: Some(body),
            ..target(
                "POST",
                "/api/atlas/v2/groups/6b1195f2c5a1ab7597878db0/databaseUsers",
                Some("createGroupDatabaseUser"),
            )
        };
        let e = injected(&faults, &t);
        assert_eq!((e.status(), e.code()), (409, "USER_ALREADY_EXISTS"));
        assert_eq!(e.detail(), "A user with username alice already exists.");
        // Without the field: a placeholder naming it, never the path.
        let bare = Target { body: None, ..t };
        assert_eq!(
            injected(&faults, &bare).detail(),
            "A user with username <username> already exists."
        );
    }

    #[test]
    fn no_injected_detail_puts_the_path_where_a_name_belongs() {
        let params = [
            ("groupId", "6b1195f2c5a1ab7597878db0".to_owned()),
            ("clusterName", "my%2Fcluster".to_owned()),
        ];
        let path = "/api/atlas/v2/groups/6b1195f2c5a1ab7597878db0/clusters/my%2Fcluster";
        let principal = Principal::ApiKey {
            id: "k".into(),
            public_key: "abcdefgh".into(),
            org_id: "6b1195f21e6812a3e63cc3d1".into(),
        };
        let t = Target {
            params: &params,
            body: Some(br#"{"username": "alice"}"#),
            principal: Some(&principal),
            ..target("PATCH", path, Some("updateGroupCluster"))
        };
        for code in error_codes::ALL {
            let faults = Faults::default();
            faults
                .add(&json!({"operationId": "updateGroupCluster", "errorCode": code.name}))
                .unwrap();
            let e = injected(&faults, &t);
            let detail = e.detail().to_owned();
            let names_the_path = code.template.to_lowercase().contains("resource {}")
                || code.template.starts_with("Rate limit exceeded for {}");
            assert_eq!(e.code(), code.name);
            assert_eq!(
                detail.contains("atlas/v2/groups"),
                names_the_path,
                "{}: {detail}",
                code.name
            );
            assert!(
                !detail.contains("{}") && !detail.contains("  "),
                "{}: {detail}",
                code.name
            );
        }
        let faults = Faults::default();
        faults
            .add(&json!({"operationId": "updateGroupCluster", "errorCode": "CLUSTER_NOT_FOUND"}))
            .unwrap();
        assert_eq!(
            injected(&faults, &t).detail(),
            "No cluster named my/cluster exists in group 6b1195f2c5a1ab7597878db0."
        );
        faults.clear();
        faults
            .add(
                &json!({"operationId": "updateGroupCluster", "errorCode": "NOT_ORG_GROUP_CREATOR"}),
            )
            .unwrap();
        assert!(
            injected(&faults, &t)
                .detail()
                .ends_with("in organization 6b1195f21e6812a3e63cc3d1."),
        );
    }

    #[test]
    fn times_counts_down_then_the_rule_is_gone() {
        let faults = Faults::default();
        faults
            .add(&json!({"operationId": "createGroupCluster", "status": 503, "times": 2}))
            .unwrap();
        let t = target(
            "POST",
            "/api/atlas/v2/groups/x/clusters",
            Some("createGroupCluster"),
        );
        for _ in 0..2 {
            let d = faults.check(&t).unwrap();
            let Action::Error(e) = d.action else { panic!() };
            assert_eq!((e.status(), e.code()), (503, "SERVICE_UNAVAILABLE"));
        }
        assert!(faults.check(&t).is_none());
        assert_eq!(faults.list(), json!([]));
    }

    #[test]
    fn fractions_are_spread_evenly() {
        let faults = Faults::default();
        faults
            .add(&json!({"path": "/api/atlas/v2/**", "fraction": 0.25, "drop": true}))
            .unwrap();
        let t = target("GET", "/api/atlas/v2/groups", None);
        let fired: Vec<bool> = (0..8).map(|_| faults.check(&t).is_some()).collect();
        assert_eq!(
            fired,
            [false, false, false, true, false, false, false, true]
        );
        assert_eq!(faults.list()[0]["matched"], 8);
        assert_eq!(faults.list()[0]["injected"], 2);
    }

    #[test]
    fn patterns_match_segments_templates_and_tails() {
        let p = |s: &str| segments(s);
        let m = |pattern: &str, path: &str| path_matches(&p(pattern), &p(path));
        assert!(m(
            "/api/atlas/v2/groups/*/clusters",
            "/api/atlas/v2/groups/abc/clusters"
        ));
        assert!(m(
            "/api/atlas/v2/groups/{groupId}/clusters",
            "/api/atlas/v2/groups/abc/clusters"
        ));
        assert!(!m(
            "/api/atlas/v2/groups/*/clusters",
            "/api/atlas/v2/groups/abc/clusters/c1"
        ));
        assert!(m(
            "/api/atlas/v2/**/clusters/*",
            "/api/atlas/v2/groups/abc/clusters/c1"
        ));
        assert!(m(
            "/api/atlas/v2/groups/*/streams/*:start*",
            "/api/atlas/v2/groups/g/streams/t:startWith"
        ));
        assert!(!m(
            "/api/atlas/v2/groups/*/x*y",
            "/api/atlas/v2/groups/g/xz"
        ));
        assert!(m("/**", "/anything/at/all"));
    }

    #[test]
    fn nonsense_rules_are_refused_with_a_reason() {
        let faults = Faults::default();
        for bad in [
            json!([]),
            json!({}),
            json!({"path": "/x"}),
            json!({"operationId": "noSuchThing", "status": 500}),
            json!({"status": 200}),
            json!({"status": 70000}),
            json!({"errorCode": "NOT_A_CODE"}),
            json!({"drop": true, "status": 500}),
            json!({"retryAfterSeconds": 3, "status": 500}),
            json!({"status": 500, "times": 0}),
            json!({"status": 500, "fraction": 1.5}),
            json!({"status": 500, "fraction": "half"}),
            json!({"status": 500, "colour": "red"}),
            json!({"latencyMs": 999_999_999}),
        ] {
            assert!(faults.add(&bad).is_err(), "{bad}");
        }
        assert_eq!(faults.list(), json!([]));
    }

    #[test]
    fn rate_limit_rules_answer_atlas_429s_with_retry_after() {
        let faults = Faults::default();
        faults
            .add(&json!({"operationId": "listGroups", "retryAfterSeconds": 7}))
            .unwrap();
        let d = faults
            .check(&target("GET", "/api/atlas/v2/groups", Some("listGroups")))
            .unwrap();
        let Action::Error(e) = d.action else { panic!() };
        assert_eq!((e.status(), e.code()), (429, "RATE_LIMITED_TOKEN_BUCKET"));
        assert!(e.headers().contains(&("Retry-After", "7".to_owned())));
    }
}
