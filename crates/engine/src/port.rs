//! The narrow seam between the engine and a WhatsApp account.
//!
//! Everything above it (state machine, ingestion, sync progress, the store) is
//! the code that ships. Below it sit either the real `whatsapp-rust` client or
//! the simulated account (`sim`), which emits the client crate's own `Event`
//! values. Kept small on purpose: what is not here cannot differ between them.

use std::sync::Arc;

use whatsapp_rust::async_channel::Receiver;
use whatsapp_rust::wacore::types::events::Event;

/// Why the account side could not do what the engine asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("Not connected to WhatsApp.")]
    NotConnected,
    #[error("WhatsApp could not be reached: {0}")]
    Unreachable(String),
}

/// A WhatsApp account as the engine sees it.
pub trait WhatsAppPort: Send + Sync + 'static {
    /// The events the account emits, in order. One receiver per engine.
    fn events(&self) -> Receiver<Arc<Event>>;
    /// Open the connection; pairing or login events follow on `events`.
    fn connect(&self) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Close the connection (no events follow until `connect`).
    fn disconnect(&self) -> impl Future<Output = ()> + Send;
    /// This account's own JID, once linked.
    fn own_jid(&self) -> Option<String>;
}
