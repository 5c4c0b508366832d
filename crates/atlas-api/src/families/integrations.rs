//! Third-party integrations (`/groups/{groupId}/integrations/{integrationType}`): one
//! configuration per integration type per project (seed page: "Each project can only have one
//! configuration per integrationType"), in the shape of its type (the `ThirdPartyIntegration`
//! discriminator: PagerDuty, Slack, Datadog, New Relic, OpsGenie, VictorOps, webhook,
//! Prometheus, Microsoft Teams). Creating and replacing answer with the project's whole list, as
//! the spec declares.
//!
//! Secrets are redacted on read the way the spec's field descriptions say: API keys, service
//! keys, the Slack token and the webhook and Teams URLs appear "partially redacted" (here: every
//! character but the last four replaced by `*`, the exact mask is not documented), the webhook
//! secret "completely redacted"; write-only fields (the Prometheus password) never show. A
//! replacement that sends a redacted value back keeps the stored secret.

use atlas_model::OperationId;
use serde_json::{Value, json};

use crate::api_error;
use crate::engine::Behaviour;
use crate::engine::Ctx;
use crate::families::shared::support::invalid;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::paging::Paging;
use crate::kernel::paths::segment;

pub struct Integrations;

const OPERATIONS: &[OperationId] = &[
    OperationId::ListGroupIntegrations,
    OperationId::GetGroupIntegration,
    OperationId::CreateGroupIntegration,
    OperationId::UpdateGroupIntegration,
    OperationId::DeleteGroupIntegration,
];

/// Fields shown partially redacted, by integration type.
const PARTIAL: &[(&str, &str)] = &[
    ("DATADOG", "apiKey"),
    ("OPS_GENIE", "apiKey"),
    ("PAGER_DUTY", "serviceKey"),
    ("SLACK", "apiToken"),
    ("VICTOR_OPS", "apiKey"),
    ("MICROSOFT_TEAMS", "microsoftTeamsWebhookUrl"),
    ("WEBHOOK", "url"),
];

/// Fields shown completely redacted.
const FULL: &[(&str, &str)] = &[("WEBHOOK", "secret")];

impl Behaviour for Integrations {
    fn name(&self) -> &'static str {
        "integrations"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let collection = format!(
            "/groups/{}/integrations",
            cx.scope.group_id.as_deref().unwrap_or_default()
        );
        let kind = cx
            .call
            .path_param("integrationType")
            .unwrap_or_default()
            .to_owned();
        let stored = cx.tx.get(&collection, &segment(&kind))?;
        match cx.call.op.id {
            OperationId::ListGroupIntegrations => list(cx, &collection, 200),
            OperationId::GetGroupIntegration => {
                let record = stored.ok_or_else(|| not_configured(&kind))?;
                Ok(Reply::json(200, cx.render.fit(&redacted(&record.doc))))
            }
            OperationId::DeleteGroupIntegration => {
                let record = stored.ok_or_else(|| not_configured(&kind))?;
                cx.tx.delete(&collection, &record.key)?;
                Ok(Reply::empty(cx.render.status()))
            }
            OperationId::CreateGroupIntegration => {
                if stored.is_some() {
                    return Err(api_error!(INTEGRATION_ALREADY_CONFIGURED, kind.as_str()));
                }
                let mut doc = checked(cx, &kind, None)?;
                doc["id"] = json!(ids::object_id(cx.now.get()));
                cx.tx.insert(&collection, &segment(&kind), &doc)?;
                list(cx, &collection, cx.render.status())
            }
            _ => {
                let record = stored.ok_or_else(|| not_configured(&kind))?;
                let mut doc = checked(cx, &kind, Some(&record.doc))?;
                doc["id"] = record.doc["id"].clone();
                cx.tx.update(&collection, &record.key, &doc)?;
                list(cx, &collection, cx.render.status())
            }
        }
    }
}

fn not_configured(kind: &str) -> ApiError {
    api_error!(INTEGRATION_NOT_CONFIGURED, kind)
}

/// The project's integrations, redacted, as one page.
fn list(cx: &mut Ctx<'_>, collection: &str, status: u16) -> Result<Reply, ApiError> {
    let paging = Paging::of(cx.call);
    let (records, total) = cx.tx.list(collection, paging.window())?;
    let results = records.iter().map(|r| redacted(&r.doc)).collect();
    Ok(Reply::json(
        status,
        cx.render.fit(&paging.body(cx.call, results, total)),
    ))
}

/// The request body checked against its type's rules, with the type set from the path (and,
/// for a replacement, the secrets it sends back redacted restored from `stored`).
fn checked(cx: &Ctx<'_>, kind: &str, stored: Option<&Value>) -> Result<Value, ApiError> {
    let mut doc = cx.call.body.clone().unwrap_or_else(|| json!({}));
    if !doc.is_object() {
        return Err(api_error!(INVALID_JSON));
    }
    if let Some(stored) = stored {
        keep_redacted_secrets(&mut doc, stored);
    }
    if let Some(asked) = doc["type"].as_str()
        && asked != kind
    {
        return Err(invalid(format!(
            "the integration type {asked} does not match the path's {kind}"
        )));
    }
    let is_hex32 = |key: &str| {
        doc[key]
            .as_str()
            .is_some_and(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    match kind {
        // Atlas's documented rules for these keys ([D] error-code table).
        "DATADOG" if !is_hex32("apiKey") => return Err(api_error!(INVALID_DATADOG_API_KEY)),
        "PAGER_DUTY" if !is_hex32("serviceKey") => {
            return Err(api_error!(INVALID_PAGER_DUTY_SERVICE_KEY));
        }
        "HIP_CHAT" => return Err(api_error!(HIPCHAT_NOT_SUPPORTED)),
        _ => {}
    }
    doc["type"] = json!(kind);
    Ok(doc)
}

/// `value` with all but its last four characters masked (all of it when that short).
fn partially(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let keep = if chars.len() > 4 {
        chars.len() - 4
    } else {
        chars.len()
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep { '*' } else { *c })
        .collect()
}

/// An integration as the API shows it.
fn redacted(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let kind = doc["type"].as_str().unwrap_or_default().to_owned();
    for (t, field) in PARTIAL {
        if *t == kind
            && let Some(v) = doc[*field].as_str()
        {
            doc[*field] = json!(partially(v));
        }
    }
    for (t, field) in FULL {
        if *t == kind
            && let Some(v) = doc[*field].as_str()
        {
            doc[*field] = json!("*".repeat(v.chars().count()));
        }
    }
    doc
}

/// A client that read an integration and sends it back unchanged sends redacted secrets: those
/// keep the stored values.
fn keep_redacted_secrets(doc: &mut Value, stored: &Value) {
    let shown = redacted(stored);
    for (_, field) in PARTIAL.iter().chain(FULL) {
        if doc.get(*field).is_some() && doc[*field] == shown[*field] {
            doc[*field] = stored[*field].clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_kept() {
        let stored =
            json!({"type": "WEBHOOK", "url": "https://hooks.example.com/abcd", "secret": "s3cr3t"});
        let shown = redacted(&stored);
        assert_eq!(shown["url"], "**************************abcd");
        assert_eq!(shown["secret"], "******");
        let mut back = shown.clone();
        keep_redacted_secrets(&mut back, &stored);
        assert_eq!(back, stored);
        assert_eq!(partially("abc"), "***");
    }
}
