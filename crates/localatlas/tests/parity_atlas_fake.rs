//! The record → parity loop against an upstream that answers like Atlas where localatlas does
//! not: a scripted fake of Atlas (in this file, on a loopback port) that challenges and checks
//! HTTP Digest as Atlas does and answers a project's life with Atlas's documents, media types
//! and rate-limit headers, three of its answers differing from localatlas's. A client runs
//! through `localatlas record` in front of it; the recording must hold no secret of the run, and
//! `localatlas parity` against a fresh localatlas must skip the challenge legs with their reason
//! and report exactly the three scripted differences, on the exchanges that carry them, in its
//! figures and in its gate: whether the client answers one challenge for the whole run (as
//! Python's `requests` does) or is challenged before every request (as Atlas's Go clients are).
//! A tool's own organization and project, met first in a body or in a list that names them
//! otherwise than localatlas does, stand for the fresh localatlas's own.
//!
//! Each scripted answer says what real Atlas behaviour it stands for: recorded traffic
//! (`../shared/conformance/corpus.jsonl`, by sequence), the semantics reference next to it
//! (`../shared/reference/atlas-api-semantics.md`, for the Digest challenge, which the corpus does
//! not hold), Atlas's answers as its own clients show them, and one stand-in, said as such. The
//! answers are written here, so the test runs without `../shared`.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use common::{ACCEPT, Server, digest, exchange_raw, parity, recorder_of, wait_lines};
use http_body_util::BodyExt as _;
use md5::Digest as _;
use serde_json::{Value, json};

/// The API key the fake knows (an Atlas public key is 8 lower-case letters, its private key a
/// UUID), and the organization it belongs to.
const PUBLIC_KEY: &str = "qxuvmdcn";
const PRIVATE_KEY: &str = "0b5e8f3a-6c2d-4e71-9a4b-d83f1c6e2a90";
const ORG_ID: &str = "5f3c2a1b0e9d8c7b6a594837";
/// The id the fake gives the project the client creates.
const GROUP_ID: &str = "6a7e51c2d3b4a5968778695a";
/// A project the account had before the run, and its name.
const EXISTING_GROUP_ID: &str = "6a7e51c2d3b4a59687786001";
const EXISTING_PROJECT: &str = "Acme Production";
const REALM: &str = "MMS Public API";
/// Atlas's `Content-Type` of a success in the version asked for (every corpus answer).
const SUCCESS: &str = "application/vnd.atlas.2023-01-01+json;charset=utf-8";
const ATLAS: &str = "https://cloud.mongodb.com";
/// The project's name and the access-list entry the client makes.
const PROJECT: &str = "fake-atlas-project";
const ENTRY: &str = "192.0.2.7";

// ---------------------------------------------------------------------------------------------
// The fake.

/// What the fake has seen and holds: the nonces it issued, the Digest answers it accepted or
/// refused, the rate-limit tokens spent per endpoint set (keyed by its capacity), and the
/// project's access-list entries.
#[derive(Default)]
struct Atlas {
    nonces: Vec<String>,
    verified: usize,
    refused: Vec<String>,
    spent: HashMap<u32, u32>,
    entries: HashSet<String>,
}

struct FakeAtlas {
    addr: SocketAddr,
    state: Arc<Mutex<Atlas>>,
    /// Serves the fake; dropped with the test, which stops it.
    _runtime: tokio::runtime::Runtime,
}

