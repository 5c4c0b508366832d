//! Replaying a recording: each sequence in recorded order, each exchange either sent (with the
//! server's ids put in) and scored, or skipped with the reason it cannot be sent.
//!
//! Nothing is guessed. An exchange is skipped when it is the first leg of a Digest challenge
//! (the client answers the server's own challenge instead), when it is outside the v2 spec, when
//! it is a write whose body the recording lacks, or when it needs an id that only a skipped
//! exchange (or one the server did not list) would have produced, or one nothing earlier in the
//! sequence produced at all (an external prerequisite: something that existed in the recorded
//! account before the run). The organization and project a sequence did not create stand for the
//! server's own (its bootstrap organization and project), wherever the sequence first uses them:
//! a path parameter, a body's `orgId`/`groupId`, or the one organization or project a list
//! answered.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use atlas_model::{OPERATIONS, Operation};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::client::Client;
use super::corpus::Record;
use super::ids::{IdMap, client_chosen_names, collect_values, is_hex24};
use super::json::Json;
use super::score::{self, Answer, Score};

/// The placeholders the Atlas CLI's end-to-end recorder writes for the profile's own
/// organization and project: they stand for the server's bootstrap organization and project.
const CLI_MASKED_ORG_ID: &str = "a0123456789abcdef012345a";
const CLI_MASKED_PROJECT_ID: &str = "b0123456789abcdef012345b";

/// Sent unencoded in a path segment: RFC 3986's unreserved characters and sub-delimiters, `:`
/// and `@`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// Sent unencoded in a query name or value: unreserved characters only (a space becomes `+`).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What changes how exchanges are sent or skipped.
#[derive(Default, Clone)]
pub struct Options {
    /// The server's organization and project, for those the sequences did not create.
    pub org_id: Option<String>,
    pub project_id: Option<String>,
    /// Recorded value → the server's, known before the replay starts.
    pub map: Vec<(String, String)>,
    /// Send the corpus's answer-projected body for writes whose body was not recorded.
    pub derived_bodies: bool,
    pub include_non_spec: bool,
    /// Send exchanges whose path ids nothing in the sequence produced.
    pub include_external: bool,
    /// Skip writes whose body holds ObjectIds nothing in the sequence produced.
    pub strict_external: bool,
    /// One line per exchange on stderr.
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Replayed,
    Skipped,
    /// Sent, and no answer came (refused, reset, timed out).
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Replayed => "replayed",
            Outcome::Skipped => "skipped",
            Outcome::Error => "error",
        }
    }
}

/// The request as sent.
pub struct Sent {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub accept: String,
}

/// One exchange of the recording and what became of it.
pub struct ExchangeResult {
    pub id: String,
    pub sequence: String,
    pub step: i64,
    pub source: String,
    pub method: String,
    pub template: Option<String>,
    /// `METHOD template` (or the path, outside the spec).
    pub operation: String,
    pub recorded_status: u16,
    pub recorded_error_code: Option<String>,
    pub request_body_origin: Option<String>,
    pub outcome: Outcome,
    pub skip_reason: Option<String>,
    /// ObjectIds in the body that nothing in the sequence produced, sent as recorded.
    pub external_body_ids: Vec<String>,
    pub request: Option<Sent>,
    pub error: Option<String>,
    pub elapsed_ms: Option<u64>,
    pub score: Option<Score>,
}

