//! Hand-written behaviours, one module per resource family.
//!
//! A behaviour claims operations by [`OperationId`] and serves them with the same engine context
//! (store transaction, clock, renderer) as the generic engine, so there is never a second copy of
//! state. [`standard`] is the one list of every behaviour; building it fails if two behaviours
//! claim the same operation.

pub mod access_list;
mod alert_matchers;
mod api_access_lists;
pub(crate) mod api_keys;
pub mod cloud_backups;
mod cloud_provider_access;
mod cloud_restores;
pub mod clusters;
mod data_federation;
mod database_user_certs;
mod database_users;
pub mod events;
mod federation;
pub mod flex_backups;
pub mod flex_clusters;
pub mod flex_restores;
pub mod global_writes;
pub mod integrations;
pub(crate) mod invitations;
pub mod network_containers;
pub mod online_archives;
pub(crate) mod organizations;
pub mod private_endpoints;
pub mod processes;
pub(crate) mod projects;
mod rate_limits;
mod root;
mod sample_datasets;
mod search_indexes;
pub(crate) mod service_accounts;
pub mod shared;
pub mod streams;
mod teams;
pub(crate) mod users;

use std::sync::Arc;

use crate::engine::{Behaviour, Registry};

/// Every behaviour of localatlas.
pub fn standard() -> Registry {
    let all: Vec<Arc<dyn Behaviour>> = vec![
        Arc::new(root::Root),
        Arc::new(alert_matchers::AlertMatchers),
        Arc::new(projects::Projects),
        Arc::new(organizations::Organizations),
        Arc::new(clusters::Clusters),
        Arc::new(flex_clusters::FlexClusters),
        Arc::new(events::Events),
        Arc::new(processes::Processes),
        Arc::new(access_list::AccessList),
        Arc::new(database_users::DatabaseUsers),
        Arc::new(database_user_certs::DatabaseUserCerts),
        Arc::new(flex_backups::FlexBackups),
        Arc::new(cloud_backups::CloudBackups),
        Arc::new(cloud_restores::CloudRestores),
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
        Arc::new(federation::Federation),
        Arc::new(sample_datasets::SampleDatasets),
        Arc::new(network_containers::NetworkContainers),
        Arc::new(search_indexes::SearchIndexes),
        Arc::new(cloud_provider_access::CloudProviderAccess),
        Arc::new(data_federation::DataFederation),
    ];
    match Registry::new(all) {
        Ok(registry) => registry,
        // Two behaviours claiming one operation is a programming error caught by the tests.
        Err(message) => panic!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_model::OperationId;

    #[test]
    fn no_operation_is_claimed_twice() {
        let registry = standard();
        assert!(registry.get(OperationId::CreateGroup).is_some());
        assert!(registry.get(OperationId::ListGroupClusters).is_some());
        assert!(registry.get(OperationId::ListGroupAlertConfigs).is_none());
    }

    #[test]
    fn behaviours_are_named_after_their_modules() {
        // One style for the coverage report's `servedBy`: the family's module name.
        let registry = standard();
        for op in atlas_model::OPERATIONS.iter() {
            if let Some(name) = registry.served_by(op.id) {
                assert!(
                    name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{name} is not a module name"
                );
            }
        }
    }
}
