//! Atlas-managed X.509 certificates of database users
//! (`/groups/{groupId}/databaseUsers/{username}/certs`).
//!
//! A user made with `x509Type: MANAGED` (in `$external`) can be issued certificates: the POST
//! answers 201 with a PEM file — the certificate, then its private key — as a JSON string (the
//! spec's response schema), signed by the project's own certificate authority, which Atlas
//! creates and keeps for the project; the key is never stored. The GET lists the certificates
//! not yet expired, as recorded (atlas-cli TestDBUserCerts at 2023-01-01): `_id` (the
//! certificate's serial number, a 64-bit integer), `createdAt`, `groupId`, `notAfter` and
//! `subject` (`CN=<username>`). Each issue records the project event
//! `MONGODB_USER_X509_CERT_CREATED`.

use atlas_model::OperationId;
use atlas_store::{Page, Tx};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::events::project_event;
use super::shared::support::{list, param};
use crate::api_error;
use crate::engine::{Behaviour, Ctx};
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::error_codes;
use crate::kernel::paths::{composite_key, segment};

pub struct DatabaseUserCerts;

/// Where each project's certificate authority is kept (internal: never an Atlas document).
const AUTHORITIES: &str = "__x509Authorities";

/// The validity Atlas gives when the request names none, and the longest it gives (months).
const DEFAULT_MONTHS: i64 = 3;
const MAX_MONTHS: i64 = 24;

impl Behaviour for DatabaseUserCerts {
    fn name(&self) -> &'static str {
        "database_user_certs"
    }

    fn operations(&self) -> &'static [OperationId] {
        &[
            OperationId::CreateGroupDatabaseUserCert,
            OperationId::ListGroupDatabaseUserCerts,
        ]
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let group = cx.scope.group_id.clone().unwrap_or_default();
        let username = param(cx.call, "username");
        let user = managed_user(cx.tx, &group, &username)?;
        let collection = format!(
            "/groups/{group}/databaseUsers/{}/certs",
            composite_key(["$external", username.as_str()])
        );
        if cx.call.op.id == OperationId::ListGroupDatabaseUserCerts {
            let now = atlas_timestamp(cx.now.get());
            let (records, _) = cx.tx.list(&collection, Page::ALL)?;
            // Timestamps of one format compare as text.
            let unexpired = records
                .into_iter()
                .map(|r| r.doc)
                .filter(|c| c["notAfter"].as_str().is_some_and(|t| t > now.as_str()))
                .collect();
            return Ok(list(cx, unexpired));
        }
        let months = months_until_expiration(cx)?;
        let authority = authority(cx.tx, &group, cx.now.get())?;
        let issued = issue(&authority, &user, months, cx.now.get())?;
        let doc = json!({
            "_id": issued.serial,
            "createdAt": atlas_timestamp(cx.now.get()),
            "groupId": group,
            "notAfter": atlas_timestamp(issued.not_after),
            "subject": format!("CN={user}"),
        });
        cx.tx
            .insert(&collection, &issued.serial.to_string(), &doc)?;
        let mut details = Map::new();
        details.insert("dbUserUsername".into(), json!(user));
        project_event(cx, "MONGODB_USER_X509_CERT_CREATED", details)?;
        Ok(Reply::json(cx.render.status(), json!(issued.pem)))
    }
}

/// The username of the project's database user `username`, which must use Atlas-managed X.509.
fn managed_user(tx: &mut dyn Tx, group: &str, username: &str) -> Result<String, ApiError> {
    let users = format!("/groups/{group}/databaseUsers");
    let key = composite_key(["$external", username]);
    let Some(user) = tx.get(&users, &key)? else {
        return Err(api_error!(USERNAME_NOT_FOUND, username));
    };
    if user.doc["x509Type"] != "MANAGED" {
        return Err(ApiError::with_detail(
            error_codes::INVALID_ATTRIBUTE,
            format!(
                "Database user {username} does not use Atlas-managed X.509 authentication \
                 (x509Type MANAGED); Atlas issues certificates only to such users."
            ),
            vec![json!("x509Type")],
        ));
    }
    Ok(user.doc["username"].as_str().unwrap_or(username).to_owned())
}

