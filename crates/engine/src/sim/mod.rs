//! The simulated account behind the engine's port: a phone and server that
//! speak the client crate's own types, for tests and the no-account demo.
//! `account` is the port implementation; `media` the files the server holds.
//! What the phone sends is built by `crate::wire` from the store's items.

pub mod account;
pub mod media;
