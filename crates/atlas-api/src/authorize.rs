//! The authorization stage.
//!
//! Today it enforces the organization boundary: a credential belongs to exactly one organization
//! and never reaches another organization's projects or settings (semantics §4.2: such a call is
//! answered 401). Role requirements (`x-rolesRequirements`) are enforced here by the identity
//! work; the stage already receives everything it needs (the call with its principal and the
//! resolved scope).

use crate::api_error;
use crate::call::Call;
use crate::engine::scope::Scope;
use crate::error::ApiError;
use crate::principal::Principal;

/// Whether the call's principal may run the call in `scope`.
pub fn check(call: &Call, scope: &Scope) -> Result<(), ApiError> {
    match &scope.org_id {
        Some(org) => org_member(call, org),
        None => Ok(()),
    }
}

/// The principal must belong to `org_id`.
pub fn org_member(call: &Call, org_id: &str) -> Result<(), ApiError> {
    match &call.principal {
        Principal::Anonymous => Ok(()),
        principal if principal.org_id() == Some(org_id) => Ok(()),
        _ => Err(api_error!(USER_UNAUTHORIZED)),
    }
}
