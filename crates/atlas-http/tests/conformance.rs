//! The whole-surface conformance test: one well-formed request, generated from the model, for
//! each of the spec's operations, in the order a client would use them (reads, creates,
//! replacements, updates, deletes; the scratch project's own deletion last).
//!
//! Every answer must be a declared success in the served version (or Atlas's real code where it
//! differs from the spec) with a body valid against the declared response schema, or an Atlas
//! 4xx saying a resource is missing or in the wrong state. Never: a 5xx, 501, 405, an unknown
//! route, a 406 for the operation's own version, a 401 for the Organization Owner key, or a
//! validation 400 (which would mean the generated request and the validator disagree).

mod common;

use std::collections::BTreeMap;

use atlas_model::{Format, Location, Method, OPERATIONS, Operation, ParamKind};
use atlas_schema::{Hints, Mode, Schemas};
use common::{JSON_2023, Server};
use serde_json::json;

/// Codes that say a generated request was malformed: never acceptable.
const VALIDATION_CODES: &[&str] = &[
    "INVALID_ATTRIBUTE",
    "MISSING_ATTRIBUTE",
    "INVALID_ENUM_VALUE",
    "INVALID_JSON",
    "INVALID_JSON_ATTRIBUTE",
    "MALFORMED_JSON",
    "INVALID_QUERY_PARAMETER",
    "MISSING_QUERY_PARAMETER",
    "INVALID_PATH_PARAMETER",
    "INVALID_GROUP_ID",
    "INVALID_ORG_ID",
    "INVALID_VERSION_DATE",
    "METHOD_NOT_ALLOWED",
];

/// Fields a request needs beyond what its schema requires (Atlas's semantic rules), merged into
/// the generated example.
fn semantic_fields(op: &Operation) -> Option<serde_json::Value> {
    let region = json!([{"regionConfigs": [{
        "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
        "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}
    }]}]);
    match op.name {
        "createGroupCluster" => {
            Some(json!({"replicationSpecs": region, "clusterType": "REPLICASET"}))
        }
        _ => None,
    }
}

fn with_semantic_fields(op: &Operation, mut body: serde_json::Value) -> serde_json::Value {
    if let (Some(serde_json::Value::Object(extra)), serde_json::Value::Object(map)) =
        (semantic_fields(op), &mut body)
    {
        map.extend(extra);
    }
    body
}

fn order(op: &Operation) -> (u8, &'static str) {
    let late = match op.name {
        "migrateGroup" => 6,
        "deleteGroup" => 7,
        "deleteOrg" => 8,
        _ => 0,
    };
    let method = match op.method {
        Method::Get => 0,
        Method::Post => 1,
        Method::Put => 2,
        Method::Patch => 3,
        Method::Delete => 4,
    };
    (late.max(method), op.path)
}

/// The newest dated version (preview for preview-only operations) and its media suffix.
fn accept_for(op: &Operation) -> (String, &'static str, Format) {
    let media = op
        .success
        .iter()
        .flat_map(|s| s.media.iter())
        .chain(op.request.iter());
    let newest = media
        .clone()
        .filter(|m| m.version != "preview")
        .max_by_key(|m| m.version)
        .or_else(|| media.clone().next())
        .expect("every operation declares a version");
    let accept = format!(
        "application/vnd.atlas.{}+{}",
        newest.version,
        newest.format.suffix()
    );
    (accept, newest.version, newest.format)
}

fn path_value(op: &Operation, name: &str, scratch: &str, org: &str) -> String {
    let param = op.param(name);
    let pattern = param.and_then(|p| p.pattern).unwrap_or_default();
    if let Some(first) = param.and_then(|p| p.enumeration.first()) {
        return (*first).to_owned();
    }
    match name {
        "groupId" => scratch.to_owned(),
        "orgId" => org.to_owned(),
        "hostName" => "probe-x1-shard-00-00.abcde.mongodb.net".to_owned(),
        "processId" | "hostname" => "probe-x1-shard-00-00.abcde.mongodb.net:27017".to_owned(),
        "ipAddress" | "entryValue" => "192.0.2.0%2F24".to_owned(),
        "clientId" => "mdb_sa_id_5f0000000000000000000abc".to_owned(),
        "userName" => "probe%40example.com".to_owned(),
        "token" => "a".repeat(64),
        "queryShapeHash" => "ab".repeat(32),
        _ if pattern.contains("vpce") => "vpce-0123456789abcdef0".to_owned(),
        _ if pattern.contains("{20}") => "0123456789abcdef0123".to_owned(),
        _ if pattern.contains("{24}") => "5f0000000000000000000abc".to_owned(),
        _ if pattern.contains("{8}-") => "1b4e28ba-2fa1-41d2-883f-0016d3cca427".to_owned(),
        _ => "probe-x1".to_owned(),
    }
}