impl FakeAtlas {
    fn start() -> FakeAtlas {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let state = Arc::new(Mutex::new(Atlas::default()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&state));
        runtime.spawn(async move { axum::serve(listener, app).await });
        FakeAtlas {
            addr,
            state,
            _runtime: runtime,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Atlas> {
        self.state.lock().unwrap()
    }
}

async fn answer(State(state): State<Arc<Mutex<Atlas>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let method = parts.method.as_str();
    let mut atlas = state.lock().unwrap();
    // Atlas authenticates before anything else: no credentials, or credentials that do not
    // verify, get the same challenge (semantics reference §4.1: a wrong public or private key
    // gets a byte-identical 401).
    match parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        None => return atlas.challenge(),
        Some(authorization) => match atlas.verify(method, &target, authorization) {
            Ok(()) => atlas.verified += 1,
            Err(why) => {
                atlas.refused.push(why);
                return atlas.challenge();
            }
        },
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    atlas.script(method, parts.uri.path(), &body)
}

impl Atlas {
    /// Atlas's Digest challenge, as its snapshots recorded it (semantics reference §4.1): a
    /// fresh nonce of 32 base64 characters per challenge, no `opaque`, a pretty-printed body in
    /// the order error/reason/detail/errorCode with `UNEXPECTED_ERROR`, `application/json`, and
    /// neither `X-Error-Code` nor rate-limit headers.
    fn challenge(&mut self) -> Response {
        let seed = sha2::Sha256::digest(format!("fake-atlas nonce {}", self.nonces.len()));
        let nonce = base64::engine::general_purpose::STANDARD.encode(&seed[..24]);
        self.nonces.push(nonce.clone());
        let body = "{\n  \"error\" : 401,\n  \"reason\" : \"Unauthorized\",\n  \"detail\" : \
                    \"You are not authorized for this resource.\",\n  \"errorCode\" : \
                    \"UNEXPECTED_ERROR\"\n}";
        let www = format!(
            "Digest realm=\"{REALM}\", domain=\"\", nonce=\"{nonce}\", algorithm=MD5, \
             qop=\"auth\", stale=false"
        );
        respond(
            401,
            &[
                ("Content-Type", "application/json".to_owned()),
                ("Server", "mdbws".to_owned()),
                ("Www-Authenticate", www),
            ],
            Some(body.to_owned()),
        )
    }

    /// Checks an `Authorization: Digest` answer (RFC 2617, MD5, `qop=auth`) against this fake's
    /// key, a nonce it issued, and the request as it arrived: the proxy must have left the
    /// method, the path and the header untouched for it to verify.
    fn verify(&self, method: &str, target: &str, authorization: &str) -> Result<(), String> {
        let params = authorization
            .strip_prefix("Digest ")
            .map(digest_params)
            .ok_or_else(|| format!("not Digest: {authorization}"))?;
        let get = |name: &str| params.get(name).map_or("", String::as_str);
        let nonce = get("nonce");
        let checks = [
            (get("username") == PUBLIC_KEY, "an unknown public key"),
            (get("realm") == REALM, "another realm"),
            (
                self.nonces.iter().any(|n| n == nonce),
                "a nonce never issued",
            ),
            (get("uri") == target, "a uri other than the request's"),
            (get("qop") == "auth", "no qop=auth"),
            (
                get("algorithm").is_empty() || get("algorithm").eq_ignore_ascii_case("MD5"),
                "an algorithm other than MD5",
            ),
        ];
        if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(format!("{why}: {authorization} for {method} {target}"));
        }
        let ha1 = md5_hex(&format!("{PUBLIC_KEY}:{REALM}:{PRIVATE_KEY}"));
        let ha2 = md5_hex(&format!("{method}:{target}"));
        let expected = md5_hex(&format!(
            "{ha1}:{nonce}:{}:{}:auth:{ha2}",
            get("nc"),
            get("cnonce")
        ));
        if get("response") == expected {
            Ok(())
        } else {
            Err(format!("a wrong response: {authorization}"))
        }
    }

    /// `Ratelimit-Limit` and `Ratelimit-Remaining` of the endpoint set of this capacity (1200
    /// for projects and their access list, 500 for organizations, in every corpus answer of
    /// those endpoints), one token spent per answer.
    fn limits(&mut self, capacity: u32) -> [(&'static str, String); 2] {
        let spent = self.spent.entry(capacity).or_default();
        *spent += 1;
        [
            ("Ratelimit-Limit", capacity.to_string()),
            ("Ratelimit-Remaining", (capacity - *spent).to_string()),
        ]
    }

    /// A success in the version asked for, with its rate-limit headers and the Java method
    /// Atlas names in `X-Java-Method`.
    fn success(&mut self, status: u16, capacity: u32, java: &str, body: Option<Value>) -> Response {
        let [limit, remaining] = self.limits(capacity);
        let mut headers = vec![("Content-Type", SUCCESS.to_owned()), limit, remaining];
        if !java.is_empty() {
            headers.push(("X-Java-Method", java.to_owned()));
        }
        respond(status, &headers, body.map(|b| b.to_string()))
    }

    /// An Atlas error: `application/json`, `X-Error-Code`, rate-limit headers, and the body's
    /// keys as every corpus error has them.
    fn error(
        &mut self,
        status: u16,
        code: &str,
        detail: &str,
        parameters: Value,
        java: &str,
    ) -> Response {
        let [limit, remaining] = self.limits(1200);
        let reason = hyper::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default();
        let body = json!({"detail": detail, "error": status, "errorCode": code,
                          "parameters": parameters, "reason": reason});
        respond(
            status,
            &[
                ("Content-Type", "application/json".to_owned()),
                limit,
                remaining,
                ("X-Error-Code", code.to_owned()),
                ("X-Java-Method", java.to_owned()),
            ],
            Some(body.to_string()),
        )
    }

    /// The scripted answers, one per call of [`run_client`].
    fn script(&mut self, method: &str, path: &str, body: &Value) -> Response {
        let rel = path.strip_prefix("/api/atlas/v2").unwrap_or(path);
        let rel = rel.strip_prefix('/').unwrap_or(rel);
        let segments: Vec<String> = rel
            .split('/')
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (method, segments.as_slice()) {
            // cli/atlas_iam/TestAtlasOrgs#000: the key's one organization, as a page (under
            // its own name, not localatlas's).
            ("GET", ["orgs"]) => {
                let page = page("orgs", vec![organization()]);
                self.success(200, 500, "ApiOrganizationsResource::getAllOrgs", Some(page))
            }
            // cli/atlas_iam/TestAtlasProjects#001: the projects the key sees, as a page; here
            // the one the account had before the run.
            ("GET", ["groups"]) => {
                let page = page(
                    "groups",
                    vec![project_of(EXISTING_GROUP_ID, EXISTING_PROJECT)],
                );
                self.success(
                    200,
                    1200,
                    "ApiAtlasGroupsResource::getAllGroups",
                    Some(page),
                )
            }
            // The project the account had, as localatlas answers one.
            ("GET", ["groups", EXISTING_GROUP_ID]) => self.success(
                200,
                1200,
                "ApiAtlasGroupsResource::getGroup",
                Some(project_of(EXISTING_GROUP_ID, EXISTING_PROJECT)),
            ),
            // The API root: the calling key's description (the spec's `SystemStatus`; not in
            // the corpus, so its rate-limit capacity and Java method are not known: 1200 and
            // none here), the same keys in localatlas.
            ("GET", [""]) => self.success(200, 1200, "", Some(system_status())),
            // cli/atlas_iam/TestAtlasOrgs#001: an organization, as the same in localatlas.
            ("GET", ["orgs", ORG_ID]) => self.success(
                200,
                500,
                "ApiOrganizationsResource::getOrg",
                Some(organization()),
            ),
            // cli/atlas_backup_compliancepolicy/TestBackupCompliancePolicyDescribe#000: a new
            // project, 201, as the same in localatlas.
            ("POST", ["groups"]) if body["orgId"] == ORG_ID => {
                let name = body["name"].as_str().unwrap_or(PROJECT);
                self.success(
                    201,
                    1200,
                    "ApiAtlasGroupsResource::addGroup",
                    Some(project(name)),
                )
            }
            // cli/atlas_iam/TestAtlasProjects#002, with two differences from localatlas:
            // - `regionUsageRestrictions`, which Atlas for Government answers for every project
            //   (the spec: it applies to Atlas for Government only, and commercial Atlas leaves
            //   it out); localatlas is commercial Atlas and never answers it: a missing key.
            // - `clusterCount` as a string. No recorded Atlas answer types a project's property
            //   otherwise than localatlas does (the corpus's one type difference,
            //   cli/atlas_search/TestSearch#009's `completeDate`, needs a cluster), so this one
            //   stands in for that class: an int64 answered as a JSON string.
            ("GET", ["groups", GROUP_ID]) => {
                let mut doc = project(PROJECT);
                doc["regionUsageRestrictions"] = json!("COMMERCIAL_FEDRAMP_REGIONS_ONLY");
                doc["clusterCount"] = json!("0");
                self.success(200, 1200, "ApiAtlasGroupsResource::getGroup", Some(doc))
            }
            // cli/atlas_generic/TestAccessList#001: the entries added, as a page of the list.
            ("POST", ["groups", GROUP_ID, "accessList"]) => {
                let added = body.as_array().cloned().unwrap_or_default();
                for entry in &added {
                    if let Some(ip) = entry["ipAddress"].as_str() {
                        self.entries.insert(ip.to_owned());
                    }
                }
                let results: Vec<Value> = added
                    .iter()
                    .map(|e| access_entry(e["ipAddress"].as_str().unwrap_or_default(), e))
                    .collect();
                let page = json!({
                    "links": [{"href": format!("{ATLAS}/api/atlas/v2/groups/{GROUP_ID}/accessList?includeCount=true&pageNum=1&itemsPerPage=100"), "rel": "self"}],
                    "results": results,
                    "totalCount": results.len(),
                });
                self.success(
                    201,
                    1200,
                    "ApiAtlasNetworkAccessListResource::addAtlasWhitelist",
                    Some(page),
                )
            }
            // cli/atlas_generic/TestAccessList#004: 204, with the version's media type and no
            // body, as the same in localatlas.
            ("DELETE", ["groups", GROUP_ID, "accessList", entry])
                if self.entries.remove(*entry) =>
            {
                self.success(
                    204,
                    1200,
                    "ApiAtlasNetworkAccessListResource::deleteAtlasWhitelist",
                    None,
                )
            }
            // An entry the project does not have. Atlas answers 404
            // ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND ("IP Address <entry> not on Atlas access
            // list for group <groupId>."), and so does localatlas. To script an errorCode
            // difference, the fake answers with the code Atlas used for the same case while the
            // list was called a whitelist (ATLAS_WHITELIST_NOT_FOUND, in Atlas's error-code
            // documentation of that time): a stand-in for an Atlas that answers another code.
            ("GET" | "DELETE", ["groups", GROUP_ID, "accessList", entry]) => self.error(
                404,
                "ATLAS_WHITELIST_NOT_FOUND",
                &format!("IP Address {entry} not on Atlas whitelist for group {GROUP_ID}."),
                json!([entry, GROUP_ID]),
                "ApiAtlasNetworkAccessListResource::getAtlasNetworkPermissionEntry",
            ),
            // cli/atlas_backup_restores/TestRestores#037: 202 with `{}` (the spec says 204), as
            // the same in localatlas.
            ("DELETE", ["groups", GROUP_ID]) => self.success(
                202,
                1200,
                "ApiAtlasGroupsResource::deleteGroup",
                Some(json!({})),
            ),
            // Anything else: Atlas's answer to a path it does not serve (semantics reference
            // §3.3, `RESOURCE_NOT_FOUND`); the client's run never gets it.
            _ => self.error(
                404,
                "RESOURCE_NOT_FOUND",
                &format!("Cannot find resource {path}."),
                json!([path]),
                "unscripted",
            ),
        }
    }
}

fn respond(status: u16, headers: &[(&str, String)], body: Option<String>) -> Response {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, value.as_str());
    }
    response
        .body(body.map_or_else(Body::empty, Body::from))
        .expect("a response")
}

