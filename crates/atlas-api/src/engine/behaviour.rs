//! The extension point: a [`Behaviour`] serves the operations it claims with the engine's
//! context, and the [`Registry`] finds the behaviour of an operation (none: the generic engine).
//! Families implement behaviours; the service builds the registry from them.

use rustc_hash::FxHashMap;
use std::sync::Arc;

use atlas_model::OperationId;

use super::Ctx;
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;

/// The hand-written semantics of a set of operations.
pub trait Behaviour: Send + Sync + 'static {
    /// A short name for the coverage report (`projects`, `clusters` ...).
    fn name(&self) -> &'static str;
    /// The operations this behaviour serves.
    fn operations(&self) -> &'static [OperationId];
    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError>;
    /// Whether reads may write (they settle lifecycle transitions); such GETs run in a write
    /// transaction.
    fn writes_on_read(&self) -> bool {
        false
    }
    /// Whether the behaviour looks up the items its paths name itself, with its family's own
    /// answers (an API key assigned to a project by `POST /groups/{id}/apiKeys/{apiUserId}` is
    /// not in that project yet), instead of the engine's parent check.
    fn resolves_own_items(&self) -> bool {
        false
    }
    /// Whether the behaviour reads read-only attributes a client sends back (a cluster's echoed
    /// replication spec ids say which spec a change is for). Every other behaviour, like the
    /// generic engine, gets the body without them: Atlas ignores them.
    fn reads_echoed_read_only(&self) -> bool {
        false
    }
}

/// Behaviours by the operations they claim.
#[derive(Clone, Default)]
pub struct Registry {
    by_operation: FxHashMap<OperationId, Arc<dyn Behaviour>>,
}

impl Registry {
    /// A registry of `behaviours`; an error names an operation claimed twice.
    pub fn new(behaviours: Vec<Arc<dyn Behaviour>>) -> Result<Registry, String> {
        let mut by_operation: FxHashMap<OperationId, Arc<dyn Behaviour>> = FxHashMap::default();
        for behaviour in behaviours {
            for op in behaviour.operations() {
                if let Some(previous) = by_operation.insert(*op, behaviour.clone()) {
                    return Err(format!(
                        "operation {} is claimed by both {} and {}",
                        op.op().name,
                        previous.name(),
                        behaviour.name()
                    ));
                }
            }
        }
        Ok(Registry { by_operation })
    }

    pub fn get(&self, op: OperationId) -> Option<&Arc<dyn Behaviour>> {
        self.by_operation.get(&op)
    }

    /// The behaviour serving `op`, by name (`None`: the generic engine serves it).
    pub fn served_by(&self, op: OperationId) -> Option<&'static str> {
        self.get(op).map(|b| b.name())
    }
}