fn query_value(param: &atlas_model::Param) -> String {
    if let Some(first) = param.enumeration.first() {
        return (*first).to_owned();
    }
    match (param.kind, param.format, param.name) {
        (ParamKind::Boolean, ..) => "false".to_owned(),
        (ParamKind::Integer | ParamKind::Number, ..) => {
            param.minimum.map_or(1, |m| m as i64).max(1).to_string()
        }
        (_, Some("date-time"), _) => "2026-01-01T00:00:00Z".to_owned(),
        (_, _, "granularity") => "PT1M".to_owned(),
        (_, _, "period") => "PT1H".to_owned(),
        _ => "probe".to_owned(),
    }
}

fn build_uri(op: &Operation, scratch: &str, org: &str) -> String {
    let mut uri = String::new();
    for seg in op.path.split('/').filter(|s| !s.is_empty()) {
        uri.push('/');
        match seg.strip_prefix('{').and_then(|s| s.split_once('}')) {
            Some((name, suffix)) => {
                uri.push_str(&path_value(op, name, scratch, org));
                uri.push_str(suffix);
            }
            None => uri.push_str(seg),
        }
    }
    let query: Vec<String> = op
        .params
        .iter()
        .filter(|p| p.location == Location::Query && p.required)
        .map(|p| format!("{}={}", p.name, query_value(p)))
        .collect();
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query.join("&"));
    }
    uri
}