fn md5_hex(text: &str) -> String {
    md5::Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parameters of a Digest header after its scheme, names in lower case.
fn digest_params(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_ascii_lowercase();
        let after = &rest[eq + 1..];
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').unwrap_or(quoted.len());
                (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim(), &after[end..])
            }
        };
        out.insert(name, value.to_owned());
        rest = next;
    }
    out
}

fn system_status() -> Value {
    json!({
        "apiKey": {
            "accessList": [],
            "id": "5f3c2a1b0e9d8c7b6a59483a",
            "publicKey": PUBLIC_KEY,
            "roles": [{"orgId": ORG_ID, "roleName": "ORG_OWNER"}],
        },
        "appName": "MongoDB Atlas",
        "build": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
        "links": [{"href": format!("{ATLAS}/api/atlas/v2"), "rel": "self"}],
        "throttling": false,
    })
}

fn organization() -> Value {
    let org = format!("{ATLAS}/api/atlas/v2/orgs/{ORG_ID}");
    json!({
        "id": ORG_ID,
        "isDeleted": false,
        "links": [
            {"href": org, "rel": "self"},
            {"href": format!("{org}/groups"), "rel": "https://cloud.mongodb.com/groups"},
            {"href": format!("{org}/teams"), "rel": "https://cloud.mongodb.com/teams"},
            {"href": format!("{org}/users"), "rel": "https://cloud.mongodb.com/users"},
        ],
        "name": "Acme Corp",
        "skipDefaultAlertsSettings": false,
    })
}

