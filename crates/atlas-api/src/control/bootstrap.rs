//! The bootstrap identities: an organization, a project, an Organization Owner API key and a
//! service account, created on first start and identical on every later start with the same store;
//! and the organization's human owner, as every Atlas organization has the person who created
//! it (recorded `GET /orgs/{orgId}/users` of the Atlas CLI's test organization: its first member
//! is an `ORG_OWNER` who owns the project too). Clients that name an existing member — a team's
//! `usernames`, `GET /users/byName/{userName}` — have one to name.
//!
//! Their secrets must be printable again on later starts although only hashes are stored as
//! credentials: they are derived from a random per-store seed kept in `__meta/bootstrap`, so the
//! seed (not the secrets) is what persists.

use serde_json::{Value, json};
use time::OffsetDateTime;

use atlas_store::Tx;

use crate::control::admin;
use crate::families::shared::membership::{insert_user, join_group, join_org};
use crate::families::{api_keys, organizations, projects, service_accounts};
use crate::identity::credentials::{self, hmac};
use crate::identity::roles::{GROUP_OWNER, ORG_OWNER};
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;

/// Name of the bootstrap organization and project.
pub const ORG_NAME: &str = "localatlas";
pub const PROJECT_NAME: &str = "localatlas-project";
/// Username (an e-mail address, as Atlas usernames are) and names of the organization's owner.
pub const OWNER_USERNAME: &str = "owner@localatlas.example.com";
const OWNER_NAMES: (&str, &str) = ("Local", "Owner");

/// The identities a fresh store starts with; what `--bootstrap-out` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrap {
    pub org_id: String,
    pub project_id: String,
    pub api_key_id: String,
    pub public_key: String,
    pub private_key: String,
    pub client_id: String,
    pub client_secret: String,
    pub secret_id: String,
    /// The organization's human owner.
    pub owner_id: String,
    /// The emulator's admin credential (see [`crate::control::admin`]), shared by every
    /// instance on the store and untouched by a reset.
    pub control_token: String,
}

impl Bootstrap {
    /// The `--bootstrap-out` document (blueprint §1.1).
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "baseUrl": base_url,
            "orgId": self.org_id,
            "projectId": self.project_id,
            "apiKey": {"publicKey": self.public_key, "privateKey": self.private_key},
            "serviceAccount": {"clientId": self.client_id, "clientSecret": self.client_secret},
            "orgOwner": {"id": self.owner_id, "username": OWNER_USERNAME},
            "controlToken": self.control_token,
        })
    }
}

