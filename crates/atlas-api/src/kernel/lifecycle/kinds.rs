//! Every kind of long-running resource and its transitions, declared once: the state field, the
//! state shown during each change and after it, whether the resource then disappears, and how
//! long the change takes on the `realistic` policy (semantics §8; the evidence is beside each).
//! Families name a transition ([`cluster::CREATE`]) and start it with [`Step::begin`]; the
//! control API accepts exactly the kinds listed in [`KINDS`].

use atlas_store::{StoreResult, Tx};
use serde_json::Value;
use time::OffsetDateTime;

use super::Then;

/// One declared transition of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The kind, for per-kind policy overrides (`POST /__localatlas/lifecycle`).
    pub kind: &'static str,
    /// The document field holding the state (`stateName`, `state`, `status`).
    pub field: &'static str,
    /// The state while the change is in progress.
    pub from: &'static str,
    /// The state once completed (for a deletion: the state never shown, the item is gone).
    pub to: &'static str,
    pub then: Then,
    /// How long the change lasts on the `realistic` policy, in seconds.
    pub seconds: i64,
}

impl Step {
    /// Starts this transition on `doc`: the state field shows `from` now, `to` once completed.
    pub fn begin(self, tx: &mut dyn Tx, doc: &mut Value, now: OffsetDateTime) -> StoreResult<()> {
        super::begin(tx, doc, self, now)
    }

    /// The same transition with a duration that depends on the resource (a provider, a tier).
    pub const fn lasting(self, seconds: i64) -> Step {
        Step { seconds, ..self }
    }

    /// The same transition on another state field (a provider that names its status otherwise).
    pub const fn on_field(self, field: &'static str) -> Step {
        Step { field, ..self }
    }

    /// The same transition shown with another state while in progress.
    pub const fn shown_as(self, from: &'static str) -> Step {
        Step { from, ..self }
    }
}

const fn settle(
    kind: &'static str,
    field: &'static str,
    from: &'static str,
    to: &'static str,
    seconds: i64,
) -> Step {
    Step {
        kind,
        field,
        from,
        to,
        then: Then::Settle,
        seconds,
    }
}

/// A deletion: the item shows `from` until it disappears (Atlas never shows a `DELETED` item).
const fn delete(kind: &'static str, field: &'static str, from: &'static str, seconds: i64) -> Step {
    Step {
        kind,
        field,
        from,
        to: "DELETED",
        then: Then::Delete,
        seconds,
    }
}

/// Every kind a policy can be set for.
pub const KINDS: &[&str] = &[
    cluster::KIND,
    flex_cluster::KIND,
    search_index::KIND,
    online_archive::KIND,
    private_endpoint_service::KIND,
    private_endpoint::KIND,
    snapshot::KIND,
    export_job::KIND,
    restore_job::KIND,
    ldap_verify::KIND,
    sample_dataset::KIND,
    compliance_policy::KIND,
    cloud_provider_access::KIND,
];

/// Dedicated and shared-tier clusters (`stateName`).
pub mod cluster {
    use super::*;
    pub const KIND: &str = "cluster";
    /// A dedicated cluster takes about ten minutes to create.
    pub const CREATE: Step = settle(KIND, "stateName", "CREATING", "IDLE", 600);
    /// A shared-tier (M0/M2/M5) cluster is ready within seconds.
    pub const TENANT_CREATE: Step = CREATE.lasting(10);
    /// A change of configuration, a rolling restart, a version change.
    pub const UPDATE: Step = settle(KIND, "stateName", "UPDATING", "IDLE", 120);
    /// Moving a shared-tier or flex cluster to a dedicated tier (a migration: ~25 minutes).
    pub const TIER_UPGRADE: Step = UPDATE.lasting(1500);
    pub const DELETE: Step = delete(KIND, "stateName", "DELETING", 180);
    pub const TENANT_DELETE: Step = DELETE.lasting(25);
}

/// Flex clusters (`stateName`): seconds, not minutes.
pub mod flex_cluster {
    use super::*;
    pub const KIND: &str = "flexCluster";
    pub const CREATE: Step = settle(KIND, "stateName", "CREATING", "IDLE", 8);
    pub const UPDATE: Step = settle(KIND, "stateName", "UPDATING", "IDLE", 5);
    pub const DELETE: Step = delete(KIND, "stateName", "DELETING", 40);
}

/// Atlas Search indexes (`status`).
pub mod search_index {
    use super::*;
    pub const KIND: &str = "searchIndex";
    /// FTS index (2023-01-01 API): POST 200 `IN_PROGRESS`, then `STEADY`.
    pub const FTS_BUILD: Step = settle(KIND, "status", "IN_PROGRESS", "STEADY", 60);
    /// Search index (2024-05-30 API): POST 201 / PATCH 200 `PENDING`, then `READY`.
    pub const BUILD: Step = settle(KIND, "status", "PENDING", "READY", 60);
    /// The index shows `DELETING` before it disappears.
    pub const DELETE: Step = delete(KIND, "status", "DELETING", 30);
}