/// A page of a list (the first, of everything), as Atlas answers with `includeCount` true.
fn page(rel: &str, results: Vec<Value>) -> Value {
    json!({
        "links": [{"href": format!("{ATLAS}/api/atlas/v2/{rel}?includeCount=true&pageNum=1&itemsPerPage=100"),
                   "rel": "self"}],
        "totalCount": results.len(),
        "results": results,
    })
}

fn project(name: &str) -> Value {
    project_of(GROUP_ID, name)
}

fn project_of(id: &str, name: &str) -> Value {
    let group = format!("{ATLAS}/api/atlas/v2/groups/{id}");
    let mut links = vec![json!({"href": group, "rel": "self"})];
    for rel in [
        "containers",
        "clusters",
        "databaseUsers",
        "peers",
        "processes",
        "whitelist",
    ] {
        links.push(json!({"href": format!("{group}/{rel}"),
                          "rel": format!("https://cloud.mongodb.com/{rel}")}));
    }
    json!({
        "clusterCount": 0,
        "created": "2026-08-10T03:03:11Z",
        "id": id,
        "links": links,
        "name": name,
        "orgId": ORG_ID,
        "withDefaultAlertsSettings": true,
    })
}

fn access_entry(ip: &str, sent: &Value) -> Value {
    json!({
        "cidrBlock": format!("{ip}/32"),
        "comment": sent["comment"],
        "groupId": GROUP_ID,
        "ipAddress": ip,
        "links": [{"href": format!("{ATLAS}/api/atlas/v2/groups/{GROUP_ID}/accessList/{ip}%2F32"),
                   "rel": "self"}],
    })
}

// ---------------------------------------------------------------------------------------------
// The client.

/// A header's value in an answer's header block (names in any case).
fn header(headers: &str, name: &str) -> Option<String> {
    headers.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// A Digest client as Python's `requests` (`HTTPDigestAuth`) is one: its first request goes
/// out bare and gets the challenge, and every later request answers that challenge again with
/// the next nonce count (a .NET client does the same against Atlas for an hour: semantics
/// reference §4.1). It keeps the nonce and every Digest `response` it sent, to look for them in
/// the recording.
///
/// With `every_request`, it is a client as Atlas's Go clients are (the Atlas CLI, the
/// Terraform provider, the Go SDK's digest transport): every request goes out bare first, and
/// is signed with the nonce of its own challenge.
struct DigestClient<'a> {
    proxy: &'a Server,
    every_request: bool,
    nonce: Option<String>,
    nc: u32,
    secrets: Vec<String>,
}