impl ExchangeResult {
    pub fn is_write(&self) -> bool {
        super::corpus::WRITE_METHODS.contains(&self.method.as_str())
    }

    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        out.insert("sequence".into(), json!(self.sequence));
        out.insert("step".into(), json!(self.step));
        out.insert("source".into(), json!(self.source));
        out.insert("method".into(), json!(self.method));
        out.insert("template".into(), json!(self.template));
        out.insert("operation".into(), json!(self.operation));
        out.insert("recorded_status".into(), json!(self.recorded_status));
        out.insert(
            "recorded_error_code".into(),
            json!(self.recorded_error_code),
        );
        out.insert(
            "request_body_origin".into(),
            json!(self.request_body_origin),
        );
        out.insert("outcome".into(), json!(self.outcome.as_str()));
        if let Some(reason) = &self.skip_reason {
            out.insert("skip_reason".into(), json!(reason));
        }
        if !self.external_body_ids.is_empty() {
            out.insert("external_body_ids".into(), json!(self.external_body_ids));
        }
        if let Some(sent) = &self.request {
            out.insert(
                "request".into(),
                json!({"method": sent.method, "path": sent.path, "query": sent.query,
                       "accept": sent.accept}),
            );
        }
        if let Some(error) = &self.error {
            out.insert("error".into(), json!(error));
        }
        if let Some(ms) = self.elapsed_ms {
            out.insert("elapsed_ms".into(), json!(ms));
        }
        if let Some(score) = &self.score {
            score.write(&mut out);
        }
        Value::Object(out)
    }
}

pub struct Replayer {
    client: Client,
    options: Options,
    spec: HashMap<(&'static str, &'static str), &'static Operation>,
    pub results: Vec<ExchangeResult>,
}

impl Replayer {
    pub fn new(client: Client, options: Options) -> Replayer {
        let spec = OPERATIONS
            .iter()
            .map(|op| ((op.method.as_str(), op.path), op))
            .collect();
        Replayer {
            client,
            options,
            spec,
            results: Vec::new(),
        }
    }

    pub fn requests_sent(&self) -> u64 {
        self.client.requests_sent
    }

    pub fn into_parts(self) -> (Client, Vec<ExchangeResult>) {
        (self.client, self.results)
    }

    /// Replays one sequence with ids learnt afresh.
    pub async fn run_sequence(&mut self, records: &[Record]) {
        let mut ids = IdMap::default();
        let mut boot: HashMap<&'static str, String> = HashMap::new();
        if let Some(org) = &self.options.org_id {
            boot.insert("orgId", org.clone());
            ids.bind(CLI_MASKED_ORG_ID, org);
        }
        if let Some(project) = &self.options.project_id {
            boot.insert("groupId", project.clone());
            ids.bind(CLI_MASKED_PROJECT_ID, project);
        }
        for (recorded, server) in &self.options.map {
            ids.bind(recorded, server);
        }
        let mut own = Own::default();
        for rec in records {
            let result = self.run_exchange(rec, &mut ids, &boot, &mut own).await;
            if self.options.verbose {
                let detail = result.skip_reason.clone().unwrap_or_else(|| {
                    let score = result.score.as_ref();
                    format!(
                        "{}->{} sim={}",
                        rec.status,
                        score.map_or_else(|| "None".to_owned(), |s| s.actual_status.to_string()),
                        score
                            .and_then(|s| s.shape.as_ref())
                            .map_or_else(|| "-".to_owned(), |s| format!("{:.2}", s.similarity))
                    )
                });
                let path: String = rec.path.chars().take(70).collect();
                eprintln!(
                    "  {:<7} {:<4} {path:<70} {detail}",
                    result.outcome.as_str(),
                    rec.method
                );
            }
            self.results.push(result);
        }
    }

