//! Looking at one resource the way Atlas answers it, for the console: a GET call run by the
//! engine as an identity of the organization it belongs to that may read everything there (an
//! Organization Owner — the bootstrap key in the bootstrap organization), so the document shown is
//! the one a client reading it would get, rendered in the version asked for.
//!
//! The control API's admin is not an Atlas principal, and no Atlas principal drives the control
//! plane: the reader is only the identity the engine's authorization stage checks, chosen here
//! from the organization's own identities. The service runs the call in a transaction it always
//! rolls back, so a look settles no lifecycle and records nothing (see `Atlas::look`).

use atlas_store::{Page, Tx};
use serde_json::{Value, json};

use crate::identity::roles::ORG_OWNER;
use crate::kernel::call::{Call, Reply};
use crate::kernel::error::ApiError;
use crate::kernel::principal::Principal;
use crate::stages::authorize;

/// What a look found: the answer the call got, and who it was read as.
#[derive(Debug)]
pub struct Look {
    pub reader: Principal,
    /// Whether the reader is the bootstrap API key (the one whose secret `--bootstrap-out` wrote).
    pub bootstrap: bool,
    pub answer: Result<Reply, ApiError>,
}

impl Look {
    /// The reader as the console shows it: kind and public name, never a secret.
    pub fn reader_json(&self) -> Value {
        let (kind, name) = match &self.reader {
            Principal::ApiKey { public_key, .. } => ("apiKey", public_key.as_str()),
            Principal::ServiceAccount { client_id, .. } => ("serviceAccount", client_id.as_str()),
            Principal::User { username, .. } => ("user", username.as_str()),
            Principal::Anonymous => ("anonymous", ""),
        };
        json!({"type": kind, "name": name, "bootstrap": self.bootstrap})
    }
}

/// The organization `call` addresses: its `orgId`, the organization of its `groupId`, else none.
fn org_of(tx: &mut dyn Tx, call: &Call) -> Result<Option<String>, ApiError> {
    if let Some(org) = call.path_param("orgId") {
        return Ok(Some(org.to_owned()));
    }
    let Some(group) = call.path_param("groupId") else {
        return Ok(None);
    };
    Ok(tx.get("/groups", group)?.and_then(|record| {
        record
            .doc
            .get("orgId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }))
}

/// The bootstrap key's id and organization, as `bootstrap::ensure` recorded them (read only).
fn bootstrap_key(tx: &mut dyn Tx) -> Result<Option<(String, String)>, ApiError> {
    Ok(tx.get("__meta", "bootstrap")?.and_then(|record| {
        let field = |name: &str| {
            record
                .doc
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Some((field("apiKeyId")?, field("orgId")?))
    }))
}

fn text(doc: &Value, name: &str) -> Option<String> {
    doc.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// Who reads for the console: the bootstrap key where it is an Organization Owner, else the first
/// Organization Owner among the organization's API keys, service accounts and users. `None` when
/// the organization has no owner left (or the call addresses no organization and the bootstrap
/// key is gone).
pub fn reader(tx: &mut dyn Tx, call: &Call) -> Result<Option<(Principal, bool)>, ApiError> {
    let boot = bootstrap_key(tx)?;
    let org = match org_of(tx, call)? {
        Some(org) => org,
        // Outside any organization (`/users/{id}`, `/orgs`): the bootstrap key's own.
        None => match &boot {
            Some((_, org)) => org.clone(),
            None => return Ok(None),
        },
    };
    let mut candidates: Vec<(Principal, bool)> = Vec::new();
    let (keys, _) = tx.list(&format!("/orgs/{org}/apiKeys"), Page::ALL)?;
    for key in keys {
        let (Some(id), Some(public_key)) = (text(&key.doc, "id"), text(&key.doc, "publicKey"))
        else {
            continue;
        };
        let bootstrap = boot.as_ref().is_some_and(|(boot_id, _)| *boot_id == id);
        let principal = Principal::ApiKey {
            id,
            public_key,
            org_id: org.clone(),
        };
        // The bootstrap key first: its curl is the one a reader of `--bootstrap-out` can run.
        if bootstrap {
            candidates.insert(0, (principal, true));
        } else {
            candidates.push((principal, false));
        }
    }
    let (accounts, _) = tx.list(&format!("/orgs/{org}/serviceAccounts"), Page::ALL)?;
    candidates.extend(accounts.into_iter().filter_map(|a| {
        Some((
            Principal::ServiceAccount {
                client_id: text(&a.doc, "clientId")?,
                org_id: org.clone(),
            },
            false,
        ))
    }));
    let (users, _) = tx.list(&format!("/orgs/{org}/users"), Page::ALL)?;
    candidates.extend(users.into_iter().filter_map(|u| {
        Some((
            Principal::User {
                id: text(&u.doc, "id").unwrap_or_else(|| u.key.clone()),
                username: text(&u.doc, "username")?,
            },
            false,
        ))
    }));
    for (principal, bootstrap) in candidates {
        if authorize::require(tx, &principal, &org, None, &[ORG_OWNER])? {
            return Ok(Some((principal, bootstrap)));
        }
    }
    Ok(None)
}
