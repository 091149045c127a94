//! The WhatsApp engine of WhatsApp MCP Desktop (work in progress, issue 3).
//!
//! It is the only crate that touches `whatsapp-rust`. Today: the mapping of
//! WhatsApp's messages to store items (`ingest`) and the connection state
//! machine (`state`). Coming: the client port with
//! the real client and a simulated account behind it, the connection state
//! machine, pairing, sync jobs, media and sending.
//!
//! Invariant: no Tauri or MCP types here; the store is written before anything
//! is acknowledged to WhatsApp.

pub mod driver;
pub mod durability;
pub mod events;
pub mod history;
pub mod ingest;
pub mod port;
pub mod sim;
pub mod state;
pub mod sync;

#[cfg(test)]
mod test_support;