    async fn run_exchange(
        &mut self,
        rec: &Record,
        ids: &mut IdMap,
        boot: &HashMap<&'static str, String>,
        own: &mut Own,
    ) -> ExchangeResult {
        let mut res = ExchangeResult {
            id: rec.id.clone(),
            sequence: rec.sequence.clone(),
            step: rec.step,
            source: rec.source.clone(),
            method: rec.method.clone(),
            template: rec.template.clone(),
            operation: format!(
                "{} {}",
                rec.method,
                rec.template.as_deref().unwrap_or(&rec.path)
            ),
            recorded_status: rec.status,
            recorded_error_code: rec.error_code.clone(),
            request_body_origin: rec.request_body_origin.clone(),
            outcome: Outcome::Skipped,
            skip_reason: None,
            external_body_ids: Vec::new(),
            request: None,
            error: None,
            elapsed_ms: None,
            score: None,
        };
        // A challenge leg is the client's request before it signed it: the signed request that
        // follows is where the sequence uses its values.
        let challenge = rec.kind == "auth-challenge";
        if !challenge {
            own.adopt(rec, ids, boot);
        }
        let mut skip = self.skip_reason(rec, ids, boot);
        let mut body = &rec.request_body;
        let empty_by_design = rec
            .request_body_origin
            .as_deref()
            .is_some_and(|o| o.ends_with(":empty"));
        if skip.is_none() && rec.is_write() && body.is_null() && !empty_by_design {
            if self.options.derived_bodies && !rec.request_body_derived.is_null() {
                body = &rec.request_body_derived;
                res.request_body_origin = Some("response-projection".to_owned());
            } else {
                skip = Some("no request body".to_owned());
            }
        }
        if let Some(reason) = skip {
            res.skip_reason = Some(reason);
            mark_unavailable(rec, ids);
            // Not a challenge leg's values: they would count as met before the signed request
            // that really uses them, and the organization in its path would then be sent as
            // recorded instead of standing for the server's (Atlas's Go clients are challenged
            // before every request).
            if !challenge {
                see(rec, ids);
            }
            return res;
        }

        if rec.is_write() {
            res.external_body_ids = external_body_ids(rec, ids);
        }
        let path = map_path(rec, ids);
        let query = rec.query.as_deref().map(|q| map_query(q, ids));
        let accept = accept(rec);
        let mut headers = vec![
            ("accept", accept.clone()),
            (
                "user-agent",
                format!("localatlas-parity/{}", env!("CARGO_PKG_VERSION")),
            ),
        ];
        let data = if body.is_null() {
            None
        } else {
            headers.push(("content-type", content_type(rec)));
            Some(serde_json::to_vec(&ids.sub(body)).unwrap_or_default())
        };
        let target = match query.as_deref() {
            Some(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.clone(),
        };
        res.request = Some(Sent {
            method: rec.method.clone(),
            path,
            query,
            accept,
        });
        let started = Instant::now();
        let answer = match self
            .client
            .request(&rec.method, &target, &headers, data)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                res.outcome = Outcome::Error;
                res.error = Some(format!("{e:#}"));
                see(rec, ids);
                return res;
            }
        };
        res.elapsed_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        res.outcome = Outcome::Replayed;
        let actual = if answer.body.is_empty() {
            None
        } else {
            Json::parse(&answer.body).ok().filter(|v| !v.is_null())
        };
        let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok());
        res.score = Some(score::score(
            rec,
            &Answer {
                status: answer.status,
                content_type: header("content-type"),
                x_error_code: header("x-error-code"),
                body: actual.as_ref(),
                body_len: answer.body.len(),
            },
        ));
        // Learn from an answer that succeeded on both sides: the server's ids in its body, and
        // the path values and client-chosen names it accepted as they are.
        if (200..300).contains(&answer.status) && rec.status < 300 {
            if let Some(actual) = &actual {
                ids.learn(&rec.response_body, actual, None);
            }
            for (_, v) in &rec.path_params {
                let server = ids.mapped(v).to_owned();
                ids.bind(v, &server);
            }
            if rec.request_body.is_container() && rec.is_write() {
                for v in client_chosen_names(&rec.request_body) {
                    let server = ids.sub_str(&v);
                    ids.bind(&v, &server);
                }
            }
        }
        see(rec, ids);
        res
    }

    /// Why an exchange cannot be sent, if it cannot.
    fn skip_reason(
        &self,
        rec: &Record,
        ids: &mut IdMap,
        boot: &HashMap<&'static str, String>,
    ) -> Option<String> {
        if rec.kind == "auth-challenge" {
            return Some("digest challenge leg".to_owned());
        }
        if rec.kind == "non-spec" && !self.options.include_non_spec {
            return Some("not in the v2 spec".to_owned());
        }
        let op = rec
            .template
            .as_deref()
            .and_then(|t| self.spec.get(&(rec.method.as_str(), t)).copied());
        for (name, value) in &rec.path_params {
            // An enumerated value (a cloud provider, a period) is the same on every server.
            if op
                .and_then(|op| op.param(name))
                .is_some_and(|p| !p.enumeration.is_empty())
            {
                continue;
            }
            if ids.contains(value) {
                continue;
            }
            if (name == "orgId" || name == "groupId") && !ids.seen.contains(value) {
                // An organization or project the sequence did not create: the server's own
                // when known, else as recorded.
                let server = boot
                    .get(name.as_str())
                    .cloned()
                    .unwrap_or_else(|| value.clone());
                ids.bind(value, &server);
                continue;
            }
            if let Some(source) = ids.unavailable.get(value) {
                let what = if source.contains('#') {
                    "prerequisite skipped"
                } else {
                    "prerequisite not returned by emulator"
                };
                return Some(format!("{what} ({name}={value} from {source})"));
            }
            if !ids.seen.contains(value) && !self.options.include_external {
                return Some(format!("external prerequisite ({name}={value})"));
            }
        }
        if rec.is_write() {
            let mut values = HashSet::new();
            collect_values(&rec.request_body, &mut values, None, false);
            let mut values: Vec<String> = values.into_iter().collect();
            values.sort();
            for v in values {
                if let Some(source) = ids.unavailable.get(&v)
                    && !ids.contains(&v)
                    && !self.options.include_external
                {
                    return Some(format!(
                        "prerequisite skipped (body value {v} from {source})"
                    ));
                }
                // Ids nothing earlier produced (a pre-provisioned cloud provider role, say) go
                // as recorded, unless asked not to.
                if is_hex24(&v)
                    && !ids.contains(&v)
                    && !ids.seen.contains(&v)
                    && self.options.strict_external
                {
                    return Some(format!("external prerequisite in body ({v})"));
                }
            }
        }
        None
    }
}

