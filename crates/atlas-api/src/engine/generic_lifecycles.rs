//! Lifecycles of the resources the generic engine serves: which collection takes which declared
//! transition (`crate::kernel::lifecycle::kinds`) when an item is created, updated or deleted,
//! where Atlas shows one. The engine starts the transition and settles it on reads.

use crate::kernel::lifecycle::Step;
use crate::kernel::lifecycle::kinds::{
    compliance_policy, export_job, ldap_verify, private_endpoint, restore_job, snapshot,
};

/// The lifecycle of one generic collection.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub resource: &'static str,
    pub created: Step,
    /// Where Atlas shows an update in progress.
    pub updated: Option<Step>,
    /// Where Atlas shows the item deleting before it disappears.
    pub deleting: Option<Step>,
}

/// Every generic collection with a lifecycle.
pub const SPECS: &[Spec] = &[
    Spec {
        resource: "/groups/{groupId}/clusters/{clusterName}/backup/snapshots",
        created: snapshot::TAKE,
        updated: None,
        deleting: None,
    },
    Spec {
        resource: "/groups/{groupId}/clusters/{clusterName}/backup/exports",
        created: export_job::RUN,
        updated: None,
        deleting: None,
    },
    Spec {
        resource: "/groups/{groupId}/clusters/{clusterName}/collectionRestoreJobs",
        created: restore_job::COLLECTION_RESTORE,
        updated: None,
        deleting: None,
    },
    Spec {
        resource: "/groups/{groupId}/userSecurity/ldap/verify",
        created: ldap_verify::CHECK,
        updated: None,
        deleting: None,
    },
    Spec {
        resource: "/groups/{groupId}/backup/{cloudProvider}/privateEndpoints",
        created: private_endpoint::BACKUP_CREATE,
        updated: None,
        deleting: Some(private_endpoint::DELETE),
    },
];

/// The lifecycle of a resource template, if it has one.
pub fn of(resource: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.resource == resource)
}

/// Singletons whose every update Atlas shows in progress: the transition each update starts.
pub const SINGLETONS: &[(&str, Step)] = &[(
    "/groups/{groupId}/backupCompliancePolicy",
    compliance_policy::APPLY,
)];

/// The transition an update of a singleton starts, if it has one.
pub fn of_singleton(resource: &str) -> Option<Step> {
    SINGLETONS
        .iter()
        .find(|(r, _)| *r == resource)
        .map(|(_, step)| *step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::resources::ResourceIndex;

    #[test]
    fn every_spec_names_a_stored_collection() {
        for spec in SPECS {
            let resource = ResourceIndex::global().get(spec.resource);
            assert!(
                resource.is_some_and(|r| r.create.is_some()),
                "{}",
                spec.resource
            );
        }
        for (resource, _) in SINGLETONS {
            let resource = ResourceIndex::global().get(resource);
            assert!(resource.is_some_and(|r| r.create.is_none()), "{resource:?}");
        }
    }
}
