//! The catalogue of Atlas error codes localatlas answers with.
//!
//! Each entry is the code Atlas puts in `errorCode`, the HTTP status it comes with, and the
//! `detail` template whose `{}` placeholders are filled, in order, by the error's `parameters`.
//! Codes, statuses and templates follow observed Atlas traffic where it exists (semantics
//! reference §3: `[S]` snapshot, `[F]` field log) and the Atlas error-code documentation otherwise.

/// One Atlas error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub name: &'static str,
    pub status: u16,
    pub template: &'static str,
}

macro_rules! codes {
    ($($name:ident = $status:literal, $template:literal;)*) => {
        $(pub const $name: ErrorCode = ErrorCode {
            name: stringify!($name),
            status: $status,
            template: $template,
        };)*
        /// Every code of the catalogue.
        pub const ALL: &[ErrorCode] = &[$($name),*];
    };
}

codes! {
    // Protocol.
    INVALID_VERSION_DATE = 406, "Invalid accept header or version date."; // [F] exact body
    VERSION_GONE = 410, "The requested API version is no longer available.";
    RESOURCE_NOT_FOUND = 404, "Cannot find resource {}."; // [S] X = request path
    METHOD_NOT_ALLOWED = 405, "Method {} is not allowed for resource {}.";
    UNEXPECTED_ERROR = 500, "Unexpected error."; // [F]
    SERVICE_UNAVAILABLE = 503, "Service unavailable.";
    UNSUPPORTED_MEDIA_TYPE = 415, "Content type {} is not supported.";
    PAYLOAD_TOO_LARGE = 413, "The request body exceeds the maximum size of {} bytes.";
    // localatlas's own: a client that stops sending its body mid-way (Atlas's front end
    // closes such connections; an answer names the limit).
    REQUEST_TIMEOUT = 408, "The request body was not received within {} seconds.";

    // Request validation (§3.2).
    INVALID_ATTRIBUTE = 400, "Invalid attribute {} specified."; // [F]
    MISSING_ATTRIBUTE = 400, "The required attribute {} was not specified."; // [F]
    INVALID_ENUM_VALUE = 400, "An invalid enumeration value {} was specified."; // [F]
    MALFORMED_JSON = 400, "Received JSON is malformed."; // [D]
    INVALID_JSON = 400, "Received JSON does not match expected format."; // [D]
    INVALID_JSON_ATTRIBUTE = 400, "Received JSON for the {} attribute does not match expected format."; // [D]
    VALIDATION_ERROR = 400, "The request content produced the validation error: {}."; // [F]
    INVALID_QUERY_PARAMETER = 400, "Invalid query parameter {} specified."; // [D]
    MISSING_QUERY_PARAMETER = 400, "The required query parameter {} was not specified."; // [D]
    INVALID_PATH_PARAMETER = 400, "Invalid path parameter {} specified."; // [D]
    INVALID_GROUP_ID = 400, "An invalid group ID {} was specified."; // [D] Ops Manager/Atlas code table
    INVALID_ORG_ID = 400, "An invalid organization ID {} was specified."; // [D]

    // Authentication and authorization (§4, §5).
    USER_UNAUTHORIZED = 401, "Current user is not authorized to perform this action."; // [F]
    NOT_ORG_GROUP_CREATOR = 401, "The current user does not have the group creator role in organization {}."; // [P]
    IP_ADDRESS_NOT_ON_ACCESS_LIST = 403, "IP address {} is not allowed to access this resource."; // [F]
    ORG_REQUIRES_ACCESS_LIST = 403, "This organization requires access through an access list of ip ranges."; // [F] parameters [callerIp]

    // Rate limits (§6).
    RATE_LIMITED_TOKEN_BUCKET = 429, "Rate limit exceeded for {}. Please retry after {} seconds. Request capacity: {}. Refill rate: {} per {} seconds. For more information, see: http://dochub.mongodb.org/core/atlas-api-rate-limit."; // [F] exact body
    RATE_LIMITED = 429, "Resource {} is limited to {} requests every {} minutes."; // [D] token endpoint, params [path, n, m]

    // Identity: keys, access lists, roles, users, teams, invitations ([D]: the Atlas
    // Administration API error-code table).
    MISSING_API_KEY_ROLES = 400, "API keys must have at least one role."; // [D]
    INVALID_IP_ADDRESS_OR_CIDR_NOTATION = 400, "The address {} must be in valid IP address or CIDR notation."; // [D][F]
    // A project access-list entry that is not there: the Terraform provider's acceptance logs
    // (GET .../accessList/179.154.226.68 and .../accessList/179.154.226.127%2F32 → 404 with this
    // code, the entry as the client named it and the project as parameters), the Atlas CLI's
    // `accessLists describe` output; the provider and the Kubernetes operator match the code.
    ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND = 404, "IP Address {} not on Atlas access list for group {}."; // [F]
    MULTIPLE_VALUES_SPECIFIED_FOR_ONE_NETWORK_PERMISSION_ENTRY = 400, "Should not specify both the IP address and the CIDR block."; // [D]
    MISSING_ONE_OF_ATTRIBUTES = 400, "Either the {} attribute or the {} attribute must be specified."; // [D]
    ROLE_NEEDS_GROUP_ID = 400, "Role {} requires a group ID."; // [D]
    ROLE_NEEDS_ORG_ID = 400, "Role {} requires an organization ID."; // [D]
    INVALID_INVITATION_ID = 400, "The invitation you tried to delete does not exist or has already been accepted."; // [D]
    USER_ALREADY_EXISTS = 409, "A user with username {} already exists."; // [D]
    USER_ALREADY_IN_TEAM = 409, "The user with ID {} in team {} already exists."; // [D]
    TEAM_NAME_NOT_AVAILABLE = 409, "Cannot create a team named {} in organization {}."; // [D]
    TEAM_EXISTS_IN_GROUP = 409, "Cannot add a team that already exists in group."; // [D]
    USER_NOT_IN_GROUP = 404, "User {} is not in group {}."; // [D]
    USER_NOT_IN_ORG = 404, "User {} is not in organization {}."; // [D]
    TEAM_NOT_IN_GROUP = 404, "The team in your request is not assigned to this group."; // [D]
    CANNOT_ADD_PENDING_USER = 404, "The user cannot be added to any group or teams in this organization as it is a pending user/the user has not accepted the invite to this organization."; // [D]
    ALREADY_EXPIRED = 400, "Cannot update an entity that has already expired."; // [D]
    CANNOT_DELETE_GROUP_INVITATION = 400, "You can't use the /orgs/{ORG-ID}/invites/{INVITATION-ID} endpoint to delete an invitation to a group. Use /groups/{GROUP-ID}/invites/{INVITATION-ID} instead."; // [D]
    CANNOT_DELETE_ORG_INVITATION = 400, "You can't use the /groups/{GROUP-ID}/invites/{INVITATION-ID} endpoint to delete an invitation to an organization. Use /orgs/{ORG-ID}/invites/{INVITATION-ID} instead."; // [D]
    NO_ROLES_IN_ASSIGNMENT = 403, "You cannot remove all project roles a team has."; // [D]
    CANNOT_DELETE_TEAM_ASSIGNED_TO_PROJECT = 404, "You cannot delete a team that has at least one project assigned to it. Make sure to remove the team from all project before deleting it."; // [D]

    // Not found (§3.3).
    GROUP_NOT_FOUND = 404, "No group with ID {} exists."; // [S]
    GROUP_NAME_NOT_FOUND = 404, "No group with name \"{}\" exists."; // [D]
    ORG_NOT_FOUND = 404, "No organization with ID {} exists."; // [D]
    CLUSTER_NOT_FOUND = 404, "No cluster named {} exists in group {}."; // [S]
    API_KEY_NOT_FOUND = 400, "No API key with ID {} exists."; // [D] note the 400
    USER_NOT_FOUND = 404, "No user with ID {} exists."; // [D]
    USERNAME_NOT_FOUND = 404, "No user with username {} exists."; // [D]
    TEAM_NOT_FOUND = 404, "No team with ID {} exists."; // [D]
    TEAM_NAME_NOT_FOUND = 404, "No team with name \"{}\" exists."; // [D]
    STREAM_TENANT_NOT_FOUND_FOR_NAME = 404, "Stream instance {} not found in group {}.";
    DATA_FEDERATION_TENANT_NOT_FOUND_FOR_NAME = 404, "Data Federation tenant for project {} and name {} not found."; // [S]
    // [C] The Terraform provider's push-based log export acceptance test (createFailure) expects
    // this code for a role id the project does not have; the status is the spec's 404 for the
    // role reads, and the detail text is not recorded.
    CLOUD_PROVIDER_ACCESS_ROLE_NOT_FOUND = 404, "No cloud provider access role with ID {} exists.";

    // Conflicts (§3.3).
    GROUP_ALREADY_EXISTS = 409, "A group with name \"{}\" already exists."; // [F]
    DUPLICATE_CLUSTER_NAME = 400, "A cluster or serverless instance named {} is already present in group {}."; // [F]
    ORG_NAME_ALREADY_EXISTS = 409, "An organization with name \"{}\" already exists.";
    RESOURCE_ALREADY_EXISTS = 409, "The resource {} already exists.";
    CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_CLUSTERS = 409, "Cannot close group while it has active clusters; please terminate all clusters."; // [F]
    CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API = 400, "Flex cluster {} cannot be used in the Cluster API."; // [S]
    CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API = 400, "Cannot use non-flex cluster {} in the flex API."; // [S]
    CLUSTER_ALREADY_REQUESTED_DELETION = 400, "The cluster {} has already been requested for deletion."; // [D]
    CANNOT_TERMINATE_CLUSTER_WHEN_TERMINATION_PROTECTION_ENABLED = 400, "Cannot terminate a cluster when termination protection is enabled. Disable termination protection and try again."; // [S]
    CANNOT_UPDATE_PAUSED_CLUSTER = 409, "Cannot update cluster {} while it is paused or being paused."; // [D]
    CLUSTER_ALREADY_PAUSED = 409, "Cluster {} is already paused."; // [D]
    CANNOT_UPDATE_AND_PAUSE_CLUSTER = 409, "Cannot update and pause cluster {} at the same time."; // [D]
    CANNOT_PAUSE_RECENTLY_RESUMED_CLUSTER = 400, "Cannot pause cluster {} because it was resumed recently; try again later."; // [D]
    TENANT_CLUSTER_UPDATE_UNSUPPORTED = 400, "Updating tenant cluster {} is not supported through this API."; // [C]
    // The CLI and the Terraform provider key on the code; the detail text is not recorded.
    ASYMMETRIC_SHARD_UNSUPPORTED = 400, "Cluster {} has asymmetric shards, which API version {} cannot represent; use version 2024-08-05 or later."; // [C]
    CANNOT_DELETE_ORG_ACTIVE_PROJECTS = 409, "Cannot delete organization {} while it has active projects.";

    // Closing a project that still holds resources (semantics §3.3 names the codes [C][D]; the
    // detail text follows the clusters sibling's wording, not recorded).
    CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_PRIVATE_ENDPOINT_SERVICES = 409, "Cannot close group while it has active private endpoint services; please delete all private endpoint services.";
    CANNOT_CLOSE_GROUP_ACTIVE_STREAMS_RESOURCE = 409, "Cannot close group while it has active stream processing instances; please delete all stream processing instances.";

    // Online archives.
    ONLINE_ARCHIVE_CANNOT_MODIFY_FIELD = 400, "The request contained modifications to immutable fields."; // [S]
    ONLINE_ARCHIVE_MUST_BE_ACTIVE_TO_PAUSE = 409, "An archive must be in an active state in order to be paused."; // [S] exact body

    // Global clusters.
    DUPLICATE_MANAGED_NAMESPACE = 400, "Managed Namespace {} already exists."; // [D]
    INVALID_LOCATION_CODE = 400, "Invalid location code {}. A list of valid codes is available at https://cloud.mongodb.com/static/atlas/country_iso_codes.txt."; // [D]
    START_DATE_AFTER_END_DATE = 400, "The specified start date must be earlier than the specified end date."; // [D]
    INVALID_CLUSTER_CONFIGURATION = 400, "The specified cluster configuration is not valid."; // [D]

    // Flex backups.
    TENANT_SNAPSHOT_NOT_FOUND = 404, "No M2/M5/Flex snapshot with ID {} exists for cluster {}."; // [D]
    TENANT_RESTORE_INCOMPATIBLE_TOPOLOGY = 400, "Tenant backups can not be restored into sharded clusters."; // [D]
    CANNOT_START_RESTORE_JOB_FOR_INCOMPLETE_CLUSTER_SNAPSHOT = 409, "Cannot start restore job for incomplete cluster snapshot."; // [D]
    TENANT_RESTORE_NOT_FOUND = 404, "No M2/M5/Flex restore with ID {} exists for cluster {}."; // [D]

    // Private endpoints.
    INVALID_REGION = 400, "No region {} exists for provider {}."; // [D]
    PRIVATELINK_NOT_FOUND = 404, "A PrivateLink with id {} does not exist."; // [D]
    PRIVATELINK_INTERFACE_ENDPOINT_NOT_FOUND = 404, "A PrivateLink interface endpoint with id {} does not exist."; // [D]
    PRIVATELINK_INTERFACE_ENDPOINT_ID_MALFORMED = 404, "AWS interface endpoint ids must begin with 'vpce-' followed by a series of alphanumeric characters."; // [D]
    // [D] names the AWS region only; the provider is a parameter here so Azure and GCP read right.
    PRIVATELINK_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION = 409, "A PrivateLink Endpoint Service already exists for {} region {}.";
    PRIVATELINK_INTERFACE_ENDPOINT_ALREADY_EXISTS = 409, "The PrivateLink already contains an interface endpoint with the specified id {}."; // [D]
    PRIVATELINK_CANNOT_ACCEPT_ENDPOINTS = 409, "The PrivateLink with the specified id {} is not ready to accept endpoint connection requests."; // [D]
    CANNOT_DELETE_PRIVATELINK_WITH_ENDPOINTS = 409, "A PrivateLink with endpoints cannot be deleted. Please delete all endpoints and retry."; // [D]

    // Third-party integrations.
    INTEGRATION_ALREADY_CONFIGURED = 409, "The integration of type '{}' is already configured for this group."; // [D]
    INTEGRATION_NOT_CONFIGURED = 404, "The integration of type '{}' is not configured for this group."; // [D]
    INVALID_DATADOG_API_KEY = 400, "Datadog API key must consist of 32 hexadecimal digits."; // [D]
    HIPCHAT_NOT_SUPPORTED = 400, "HipChat integration is only supported for Ops Manager projects."; // [D]
    INVALID_PAGER_DUTY_SERVICE_KEY = 400, "PagerDuty service key must consist of 32 hexadecimal digits."; // [D]
}

/// The HTTP reason phrase Atlas puts in `reason` (§3.1).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_templates_match_atlas_style() {
        let mut names: Vec<_> = ALL.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        for code in ALL {
            assert!(code.template.ends_with('.'), "{}", code.name);
            assert!((400..600).contains(&code.status), "{}", code.name);
        }
    }
}
