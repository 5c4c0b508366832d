//! Atlas roles: the API constants, the UI labels the spec's `x-rolesRequirements` use, and which
//! role includes which (semantics §5).
//!
//! A requirement is met when any held role implies it. Organization roles are held in one
//! organization; project roles in one project. The implications are the documented ones (§5.2):
//! - every organization role implies Organization Member; Organization Owner implies every
//!   organization role; Billing Admin implies Billing Viewer; Stream Processing Admin implies
//!   Organization Read Only;
//! - Organization Owner implies Project Owner on every project of its organization, Organization
//!   Read Only implies Project Read Only on all of them, Organization Stream Processing Admin
//!   implies Project Stream Processing Owner on all of them;
//! - Project Owner implies every project role, every project role implies Project Read Only, and
//!   the Data Explorer ladder Data Access Admin ⊇ Read Write ⊇ Read Only.
//!
//! Finer inclusions between project roles are undocumented; the spec's any-of lists already name
//! every role that may call an operation, so none are invented here.

use serde_json::Value;

use crate::api_error;
use crate::kernel::error::ApiError;

pub const ORG_OWNER: &str = "ORG_OWNER";
pub const ORG_GROUP_CREATOR: &str = "ORG_GROUP_CREATOR";
pub const ORG_BILLING_ADMIN: &str = "ORG_BILLING_ADMIN";
pub const ORG_BILLING_READ_ONLY: &str = "ORG_BILLING_READ_ONLY";
pub const ORG_STREAM_PROCESSING_ADMIN: &str = "ORG_STREAM_PROCESSING_ADMIN";
pub const ORG_READ_ONLY: &str = "ORG_READ_ONLY";
pub const ORG_MEMBER: &str = "ORG_MEMBER";

pub const GROUP_OWNER: &str = "GROUP_OWNER";
pub const GROUP_READ_ONLY: &str = "GROUP_READ_ONLY";
pub const GROUP_STREAM_PROCESSING_OWNER: &str = "GROUP_STREAM_PROCESSING_OWNER";
const GROUP_DATA_ACCESS_ADMIN: &str = "GROUP_DATA_ACCESS_ADMIN";
const GROUP_DATA_ACCESS_READ_WRITE: &str = "GROUP_DATA_ACCESS_READ_WRITE";
const GROUP_DATA_ACCESS_READ_ONLY: &str = "GROUP_DATA_ACCESS_READ_ONLY";

/// Project roles per project: `[(groupId, roles)]`.
pub type Assignments = Vec<(String, Vec<String>)>;

/// Organization roles (the spec's enums, §5.1).
pub const ORG_ROLES: &[&str] = &[
    ORG_OWNER,
    ORG_GROUP_CREATOR,
    ORG_BILLING_ADMIN,
    ORG_BILLING_READ_ONLY,
    ORG_STREAM_PROCESSING_ADMIN,
    ORG_READ_ONLY,
    ORG_MEMBER,
];

/// Project roles (the docs' list, §5.1; the spec leaves project-role fields free strings).
pub const GROUP_ROLES: &[&str] = &[
    GROUP_OWNER,
    "GROUP_REPLICA_SET_MANAGER",
    "GROUP_CLUSTER_MANAGER",
    "GROUP_CLUSTER_CREATOR",
    "GROUP_CLUSTER_LOG_VIEWER",
    "GROUP_CLUSTER_RESILIENCE_TESTER",
    GROUP_STREAM_PROCESSING_OWNER,
    "GROUP_ACCESS_MANAGER",
    GROUP_DATA_ACCESS_ADMIN,
    GROUP_DATA_ACCESS_READ_WRITE,
    GROUP_DATA_ACCESS_READ_ONLY,
    "GROUP_DATABASE_ACCESS_ADMIN",
    "GROUP_BACKUP_MANAGER",
    "GROUP_BACKUP_CREATOR",
    "GROUP_BACKUP_RECOVERY_OPERATOR",
    "GROUP_BACKUP_EXPORT_OPERATOR",
    "GROUP_NETWORK_ACCESS_MANAGER",
    "GROUP_OBSERVABILITY_VIEWER",
    "GROUP_TRIGGER_MANAGER",
    GROUP_READ_ONLY,
    "GROUP_INDEX_MANAGER",
    "GROUP_SEARCH_INDEX_EDITOR",
    "GROUP_REAL_TIME_PERFORMANCE_OPERATOR",
    "GROUP_SUPPORT_ACCESS_MANAGER",
    "GROUP_ALERTS_MANAGER",
    "GROUP_MODEL_OWNER",
];

