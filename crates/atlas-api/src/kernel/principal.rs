//! Who is calling: the identity a request authenticated as.
//!
//! API keys and service accounts belong to exactly one organization (semantics §4.2); a MongoDB
//! Cloud user may belong to several, through memberships. What a principal may do is decided by
//! [`crate::stages::authorize`] from the roles stored for it; the principal itself carries only who it is.

/// The authenticated caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// A MongoDB Cloud user with a session token (issued by the control API, standing in for the
    /// Atlas CLI's interactive login).
    User { id: String, username: String },
    /// No credentials: only the spec's unauthenticated operation is served.
    Anonymous,
}

impl Principal {
    /// How Atlas names the principal where a username goes (`inviterUsername`): the public key
    /// of a key, the client id of a service account, the username of a user.
    pub fn name(&self) -> &str {
        match self {
            Principal::ApiKey { public_key, .. } => public_key,
            Principal::ServiceAccount { client_id, .. } => client_id,
            Principal::User { username, .. } => username,
            Principal::Anonymous => "",
        }
    }

    /// A short label for logs and per-principal rate limits (`apiKey:abcdefgh`).
    pub fn label(&self) -> String {
        match self {
            Principal::ApiKey { public_key, .. } => format!("apiKey:{public_key}"),
            Principal::ServiceAccount { client_id, .. } => format!("serviceAccount:{client_id}"),
            Principal::User { id, .. } => format!("user:{id}"),
            Principal::Anonymous => "anonymous".to_owned(),
        }
    }
}
