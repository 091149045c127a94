//! The WhatsApp engine of WhatsApp MCP Desktop.
//!
//! It is the only crate that touches `whatsapp-rust`. [`Engine`] owns one
//! account behind the narrow [`port::WhatsAppPort`] (the real client in `real`,
//! or the simulated account in `sim`, for tests and demo mode, with the `demo`
//! feature) and the store.
//! Modules by what they do:
//!
//! - `engine`: the [`Engine`] handle, its options and events; `error`: [`EngineError`].
//! - `pairing`: linking by QR code or by a code typed on the phone.
//! - `connection`: the event loop that supervises the connection (reconnects
//!   after a backoff; a logout, ban or takeover waits for the person) and
//!   stores what arrives.
//! - `state`: the connection state machine, which takes the time as an argument;
//!   `clock`: the one clock.
//! - `sync`: history sync progress, job control and answers matched to their
//!   requests (pure, the time passed in); `jobs`: the jobs and their
//!   checkpoints; `on_demand`: asking the phone for older messages.
//! - `ingest`, `history`, `events`, `groups`: WhatsApp's messages, history
//!   chunks, events and group metadata as store items; `wire`: the way back.
//! - `send`: sending; `read`: read receipts; `media`: downloads.
//! - `durability`: store first, acknowledge after; `net`: why the network fails.
//!
//! Invariants: no Tauri or MCP types here; the store is written before anything
//! is acknowledged to WhatsApp (`durability`); only `clock` reads the wall clock.

// Scenario tests read top to bottom, one story each; the code itself keeps to
// short functions (checked when the library is built without tests).
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod clock;
mod connection;
pub mod durability;
pub mod engine;
pub mod error;
pub mod events;
pub mod groups;
pub mod history;
pub mod ingest;
pub mod jobs;
pub mod media;
pub mod net;
pub(crate) mod on_demand;
mod pairing;
pub mod port;
mod read;
pub mod real;
pub mod send;
#[cfg(feature = "demo")]
pub mod sim;
pub mod state;
pub mod status;
pub mod sync;
pub mod wire;

pub use engine::{Engine, EngineEvent, EngineOptions};
pub use error::EngineError;
pub use jobs::SyncRequest;
pub use media::SavedMedia;
pub use send::{Outgoing, Sent};
pub use state::EngineState;
pub use status::{ConnectionStatus, Counts, Status, Wording};
pub use sync::{JobCommand, SyncProgress};

#[cfg(test)]
mod test_support;
