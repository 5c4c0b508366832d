//! What differs between the three providers' endpoint services: how a region is named, how long
//! a service takes to build (semantics §8: AWS ~2.5 min, Azure ~1 min, GCP ~4 min), and the
//! provider-side names Atlas shows once it is available. The names are derived from the service
//! id, so every read and every instance shows the same ones.

use serde_json::{Value, json};

use crate::families::clusters::catalog;

/// The providers endpoint services exist for.
pub const PROVIDERS: [&str; 3] = ["AWS", "AZURE", "GCP"];

/// Native region names clients send for Azure and GCP, with the Atlas region they stand for
/// (AWS names map by case alone: `us-east-1` is `US_EAST_1`).
const NATIVE: &[(&str, &str)] = &[
    ("eastus", "US_EAST"),
    ("eastus2", "US_EAST_2"),
    ("centralus", "US_CENTRAL"),
    ("westus", "US_WEST"),
    ("westus2", "US_WEST_2"),
    ("westus3", "US_WEST_3"),
    ("northeurope", "EUROPE_NORTH"),
    ("westeurope", "EUROPE_WEST"),
    ("uksouth", "UK_SOUTH"),
    ("us-central1", "CENTRAL_US"),
    ("us-east1", "EASTERN_US"),
    ("us-east4", "US_EAST_4"),
    ("us-west1", "WESTERN_US"),
    ("europe-west1", "WESTERN_EUROPE"),
    ("europe-west2", "EUROPE_WEST_2"),
    ("europe-west3", "EUROPE_WEST_3"),
    ("asia-east1", "EASTERN_ASIA_PACIFIC"),
];

/// The Atlas region name of `asked` for `provider`, if the provider has that region.
pub fn region(provider: &str, asked: &str) -> Option<String> {
    let offered = catalog::provider(provider)?;
    let candidate = NATIVE
        .iter()
        .find(|(native, _)| native.eq_ignore_ascii_case(asked))
        .map(|(_, atlas)| (*atlas).to_owned())
        .unwrap_or_else(|| asked.to_ascii_uppercase().replace('-', "_"));
    offered.regions.contains(&candidate).then_some(candidate)
}

/// Realistic seconds from `INITIATING` to `AVAILABLE`.
pub fn create_seconds(provider: &str) -> i64 {
    match provider {
        "AZURE" => 60,
        "GCP" => 240,
        _ => 150,
    }
}

/// The provider's own spelling of an Atlas region (`US_EAST_1` → `us-east-1`).
fn native_region(provider: &str, atlas: &str) -> String {
    NATIVE
        .iter()
        .find(|(native, a)| *a == atlas && (provider == "GCP") == native.contains('-'))
        .map(|(native, _)| (*native).to_owned())
        .unwrap_or_else(|| atlas.to_ascii_lowercase().replace('_', "-"))
}

/// How many service attachments a GCP service has: one with port mapping, else one per
/// node Atlas may place in the region (legacy Private Service Connect reserves 50).
pub fn gcp_attachments(doc: &Value) -> usize {
    if doc["portMappingEnabled"].as_bool() == Some(true) {
        1
    } else {
        50
    }
}

/// Adds the names an available service shows, derived from its id.
pub fn names(doc: &mut Value, group: &str) {
    let id = doc["id"].as_str().unwrap_or_default().to_owned();
    let provider = doc["cloudProvider"].as_str().unwrap_or("AWS").to_owned();
    let region = native_region(&provider, doc["regionName"].as_str().unwrap_or_default());
    match provider.as_str() {
        "AWS" => {
            // `vpce-svc-` plus 17 hex digits, from the id's random tail.
            let tail = &id[id.len().saturating_sub(17)..];
            doc["endpointServiceName"] =
                json!(format!("com.amazonaws.vpce.{region}.vpce-svc-{tail}"));
        }
        "AZURE" => {
            let subscription = crate::kernel::ids::stable_uuid(&id);
            doc["privateLinkServiceName"] = json!(format!("pls_{id}"));
            doc["privateLinkServiceResourceId"] = json!(format!(
                "/subscriptions/{subscription}/resourceGroups/rg_{group}_{region}/providers/Microsoft.Network/privateLinkServices/pls_{id}"
            ));
        }
        _ => {
            let count = gcp_attachments(doc);
            let attachments: Vec<String> = (0..count)
                .map(|i| {
                    format!(
                        "https://www.googleapis.com/compute/v1/projects/p-{}/regions/{region}/serviceAttachments/sa-{region}-{id}-{i}",
                        &group[group.len().saturating_sub(12)..]
                    )
                })
                .collect();
            doc["serviceAttachmentNames"] = json!(attachments);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_in_either_spelling() {
        assert_eq!(region("AWS", "us-east-1").as_deref(), Some("US_EAST_1"));
        assert_eq!(region("AWS", "US_EAST_1").as_deref(), Some("US_EAST_1"));
        assert_eq!(region("AZURE", "eastus2").as_deref(), Some("US_EAST_2"));
        assert_eq!(region("GCP", "us-central1").as_deref(), Some("CENTRAL_US"));
        assert_eq!(region("AWS", "moon-1"), None);
        assert_eq!(native_region("AWS", "US_EAST_1"), "us-east-1");
        assert_eq!(native_region("GCP", "CENTRAL_US"), "us-central1");
    }

    #[test]
    fn names_match_the_spec_patterns() {
        let mut aws = json!({"id": "6a793f362c88faeba59b8a26", "cloudProvider": "AWS", "regionName": "US_EAST_1"});
        names(&mut aws, "6a793f362c88faeba59b8a27");
        let name = aws["endpointServiceName"].as_str().unwrap();
        assert!(
            name.starts_with("com.amazonaws.vpce.us-east-1.vpce-svc-"),
            "{name}"
        );
        assert_eq!(name.rsplit('-').next().unwrap().len(), 17);
        let mut gcp = json!({"id": "6a793f362c88faeba59b8a26", "cloudProvider": "GCP", "regionName": "CENTRAL_US", "portMappingEnabled": true});
        names(&mut gcp, "6a793f362c88faeba59b8a27");
        assert_eq!(gcp["serviceAttachmentNames"].as_array().unwrap().len(), 1);
    }
}
