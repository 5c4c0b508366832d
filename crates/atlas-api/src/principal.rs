//! Who is calling: the identity a request authenticated as.
//!
//! Roles and access lists are enforced by the identity issue's authorization stage; the principal
//! already carries what that stage needs (the owning organization and the credential's id).

/// The authenticated caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A programmatic API key (HTTP Digest).
    ApiKey {
        /// The key's 24-hex id (`apiUserId`).
        id: String,
        public_key: String,
        org_id: String,
    },
    /// A service account using a Bearer token from `/api/oauth/token`.
    ServiceAccount { client_id: String, org_id: String },
    /// No credentials: only the spec's unauthenticated operation is served.
    Anonymous,
}

impl Principal {
    /// The organization the credential belongs to.
    pub fn org_id(&self) -> Option<&str> {
        match self {
            Principal::ApiKey { org_id, .. } | Principal::ServiceAccount { org_id, .. } => {
                Some(org_id)
            }
            Principal::Anonymous => None,
        }
    }

    /// A short label for logs and events (`apiKey:abcdefgh`).
    pub fn label(&self) -> String {
        match self {
            Principal::ApiKey { public_key, .. } => format!("apiKey:{public_key}"),
            Principal::ServiceAccount { client_id, .. } => format!("serviceAccount:{client_id}"),
            Principal::Anonymous => "anonymous".to_owned(),
        }
    }
}
