//! Lifecycles of the resources the generic engine serves, as data: which collection, which state
//! field, the transitional and final states, and realistic durations (semantics §8). The engine
//! starts a transition on create (and update or delete where Atlas shows one) and settles it on
//! reads; see [`crate::lifecycle`] for the policies.

/// The lifecycle of one generic collection.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub resource: &'static str,
    /// The lifecycle kind, for per-kind policy overrides.
    pub kind: &'static str,
    /// The state field of the document.
    pub field: &'static str,
    /// State right after creation, final state, realistic seconds between them.
    pub created: (&'static str, &'static str, i64),
    /// The same for an update, where Atlas shows one.
    pub updated: Option<(&'static str, &'static str, i64)>,
    /// State while deleting and how long until the item is gone, where Atlas shows one.
    pub deleting: Option<(&'static str, i64)>,
}

/// Every generic collection with a lifecycle.
pub const SPECS: &[Spec] = &[
    Spec {
        // FTS index (2023-01-01 API): POST 200 IN_PROGRESS, then STEADY.
        resource: "/groups/{groupId}/clusters/{clusterName}/fts/indexes",
        kind: "searchIndex",
        field: "status",
        created: ("IN_PROGRESS", "STEADY", 60),
        updated: Some(("IN_PROGRESS", "STEADY", 60)),
        deleting: None,
    },
    Spec {
        // Search index (2024-05-30 API): POST 201 PENDING, PATCH 200 PENDING, then READY; the
        // index goes DELETING before it disappears.
        resource: "/groups/{groupId}/clusters/{clusterName}/search/indexes",
        kind: "searchIndex",
        field: "status",
        created: ("PENDING", "READY", 60),
        updated: Some(("PENDING", "READY", 60)),
        deleting: Some(("DELETING", 30)),
    },
    Spec {
        // On-demand cloud backup snapshot: POST 200 queued, completed after ~3 min.
        resource: "/groups/{groupId}/clusters/{clusterName}/backup/snapshots",
        kind: "snapshot",
        field: "status",
        created: ("queued", "completed", 180),
        updated: None,
        deleting: None,
    },
    Spec {
        // Export job: POST 200 Queued, Successful after ~15 min (Pascal case in Atlas).
        resource: "/groups/{groupId}/clusters/{clusterName}/backup/exports",
        kind: "exportJob",
        field: "state",
        created: ("Queued", "Successful", 900),
        updated: None,
        deleting: None,
    },
    Spec {
        // Collection restore job.
        resource: "/groups/{groupId}/clusters/{clusterName}/collectionRestoreJobs",
        kind: "restoreJob",
        field: "state",
        created: ("INITIALIZING", "SUCCESSFUL", 120),
        updated: None,
        deleting: None,
    },
    Spec {
        // LDAP connectivity check: POST 200 PENDING, terminal after ~10 s.
        resource: "/groups/{groupId}/userSecurity/ldap/verify",
        kind: "ldapVerify",
        field: "status",
        created: ("PENDING", "SUCCESS", 10),
        updated: None,
        deleting: None,
    },
    Spec {
        // Object-storage private endpoint for backups.
        resource: "/groups/{groupId}/backup/{cloudProvider}/privateEndpoints",
        kind: "privateEndpoint",
        field: "status",
        created: ("INITIATING", "ACTIVE", 60),
        updated: None,
        deleting: Some(("DELETING", 60)),
    },
];

/// The lifecycle of a resource template, if it has one.
pub fn of(resource: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.resource == resource)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::resources::ResourceIndex;

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
    }
}