/// The recorded organization and project that stand for the server's own: the first of each a
/// sequence uses. The reference replayer learns them only from a path parameter (`orgId`,
/// `groupId`); a client's first use may also be a body (`POST /groups {"orgId": …}`, how
/// Terraform's project resource starts) or a list the account's own organization answers alone
/// (`GET /orgs`), under a name the server does not give it, so list pairing cannot match them.
#[derive(Default)]
struct Own {
    org: Option<String>,
    project: Option<String>,
}

/// Where a sequence may first use its organization or project.
struct Use {
    param: &'static str,
    body_key: &'static str,
    lists: &'static [&'static str],
}

const ORG_USE: Use = Use {
    param: "orgId",
    body_key: "orgId",
    lists: &["/api/atlas/v2/orgs"],
};

const PROJECT_USE: Use = Use {
    param: "groupId",
    body_key: "groupId",
    lists: &["/api/atlas/v2/groups", "/api/atlas/v2/orgs/{orgId}/groups"],
};

impl Own {
    /// Notes the organization and project an exchange uses, the first time one is used, and
    /// binds it to the server's when the sequence has not met it before (it did not create it).
    fn adopt(&mut self, rec: &Record, ids: &mut IdMap, boot: &HashMap<&'static str, String>) {
        for (slot, used) in [(&mut self.org, &ORG_USE), (&mut self.project, &PROJECT_USE)] {
            if slot.is_some() {
                continue;
            }
            let Some(value) = first_use(rec, used) else {
                continue;
            };
            if !ids.seen.contains(&value)
                && let Some(server) = boot.get(used.param)
            {
                ids.bind(&value, server);
            }
            *slot = Some(value);
        }
    }
}

