//! The emulator's own operations, outside Atlas (the control API, the command line): its admin
//! credential (the control token), the bootstrap identities, identities minted for tests, snapshots of the whole state, and the
//! read-only overview the console shows, with its look at one resource as Atlas answers it. Above the families, whose documents they create and read.

pub mod admin;
pub mod bootstrap;
pub mod inspect;
pub mod minting;
pub mod overview;
pub mod state;
