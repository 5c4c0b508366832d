//! Hand-written behaviours, one module per resource family.
//!
//! A behaviour claims operations by [`OperationId`] and serves them with the same engine context
//! (store transaction, clock, renderer) as the generic engine, so there is never a second copy of
//! state. [`Registry::standard`] is the one list of every behaviour; building it fails if two
//! behaviours claim the same operation.

pub mod access_list;
mod api_access_lists;
pub(crate) mod api_keys;
pub mod cloud_backups;
pub mod clusters;
pub mod events;
pub mod flex_backups;
pub mod flex_clusters;
pub mod flex_restores;
pub mod global_writes;
pub mod integrations;
pub(crate) mod invitations;
pub mod online_archives;
pub(crate) mod organizations;
pub mod private_endpoints;
pub mod processes;
pub(crate) mod projects;
mod rate_limits;
mod root;
pub(crate) mod service_accounts;
pub mod streams;
mod support;
mod teams;
pub(crate) mod users;

use std::collections::HashMap;
use std::sync::Arc;

use atlas_model::OperationId;

use crate::call::Reply;
use crate::engine::Ctx;
use crate::error::ApiError;

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
}

/// Behaviours by the operations they claim.
#[derive(Clone, Default)]
pub struct Registry {
    by_operation: HashMap<OperationId, Arc<dyn Behaviour>>,
}

impl Registry {
    /// Every behaviour of localatlas.
    pub fn standard() -> Registry {
        let all: Vec<Arc<dyn Behaviour>> = vec![
            Arc::new(root::Root),
            Arc::new(projects::Projects),
            Arc::new(organizations::Organizations),
            Arc::new(clusters::Clusters),
            Arc::new(flex_clusters::FlexClusters),
            Arc::new(events::Events),
            Arc::new(processes::Processes),
            Arc::new(access_list::AccessList),
            Arc::new(flex_backups::FlexBackups),
            Arc::new(cloud_backups::CloudBackups),
            Arc::new(api_keys::ApiKeys),
            Arc::new(api_access_lists::ApiAccessLists),
            Arc::new(service_accounts::ServiceAccounts),
            Arc::new(users::Users),
            Arc::new(teams::Teams),
            Arc::new(invitations::Invitations),
            Arc::new(rate_limits::RateLimits),
            Arc::new(flex_restores::FlexRestores),
            Arc::new(online_archives::OnlineArchives),
            Arc::new(global_writes::GlobalWrites),
            Arc::new(private_endpoints::PrivateEndpoints),
            Arc::new(integrations::Integrations),
            Arc::new(streams::Streams),
        ];
        match Registry::new(all) {
            Ok(registry) => registry,
            // Two behaviours claiming one operation is a programming error caught by the tests.
            Err(message) => panic!("{message}"),
        }
    }

    /// A registry of `behaviours`; an error names an operation claimed twice.
    pub fn new(behaviours: Vec<Arc<dyn Behaviour>>) -> Result<Registry, String> {
        let mut by_operation: HashMap<OperationId, Arc<dyn Behaviour>> = HashMap::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_operation_is_claimed_twice() {
        let registry = Registry::standard();
        assert!(registry.get(OperationId::CreateGroup).is_some());
        assert!(registry.get(OperationId::ListGroupClusters).is_some());
        assert!(registry.get(OperationId::ListGroupAlertConfigs).is_none());
    }
}
