//! The service: [`Atlas`], the one object the HTTP layer and the binary hold. It owns the store,
//! the counters and the engine, opens the transactions, and offers each entry point as a method:
//! serving a request (admission then the operation, `serve`), the token endpoint (`oauth`) and
//! the control operations (`control`). The top layer: it wires the families into the engine and
//! may use every layer below.

mod answers;
mod control;
pub mod oauth;
mod serve;

use std::sync::Arc;

use atlas_model::Method;
use atlas_store::{Access, Store, StoreError, Tx};

use crate::engine::{Engine, Registry};
use crate::families;
use crate::kernel::call::{Call, Reply};
use crate::kernel::error::ApiError;
use crate::kernel::{clock, counters, lifecycle};

/// How the emulated Atlas behaves (from the command line).
#[derive(Debug, Clone)]
pub struct Config {
    /// Default lifecycle policy of long-running resources (`--lifecycle`).
    pub lifecycle: lifecycle::Policy,
    /// Keep nonce counts and rate-limit buckets in the store rather than in memory: for stores
    /// that several instances share, so they spend from the same buckets (`counters`).
    pub counters_in_store: bool,
    /// Keep GET answers for reuse while the state they were built from holds (`answers.rs`).
    pub keep_answers: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lifecycle: lifecycle::Policy::Instant,
            counters_in_store: false,
            keep_answers: true,
        }
    }
}

/// The emulated Atlas: store, clock and engine.
#[derive(Clone)]
pub struct Atlas {
    pub store: Arc<dyn Store>,
    /// Where admission's nonce counts and rate-limit buckets live.
    counters: Arc<counters::Counters>,
    engine: Arc<Engine>,
    /// GET answers kept for reuse while the state they were built from holds (`answers.rs`);
    /// `None` when switched off.
    answers: Option<Arc<answers::Answers>>,
}

impl Atlas {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Atlas {
        let settings = lifecycle::Settings {
            default: config.lifecycle,
        };
        Atlas {
            store,
            counters: Arc::new(if config.counters_in_store {
                counters::Counters::Stored
            } else {
                counters::Counters::in_memory()
            }),
            engine: Arc::new(Engine::new(families::standard(), settings)),
            answers: config.keep_answers.then(Arc::default),
        }
    }

    pub fn lifecycle(&self) -> &lifecycle::Settings {
        self.engine.lifecycle()
    }

    pub fn registry(&self) -> &Registry {
        self.engine.behaviours()
    }

    /// Runs one call in one transaction (read-only for GET). Blocking: call it off the async
    /// runtime's worker threads.
    pub fn execute(&self, call: &Call) -> Result<Reply, ApiError> {
        self.transaction(self.access_of(call.op), |tx| {
            let now = clock::now(tx)?;
            self.engine.execute(tx, call, &clock::Now::at(now))
        })
    }

    /// The transaction an operation needs: a read for a GET, unless reading a resource with a
    /// lifecycle may complete a transition, which is a write.
    fn access_of(&self, op: &atlas_model::Operation) -> Access {
        if op.method == Method::Get && !self.engine.writes_on_read(op.id) {
            Access::Read
        } else {
            Access::Write
        }
    }

    /// Runs `work` in a transaction that commits only if it returns `Ok` (or an error that
    /// keeps its writes). `work` may run more than once: a store retries a transaction that
    /// lost a serialization conflict with another instance, from the start, so `work` must
    /// leave nothing behind outside the transaction but its result.
    pub fn transaction<R>(
        &self,
        access: Access,
        mut work: impl FnMut(&mut dyn Tx) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut outcome: Option<Result<R, ApiError>> = None;
        let result = self.store.transaction(access, &mut |tx| match work(tx) {
            Ok(value) => {
                outcome = Some(Ok(value));
                Ok(())
            }
            Err(e) if e.keeps_writes() => {
                outcome = Some(Err(e));
                Ok(())
            }
            Err(e) => {
                outcome = Some(Err(e));
                // Roll back whatever the failed call wrote.
                Err(StoreError::Unavailable("rolled back".into()))
            }
        });
        match (outcome, result) {
            // A rolled-back failure, or an answer whose writes were committed.
            (Some(Err(e)), Ok(())) => Err(e),
            (Some(Err(e)), Err(_)) if !e.keeps_writes() => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(e.into()),
            (None, Ok(())) => Err(ApiError::internal("transaction produced no outcome")),
        }
    }
}
