//! Where a flex cluster's restore jobs live and how one shows its link: read by the flex
//! backups family (a snapshot lists its restores) and written by the flex restores family.

use serde_json::{Value, json};

use crate::engine::Ctx;
use atlas_model::API_PREFIX;

/// Where the restore jobs of the flex cluster `name` live.
pub(crate) fn collection(group: &str, name: &str) -> String {
    format!("/groups/{group}/flexClusters/{name}/backup/restoreJobs")
}
/// A job with its `self` link.
pub(crate) fn with_link(cx: &Ctx<'_>, jobs: &str, mut job: Value) -> Value {
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    job["links"] = json!([{
        "href": format!("{}{API_PREFIX}{jobs}/{id}", cx.call.origin.base_url),
        "rel": "self",
    }]);
    job
}
