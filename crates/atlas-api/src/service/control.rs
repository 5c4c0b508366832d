//! The control operations on [`Atlas`]: the clock, snapshots, lifecycle policies, the bootstrap
//! identities, reset, minted principals, the console's overview and its look at one resource —
//! each one transaction over the functions of `crate::control`.

use atlas_store::Access;
use serde_json::Value;

use crate::control::bootstrap::{self, Bootstrap};
use crate::control::inspect::{self, Look};
use crate::control::{admin, minting, overview, state};
use crate::identity::credentials;
use crate::kernel::call::Call;
use crate::kernel::error::ApiError;
use crate::kernel::principal::Principal;
use crate::kernel::{clock, lifecycle};
use crate::stages::admission::throttle;

use super::Atlas;

impl Atlas {
    /// The controlled clock as the control API shows it.
    pub fn clock_state(&self) -> Result<Value, ApiError> {
        self.transaction(Access::Read, |tx| {
            Ok(clock::describe(clock::Clock::load(tx)?))
        })
    }

    /// Moves the clock, for every instance sharing the store, and completes the pending manual
    /// transitions (they wait for time to move), in one transaction.
    pub fn move_clock(&self, change: clock::Change) -> Result<Value, ApiError> {
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
    pub fn export_state(&self) -> Result<Value, ApiError> {
        self.transaction(Access::Read, state::export)
    }

    /// Replaces the whole state with a snapshot, in one transaction.
    pub fn import_state(&self, snapshot: &Value) -> Result<Value, ApiError> {
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
    pub fn lifecycle_state(&self) -> Result<Value, ApiError> {
        let settings = self.lifecycle().clone();
        self.transaction(Access::Read, |tx| {
            let shared = lifecycle::Shared::load(tx)?;
            Ok(shared.describe(&settings))
        })
    }

    /// Changes lifecycle policies: `{"default": "manual", "kinds": {"cluster": "instant"}}`
    /// (a kind set to `null` falls back to the default).
    pub fn configure_lifecycles(&self, request: &Value) -> Result<(), lifecycle::ConfigError> {
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
    pub fn bootstrap(&self) -> Result<Bootstrap, ApiError> {
        self.transaction(Access::Write, |tx| {
            let now = clock::now(tx)?;
            bootstrap::ensure(tx, now)
        })
    }

    /// Sets the control token (`--control-token`) for every instance on the store; a start
    /// without one keeps the stored token (or creates one, with the bootstrap identities).
    pub fn set_control_token(&self, token: &str) -> Result<(), ApiError> {
        admin::check_format(token).map_err(|detail| {
            ApiError::with_detail(crate::kernel::error_codes::VALIDATION_ERROR, detail, vec![])
        })?;
        self.transaction(Access::Write, |tx| {
            admin::ensure(tx, Some(token))
                .map(|_| ())
                .map_err(Into::into)
        })
    }

    /// Whether `presented` is the control token: the emulator's admin credential, which no Atlas
    /// principal holds.
    pub fn is_control_token(&self, presented: &str) -> Result<bool, ApiError> {
        self.transaction(Access::Read, |tx| {
            admin::verify(tx, presented).map_err(Into::into)
        })
    }

    /// Back to the bootstrap state: everything else is deleted; the bootstrap identities keep
    /// their ids and secrets, tokens issued to the bootstrap service account stay valid, and the
    /// control token is kept.
    pub fn reset(&self) -> Result<Bootstrap, ApiError> {
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
            throttle::clear(tx, &self.counters)?;
            bootstrap::ensure(tx, now)
        })
    }

    /// Creates a principal with the given roles; returns its secrets (shown only here).
    pub fn create_principal(&self, spec: &Value) -> Result<Value, ApiError> {
        self.transaction(Access::Write, |tx| {
            let now = clock::now(tx)?;
            minting::create(tx, spec, now)
        })
    }

    /// Accepts pending invitations (by `invitationId` or `username`) as the invitee; returns the
    /// user and a session token for it.
    pub fn accept_invitations(&self, spec: &Value) -> Result<Value, ApiError> {
        self.transaction(Access::Write, |tx| {
            let now = clock::now(tx)?;
            minting::accept(tx, spec, now)
        })
    }

    /// Organizations → projects → stored resources with their live state, settling nothing.
    pub fn overview(&self) -> Result<Value, ApiError> {
        let settings = self.lifecycle().clone();
        self.transaction(Access::Read, |tx| overview::organizations(tx, &settings))
    }

    /// The newest `limit` events of every organization and project, newest first.
    pub fn timeline(&self, limit: usize) -> Result<Value, ApiError> {
        self.transaction(Access::Read, |tx| overview::timeline(tx, limit))
    }

    /// Runs a GET call for the console (`GET /__localatlas/view`) through the engine, as an
    /// Organization Owner of the organization it addresses ([`inspect::reader`]; anonymous, and
    /// so refused as Atlas refuses, when none is left), in a transaction that is always rolled
    /// back: looking settles no lifecycle (a client's first read of a new cluster still sees
    /// `CREATING`) and records nothing. Any other method is refused: a look never changes state.
    pub fn look(&self, call: &Call) -> Result<Look, ApiError> {
        if call.op.method != atlas_model::Method::Get {
            return Err(ApiError::internal("a look runs GET operations only"));
        }
        let mut found: Option<Look> = None;
        let outcome = self.transaction(self.access_of(call.op), |tx| {
            // A store may run this again after a conflict: only the last run's answer counts.
            found = None;
            let now = clock::now(tx)?;
            let (reader, bootstrap) =
                inspect::reader(tx, call)?.unwrap_or((Principal::Anonymous, false));
            let as_reader = Call {
                principal: reader.clone(),
                ..call.clone()
            };
            let answer = self.engine.execute(tx, &as_reader, &clock::Now::at(now));
            found = Some(Look {
                reader,
                bootstrap,
                answer,
            });
            // Whatever the call wrote (a transition completed on read) is undone.
            Err(ApiError::internal("a look is rolled back"))
        });
        match (found, outcome) {
            (Some(look), _) => Ok(look),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(ApiError::internal("a look produced no answer")),
        }
    }
}
