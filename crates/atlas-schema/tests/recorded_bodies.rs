//! Request bodies that Atlas accepted (recorded 2xx answers of the conformance corpus) pass
//! request validation in the version they were sent in.
//!
//! The corpus lives outside the repository (`../shared/conformance/corpus.jsonl`, see its
//! README; its licences keep it there): the test skips with a message when it is absent.
//! Bodies the corpus only projected from a response (`request_body_origin: derived`) are left
//! out: they are not what a client sent. A PATCH body is partial: the server's validation stage
//! does not require a whole document's attributes of it (`atlas-api` `stages/validate.rs`), so
//! top-level missing attributes of a PATCH are not counted here either.

use std::path::PathBuf;

use atlas_model::{Media, Method, Operation, operation_by_name};
use atlas_schema::{Mode, Schemas, ViolationKind};
use serde_json::Value;

/// Exchanges whose recorded body is not what the client sent: the corpus rebuilt it from the
/// test's code (`request_body_origin: cli-test-code`) and the rebuild is off.
const REBUILT_WRONG: &[(&str, &str)] = &[
    (
        "cli/atlas_livemigrations/TestLinkToken#001",
        "the rebuild names the CLI flag (`accessListIpAddresses`); the CLI sends the SDK's \
         `TargetOrgRequest.accessListIps`",
    ),
    (
        "cli/atlas_datafederation_privatenetwork/TestDataFederationPrivateEndpointsAWS#001",
        "the rebuild is a list; the SDK's createDataFederationPrivateEndpoint sends one \
         `PrivateNetworkEndpointIdEntry` object",
    ),
];

fn corpus() -> Option<String> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = here.join("../../../shared/conformance/corpus.jsonl");
    std::fs::read_to_string(path).ok()
}

/// The request media of a version (or the newest one before it), as the server picks it.
fn media(op: &'static Operation, version: &str) -> Option<&'static Media> {
    op.request_for(version).or_else(|| {
        op.request
            .iter()
            .filter(|m| m.version != "preview" && m.version <= version)
            .max_by_key(|m| m.version)
            .or_else(|| op.request.first())
    })
}

#[test]
fn bodies_atlas_accepted_are_valid_requests() {
    let Some(text) = corpus() else {
        eprintln!("skipped: ../shared/conformance/corpus.jsonl is not present");
        return;
    };
    let mut checked = 0;
    let mut refused = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(exchange) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let status = exchange["status"].as_u64().unwrap_or(0);
        let origin = exchange["request_body_origin"].as_str().unwrap_or("");
        let body = &exchange["request_body"];
        if !(200..300).contains(&status) || body.is_null() || origin.starts_with("derived") {
            continue;
        }
        let Some(op) = exchange["operation_id"]
            .as_str()
            .and_then(operation_by_name)
        else {
            continue;
        };
        let version = exchange["request_version"].as_str().unwrap_or("2023-01-01");
        let Some(schema) = media(op, version).and_then(|m| m.schema) else {
            continue;
        };
        let id = exchange["id"].as_str().unwrap_or("?");
        if REBUILT_WRONG.iter().any(|(known, _)| *known == id) {
            continue;
        }
        checked += 1;
        if let Err(mut violations) = Schemas::global().validate(schema, Mode::Request, body) {
            if op.method == Method::Patch {
                violations.retain(|v| {
                    !(v.kind == ViolationKind::MissingAttribute && v.pointer.is_empty())
                });
                if violations.is_empty() {
                    continue;
                }
            }
            refused.push(format!(
                "{id} ({} {version}, {schema}): {violations:?}",
                op.name
            ));
        }
    }
    eprintln!("recorded request bodies checked: {checked}");
    assert!(
        refused.is_empty(),
        "{} recorded bodies Atlas accepted are refused:\n{}",
        refused.len(),
        refused.join("\n")
    );
}
