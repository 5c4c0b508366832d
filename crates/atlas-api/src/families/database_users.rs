//! Database users (`/groups/{groupId}/databaseUsers`): the generic engine keeps serving them
//! (documents, defaults, the `databaseName/username` key, `USERNAME_NOT_FOUND`, every
//! authentication kind); this family adds what Atlas records around a change — the project
//! events `MONGODB_USER_ADDED`, `MONGODB_USER_UPDATED` and `MONGODB_USER_DELETED` (the spec's
//! `NDSAuditTypeViewForNdsGroup`), naming the user in `dbUserUsername` (`NDSAuditViewForNdsGroup`).
//!
//! Scopes naming a cluster or data lake the project does not have are accepted, as before: no
//! recorded exchange or semantics rule shows Atlas refusing them.

use atlas_model::OperationId;
use serde_json::{Map, Value, json};

use super::events::project_event;
use crate::engine::{Behaviour, Ctx, generic};
use crate::kernel::call::{Call, Reply};
use crate::kernel::error::ApiError;

pub struct DatabaseUsers;

const OPERATIONS: &[OperationId] = &[
    OperationId::CreateGroupDatabaseUser,
    OperationId::UpdateGroupDatabaseUser,
    OperationId::DeleteGroupDatabaseUser,
];

impl Behaviour for DatabaseUsers {
    fn name(&self) -> &'static str {
        "database_users"
    }

    fn operations(&self) -> &'static [OperationId] {
        OPERATIONS
    }

    fn handle(&self, cx: &mut Ctx<'_>) -> Result<Reply, ApiError> {
        let (event, username) = match cx.call.op.id {
            OperationId::CreateGroupDatabaseUser => (
                "MONGODB_USER_ADDED",
                cx.call
                    .body
                    .as_ref()
                    .and_then(|b| b.get("username"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ),
            OperationId::UpdateGroupDatabaseUser => {
                ("MONGODB_USER_UPDATED", path_username(cx.call))
            }
            _ => ("MONGODB_USER_DELETED", path_username(cx.call)),
        };
        let reply = generic::handle(cx)?;
        let mut details = Map::new();
        if let Some(username) = username {
            details.insert("dbUserUsername".into(), json!(username));
        }
        project_event(cx, event, details)?;
        Ok(reply)
    }
}

fn path_username(call: &Call) -> Option<String> {
    call.path_param("username").map(str::to_owned)
}