/// The requested validity: `monthsUntilExpiration`, 3 when absent, 1 to 24.
fn months_until_expiration(cx: &Ctx<'_>) -> Result<i64, ApiError> {
    let asked = cx
        .call
        .body
        .as_ref()
        .and_then(|b| b.get("monthsUntilExpiration"));
    match asked {
        None | Some(Value::Null) => Ok(DEFAULT_MONTHS),
        Some(v) => match v.as_i64() {
            Some(m) if (1..=MAX_MONTHS).contains(&m) => Ok(m),
            _ => Err(api_error!(INVALID_ATTRIBUTE, "monthsUntilExpiration")),
        },
    }
}

/// The project's certificate authority as an issuer, made (and its certificate and key kept)
/// on the project's first certificate.
fn authority(
    tx: &mut dyn Tx,
    group: &str,
    now: OffsetDateTime,
) -> Result<Issuer<'static, KeyPair>, ApiError> {
    let key = segment(group);
    let key_pem = match tx.get(AUTHORITIES, &key)? {
        Some(stored) => stored.doc["keyPem"].as_str().unwrap_or_default().to_owned(),
        None => {
            let pair = KeyPair::generate().map_err(internal)?;
            let mut params = authority_params(group);
            params.not_before = now - time::Duration::days(1);
            params.not_after = now + time::Duration::days(3650);
            let cert = params.self_signed(&pair).map_err(internal)?;
            let key_pem = pair.serialize_pem();
            tx.insert(
                AUTHORITIES,
                &key,
                &json!({"certPem": cert.pem(), "keyPem": key_pem}),
            )?;
            key_pem
        }
    };
    // The issuer's name and usages are the authority's, made from the same parameters.
    let pair = KeyPair::from_pem(&key_pem).map_err(internal)?;
    Ok(Issuer::new(authority_params(group), pair))
}

fn authority_params(group: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, format!("localatlas project {group} CA"));
    name.push(DnType::OrganizationName, "localatlas");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// One issued certificate.
struct Issued {
    serial: i64,
    not_after: OffsetDateTime,
    /// The certificate, then its private key.
    pem: String,
}

fn issue(
    issuer: &Issuer<'static, KeyPair>,
    username: &str,
    months: i64,
    now: OffsetDateTime,
) -> Result<Issued, ApiError> {
    let pair = KeyPair::generate().map_err(internal)?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, username);
    params.distinguished_name = name;
    // A positive 63-bit serial, which is also the `_id` Atlas lists.
    let serial = i64::from_be_bytes(rand::random::<[u8; 8]>()) & i64::MAX;
    params.serial_number = Some(SerialNumber::from_slice(&serial.to_be_bytes()));
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let not_after = now + time::Duration::days(30 * months);
    params.not_before = now;
    params.not_after = not_after;
    let cert = params.signed_by(&pair, issuer).map_err(internal)?;
    Ok(Issued {
        serial,
        not_after,
        pem: format!("{}{}", cert.pem(), pair.serialize_pem()),
    })
}

/// Certificate generation failing is a fault of localatlas, not of the request.
fn internal(e: rcgen::Error) -> ApiError {
    ApiError::new(error_codes::UNEXPECTED_ERROR, vec![]).caused_by(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificates_name_the_user_and_chain_to_the_project_authority() {
        let now = OffsetDateTime::now_utc();
        let authority = Issuer::new(
            authority_params("6a0000000000000000000001"),
            KeyPair::generate().unwrap(),
        );
        let issued = issue(&authority, "user389", 3, now).unwrap();
        assert!(issued.serial > 0);
        assert!(issued.pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(issued.pem.contains("-----BEGIN PRIVATE KEY-----"));
        assert_eq!((issued.not_after - now).whole_days(), 90);
    }
}
