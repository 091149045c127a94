//! The WhatsApp engine of WhatsApp MCP Desktop.
//!
//! It is the only crate that touches `whatsapp-rust`. [`Engine`] owns one
//! account behind the narrow [`port::WhatsAppPort`] (the real client in `real`,
//! or the simulated account in `sim` for tests and demo mode) and the store:
//! linking by QR or phone code, the connection state machine (`state`), history
//! and live messages mapped to store items (`ingest`, `history`, `events`),
//! sync jobs with checkpoints (`jobs`), media downloads (`media`), sending
//! and read receipts (`send`).
//!
//! Invariants: no Tauri or MCP types here; the store is written before anything
//! is acknowledged to WhatsApp (`durability`).

pub mod clock;
pub mod durability;
pub mod events;
pub mod groups;
pub mod handle;
pub mod history;
pub mod ingest;
pub mod media;
pub mod net;
pub mod port;
pub mod read;
pub mod real;
pub mod send;
pub mod sim;
pub mod state;
pub mod sync;
pub mod wire;

pub use handle::{Engine, EngineError, EngineEvent, EngineOptions};
pub use media::SavedMedia;
pub use send::{Outgoing, Sent};
pub use state::EngineState;
pub use sync::jobs::SyncRequest;
pub use sync::{JobCommand, SyncProgress};

#[cfg(test)]
mod test_support;
