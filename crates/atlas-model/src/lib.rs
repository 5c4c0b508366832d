//! The Atlas Administration API v2 as data.
//!
//! `generated/` is written by `atlas-codegen` from the spec and never edited by hand: the
//! operation table ([`OPERATIONS`], [`OperationId`]) and the stripped schemas. The hand-written
//! modules next to it give that data its types ([`operation`]) and make the schemas usable
//! ([`schemas`]).

pub mod operation;
pub mod schemas;

#[rustfmt::skip]
pub mod generated;

pub use generated::operations::{OPERATIONS, OperationId};
pub use operation::{
    Format, Location, Media, Method, Operation, Param, ParamKind, ScalarKind, Shape, Success,
};

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
