//! The Atlas Administration API v2 as data.
//!
//! `generated/` is written by `atlas-codegen` from the spec and never edited by hand: the
//! operation ids ([`OperationId`]), the operation table ([`OPERATIONS`]) and the stripped
//! schemas (made usable by the `atlas-schema` crate). The hand-written [`operation`] module gives
//! that data its types. Three layers, in this order: the ids (generated, depending on nothing),
//! the types (which name the ids), the table and schemas (values of those types).

#[rustfmt::skip]
#[path = "generated/operation_ids.rs"]
pub mod operation_ids;

pub mod operation;

#[rustfmt::skip]
pub mod generated;

/// Where the versioned Admin API lives: every operation's path starts with it.
pub const API_PREFIX: &str = "/api/atlas/v2";

pub use generated::operations::OPERATIONS;
pub use operation::{
    Format, Location, Media, Method, Operation, Param, ParamKind, ScalarKind, Shape, Success,
};
pub use operation_ids::OperationId;

impl OperationId {
    /// The operation's full description.
    pub fn op(self) -> &'static Operation {
        &OPERATIONS[self as usize]
    }
}

/// Looks an operation up by its spec `operationId`.
pub fn operation_by_name(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_operation_id() {
        for (i, op) in OPERATIONS.iter().enumerate() {
            assert_eq!(op.id as usize, i, "{}", op.name);
        }
        assert_eq!(OPERATIONS.len(), generated::OPERATION_COUNT);
    }

    #[test]
    fn every_operation_declares_a_version() {
        for op in &OPERATIONS {
            assert!(!op.versions().is_empty(), "{} has no version", op.name);
        }
    }
}