impl<'a> DigestClient<'a> {
    fn new(proxy: &'a Server, every_request: bool) -> DigestClient<'a> {
        DigestClient {
            proxy,
            every_request,
            nonce: None,
            nc: 0,
            secrets: vec![PRIVATE_KEY.to_owned()],
        }
    }

    fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, String, Value) {
        if self.every_request {
            self.nonce = None;
            self.nc = 0;
        }
        let nonce = match &self.nonce {
            Some(nonce) => nonce.clone(),
            None => {
                let (status, headers, text) = self.proxy.request(method, path, None, body);
                assert_eq!(status, 401, "{method} {path} bare: {headers}\n{text}");
                let challenge = header(&headers, "www-authenticate").expect("a challenge");
                assert!(
                    challenge.starts_with(r#"Digest realm="MMS Public API", domain="", nonce=""#),
                    "{challenge}"
                );
                let nonce =
                    digest_params(challenge.strip_prefix("Digest ").unwrap())["nonce"].clone();
                self.secrets.push(nonce.clone());
                self.nonce = Some(nonce.clone());
                nonce
            }
        };
        self.nc += 1;
        let authorization = digest(PUBLIC_KEY, PRIVATE_KEY, method, path, &nonce, self.nc);
        let params = digest_params(authorization.strip_prefix("Digest ").unwrap());
        self.secrets.push(params["response"].clone());
        let (status, headers, text) = self.proxy.request(method, path, Some(&authorization), body);
        assert_ne!(status, 401, "{method} {path} signed: {headers}\n{text}");
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
}

/// A call: method, path, body, and the status the fake answers.
type Call = (&'static str, String, Option<Value>, u16);

/// A tool's run against a project: check its key (the API root), read its organization, create
/// a project and read it, add an access-list entry, delete it, read it again (gone), delete the
/// project. The organization is first met as a path parameter.
fn project_life() -> Vec<Call> {
    let group = format!("/api/atlas/v2/groups/{GROUP_ID}");
    let entry = format!("{group}/accessList/{ENTRY}");
    vec![
        ("GET", "/api/atlas/v2".to_owned(), None, 200),
        ("GET", format!("/api/atlas/v2/orgs/{ORG_ID}"), None, 200),
        (
            "POST",
            "/api/atlas/v2/groups".to_owned(),
            Some(json!({"name": PROJECT, "orgId": ORG_ID})),
            201,
        ),
        ("GET", group.clone(), None, 200),
        (
            "POST",
            format!("{group}/accessList"),
            Some(json!([{"ipAddress": ENTRY, "comment": "office"}])),
            201,
        ),
        ("DELETE", entry.clone(), None, 204),
        ("GET", entry, None, 404),
        ("DELETE", group, None, 202),
    ]
}

/// Makes the calls through the recorder, each answered as scripted. Returns how many.
fn run_client(client: &mut DigestClient<'_>, calls: &[Call]) -> usize {
    for (method, path, body, expected) in calls {
        let (status, headers, answer) = client.call(method, path, body.as_ref());
        assert_eq!(status, *expected, "{method} {path}: {headers}\n{answer}");
        assert!(
            header(&headers, "ratelimit-limit").is_some(),
            "{method} {path}: {headers}"
        );
    }
    calls.len()
}

// ---------------------------------------------------------------------------------------------
// The test.

fn assert_recording_holds_no_secret(out: &Path, secrets: &[String]) {
    let text = std::fs::read_to_string(out).unwrap();
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{secret} leaked into the recording:\n{text}"
        );
    }
    assert!(
        !text.to_ascii_lowercase().contains("authorization"),
        "{text}"
    );
}

/// The operations whose replay differs, and how (everything else must agree on every part).
const GET_GROUP: &str = "GET /api/atlas/v2/groups/{groupId}";
const GET_ENTRY: &str = "GET /api/atlas/v2/groups/{groupId}/accessList/{entryValue}";

#[test]
fn a_recording_of_a_scripted_atlas_replays_with_exactly_its_differences() {
    a_project_life_replays_with_exactly_its_differences(false);
}

/// Atlas's Go clients are challenged before every request: every challenge leg is skipped, and
/// none of them makes the organization in its path count as met, so each signed request is sent
/// with the fresh localatlas's organization.
#[test]
fn a_client_challenged_before_every_request_replays_with_exactly_its_differences() {
    a_project_life_replays_with_exactly_its_differences(true);
}

fn a_project_life_replays_with_exactly_its_differences(every_request: bool) {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeAtlas::start();
    let out = dir.path().join("atlas.jsonl");
    let boot = json!({"apiKey": {"publicKey": PUBLIC_KEY, "privateKey": PRIVATE_KEY},
                      "orgId": ORG_ID});
    let proxy = recorder_of(
        &format!("http://{}", fake.addr),
        &boot,
        dir.path(),
        &out,
        &[],
    );

    // The client's run through the recorder: one challenge (or one per call), then every call
    // signed and verified at the fake.
    let mut client = DigestClient::new(&proxy, every_request);
    // A Go client does not call the API root first: the organization is first met in a path,
    // right after its challenge leg (the root's answer would name it, in the key's roles).
    let first = usize::from(every_request);
    let calls = run_client(&mut client, &project_life()[first..]);
    let challenges = if every_request { calls } else { 1 };
    let expected = calls + challenges;
    {
        let atlas = fake.state();
        assert!(atlas.refused.is_empty(), "{:?}", atlas.refused);
        assert_eq!(atlas.verified, calls);
        assert_eq!(atlas.nonces.len(), challenges);
    }
    // The fake's check is real: straight to it (not recorded), another key's answer to its
    // nonce, or the right one for another path, is refused with a fresh challenge.
    let nonce = fake.state().nonces[0].clone();
    let path = format!("/api/atlas/v2/orgs/{ORG_ID}");
    for authorization in [
        digest(PUBLIC_KEY, "not-the-private-key", "GET", &path, &nonce, 9),
        digest(PUBLIC_KEY, PRIVATE_KEY, "GET", "/api/atlas/v2", &nonce, 9),
    ] {
        let raw = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: {ACCEPT}\r\nAuthorization: \
             {authorization}\r\nConnection: close\r\n\r\n",
            fake.addr
        );
        let (status, headers, _) = exchange_raw(&fake.addr.to_string(), raw.as_bytes());
        assert_eq!(status, 401, "{headers}");
    }
    assert_eq!(fake.state().refused.len(), 2);
    let recording = wait_lines(&out, expected);
    assert_eq!(recording.len(), expected, "{recording:?}");