/// Creates whatever of the bootstrap state is missing and returns the identities.
pub fn ensure(tx: &mut dyn Tx, now: OffsetDateTime) -> Result<Bootstrap, ApiError> {
    let meta = match tx.get("__meta", "bootstrap")? {
        // Stores made before the owner existed get one now.
        Some(record) if record.doc.get("ownerId").is_none() => {
            let mut doc = record.doc;
            doc["ownerId"] = json!(ids::object_id(now));
            tx.upsert("__meta", "bootstrap", &doc)?;
            doc
        }
        Some(record) => record.doc,
        None => {
            let seed: [u8; 32] = rand::random();
            let doc = json!({
                "seed": hex::encode(seed),
                "orgId": ids::object_id(now),
                "projectId": ids::object_id(now),
                "apiKeyId": ids::object_id(now),
                "clientId": format!("mdb_sa_id_{}", ids::object_id(now)),
                "secretId": ids::object_id(now),
                "ownerId": ids::object_id(now),
                "created": atlas_timestamp(now),
            });
            tx.insert("__meta", "bootstrap", &doc)?;
            doc
        }
    };
    let field = |name: &str| {
        meta.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let seed = hex::decode(field("seed")).unwrap_or_default();
    let boot = Bootstrap {
        org_id: field("orgId"),
        project_id: field("projectId"),
        api_key_id: field("apiKeyId"),
        public_key: public_key(&seed),
        private_key: private_key(&seed),
        client_id: field("clientId"),
        client_secret: client_secret(&seed),
        secret_id: field("secretId"),
        owner_id: field("ownerId"),
        control_token: admin::ensure(tx, None)?,
    };
    let created = field("created");
    create_missing(tx, &boot, &created, now)?;
    // The Digest nonce / token signing key, so read-only requests never need to create it.
    credentials::instance_secret(tx)?;
    Ok(boot)
}

fn create_missing(
    tx: &mut dyn Tx,
    boot: &Bootstrap,
    created: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    if tx.get("/orgs", &boot.org_id)?.is_none() {
        organizations::insert(tx, &boot.org_id, ORG_NAME)?;
    }
    organizations::ensure_settings(tx, &boot.org_id)?;
    if tx.get("/groups", &boot.project_id)?.is_none() {
        projects::insert(
            tx,
            &boot.project_id,
            PROJECT_NAME,
            &boot.org_id,
            created,
            Default::default(),
        )?;
    }
    // Made (with its memberships) only when missing, as the other identities are: a start on
    // an existing store writes nothing, and an owner's changed roles stay as they were changed.
    if tx.get("/users", &boot.owner_id)?.is_none() {
        let owner = insert_user(tx, &boot.owner_id, OWNER_USERNAME, OWNER_NAMES, created)?;
        join_org(tx, &boot.org_id, &owner, &[ORG_OWNER.to_owned()], &[], now)?;
        join_group(tx, &boot.project_id, &owner, &[GROUP_OWNER.to_owned()])?;
    }
    let key_collection = format!("/orgs/{}/apiKeys", boot.org_id);
    if tx.get(&key_collection, &boot.api_key_id)?.is_none() {
        let masked = api_keys::mask(&boot.private_key);
        tx.insert(
            &key_collection,
            &boot.api_key_id,
            &json!({
                "id": boot.api_key_id,
                "desc": "localatlas bootstrap key",
                "publicKey": boot.public_key,
                "privateKey": masked,
                "roles": [{"orgId": boot.org_id, "roleName": "ORG_OWNER"}],
            }),
        )?;
    }
    credentials::store_api_key(
        tx,
        &boot.api_key_id,
        &boot.public_key,
        &boot.private_key,
        &boot.org_id,
    )?;
    let account_collection = format!("/orgs/{}/serviceAccounts", boot.org_id);
    if tx.get(&account_collection, &boot.client_id)?.is_none() {
        tx.insert(
            &account_collection,
            &boot.client_id,
            &json!({
                "clientId": boot.client_id,
                "createdAt": created,
                "description": "localatlas bootstrap service account",
                "name": "localatlas-bootstrap",
                "roles": ["ORG_OWNER"],
                "secrets": [{
                    "id": boot.secret_id,
                    "createdAt": created,
                    "expiresAt": "2099-12-31T00:00:00Z",
                    "maskedSecretValue": service_accounts::mask(&boot.client_secret),
                }],
            }),
        )?;
    }
    credentials::store_service_account_secret(
        tx,
        &boot.client_id,
        &boot.org_id,
        &boot.secret_id,
        &boot.client_secret,
        i64::MAX,
    )?;
    Ok(())
}

/// 8 lowercase letters, like Atlas public keys.
fn public_key(seed: &[u8]) -> String {
    hmac(seed, b"api-key-public")
        .iter()
        .take(8)
        .map(|b| char::from(b'a' + b % 26))
        .collect()
}

/// A UUID-formatted private key, like Atlas private keys.
fn private_key(seed: &[u8]) -> String {
    let mut bytes = [0u8; 16];
    let derived = hmac(seed, b"api-key-private");
    let n = derived.len().min(16);
    bytes[..n].copy_from_slice(&derived[..n]);
    ids::uuid_from(bytes)
}

fn client_secret(seed: &[u8]) -> String {
    format!(
        "mdb_sa_sk_{}",
        hex::encode(&hmac(seed, b"service-account-secret")[..20])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_secrets_have_atlas_shapes() {
        let seed = [3u8; 32];
        let public = public_key(&seed);
        assert_eq!(public.len(), 8);
        assert!(public.chars().all(|c| c.is_ascii_lowercase()));
        let private = private_key(&seed);
        assert_eq!(private.len(), 36);
        assert_eq!(&private[14..15], "4");
        assert!(client_secret(&seed).starts_with("mdb_sa_sk_"));
        assert_eq!(private_key(&seed), private);
    }
}
