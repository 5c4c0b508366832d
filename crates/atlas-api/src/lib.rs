//! The Atlas semantics of localatlas, independent of HTTP.
//!
//! A request reaches this crate as a [`Call`] (already routed, authenticated and negotiated by
//! the HTTP pipeline) and leaves as a [`Reply`] or an [`ApiError`]. [`Atlas`] runs it inside one
//! store transaction through the [`engine`]: scope resolution, authorization, validation, then a
//! hand-written [`behaviours`] module or the generic stateful engine. Credentials, bootstrap and
//! the control operations (reset) live here too, so every instance sharing a store agrees.

pub mod access_list;
pub mod admission;
pub mod authorize;
pub mod behaviours;
pub mod bootstrap;
pub mod call;
pub mod clock;
pub mod credentials;
pub mod download;
pub mod engine;
pub mod error;
pub mod error_codes;
pub mod ids;
pub mod oauth;
pub mod principal;
pub mod principals;
pub mod ratelimit;
pub mod roles;
pub mod validate;

use std::sync::Arc;

use atlas_model::Method;
use atlas_store::{Access, Store, StoreError, Tx};

pub use call::{Call, Origin, Payload, Reply};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::ApiError;
pub use principal::Principal;

/// The emulated Atlas: store, clock and engine.
#[derive(Clone)]
pub struct Atlas {
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    engine: Arc<engine::Engine>,
}

impl Atlas {
    pub fn new(store: Arc<dyn Store>, clock: SharedClock) -> Atlas {
        Atlas {
            store,
            clock,
            engine: Arc::new(engine::Engine::new(behaviours::Registry::standard())),
        }
    }

    pub fn behaviours(&self) -> &behaviours::Registry {
        self.engine.behaviours()
    }

    /// Runs one call in one transaction (read-only for GET). Blocking: call it off the async
    /// runtime's worker threads.
    pub fn execute(&self, call: &Call) -> Result<Reply, ApiError> {
        let access = if call.op.method == Method::Get {
            Access::Read
        } else {
            Access::Write
        };
        let now = self.clock.now();
        self.transaction(access, |tx| self.engine.execute(tx, call, now))
    }

    /// Runs `work` in a transaction that commits only if it returns `Ok`.
    pub fn transaction<R>(
        &self,
        access: Access,
        work: impl FnOnce(&mut dyn Tx) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut work = Some(work);
        let mut outcome: Option<Result<R, ApiError>> = None;
        let result = self.store.transaction(access, &mut |tx| {
            let Some(work) = work.take() else {
                return Err(StoreError::Unavailable("transaction body ran twice".into()));
            };
            match work(tx) {
                Ok(value) => {
                    outcome = Some(Ok(value));
                    Ok(())
                }
                Err(e) => {
                    outcome = Some(Err(e));
                    // Roll back whatever the failed call wrote.
                    Err(StoreError::Unavailable("rolled back".into()))
                }
            }
        });
        match (outcome, result) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(e.into()),
            (None, Ok(())) => Err(ApiError::internal("transaction produced no outcome")),
        }
    }

    /// Creates the bootstrap identities if missing and returns them.
    pub fn bootstrap(&self) -> Result<bootstrap::Bootstrap, ApiError> {
        let now = self.clock.now();
        self.transaction(Access::Write, |tx| bootstrap::ensure(tx, now))
    }

    /// Back to the bootstrap state: everything else is deleted; the bootstrap identities keep
    /// their ids and secrets, and tokens issued to the bootstrap service account stay valid.
    pub fn reset(&self) -> Result<bootstrap::Bootstrap, ApiError> {
        let now = self.clock.now();
        self.transaction(Access::Write, |tx| {
            let boot = bootstrap::ensure(tx, now)?;
            // Every Atlas document (all collections under `/`); internal `__` ones are pruned below.
            tx.delete_tree("")?;
            let (keys, _) = tx.list("__apiKeys", atlas_store::Page::ALL)?;
            for key in keys.iter().filter(|k| k.key != boot.public_key) {
                tx.delete("__apiKeys", &key.key)?;
            }
            let (accounts, _) = tx.list("__serviceAccounts", atlas_store::Page::ALL)?;
            for account in accounts.iter().filter(|a| a.key != boot.client_id) {
                tx.delete("__serviceAccounts", &account.key)?;
            }
            for subject in credentials::token_subjects(tx)? {
                if subject != boot.client_id {
                    credentials::revoke_subject(tx, &subject)?;
                }
            }
            ratelimit::clear(tx)?;
            bootstrap::ensure(tx, now)
        })
    }
}
