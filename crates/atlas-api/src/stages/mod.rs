//! The stages a call passes before a family or the generic engine serves it, each a module that
//! imports only the kernel and identity:
//!
//! - [`admission`] — before the operation's own transaction: authenticate → API access list →
//!   (version negotiation, in the HTTP layer) → rate limit;
//! - [`validate`] — path and query parameters, then the body against the version's schema;
//! - [`scope`] — the organization and project a call addresses, and the parents in its path;
//! - [`authorize`] — the roles the operation requires.
//!
//! The order in which the engine runs the last three is declared once, in `crate::engine`.

pub mod admission;
pub mod authorize;
pub mod scope;
pub mod validate;