#[tokio::test]
async fn every_operation_answers_well_formed_requests() {
    let s = Server::new();
    let scratch = s
        .call(
            "POST",
            "/api/atlas/v2/groups",
            Some(JSON_2023),
            Some(&json!({"name": "scratch-project", "orgId": s.boot.org_id})),
        )
        .await
        .json()["id"]
        .as_str()
        .expect("scratch project")
        .to_owned();
    // Named parents the walk's paths use (`probe-x1`), created first so nested operations reach
    // their handlers instead of stopping at the parent's 404.
    for name in [
        "createGroupCluster",
        "createGroupStreamWorkspace",
        "createGroupDataFederation",
    ] {
        let op = atlas_model::operation_by_name(name).expect("operation");
        let (accept, version, _) = accept_for(op);
        let schema = op
            .request_for(version)
            .and_then(|m| m.schema)
            .expect("request schema");
        let mut body = with_semantic_fields(
            op,
            Schemas::global().example(schema, Mode::Request, &Hints::default()),
        );
        body["name"] = json!("probe-x1");
        let uri = build_uri(op, &scratch, &s.boot.org_id);
        let answer = s.call("POST", &uri, Some(&accept), Some(&body)).await;
        assert!(answer.status.is_success(), "{name}: {}", answer.text());
    }
    let mut ops: Vec<&Operation> = OPERATIONS.iter().collect();
    ops.sort_by_key(|op| order(op));
    let mut failures = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for op in ops {
        let org = if op.name == "deleteOrg" {
            "5f0000000000000000000fff"
        } else {
            s.boot.org_id.as_str()
        };
        let uri = build_uri(op, &scratch, org);
        let (accept, version, format) = accept_for(op);
        let mut hints = Hints::default().with_now("2026-01-01T00:00:00Z");
        hints.values.insert("groupId".into(), json!(scratch));
        hints.values.insert("orgId".into(), json!(s.boot.org_id));
        // Project-role fields are free strings in the spec, but Atlas accepts only its role
        // names (400 INVALID_ENUM_VALUE otherwise, semantics §5.1): a well-formed request names
        // one. Organization-role fields are enums, which the hint does not fit, so they keep
        // their generated value.
        for field in ["roles", "groupRoles", "roleNames"] {
            hints
                .values
                .insert(field.into(), json!(["GROUP_READ_ONLY"]));
        }
        hints
            .values
            .insert("groupRole".into(), json!("GROUP_READ_ONLY"));
        let body = op
            .request_for(version)
            .or_else(|| op.request.first())
            .and_then(|m| m.schema)
            .map(|schema| {
                with_semantic_fields(op, Schemas::global().example(schema, Mode::Request, &hints))
            });
        let body = match (op.name, body) {
            // Keep the org's name: the surface walk must not rename the bootstrap org.
            ("updateOrg", Some(_)) => Some(json!({"name": "localatlas"})),
            // Nor lock its own key out: an organization requiring access lists refuses every
            // key without one (semantics §4.3).
            ("updateOrgSettings", Some(mut settings)) => {
                settings["apiAccessListRequired"] = json!(false);
                Some(settings)
            }
            (_, b) => b,
        };
        let method = op.method.as_str();
        let answer = s.call(method, &uri, Some(&accept), body.as_ref()).await;
        let status = answer.status.as_u16();
        let label = format!("{method} {uri} ({}, {version})", op.name);
        *tally.entry(format!("{}xx", status / 100)).or_default() += 1;
        if answer.status.is_success() {
            check_success(op, version, format, &answer, &label, &mut failures);
        } else if answer.status.is_client_error() {
            let body = answer.json();
            let code = body["errorCode"].as_str().unwrap_or_default().to_owned();
            if body["error"] != status || answer.header("content-type") != Some("application/json")
            {
                failures.push(format!(
                    "{label}: {status} without an Atlas error body: {}",
                    answer.text()
                ));
            } else if status == 401 || VALIDATION_CODES.contains(&code.as_str()) {
                failures.push(format!("{label}: {status} {code}: {}", body["detail"]));
            } else {
                *tally.entry(code).or_default() += 1;
            }
        } else {
            failures.push(format!("{label}: unexpected {status}: {}", answer.text()));
        }
    }
    eprintln!("conformance tally: {tally:?}");
    assert!(
        failures.is_empty(),
        "{} operations failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Most of the surface must really succeed, not just answer 404.
    assert!(
        tally.get("2xx").copied().unwrap_or(0) >= 200,
        "too few 2xx answers: {tally:?}"
    );
}

fn check_success(
    op: &Operation,
    version: &str,
    format: Format,
    answer: &common::Answer,
    label: &str,
    failures: &mut Vec<String>,
) {
    let status = answer.status.as_u16();
    let declared: Vec<u16> = op.success_for(version).map(|(s, _)| s).collect();
    let real = atlas_api::kernel::render::success_status(op, version);
    if !declared.contains(&status) && status != real {
        failures.push(format!("{label}: status {status}, declared {declared:?}"));
    }
    // Where Atlas answers another code than the spec (201 for 200 ...), the body is the one the
    // spec declares for its own code.
    let media = op
        .success_for(version)
        .find(|(s, m)| *s == status && m.format == format)
        .or_else(|| op.success_for(version).find(|(_, m)| m.format == format))
        .map(|(_, m)| m);
    let content_type = answer.header("content-type").unwrap_or_default();
    let expected = match format {
        Format::Json => format!("application/vnd.atlas.{version}+json;charset=utf-8"),
        other => format!("application/vnd.atlas.{version}+{}", other.suffix()),
    };
    if content_type != expected {
        failures.push(format!(
            "{label}: content type {content_type}, expected {expected}"
        ));
    }
    if format != Format::Json || status == 204 {
        return;
    }
    let schema = media.and_then(|m| m.schema);
    match schema {
        Some(name) => {
            let body = answer.json();
            if let Err(violations) = Schemas::global().validate(name, Mode::Response, &body) {
                failures.push(format!(
                    "{label}: body invalid against {name}: {violations:?}\n  {body}"
                ));
            }
        }
        None => {
            if !answer.bytes.is_empty() && answer.json() != json!({}) {
                failures.push(format!("{label}: undeclared body {}", answer.text()));
            }
        }
    }
}
