//! The Atlas semantics of localatlas, independent of HTTP.
//!
//! A request reaches this crate as a [`Call`] (already routed, authenticated and negotiated by
//! the HTTP pipeline) and leaves as a [`Reply`] or an [`ApiError`]. The crate is layered; each
//! layer imports only those listed before it (a test, `atlas-layers`, fails on a module cycle):
//!
//! 1. [`kernel`] — call and reply, errors, ids, clock, the lifecycle mechanism and its kinds,
//!    paths, paging, the resource index, rendering;
//! 2. [`identity`] — credentials and roles;
//! 3. [`stages`] — admission (authenticate, API access list, rate limit), validate, scope,
//!    authorize;
//! 4. [`engine`] — the [`engine::Behaviour`] extension point, its registry, the context a
//!    behaviour works with, the order of the stages, and the generic stateful engine;
//! 5. [`families`] — one module per resource family, each a behaviour;
//! 6. [`control`] — the emulator's own operations: bootstrap, minted principals, snapshots, the
//!    overview;
//! 7. [`service`] — [`Atlas`]: the store transactions around every entry point.

pub mod kernel;

pub mod identity;

pub mod stages;

pub mod engine;

pub mod families;

pub mod control;

pub mod service;

pub use kernel::call::{Call, Origin, Payload, Reply};
pub use kernel::error::ApiError;
pub use kernel::principal::Principal;
pub use service::{Atlas, Config};
