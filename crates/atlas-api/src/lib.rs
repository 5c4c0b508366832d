//! The Atlas semantics of localatlas, independent of HTTP.
//!
//! A request reaches this crate as a [`Call`] (already routed, authenticated and negotiated by
//! the HTTP pipeline) and leaves as a [`Reply`] or an [`ApiError`]. [`Atlas`] runs it inside one
//! store transaction through the [`engine`]: scope resolution, authorization, validation, then a
//! hand-written [`behaviours`] module or the generic stateful engine. Credentials, bootstrap and
//! the control operations (reset) live here too, so every instance sharing a store agrees.

pub mod admission;
pub mod api_access_list;
pub mod authorize;
pub mod behaviours;
pub mod bootstrap;
pub mod call;
pub mod clock;
pub mod counters;
pub mod credentials;
pub mod download;
pub mod engine;
pub mod error;
pub mod error_codes;
pub mod ids;
pub mod lifecycle;
pub mod oauth;
pub mod overview;
pub mod principal;
pub mod principals;
pub mod ratelimit;
pub mod roles;
pub mod state;
pub mod validate;

use std::sync::Arc;

use atlas_model::Method;
use atlas_store::{Access, Store, StoreError, Tx};

pub use call::{Call, Origin, Payload, Reply};
pub use error::ApiError;
pub use principal::Principal;

/// How the emulated Atlas behaves (from the command line).
#[derive(Debug, Clone)]
pub struct Config {
    /// Default lifecycle policy of long-running resources (`--lifecycle`).
    pub lifecycle: lifecycle::Policy,
    /// Keep nonce counts and rate-limit buckets in the store rather than in memory: for stores
    /// that several instances share, so they spend from the same buckets (`counters`).
    pub counters_in_store: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lifecycle: lifecycle::Policy::Instant,
            counters_in_store: false,
        }
    }
}

/// The emulated Atlas: store, clock and engine.
#[derive(Clone)]
pub struct Atlas {
    pub store: Arc<dyn Store>,
    /// Where admission's nonce counts and rate-limit buckets live.
    counters: Arc<counters::Counters>,
    engine: Arc<engine::Engine>,
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
            engine: Arc::new(engine::Engine::new(
                behaviours::Registry::standard(),
                settings,
            )),
        }
    }

    pub fn lifecycle(&self) -> &lifecycle::Settings {
        self.engine.lifecycle()
    }

    pub fn behaviours(&self) -> &behaviours::Registry {
        self.engine.behaviours()
    }

    /// Runs one call in one transaction (read-only for GET). Blocking: call it off the async
    /// runtime's worker threads.
    pub fn execute(&self, call: &Call) -> Result<Reply, ApiError> {
        self.transaction(self.access_of(call.op), |tx| {
            let now = clock::now(tx)?;
            self.engine.execute(tx, call, now)
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

    /// The controlled clock as the control API shows it.
    pub fn clock_state(&self) -> Result<serde_json::Value, ApiError> {
        self.transaction(Access::Read, |tx| {
            Ok(clock::describe(clock::Clock::load(tx)?))
        })
    }

    /// Moves the clock, for every instance sharing the store, and completes the pending manual
    /// transitions (they wait for time to move), in one transaction.
    pub fn move_clock(&self, change: clock::Change) -> Result<serde_json::Value, ApiError> {
        self.transaction(Access::Write, |tx| {
            let moved = clock::change(tx, change)?;
            lifecycle::advance(tx)?;
            Ok(clock::describe(moved))
        })
    }

    /// Stops the clock where it stands (tests counting exact seconds).
    pub fn freeze_clock(&self) -> Result<(), ApiError> {
        self.transaction(Access::Write, |tx| {
            clock::freeze(tx).map(|_| ()).map_err(Into::into)
        })
    }

    /// The whole state as a snapshot (see [`state`]).
    pub fn export_state(&self) -> Result<serde_json::Value, ApiError> {
        self.transaction(Access::Read, state::export)
    }

    /// Replaces the whole state with a snapshot, in one transaction.
    pub fn import_state(
        &self,
        snapshot: &serde_json::Value,
    ) -> Result<serde_json::Value, ApiError> {
        self.transaction(Access::Write, |tx| state::import(tx, snapshot))
    }

    /// Whether the store answers (health endpoint).
    pub fn store_health(&self) -> Result<(), atlas_store::StoreError> {
        self.store.check()
    }

    /// Completes every pending manual transition (control API).
    pub fn advance_lifecycles(&self) -> Result<u64, ApiError> {
        self.transaction(Access::Write, |tx| {
            lifecycle::advance(tx).map_err(ApiError::from)
        })
    }

    /// The lifecycle policies in force (control API).
    pub fn lifecycle_state(&self) -> Result<serde_json::Value, ApiError> {
        let settings = self.lifecycle().clone();
        self.transaction(Access::Read, |tx| {
            let shared = lifecycle::Shared::load(tx)?;
            Ok(shared.describe(&settings))
        })
    }

    /// Changes lifecycle policies: `{"default": "manual", "kinds": {"cluster": "instant"}}`
    /// (a kind set to `null` falls back to the default).
    pub fn configure_lifecycles(
        &self,
        request: &serde_json::Value,
    ) -> Result<(), lifecycle::ConfigError> {
        let mut result = Ok(());
        self.transaction(Access::Write, |tx| {
            let mut shared = lifecycle::Shared::load(tx)?;
            result = shared.apply(request);
            if result.is_ok() {
                shared.save(tx)?;
            }
            Ok(())
        })
        .map_err(lifecycle::ConfigError::Api)?;
        result
    }

    /// Creates the bootstrap identities if missing and returns them.
    pub fn bootstrap(&self) -> Result<bootstrap::Bootstrap, ApiError> {
        self.transaction(Access::Write, |tx| {
            let now = clock::now(tx)?;
            bootstrap::ensure(tx, now)
        })
    }

    /// Back to the bootstrap state: everything else is deleted; the bootstrap identities keep
    /// their ids and secrets, and tokens issued to the bootstrap service account stay valid.
    pub fn reset(&self) -> Result<bootstrap::Bootstrap, ApiError> {
        self.transaction(Access::Write, |tx| {
            let now = clock::now(tx)?;
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
            ratelimit::clear(tx, &self.counters)?;
            bootstrap::ensure(tx, now)
        })
    }
}