    // No secret of the run in the file: the private key, the nonce, the Digest responses.
    assert_recording_holds_no_secret(&out, &client.secrets);

    // Atlas's answers as recorded: the challenges with their nonce hidden (and said so) and
    // Atlas's body, first, or before each call; each answer with the operation it matched, its
    // media type and Atlas's headers.
    let (challenge_lines, api): (Vec<&Value>, Vec<&Value>) = recording
        .iter()
        .partition(|l| l["kind"] == "auth-challenge");
    assert_eq!(challenge_lines.len(), challenges, "{recording:?}");
    assert_eq!(recording[0]["kind"], "auth-challenge");
    if every_request {
        for pair in recording.chunks(2) {
            assert_eq!(pair[0]["kind"], "auth-challenge", "{pair:?}");
            assert_eq!(pair[0]["path"], pair[1]["path"], "{pair:?}");
        }
    }
    for challenge in &challenge_lines {
        assert_eq!(challenge["status"], 401);
        assert_eq!(
            challenge["response_headers"]["WWW-Authenticate"],
            r#"Digest realm="MMS Public API", domain="", nonce="[REDACTED]", algorithm=MD5, qop="auth", stale=false"#
        );
        assert!(
            challenge["redacted"]
                .as_array()
                .unwrap()
                .contains(&json!("response_headers.WWW-Authenticate")),
            "{challenge}"
        );
        assert_eq!(challenge["response_body"]["errorCode"], "UNEXPECTED_ERROR");
        assert_eq!(challenge["response_media"], "application/json");
        assert!(
            challenge["response_headers"]
                .get("Ratelimit-Limit")
                .is_none(),
            "{challenge}"
        );
    }
    let operations: Vec<&str> = api
        .iter()
        .map(|l| l["operation_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        operations,
        [
            "getSystemStatus",
            "getOrg",
            "createGroup",
            "getGroup",
            "createGroupAccessListEntry",
            "deleteGroupAccessListEntry",
            "getGroupAccessListEntry",
            "deleteGroup"
        ][first..]
    );
    for line in &api {
        assert_eq!(line["kind"], "api", "{line}");
        assert_eq!(line["request_version"], "2023-01-01", "{line}");
        assert!(
            line["response_headers"]["Ratelimit-Remaining"].is_string(),
            "{line}"
        );
    }
    let deleted = api[5 - first];
    assert_eq!(deleted["status"], 204);
    assert_eq!(deleted["response_body"], Value::Null);
    assert_eq!(
        deleted["response_media"],
        "application/vnd.atlas.2023-01-01+json"
    );
    let gone = api[6 - first];
    assert_eq!(gone["error_code"], "ATLAS_WHITELIST_NOT_FOUND");
    assert_eq!(
        gone["response_headers"]["X-Error-Code"],
        "ATLAS_WHITELIST_NOT_FOUND"
    );
    assert_eq!(gone["response_media"], "application/json");

    // The replay against a fresh localatlas, with floors that every figure but the shape and
    // the errorCode meets.
    let (ok, stdout, report) = parity(&out, dir.path(), &["--min-status", "1", "--max-lost", "0"]);
    assert!(ok, "{stdout}");
    let overall = &report["overall"];
    assert_eq!(overall["exchanges"], expected, "{stdout}");
    assert_eq!(overall["replayed"], calls, "{stdout}");
    assert_eq!(overall["errors"], 0, "{stdout}");
    // The challenge legs, and only they, are skipped, with their reason: the replay answers
    // localatlas's own challenge instead.
    assert_eq!(
        overall["skip_reasons"],
        json!({"digest challenge leg": challenges}),
        "{stdout}"
    );
    let exchanges = report["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), recording.len(), "{stdout}");
    type Pairs<'a> = Vec<(&'a Value, &'a Value)>;
    let (skipped, replayed): (Pairs<'_>, Pairs<'_>) = exchanges
        .iter()
        .zip(&recording)
        .partition(|(_, line)| line["kind"] == "auth-challenge");
    for (x, _) in &skipped {
        assert_eq!(x["outcome"], "skipped", "{x}");
        assert_eq!(x["skip_reason"], "digest challenge leg", "{x}");
    }
    let replayed: Vec<&Value> = replayed.into_iter().map(|(x, _)| x).collect();

    // Exactly the scripted differences, on the exchanges that carry them.
    let none = json!([]);
    for (x, line) in replayed.iter().zip(&api) {
        let operation = format!(
            "{} {}",
            line["method"].as_str().unwrap(),
            line["template"].as_str().unwrap()
        );
        assert_eq!(x["operation"], operation.as_str(), "{x}");
        assert_eq!(x["outcome"], "replayed", "{x}");
        assert_eq!(x["status_exact"], true, "{x}");
        assert_eq!(x["media_match"], true, "{x}");
        let sent = x["request"]["path"].as_str().unwrap();
        assert!(
            !sent.contains(GROUP_ID) && !sent.contains(ORG_ID),
            "the fresh localatlas's ids are sent, not the recorded ones: {x}"
        );
        let shaped = x["shape_similarity"].is_number();
        if shaped {
            assert_eq!(x["extra_keys"], none, "{x}");
        }
        match operation.as_str() {
            GET_GROUP => {
                assert_eq!(
                    x["missing_keys"],
                    json!(["$.regionUsageRestrictions"]),
                    "{x}"
                );
                assert_eq!(
                    x["type_mismatch"],
                    json!(["$.clusterCount: string != number"]),
                    "{x}"
                );
                // 9 of the 11 recorded key paths agree.
                let shape = x["shape_similarity"].as_f64().unwrap();
                assert!((shape - 9.0 / 11.0).abs() < 1e-9, "{x}");
                assert_eq!(x["error_code_match"], Value::Null, "{x}");
            }
            GET_ENTRY => {
                assert_eq!(x["recorded_error_code"], "ATLAS_WHITELIST_NOT_FOUND");
                assert_eq!(
                    x["actual_error_code"], "ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND",
                    "{x}"
                );
                assert_eq!(x["error_code_match"], false, "{x}");
                assert_eq!(x["shape_similarity"], 1.0, "{x}");
            }
            _ => {
                assert_eq!(x["error_code_match"], Value::Null, "{x}");
                assert_eq!(x["score"], 1.0, "{x}");
                if shaped {
                    assert_eq!(x["shape_similarity"], 1.0, "{x}");
                    assert_eq!(x["missing_keys"], none, "{x}");
                    assert_eq!(x["type_mismatch"], none, "{x}");
                }
            }
        }
    }
    assert_eq!(
        replayed[5 - first]["shape_similarity"],
        Value::Null,
        "a 204 has no body to compare"
    );

    // The figures: status and media type agree everywhere; the shape falls short by getGroup's
    // two paths alone (seven answers have a JSON body, six without the API root's); the one
    // recorded error has another code. Per operation, the same.
    assert_eq!(overall["status_match_rate"], 1.0, "{stdout}");
    assert_eq!(overall["media_match_rate"], 1.0, "{stdout}");
    let shape = overall["mean_shape_similarity"].as_f64().unwrap();
    let bodies = (7 - first) as f64;
    assert!(
        (shape - (bodies - 1.0 + 9.0 / 11.0) / bodies).abs() < 1e-9,
        "{stdout}"
    );
    assert_eq!(overall["error_code_match_rate"], 0.0, "{stdout}");
    for op in report["operations"].as_array().unwrap() {
        if op["replayed"] == 0 {
            continue;
        }
        assert_eq!(op["status_exact"], 1.0, "{op}");
        match op["operation"].as_str().unwrap() {
            GET_GROUP => {
                assert!(op["shape_similarity"].as_f64().unwrap() < 1.0, "{op}");
                assert_eq!(op["top_missing_keys"], json!(["$.regionUsageRestrictions"]));
            }
            GET_ENTRY => assert_eq!(op["error_code_match"], 0.0, "{op}"),
            _ => {
                assert!(
                    op["shape_similarity"] == 1.0 || op["shape_similarity"].is_null(),
                    "{op}"
                );
                assert!(op["error_code_match"].is_null(), "{op}");
            }
        }
    }
    assert!(stdout.contains("status match rate     100%"), "{stdout}");
    assert!(stdout.contains("errorCode match rate    0%"), "{stdout}");

    // A shape floor of 1 fails the command, and the gate says which figure.
    let (ok, stdout, report) = parity(&out, dir.path(), &["--min-shape", "1"]);
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("BELOW FLOOR"), "{stdout}");
    assert_eq!(report["gate"]["passed"], false);
    let failed: Vec<&Value> = report["gate"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert_eq!(failed[0]["figure"], "mean_shape_similarity", "{stdout}");

    eprintln!(
        "recorded and replayed against the fake Atlas in {:?}",
        started.elapsed()
    );
}

/// The runs of a tool that starts from the account's own organization (and project) without
/// naming it in a path first: Terraform's project resource creates its project straight away
/// (`POST /groups {"orgId": …}`); a script first lists the key's organization and projects,
/// which Atlas names otherwise than a fresh localatlas does. In both, the recorded organization
/// and the project the run did not create stand for the fresh localatlas's own, and the replay
/// agrees on everything (none of these calls has a scripted difference).
#[test]
fn the_tools_own_organization_and_project_stand_for_the_servers_wherever_first_met() {
    let created = format!("/api/atlas/v2/groups/{GROUP_ID}");
    let create = || -> Call {
        (
            "POST",
            "/api/atlas/v2/groups".to_owned(),
            Some(json!({"name": PROJECT, "orgId": ORG_ID})),
            201,
        )
    };
    let terraform: Vec<Call> = vec![
        create(),
        ("GET", format!("/api/atlas/v2/orgs/{ORG_ID}"), None, 200),
        ("DELETE", created.clone(), None, 202),
    ];
    let listing: Vec<Call> = vec![
        ("GET", "/api/atlas/v2/orgs".to_owned(), None, 200),
        ("GET", "/api/atlas/v2/groups".to_owned(), None, 200),
        (
            "GET",
            format!("/api/atlas/v2/groups/{EXISTING_GROUP_ID}"),
            None,
            200,
        ),
        create(),
        ("DELETE", created, None, 202),
    ];
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeAtlas::start();
    let boot = json!({"apiKey": {"publicKey": PUBLIC_KEY, "privateKey": PRIVATE_KEY},
                      "orgId": ORG_ID});
    for (name, calls) in [("terraform", terraform), ("listing", listing)] {
        let out = dir.path().join(format!("{name}.jsonl"));
        let proxy = recorder_of(
            &format!("http://{}", fake.addr),
            &boot,
            dir.path(),
            &out,
            &[],
        );
        // Challenged before every request, as Atlas's Go clients are.
        let mut client = DigestClient::new(&proxy, true);
        let n = run_client(&mut client, &calls);
        let recording = wait_lines(&out, 2 * n);
        assert_eq!(recording.len(), 2 * n, "{name}: {recording:?}");

        let (ok, stdout, report) =
            parity(&out, dir.path(), &["--min-status", "1", "--max-lost", "0"]);
        assert!(ok, "{name}: {stdout}");
        let overall = &report["overall"];
        assert_eq!(overall["replayed"], n, "{name}: {stdout}");
        assert_eq!(
            overall["skip_reasons"],
            json!({"digest challenge leg": n}),
            "{name}: {stdout}"
        );
        for figure in [
            "status_match_rate",
            "media_match_rate",
            "mean_shape_similarity",
            "mean_score",
        ] {
            assert_eq!(overall[figure], 1.0, "{name} {figure}: {stdout}");
        }
        let org = report["bootstrap"]["org_id"].as_str().unwrap();
        let project = report["bootstrap"]["project_id"].as_str().unwrap();
        for x in report["exchanges"].as_array().unwrap() {
            if x["outcome"] != "replayed" {
                continue;
            }
            assert_eq!(x["score"], 1.0, "{name}: {x}");
            let sent = x["request"]["path"].as_str().unwrap();
            for recorded in [ORG_ID, GROUP_ID, EXISTING_GROUP_ID] {
                assert!(!sent.contains(recorded), "{name}: {x}");
            }
            match x["template"].as_str().unwrap_or_default() {
                "/api/atlas/v2/orgs/{orgId}" => {
                    assert_eq!(sent, format!("/api/atlas/v2/orgs/{org}"), "{name}: {x}");
                }
                "/api/atlas/v2/groups/{groupId}" if x["method"] == "GET" => {
                    assert_eq!(
                        sent,
                        format!("/api/atlas/v2/groups/{project}"),
                        "{name}: {x}"
                    );
                }
                _ => {}
            }
        }
    }
}
