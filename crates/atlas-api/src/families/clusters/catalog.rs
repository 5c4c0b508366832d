//! The regions and instance sizes each cloud provider offers, read from the spec's own enums
//! (the region names of `CloudRegionConfig20240805` and the instance sizes of each provider's
//! hardware spec), so the catalogue clients query and the validation of cluster requests agree
//! with the spec version localatlas serves.

use std::sync::OnceLock;

use atlas_schema::Schemas;
use serde_json::Value;

/// One provider's offer.
#[derive(Debug, Default)]
pub struct Provider {
    pub name: &'static str,
    pub regions: Vec<String>,
    pub sizes: Vec<String>,
}

fn enum_of(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(|v| v.get("enum"))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The three providers of dedicated clusters.
pub fn providers() -> &'static [Provider] {
    static PROVIDERS: OnceLock<Vec<Provider>> = OnceLock::new();
    PROVIDERS.get_or_init(|| {
        let schemas = Schemas::global();
        let region_lists: Vec<Vec<String>> = schemas
            .get("CloudRegionConfig20240805")
            .and_then(|s| s.pointer("/properties/regionName/oneOf"))
            .and_then(Value::as_array)
            .map(|alts| alts.iter().map(|a| enum_of(Some(a))).collect())
            .unwrap_or_default();
        // Tell the lists apart by a region only that provider has.
        let pick = |marker: &str| {
            region_lists
                .iter()
                .find(|l| l.iter().any(|r| r == marker))
                .cloned()
                .unwrap_or_default()
        };
        let sizes = |schema: &str| {
            enum_of(
                schemas
                    .get(schema)
                    .and_then(|s| s.pointer("/properties/instanceSize")),
            )
        };
        vec![
            Provider {
                name: "AWS",
                regions: pick("US_EAST_1"),
                sizes: sizes("AWSHardwareSpec20240805"),
            },
            Provider {
                name: "AZURE",
                regions: pick("EUROPE_WEST"),
                sizes: sizes("AzureHardwareSpec20240805"),
            },
            Provider {
                name: "GCP",
                regions: pick("CENTRAL_US"),
                sizes: sizes("GCPHardwareSpec20240805"),
            },
        ]
    })
}

pub fn provider(name: &str) -> Option<&'static Provider> {
    providers().iter().find(|p| p.name == name)
}

/// The disk size (GB) Atlas gives an instance size of a provider when the request names none.
/// Recorded: AWS M10 with no size asked shows its tier default, M30 shows 40
/// (`TestAccMockableAdvancedCluster_shardedAddAnalyticsAndAutoScaling`); an Azure M10 shows 8
/// (`TestAccMockableAdvancedCluster_symmetricSharded`, where the AWS region of the same shard
/// shows 8 too: a shard's region configs share one disk size, see [`shard_disk_gb`]).
pub fn default_disk_gb(provider: &str, instance_size: &str) -> f64 {
    let tier = instance_size.split('_').next().unwrap_or_default();
    let tier = tier.trim_start_matches(['M', 'R']);
    let shared = ["0", "2", "5"].contains(&tier) || instance_size == "FLEX";
    if shared {
        return 0.5;
    }
    // Azure premium disks come in powers of two from 8 GB.
    let azure = provider == "AZURE";
    match tier.parse::<u32>().unwrap_or(0) {
        0..=10 if azure => 8.0,
        0..=10 => 10.0,
        11..=20 if azure => 16.0,
        11..=20 => 20.0,
        21..=30 if azure => 32.0,
        21..=30 => 40.0,
        31..=40 if azure => 64.0,
        31..=40 => 80.0,
        41..=50 if azure => 128.0,
        41..=50 => 160.0,
        51..=60 if azure => 256.0,
        51..=60 => 320.0,
        61..=80 if azure => 512.0,
        61..=80 => 750.0,
        81..=140 => 1000.0,
        _ => 1500.0,
    }
}

/// The disk size of one shard when the request names none: the smallest default of its region
/// configs' providers (a multi-cloud shard shares one size).
pub fn shard_disk_gb(region_configs: &[Value], instance_size: &str) -> f64 {
    region_configs
        .iter()
        .map(|rc| {
            let provider = rc
                .get("providerName")
                .and_then(Value::as_str)
                .unwrap_or("AWS");
            default_disk_gb(provider, instance_size)
        })
        .fold(None, |min: Option<f64>, d| {
            Some(min.map_or(d, |m| m.min(d)))
        })
        .unwrap_or_else(|| default_disk_gb("AWS", instance_size))
}

/// The hardware fields a provider's specs carry besides size, count and disk, as Atlas fills
/// them when the request names none: AWS gp3 volumes (`diskIOPS` 3000, `ebsVolumeType`
/// `STANDARD`, every recorded AWS cluster), Azure premium SSD v2 (`diskIOPS` 3500,
/// `diskThroughput` 125, `TestAccMockableAdvancedCluster_symmetricSharded`); GCP shows none.
pub fn hardware_defaults(provider: &str) -> Vec<(&'static str, Value)> {
    match provider {
        "AWS" => vec![
            ("diskIOPS", Value::from(3000)),
            ("ebsVolumeType", Value::from("STANDARD")),
        ],
        "AZURE" => vec![
            ("diskIOPS", Value::from(3500)),
            ("diskThroughput", Value::from(125)),
        ],
        _ => Vec::new(),
    }
}

/// The first region/size problem of a cluster's canonical replication specs: the attribute
/// Atlas names (`regionName`, `instanceSize`).
pub fn check(specs: &[Value]) -> Result<(), &'static str> {
    for rc in specs.iter().flat_map(|s| {
        s.get("regionConfigs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    }) {
        let Some(offer) = rc
            .get("providerName")
            .and_then(Value::as_str)
            .and_then(provider)
        else {
            continue;
        };
        let region = rc
            .get("regionName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !offer.regions.iter().any(|r| r == region) {
            return Err("regionName");
        }
        for spec in ["electableSpecs", "readOnlySpecs", "analyticsSpecs"] {
            if let Some(size) = rc
                .get(spec)
                .and_then(|h| h.get("instanceSize"))
                .and_then(Value::as_str)
                && !offer.sizes.iter().any(|s| s == size)
            {
                return Err("instanceSize");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn providers_have_their_own_regions_and_sizes() {
        let aws = provider("AWS").unwrap();
        assert!(aws.regions.iter().any(|r| r == "US_EAST_1"));
        assert!(aws.sizes.iter().any(|s| s == "M10"));
        let gcp = provider("GCP").unwrap();
        assert!(!gcp.regions.iter().any(|r| r == "US_EAST_1"));
    }

    #[test]
    fn a_region_of_another_provider_is_refused() {
        let spec = |provider: &str, region: &str| json!([{"regionConfigs": [{"providerName": provider, "regionName": region, "electableSpecs": {"instanceSize": "M10"}}]}]);
        assert_eq!(check(spec("AWS", "US_EAST_1").as_array().unwrap()), Ok(()));
        assert_eq!(
            check(spec("AWS", "CENTRAL_US").as_array().unwrap()),
            Err("regionName")
        );
        assert_eq!(check(spec("GCP", "CENTRAL_US").as_array().unwrap()), Ok(()));
    }
}
