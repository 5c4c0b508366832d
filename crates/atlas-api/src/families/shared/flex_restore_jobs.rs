//! Where a flex cluster's restore jobs live and how one shows its link: read by the flex
//! backups family (a snapshot lists its restores) and written by the flex restores family.

use serde_json::Value;

use super::support::with_self;
use crate::engine::Ctx;

/// Where the restore jobs of the flex cluster `name` live.
pub(crate) fn collection(group: &str, name: &str) -> String {
    format!("/groups/{group}/flexClusters/{name}/backup/restoreJobs")
}

/// A job with its `self` link.
pub(crate) fn with_link(cx: &Ctx<'_>, jobs: &str, job: Value) -> Value {
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    with_self(cx, job, &format!("{jobs}/{id}"))
}