/// The organization or project an exchange uses: its path parameter, else the first body field
/// naming one, else the only element of a successful list of them.
fn first_use(rec: &Record, used: &Use) -> Option<String> {
    if let Some((_, v)) = rec.path_params.iter().find(|(k, _)| k == used.param) {
        return Some(v.clone());
    }
    if let Some(v) = first_field(&rec.request_body, used.body_key) {
        return Some(v.to_owned());
    }
    let listed = rec.method == "GET"
        && rec.status < 300
        && rec
            .template
            .as_deref()
            .is_some_and(|t| used.lists.contains(&t));
    if listed
        && let Some(Json::Array(results)) = rec.response_body.get("results")
        && let [only] = results.as_slice()
        && let Some(Json::String(id)) = only.get("id")
    {
        return Some(id.clone());
    }
    None
}

/// The first string under `key` in a body, depth first in document order.
fn first_field<'a>(value: &'a Json, key: &str) -> Option<&'a str> {
    match value {
        Json::Object(fields) => fields.iter().find_map(|(k, v)| match v {
            Json::String(s) if k == key => Some(s.as_str()),
            _ => first_field(v, key),
        }),
        Json::Array(items) => items.iter().find_map(|v| first_field(v, key)),
        _ => None,
    }
}

/// The request path with the server's ids, percent-encoded: the template filled with the
/// recorded parameters, or the recorded path itself outside the spec.
fn map_path(rec: &Record, ids: &IdMap) -> String {
    match &rec.template {
        Some(template) => {
            let mut out = String::with_capacity(template.len() + 32);
            let mut rest = template.as_str();
            while let Some(open) = rest.find('{') {
                let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                    break;
                };
                out.push_str(&rest[..open]);
                let name = &rest[open + 1..close];
                match rec.path_params.iter().find(|(k, _)| k == name) {
                    Some((_, v)) if !name.is_empty() => {
                        out.extend(utf8_percent_encode(ids.mapped(v), SEGMENT));
                    }
                    _ => out.push_str(&rest[open..=close]),
                }
                rest = &rest[close + 1..];
            }
            out.push_str(rest);
            out
        }
        None => rec
            .path
            .split('/')
            .map(|seg| {
                // A recorder keeps the raw path: decode first, so nothing is encoded twice and
                // an encoded `/` stays inside its segment. A server value with `/` in it takes
                // as many segments as it has.
                let decoded = percent_encoding::percent_decode_str(seg).decode_utf8_lossy();
                match ids.get(&decoded) {
                    Some(mapped) => mapped
                        .split('/')
                        .map(|part| utf8_percent_encode(part, SEGMENT).to_string())
                        .collect::<Vec<_>>()
                        .join("/"),
                    None => utf8_percent_encode(&decoded, SEGMENT).to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("/"),
    }
}

/// The query with the server's ids in its values, form-encoded again.
fn map_query(query: &str, ids: &IdMap) -> String {
    let plus = |s: &str| {
        utf8_percent_encode(s, QUERY)
            .to_string()
            .replace("%20", "+")
    };
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| format!("{}={}", plus(&k), plus(&ids.sub_str(&v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Accept` the recorded client sent (or the media type of its version).
fn accept(rec: &Record) -> String {
    if let Some(accept) = &rec.request_accept {
        return accept.clone();
    }
    match &rec.request_version {
        Some(v) => format!("application/vnd.atlas.{v}+json"),
        None => "application/json".to_owned(),
    }
}

fn content_type(rec: &Record) -> String {
    match &rec.request_version {
        Some(v) => format!("application/vnd.atlas.{v}+json"),
        None => "application/json".to_owned(),
    }
}

/// Remembers every value of a recorded exchange as seen in the sequence.
fn see(rec: &Record, ids: &mut IdMap) {
    let mut values = HashSet::new();
    collect_values(&rec.response_body, &mut values, None, false);
    collect_values(&rec.request_body, &mut values, None, false);
    values.extend(rec.path_params.iter().map(|(_, v)| v.clone()));
    ids.seen.extend(values);
}

/// The ids a skipped exchange would have produced (made by a skipped write, listed by a
/// skipped read) were never learnt from the server: later exchanges needing them are skipped.
fn mark_unavailable(rec: &Record, ids: &mut IdMap) {
    if rec.kind == "auth-challenge" || rec.status >= 300 {
        return;
    }
    let mut produced = HashSet::new();
    collect_values(&rec.response_body, &mut produced, None, true);
    produced.extend(client_chosen_names(&rec.request_body));
    if rec.request_body.is_null()
        && let Some(Json::String(name)) = rec.response_body.get("name")
    {
        produced.insert(name.clone());
    }
    for v in produced {
        if !ids.seen.contains(&v) && !ids.contains(&v) {
            ids.unavailable.entry(v).or_insert_with(|| rec.id.clone());
        }
    }
}

/// ObjectIds in a write's body that nothing in the sequence produced.
fn external_body_ids(rec: &Record, ids: &IdMap) -> Vec<String> {
    let mut values = HashSet::new();
    collect_values(&rec.request_body, &mut values, None, false);
    let mut out: Vec<String> = values
        .into_iter()
        .filter(|v| is_hex24(v) && !ids.contains(v) && !ids.seen.contains(v))
        .collect();
    out.sort();
    out
}

/// The first organization and project the server lists (not scored), for sequences that use
/// an organization or project they did not create.
pub async fn discover(client: &mut Client) -> (Option<String>, Option<String>) {
    let mut found = [None, None];
    for (slot, path) in found
        .iter_mut()
        .zip(["/api/atlas/v2/orgs", "/api/atlas/v2/groups"])
    {
        let headers = [("accept", "application/vnd.atlas.2023-01-01+json".to_owned())];
        let Ok(answer) = client.request("GET", path, &headers, None).await else {
            continue;
        };
        if answer.status != 200 {
            continue;
        }
        let Ok(body) = Json::parse(&answer.body) else {
            continue;
        };
        if let Some(Json::Array(results)) = body.get("results")
            && let Some(Json::String(id)) = results.first().and_then(|r| r.get("id"))
        {
            *slot = Some(id.clone());
        }
    }
    let [org, project] = found;
    (org, project)
}

#[cfg(test)]
mod tests {
    use super::super::ids::NOT_LISTED;
    use super::*;

    fn rec(line: &str) -> Record {
        Record::from_line_for_tests(line)
    }

    #[test]
    fn paths_and_queries_carry_the_server_ids_encoded() {
        let mut ids = IdMap::default();
        ids.bind("6a793f6cc0eb9e7a17715916", "6b1195f9bdb32bb69984a3f2");
        let r = rec(r#"{"sequence":"s","method":"DELETE","status":204,
                "path":"/api/atlas/v2/groups/6a793f6cc0eb9e7a17715916/accessList/10.0.0.0/16",
                "template":"/api/atlas/v2/groups/{groupId}/accessList/{entryValue}",
                "path_params":{"groupId":"6a793f6cc0eb9e7a17715916","entryValue":"10.0.0.0/16"},
                "query":"name=a b&groupId=6a793f6cc0eb9e7a17715916&flag"}"#);
        assert_eq!(
            map_path(&r, &ids),
            "/api/atlas/v2/groups/6b1195f9bdb32bb69984a3f2/accessList/10.0.0.0%2F16"
        );
        assert_eq!(
            map_query(r.query.as_deref().unwrap(), &ids),
            "name=a+b&groupId=6b1195f9bdb32bb69984a3f2&flag="
        );
        let raw = rec(
            r#"{"sequence":"s","method":"GET","status":200,"path":"/api/private/x%2Fy/6a793f6cc0eb9e7a17715916"}"#,
        );
        assert_eq!(
            map_path(&raw, &ids),
            "/api/private/x%2Fy/6b1195f9bdb32bb69984a3f2"
        );
    }

    #[test]
    fn the_first_organization_and_project_used_stand_for_the_servers() {
        let boot = HashMap::from([
            ("orgId", "server-org".to_owned()),
            ("groupId", "server-project".to_owned()),
        ]);
        // First met in a body, then in a list: only the first organization is the account's.
        let mut ids = IdMap::default();
        let mut own = Own::default();
        own.adopt(
            &rec(
                r#"{"sequence":"s","method":"POST","status":201,"path":"/api/atlas/v2/groups",
                "template":"/api/atlas/v2/groups",
                "request_body":{"name":"p","orgId":"recorded-org"}}"#,
            ),
            &mut ids,
            &boot,
        );
        assert_eq!(ids.mapped("recorded-org"), "server-org");
        own.adopt(
            &rec(
                r#"{"sequence":"s","method":"GET","status":200,"path":"/api/atlas/v2/orgs",
                "template":"/api/atlas/v2/orgs",
                "response_body":{"results":[{"id":"other-org","name":"Other"}]}}"#,
            ),
            &mut ids,
            &boot,
        );
        assert!(!ids.contains("other-org"));
        // The one project of a list, before the sequence made any.
        own.adopt(
            &rec(
                r#"{"sequence":"s","method":"GET","status":200,"path":"/api/atlas/v2/groups",
                "template":"/api/atlas/v2/groups",
                "response_body":{"results":[{"id":"recorded-project","name":"Prod"}]}}"#,
            ),
            &mut ids,
            &boot,
        );
        assert_eq!(ids.mapped("recorded-project"), "server-project");
        // A project the sequence met before (it created it) keeps what was learnt for it.
        let mut ids = IdMap::default();
        ids.seen.insert("made-project".into());
        let mut own = Own::default();
        own.adopt(
            &rec(r#"{"sequence":"s","method":"POST","status":201,"path":"/p",
                "request_body":{"groupId":"made-project"}}"#),
            &mut ids,
            &boot,
        );
        assert!(!ids.contains("made-project"));
        assert_eq!(own.project.as_deref(), Some("made-project"));
    }

    #[test]
    fn skips_say_why() {
        let replayer = Replayer::new(
            Client::new(
                "http://127.0.0.1:9",
                super::super::client::Auth::None,
                None,
                std::time::Duration::from_secs(1),
            )
            .unwrap(),
            Options::default(),
        );
        let boot = HashMap::from([("groupId", "server-project".to_owned())]);
        let mut ids = IdMap::default();
        let challenge = rec(
            r#"{"sequence":"s","method":"GET","status":401,"path":"/x","kind":"auth-challenge"}"#,
        );
        assert_eq!(
            replayer.skip_reason(&challenge, &mut ids, &boot).as_deref(),
            Some("digest challenge leg")
        );
        let get = |cluster: &str| {
            rec(&format!(
                r#"{{"sequence":"s","method":"GET","status":200,"path":"/p",
                "template":"/api/atlas/v2/groups/{{groupId}}/clusters/{{clusterName}}",
                "path_params":{{"groupId":"recorded-project","clusterName":"{cluster}"}}}}"#
            ))
        };
        assert_eq!(
            replayer.skip_reason(&get("c1"), &mut ids, &boot).as_deref(),
            Some("external prerequisite (clusterName=c1)")
        );
        assert_eq!(ids.mapped("recorded-project"), "server-project");
        // A cluster a skipped creation would have made.
        let create = rec(
            r#"{"id":"s#001","sequence":"s","method":"POST","status":201,"path":"/p",
                "response_body":{"name":"c2","id":"0123456789abcdef01234567"}}"#,
        );
        mark_unavailable(&create, &mut ids);
        assert_eq!(
            replayer.skip_reason(&get("c2"), &mut ids, &boot).as_deref(),
            Some("prerequisite skipped (clusterName=c2 from s#001)")
        );
        ids.unavailable.insert("c3".into(), NOT_LISTED.into());
        assert_eq!(
            replayer.skip_reason(&get("c3"), &mut ids, &boot).as_deref(),
            Some(
                "prerequisite not returned by emulator (clusterName=c3 from a list the emulator did not return it in)"
            )
        );
    }
}
