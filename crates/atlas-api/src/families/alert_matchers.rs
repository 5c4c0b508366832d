//! The catalogue of alert matcher field names (`GET /alertConfigs/matchers/fieldNames`): the
//! fields an alert configuration's `matchers` may name, as Atlas lists them.
//!
//! Recorded (atlas-cli TestAlertConfig at 2023-01-01): Atlas answers these nine, in this order —
//! fewer than the spec's `MatcherFieldView` alternatives declare (the streams, log-ingestion and
//! software-type fields are not listed), so the list is Atlas's answer, not the spec's union.

use atlas_model::OperationId;
use serde_json::{Value, json};

use crate::engine::{Behaviour, Ctx};
use crate::kernel::call::Reply;
use crate::kernel::error::ApiError;

pub struct AlertMatchers;

/// The field names, in Atlas's order.
const FIELD_NAMES: &[&str] = &[
    "ATLAS_NODE_TYPE",
    "CLUSTER_NAME",
    "HOSTNAME",
    "PORT",
    "HOSTNAME_AND_PORT",
    "APPLICATION_ID",
    "REPLICA_SET_NAME",
    "TYPE_NAME",
    "SHARD_NAME",
];

impl Behaviour for AlertMatchers {
    fn name(&self) -> &'static str {
        "alert_matchers"
    }

    fn operations(&self) -> &'static [OperationId] {
        &[OperationId::ListAlertConfigMatcherFieldNames]
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let names: Vec<Value> = FIELD_NAMES.iter().map(|n| json!(n)).collect();
        Ok(Reply::json(200, cx.render.fit_owned(Value::Array(names))))
    }
}
