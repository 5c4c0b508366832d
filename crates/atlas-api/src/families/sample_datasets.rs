//! Loading the sample dataset into a cluster (`POST /groups/{groupId}/sampleDatasetLoad/{name}`)
//! and following the load (`GET /groups/{groupId}/sampleDatasetLoad/{sampleDatasetId}`).
//!
//! A load is its own item, named by an `_id` (recorded: atlas-cli TestSearch loads the sample
//! data into its cluster, answered 201 `{_id, clusterName, createDate, state: WORKING, ...}`, and
//! polls the load by that `_id`); it goes from `WORKING` to `COMPLETED` on the lifecycle of kind
//! `sampleDataset`.

use atlas_model::OperationId;
use serde_json::json;

use super::clusters;
use super::shared::support::{entity, param};
use crate::api_error;
use crate::engine::{Behaviour, Ctx};
use crate::kernel::call::Reply;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::ids;
use crate::kernel::lifecycle::{self, kinds};
use crate::kernel::paths::segment;

pub struct SampleDatasets;

impl Behaviour for SampleDatasets {
    fn name(&self) -> &'static str {
        "sample_datasets"
    }

    fn operations(&self) -> &'static [OperationId] {
        &[
            OperationId::RequestGroupSampleDatasetLoad,
            OperationId::GetGroupSampleDatasetLoad,
        ]
    }

    /// Reading a load settles its lifecycle.
    fn writes_on_read(&self) -> bool {
        true
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let loads = format!(
            "/groups/{}/sampleDatasetLoad",
            cx.scope.group_id.as_deref().unwrap_or_default()
        );
        if cx.call.op.id == OperationId::GetGroupSampleDatasetLoad {
            let id = param(cx.call, "sampleDatasetId");
            let load = lifecycle::get_settled(cx.tx, cx.lifecycle, &loads, &segment(&id), &cx.now)?
                .ok_or_else(|| api_error!(RESOURCE_NOT_FOUND, cx.call.origin.path.as_str()))?;
            return Ok(entity(cx, &load.doc));
        }
        // The cluster must exist (its own 404 otherwise).
        let cluster = param(cx.call, "name");
        clusters::load(cx, cluster.clone())?;
        let id = ids::object_id(cx.now.get());
        let mut doc = json!({
            "_id": id, "clusterName": cluster, "createDate": atlas_timestamp(cx.now.get()),
            "completeDate": null, "errorMessage": null,
        });
        kinds::sample_dataset::LOAD.begin(cx.tx, &mut doc, cx.now.get())?;
        cx.tx.insert(&loads, &segment(&id), &doc)?;
        Ok(entity(cx, &doc))
    }
}
