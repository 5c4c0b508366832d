//! Identity: the credentials a principal presents (Digest keys, service-account secrets and
//! tokens, user sessions) and the roles it holds, with Atlas's role hierarchy. Above the kernel,
//! below every stage and family that asks who a caller is or what it may do.

pub mod credentials;
pub mod roles;