/// Online archives (`state`).
pub mod online_archive {
    use super::*;
    pub const KIND: &str = "onlineArchive";
    pub const ACTIVATE: Step = settle(KIND, "state", "PENDING", "ACTIVE", 60);
    pub const PAUSE: Step = settle(KIND, "state", "PAUSING", "PAUSED", 30);
}

/// Private endpoint services (`status`).
pub mod private_endpoint_service {
    use super::*;
    pub const KIND: &str = "privateEndpointService";
    /// Creation; the duration depends on the provider.
    pub const CREATE: Step = settle(KIND, "status", "INITIATING", "AVAILABLE", 150);
    pub const DELETE: Step = delete(KIND, "status", "DELETING", 60);
}

/// Private endpoints: the interface endpoints of a service (`status`, AWS `connectionStatus`),
/// and the object-storage endpoints of backups.
pub mod private_endpoint {
    use super::*;
    pub const KIND: &str = "privateEndpoint";
    pub const CONNECT: Step = settle(KIND, "status", "INITIATING", "AVAILABLE", 120);
    pub const DELETE: Step = delete(KIND, "status", "DELETING", 60);
    /// Object-storage private endpoint for backups.
    pub const BACKUP_CREATE: Step = settle(KIND, "status", "INITIATING", "ACTIVE", 60);
}

/// Cloud backup snapshots (`status`).
pub mod snapshot {
    use super::*;
    pub const KIND: &str = "snapshot";
    /// On-demand snapshot: POST 200 `queued`, completed after about three minutes.
    pub const TAKE: Step = settle(KIND, "status", "queued", "completed", 180);
}

/// The project's backup compliance policy (`state`): each PUT answers `ENABLING`, and a read
/// soon after shows `ACTIVE` (recorded atlas-cli TestBackupCompliancePolicyDescribe and
/// TestBackupCompliancePolicyPoliciesDescribe at 2023-10-01: PUT 200 `ENABLING`, then GET 200
/// `ACTIVE`).
pub mod compliance_policy {
    use super::*;
    pub const KIND: &str = "compliancePolicy";
    pub const APPLY: Step = settle(KIND, "state", "ENABLING", "ACTIVE", 30);
}

/// Snapshot export jobs (`state`, in Pascal case as Atlas writes it).
pub mod export_job {
    use super::*;
    pub const KIND: &str = "exportJob";
    pub const RUN: Step = settle(KIND, "state", "Queued", "Successful", 900);
}

/// Restore jobs: collection restores (`state`) and flex restores (`status`).
pub mod restore_job {
    use super::*;
    pub const KIND: &str = "restoreJob";
    pub const COLLECTION_RESTORE: Step = settle(KIND, "state", "INITIALIZING", "SUCCESSFUL", 120);
    pub const FLEX_RESTORE: Step = settle(KIND, "status", "PENDING", "COMPLETED", 60);
}

/// LDAP connectivity checks (`status`): POST 200 `PENDING`, terminal after about ten seconds.
pub mod ldap_verify {
    use super::*;
    pub const KIND: &str = "ldapVerify";
    pub const CHECK: Step = settle(KIND, "status", "PENDING", "SUCCESS", 10);
}

/// Sample dataset loads (`state`): recorded answers show `WORKING` right after the request.
pub mod sample_dataset {
    use super::*;
    pub const KIND: &str = "sampleDataset";
    pub const LOAD: Step = settle(KIND, "state", "WORKING", "COMPLETED", 120);
}

/// Cloud provider access roles (`status`, GCP service accounts only): the spec's enum has
/// `IN_PROGRESS` and `COMPLETE` for the service account Atlas sets up in its GCP project after
/// the `POST`. The duration is an estimate (no recorded GCP role).
pub mod cloud_provider_access {
    use super::*;
    pub const KIND: &str = "cloudProviderAccess";
    pub const GCP_SET_UP: Step = settle(KIND, "status", "IN_PROGRESS", "COMPLETE", 60);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_distinct_and_deletions_remove() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in KINDS {
            assert!(seen.insert(*kind), "{kind} listed twice");
        }
        for step in [
            cluster::DELETE,
            flex_cluster::DELETE,
            search_index::DELETE,
            private_endpoint::DELETE,
        ] {
            assert_eq!(step.then, Then::Delete);
            assert!(KINDS.contains(&step.kind));
        }
        assert_eq!(cluster::TENANT_CREATE.from, "CREATING");
        assert_eq!(cluster::TENANT_CREATE.seconds, 10);
    }
}
