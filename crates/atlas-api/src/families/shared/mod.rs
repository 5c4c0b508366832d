//! What the families share, beneath every family: helpers for documents and lists (`support`),
//! and the lookups one family takes from another's stored documents, so no family imports a
//! family that imports it back.

pub mod backups;
pub mod flex_restore_jobs;
pub mod membership;
pub mod support;