pub fn is_org_role(role: &str) -> bool {
    ORG_ROLES.contains(&role)
}

pub fn is_group_role(role: &str) -> bool {
    GROUP_ROLES.contains(&role)
}

/// The constant behind an `x-rolesRequirements` label ("Project Cluster Manager").
///
/// "Project Stream Processing Manager" (27 operations) has no constant in the docs' role list
/// (§5.3, open question 10); it is read as Project Stream Processing Owner, which the docs do
/// list and which every operation naming the manager also accepts through Project Owner.
pub fn from_label(label: &str) -> Option<&'static str> {
    let constant = match label {
        "Organization Owner" => ORG_OWNER,
        "Organization Project Creator" => ORG_GROUP_CREATOR,
        "Organization Billing Admin" => ORG_BILLING_ADMIN,
        "Organization Billing Viewer" => ORG_BILLING_READ_ONLY,
        "Organization Stream Processing Admin" => ORG_STREAM_PROCESSING_ADMIN,
        "Organization Read Only" => ORG_READ_ONLY,
        "Organization Member" => ORG_MEMBER,
        "Project Stream Processing Manager" => GROUP_STREAM_PROCESSING_OWNER,
        other => {
            let rest = other.strip_prefix("Project ")?;
            let constant = format!("GROUP_{}", rest.to_ascii_uppercase().replace(' ', "_"));
            return GROUP_ROLES.iter().copied().find(|r| *r == constant);
        }
    };
    Some(constant)
}

/// Whether holding organization role `held` meets organization role `required`.
pub fn org_implies(held: &str, required: &str) -> bool {
    held == required
        || held == ORG_OWNER
        || (required == ORG_MEMBER && is_org_role(held))
        || (held == ORG_BILLING_ADMIN && required == ORG_BILLING_READ_ONLY)
        || (held == ORG_STREAM_PROCESSING_ADMIN && required == ORG_READ_ONLY)
}

/// Whether holding project role `held` meets project role `required`.
pub fn group_implies(held: &str, required: &str) -> bool {
    held == required
        || held == GROUP_OWNER
        || (required == GROUP_READ_ONLY && is_group_role(held))
        || (held == GROUP_DATA_ACCESS_ADMIN
            && matches!(
                required,
                GROUP_DATA_ACCESS_READ_WRITE | GROUP_DATA_ACCESS_READ_ONLY
            ))
        || (held == GROUP_DATA_ACCESS_READ_WRITE && required == GROUP_DATA_ACCESS_READ_ONLY)
}

/// Whether holding organization role `held` meets project role `required` on the
/// organization's projects.
pub fn org_implies_group(held: &str, required: &str) -> bool {
    match held {
        ORG_OWNER => true,
        ORG_READ_ONLY => required == GROUP_READ_ONLY,
        ORG_STREAM_PROCESSING_ADMIN => group_implies(GROUP_STREAM_PROCESSING_OWNER, required),
        _ => false,
    }
}

/// Whether roles held in one organization (and, when the call addresses a project, in that
/// project) meet `required`.
pub fn satisfies(org_roles: &[String], group_roles: Option<&[String]>, required: &str) -> bool {
    if is_org_role(required) {
        return org_roles.iter().any(|h| org_implies(h, required));
    }
    let Some(group_roles) = group_roles else {
        return false;
    };
    group_roles.iter().any(|h| group_implies(h, required))
        || org_roles.iter().any(|h| org_implies_group(h, required))
}

/// Checks a list of project role names: an unknown one is Atlas's `INVALID_ENUM_VALUE` with the
/// value (recorded for `POST /groups/{id}/apiKeys` with `INVALID_ROLE`, semantics §3.2).
pub fn check_group_roles<'a>(roles: impl IntoIterator<Item = &'a str>) -> Result<(), ApiError> {
    check(roles, is_group_role)
}

