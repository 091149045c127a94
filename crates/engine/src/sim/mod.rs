//! The simulated account behind the engine's port (issue 3, in progress): a
//! phone and server that speak the client crate's own types, for tests and the
//! no-account demo. Today: `wire`, what the phone sends, from store items.

pub mod account;
pub mod wire;
