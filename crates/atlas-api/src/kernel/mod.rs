//! The kernel: what every stage and every family needs, importing none of them.
//!
//! A call and its reply, the one error type and its catalogue, ids, the controlled clock, the
//! lifecycle mechanism and its kinds, store paths, paging, the resource index and rendering in
//! the served version's schema. Nothing here knows which stage or family uses it.

pub mod call;
pub mod clock;
pub mod counters;
pub mod defaults;
pub mod download;
pub mod error;
pub mod error_codes;
pub mod ids;
pub mod lifecycle;
pub mod paging;
pub mod paths;
pub mod principal;
pub mod render;
pub mod resources;