/// Checks a list of organization role names the same way (most org-role fields are already
/// enums in the spec; free-form ones go through here).
pub fn check_org_roles<'a>(roles: impl IntoIterator<Item = &'a str>) -> Result<(), ApiError> {
    check(roles, is_org_role)
}

fn check<'a>(
    roles: impl IntoIterator<Item = &'a str>,
    valid: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    for role in roles {
        if role.is_empty() {
            return Err(api_error!(INVALID_ENUM_VALUE));
        }
        if !valid(role) {
            return Err(api_error!(INVALID_ENUM_VALUE, role));
        }
    }
    Ok(())
}

/// The strings of a JSON array (other items ignored; the schema validated their types).
pub fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_model::OPERATIONS;

    fn held(roles: &[&str]) -> Vec<String> {
        roles.iter().map(|r| (*r).to_owned()).collect()
    }

    #[test]
    fn every_label_of_the_spec_maps_to_a_role() {
        for op in &OPERATIONS {
            for label in op.roles {
                assert!(from_label(label).is_some(), "{}: {label}", op.name);
            }
        }
        assert_eq!(
            from_label("Project Data Access Read Write"),
            Some("GROUP_DATA_ACCESS_READ_WRITE")
        );
        assert_eq!(
            from_label("Organization Billing Viewer"),
            Some(ORG_BILLING_READ_ONLY)
        );
    }

    #[test]
    fn organization_owner_is_project_owner_everywhere() {
        let org = held(&[ORG_OWNER]);
        assert!(satisfies(&org, Some(&[]), "GROUP_CLUSTER_MANAGER"));
        assert!(satisfies(&org, Some(&[]), ORG_BILLING_READ_ONLY));
        assert!(
            !satisfies(&org, None, GROUP_READ_ONLY),
            "no project addressed"
        );
    }

    #[test]
    fn project_roles_include_read_only_and_owner_includes_all() {
        let none: Vec<String> = Vec::new();
        let manager = held(&["GROUP_CLUSTER_MANAGER"]);
        assert!(satisfies(&none, Some(&manager), GROUP_READ_ONLY));
        assert!(!satisfies(&none, Some(&manager), GROUP_OWNER));
        let owner = held(&[GROUP_OWNER]);
        assert!(satisfies(
            &none,
            Some(&owner),
            "GROUP_NETWORK_ACCESS_MANAGER"
        ));
        let admin = held(&[GROUP_DATA_ACCESS_ADMIN]);
        assert!(satisfies(&none, Some(&admin), GROUP_DATA_ACCESS_READ_ONLY));
        let read_only = held(&[GROUP_READ_ONLY]);
        assert!(!satisfies(&none, Some(&read_only), "GROUP_CLUSTER_CREATOR"));
    }

    #[test]
    fn organization_read_only_and_member() {
        let read_only = held(&[ORG_READ_ONLY]);
        assert!(satisfies(&read_only, Some(&[]), GROUP_READ_ONLY));
        assert!(!satisfies(&read_only, Some(&[]), GROUP_OWNER));
        assert!(satisfies(&read_only, None, ORG_MEMBER));
        assert!(!satisfies(&read_only, None, ORG_OWNER));
        let member = held(&[ORG_MEMBER]);
        assert!(!satisfies(&member, Some(&[]), GROUP_READ_ONLY));
        let streams = held(&[ORG_STREAM_PROCESSING_ADMIN]);
        assert!(satisfies(
            &streams,
            Some(&[]),
            GROUP_STREAM_PROCESSING_OWNER
        ));
        assert!(satisfies(&streams, None, ORG_READ_ONLY));
        assert!(!satisfies(&streams, Some(&[]), "GROUP_CLUSTER_MANAGER"));
    }

    #[test]
    fn unknown_role_names_are_invalid_enum_values() {
        assert!(check_group_roles(["GROUP_OWNER", "GROUP_READ_ONLY"]).is_ok());
        let e = check_group_roles(["INVALID_ROLE"]).unwrap_err();
        assert_eq!(e.code(), "INVALID_ENUM_VALUE");
        assert_eq!(
            e.detail(),
            "An invalid enumeration value INVALID_ROLE was specified."
        );
        assert_eq!(check_org_roles([""]).unwrap_err().parameters().len(), 0);
        assert!(check_org_roles(["GROUP_OWNER"]).is_err());
    }
}
