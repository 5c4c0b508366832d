//! The service-account token endpoint's decisions (semantics §4.2), without HTTP: the limit of
//! 50 requests per minute per address and client, client verification, the grant type, the
//! limit of 100 active tokens per account, and revocation. The HTTP layer turns the outcomes into
//! OAuth-style answers.
//!
//! Access lists are not checked here: a token may be minted from anywhere and is refused only
//! when used from an unlisted address (§4.3).

use atlas_store::Access;
use time::OffsetDateTime;

use crate::api_error;
use crate::families::service_accounts;
use crate::identity::credentials::{self, Issued};
use crate::kernel::error::ApiError;
use crate::stages::admission::throttle;

use super::Atlas;

/// One token request.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    /// HTTP Basic credentials, if the request had them.
    pub client: Option<(&'a str, &'a str)>,
    pub grant_type: Option<&'a str>,
    pub client_ip: &'a str,
    pub rate_limits: bool,
}

/// What the token endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOutcome {
    Issued(String),
    InvalidClient,
    MissingGrantType,
    UnsupportedGrantType,
    /// The account holds its maximum of active tokens.
    LimitReached,
}

impl Atlas {
    /// `POST /api/oauth/token`; a rate-limited request is the Atlas-style 429 error.
    pub fn token(&self, request: &TokenRequest<'_>) -> Result<TokenOutcome, ApiError> {
        // Counted in its own transaction: a refused request still spends its token.
        if request.rate_limits {
            self.transaction(self.counters.access(), |tx| {
                let now = crate::kernel::clock::now(tx)?;
                let set = throttle::token_endpoint();
                let user = request.client.map_or("", |(id, _)| id);
                let key = format!("{}|{user}", request.client_ip);
                match throttle::take(tx, &self.counters, &set, &key, now)? {
                    Ok(_) => Ok(()),
                    Err(exhausted) => Err(token_rate_limited(&set, exhausted.retry_after)),
                }
            })?;
        }
        self.transaction(Access::Write, |tx| {
            let now = crate::kernel::clock::now(tx)?;
            let Some((id, secret)) = request.client else {
                return Ok(TokenOutcome::InvalidClient);
            };
            let Some(client) = credentials::verify_client(tx, id, secret, now)? else {
                return Ok(TokenOutcome::InvalidClient);
            };
            match request.grant_type {
                Some("client_credentials") => {}
                Some(_) => return Ok(TokenOutcome::UnsupportedGrantType),
                None => return Ok(TokenOutcome::MissingGrantType),
            }
            issue(tx, &client, now)
        })
    }

    /// `POST /api/oauth/revoke`: false when the client credentials are wrong.
    pub fn revoke(&self, client: Option<(&str, &str)>, token: &str) -> Result<bool, ApiError> {
        self.transaction(Access::Write, |tx| {
            let now = crate::kernel::clock::now(tx)?;
            let Some((id, secret)) = client else {
                return Ok(false);
            };
            if credentials::verify_client(tx, id, secret, now)?.is_none() {
                return Ok(false);
            }
            credentials::revoke_token(tx, id, token)?;
            Ok(true)
        })
    }
}

fn issue(
    tx: &mut dyn atlas_store::Tx,
    client: &credentials::Client,
    now: OffsetDateTime,
) -> Result<TokenOutcome, ApiError> {
    match credentials::issue_token(tx, client, now)? {
        Issued::Token(token) => {
            service_accounts::touch_secret(
                tx,
                &client.org_id,
                &client.client_id,
                &client.secret_id,
                now,
            )?;
            Ok(TokenOutcome::Issued(token))
        }
        Issued::LimitReached => Ok(TokenOutcome::LimitReached),
    }
}

/// The token endpoint's 429: Atlas's error body, `RATE_LIMITED`, with the limit as numbers.
fn token_rate_limited(set: &throttle::EndpointSet, retry_after: u64) -> ApiError {
    api_error!(
        RATE_LIMITED,
        "/api/oauth/token",
        set.capacity,
        set.refill_seconds / 60
    )
    .with_header("Retry-After", retry_after.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_endpoint_429_matches_the_documented_body() {
        // [tf docs] {"detail":"Resource /api/oauth/token is limited to 50 requests every 1 minutes.",
        // "error":429,"errorCode":"RATE_LIMITED","parameters":["/api/oauth/token",50,1],
        // "reason":"Too Many Requests"}
        let e = token_rate_limited(&throttle::token_endpoint(), 1);
        assert_eq!(
            serde_json::to_string(&e.body()).unwrap(),
            r#"{"detail":"Resource /api/oauth/token is limited to 50 requests every 1 minutes.","error":429,"errorCode":"RATE_LIMITED","parameters":["/api/oauth/token",50,1],"reason":"Too Many Requests"}"#
        );
    }
}
