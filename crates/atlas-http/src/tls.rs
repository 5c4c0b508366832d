//! HTTPS: the local certificate authority localatlas creates on first start and keeps in its
//! store, the server certificate it issues from it at every start, and the rustls configuration
//! (or one built from a certificate and key the user brings).
//!
//! Why a CA and not a self-signed server certificate: clients trust a CA file once
//! (`NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, `curl --cacert`), and the CA stays the same across
//! restarts with the same store while the server certificate can name whatever address the
//! server listens on this time. Some clients refuse plain-HTTP token endpoints (the OAuth library
//! of MongoDB's MCP server), so HTTPS is what lets them run unmodified.

use std::net::IpAddr;
use std::sync::Arc;

use atlas_store::{Store, StoreError};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use tokio_rustls::rustls;

/// Where the CA lives in the store: an internal collection, untouched by `reset`.
const COLLECTION: &str = "__tls";
const CA_KEY: &str = "ca";
const CA_NAME: &str = "localatlas local CA";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The local CA: its certificate (what clients trust) and key (what signs server certificates).
pub struct LocalCa {
    pub cert_pem: String,
    key_pem: String,
}

/// The CA's parameters. The issuer of server certificates is rebuilt from these and the stored
/// key, so they must stay the same for the life of a store (the distinguished name and key
/// identifier method end up in every certificate's issuer fields).
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_NAME);
    name.push(DnType::OrganizationName, "localatlas");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

impl LocalCa {
    /// The CA of this store: the stored one, or a new one stored now (first start).
    pub fn load_or_create(store: &dyn Store) -> Result<LocalCa, TlsError> {
        // One write transaction, so two instances starting on one database keep one CA.
        let stored = store.write(|tx| {
            if let Some(record) = tx.get(COLLECTION, CA_KEY)? {
                return Ok(Ok(record.doc));
            }
            let created = match LocalCa::generate() {
                Ok(ca) => ca,
                Err(e) => return Ok(Err(e)),
            };
            let doc = json!({"certPem": created.cert_pem, "keyPem": created.key_pem});
            tx.insert(COLLECTION, CA_KEY, &doc)?;
            Ok(Ok(doc))
        })??;
        let text = |field: &str| {
            stored
                .get(field)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| TlsError::Invalid(format!("the stored CA lacks {field}")))
        };
        Ok(LocalCa {
            cert_pem: text("certPem")?,
            key_pem: text("keyPem")?,
        })
    }

    fn generate() -> Result<LocalCa, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = ca_params();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key)?;
        Ok(LocalCa {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid for a year from
    /// now, as a certificate chain (server, CA) and its key.
    pub fn issue(&self, names: &[String]) -> Result<(String, String), TlsError> {
        let ca_key = KeyPair::from_pem(&self.key_pem)?;
        let issuer = Issuer::new(ca_params(), ca_key);
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "localatlas");
        params.distinguished_name = name;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(365);
        let cert = params.signed_by(&key, &issuer)?;
        Ok((
            format!("{}{}", cert.pem(), self.cert_pem),
            key.serialize_pem(),
        ))
    }
}

/// The names a server certificate for a listener on `ip` should carry: the loopback names
/// clients use, plus the listen address when it is a specific one.
pub fn server_names(ip: IpAddr) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    names
}

/// The rustls server configuration for a PEM certificate chain and key, offering HTTP/2 and
/// HTTP/1.1 (ALPN).
pub fn server_config(
    chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Invalid(format!("certificate: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError::Invalid("no certificate in the PEM file".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsError::Invalid(format!("private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_store::sqlite::SqliteStore;

    #[test]
    fn the_ca_is_created_once_and_kept_in_the_store() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::memory().unwrap());
        let first = LocalCa::load_or_create(&*store).unwrap();
        let again = LocalCa::load_or_create(&*store).unwrap();
        assert_eq!(first.cert_pem, again.cert_pem);
        assert!(first.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn issued_certificates_chain_to_the_ca_and_load_into_rustls() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::memory().unwrap());
        let ca = LocalCa::load_or_create(&*store).unwrap();
        let (chain, key) = ca
            .issue(&server_names("127.0.0.1".parse().unwrap()))
            .unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.ends_with(&ca.cert_pem));
        server_config(chain.as_bytes(), key.as_bytes()).unwrap();
    }

    #[test]
    fn garbage_pem_is_an_error_not_a_panic() {
        assert!(server_config(b"not a certificate", b"nor a key").is_err());
        assert!(server_config(b"", b"").is_err());
    }
}
