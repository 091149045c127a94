//! The services both programs of WhatsApp MCP Desktop share, with no window
//! and no MCP tool code in them: where the files live (`paths`), the archive's
//! key (`key`), the start sequence (`start`, and `lock` when the window must
//! ask for a passphrase), the local channel assistants reach the app by
//! (`channel`), the demo phone (`demo`), backups, health checks for the
//! doctor and the Diagnostics page (`checks`), the window's status
//! (`status`), settings, assistants, the diagnostic report and logging.
//!
//! Invariants: no Tauri (the `src-tauri` crate adapts [`Services`] to
//! commands); no MCP protocol (the `wa-mcp` crate serves sessions on the
//! streams this crate accepts); this is the only crate that knows OS folders
//! and the keychain.

pub mod assistants;
pub mod backups;
pub mod channel;
pub mod checks;
pub mod demo;
pub mod error;
pub mod fallback;
pub mod key;
pub mod lock;
pub mod logging;
pub mod notices;
pub mod paths;
pub mod report;
pub mod services;
pub mod settings;
pub mod start;
pub mod status;
#[cfg(windows)]
mod user_only;

pub use error::AppError;
pub use services::Services;

/// The types the window's commands take and return, from the crates below.
pub mod types {
    pub use tokio_util::sync::CancellationToken;
    pub use wa_clients::{Client, ClientState, Env as AssistantsEnv};
    pub use wa_engine::{EngineEvent, EngineState, JobCommand};
    pub use wa_mcp::{PendingApproval, SendPolicy};
    pub use wa_store::ArchiveKey;
    pub use wa_store::restore::BackupInfo;
    pub use wa_store::{AuditEntry, ChatReach, JobState, Page, SyncJob};
}
