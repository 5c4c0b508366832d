//! The engine: runs one call inside one store transaction.
//!
//! Order of the stages it owns (the HTTP pipeline runs routing and admission — authentication,
//! access list, version negotiation, rate limit — before): validate parameters (400) → resolve
//! the organization/project (404) → authorize (401) → the path's parents (404, unless the
//! behaviour looks its items up itself) → validate the body (400) → dispatch to the behaviour
//! that claims the operation, else the generic engine.

mod behaviour;
pub mod generic;
pub mod generic_lifecycles;

use std::collections::BTreeMap;

use atlas_schema::Hints;
use atlas_store::Tx;
use serde_json::Value;

use crate::kernel::call::{Call, Reply};
use crate::kernel::clock::Now;
use crate::kernel::error::ApiError;
use crate::kernel::lifecycle;
use crate::kernel::render::Renderer;
use crate::stages::scope::{self, Scope};
use crate::stages::{authorize, validate};

pub use behaviour::{Behaviour, Registry};

/// What a handler works with: the transaction, the call, the time, and the resolved scope.
pub struct Ctx<'a> {
    pub tx: &'a mut dyn Tx,
    pub call: &'a Call,
    /// The call's instant; reading it (`now.get()`) marks the answer as one of that instant.
    pub now: Now,
    pub scope: Scope,
    pub render: Renderer<'a>,
    pub lifecycle: &'a lifecycle::Settings,
}

/// Executes calls: behaviours first, the generic engine for everything else.
pub struct Engine {
    behaviours: Registry,
    lifecycle: lifecycle::Settings,
}

impl Engine {
    pub fn new(behaviours: Registry, lifecycle: lifecycle::Settings) -> Engine {
        Engine {
            behaviours,
            lifecycle,
        }
    }

    pub fn behaviours(&self) -> &Registry {
        &self.behaviours
    }

    pub fn lifecycle(&self) -> &lifecycle::Settings {
        &self.lifecycle
    }

    /// Whether a GET of `op` may write: its behaviour or its collection's lifecycle settles
    /// transitions on read.
    pub fn writes_on_read(&self, op: atlas_model::OperationId) -> bool {
        match self.behaviours.get(op) {
            Some(behaviour) => behaviour.writes_on_read(),
            None => {
                let resource = op.op().resource;
                generic_lifecycles::of(resource).is_some()
                    || generic_lifecycles::of_singleton(resource).is_some()
            }
        }
    }

    /// Runs the engine's stages for one call inside `tx`, at `now` (whose note tells afterwards
    /// whether the answer read the time).
    pub fn execute(&self, tx: &mut dyn Tx, call: &Call, now: &Now) -> Result<Reply, ApiError> {
        validate::parameters(call)?;
        let scope = scope::resolve(tx, call)?;
        authorize::check(tx, call, &scope)?;
        let behaviour = self.behaviours.get(call.op.id);
        if !behaviour.is_some_and(|b| b.resolves_own_items()) {
            scope::check_parents(tx, call)?;
        }
        // Read-only attributes a client sends back are accepted and ignored, as Atlas does (the
        // Go SDK always sends a project's `clusterCount` and `created`): the call goes on
        // without them, unless its behaviour reads them (a cluster's echoed spec ids).
        let stripped = validate::body(call)?;
        let without_read_only;
        let call = match stripped {
            Some(body) if !behaviour.is_some_and(|b| b.reads_echoed_read_only()) => {
                without_read_only = Call {
                    body: Some(body),
                    ..call.clone()
                };
                &without_read_only
            }
            _ => call,
        };
        let hints = hints(call, &scope, now);
        let mut cx = Ctx {
            tx,
            call,
            now: now.clone(),
            scope,
            render: Renderer::new(call, hints),
            lifecycle: &self.lifecycle,
        };
        match behaviour {
            Some(behaviour) => behaviour.handle(&mut cx),
            None => generic::handle(&mut cx),
        }
    }
}

/// Values a synthesized document uses for well-known attributes, so it agrees with the request.
fn hints(call: &Call, scope: &Scope, now: &Now) -> Hints {
    let mut values = BTreeMap::new();
    for (name, value) in &call.path {
        values.insert((*name).to_owned(), Value::String(value.clone()));
    }
    if let Some(group) = &scope.group_id {
        values.insert("groupId".to_owned(), Value::String(group.clone()));
    }
    if let Some(org) = &scope.org_id {
        values.insert("orgId".to_owned(), Value::String(org.clone()));
    }
    let mut hints = Hints::default().with_now(now.hint_text());
    hints.values = values;
    hints.seed = seed_of(call.op.name, &call.origin.path);
    hints.time_use = now.time_use().clone();
    hints
}

/// A stable seed per operation and path (FNV-1a), so computed answers do not change between calls.
fn seed_of(name: &str, path: &str) -> u64 {
    name.bytes()
        .chain(path.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}
