//! How things stand, in one model: the connection in words, history sync,
//! open jobs, and the archive's counts.
//!
//! The window's status (`wa_app::status::AppStatus`, plus what only the window
//! shows) and the assistants' `backend_status` tool are both views of this
//! [`Status`]; the window's pushed patches carry its parts ([`ConnectionStatus`],
//! [`Counts`]) as they change.

use serde::Serialize;
use wa_store::{Store, StoreError, SyncJob};

use crate::engine::Engine;
use crate::error::Result;
use crate::state::EngineState;
use crate::sync::SyncProgress;

/// How to word a state's countdowns ("a new code in 12 s").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// With the time left as of now (for assistants, who read it once).
    Now,
    /// Without it: the window words its countdowns itself, every second.
    Timeless,
}

/// The WhatsApp connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStatus {
    pub state: EngineState,
    /// The state in words: what is happening and what to do (a full disk or a
    /// read-only archive first: nothing new is saved until it is solved).
    pub state_text: String,
    pub needs_attention: bool,
    /// This account's JID, once linked.
    pub account: Option<String>,
}

/// The archive's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub messages: i64,
    pub chats: i64,
    /// When the newest stored message was sent (ms).
    pub newest_message: Option<i64>,
    pub database_bytes: i64,
}

impl Counts {
    /// The counts now (also when no engine runs: the helper's read-only answers).
    pub async fn read(store: &Store) -> std::result::Result<Self, StoreError> {
        let stats = store.statistics().await?;
        Ok(Self {
            messages: stats.messages,
            chats: stats.chats,
            newest_message: stats.newest_ts,
            database_bytes: stats.database_bytes,
        })
    }
}

/// How things stand.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    #[serde(flatten)]
    pub connection: ConnectionStatus,
    /// The simulated phone answers, not WhatsApp.
    pub demo: bool,
    pub progress: SyncProgress,
    /// Sync jobs not finished yet.
    pub jobs: Vec<SyncJob>,
    #[serde(flatten)]
    pub counts: Counts,
}

impl Engine {
    /// The connection in `state`, worded as asked.
    pub fn connection(&self, state: &EngineState, wording: Wording) -> ConnectionStatus {
        let (state_text, needs_attention) = match wording {
            Wording::Now => self.describe(state),
            Wording::Timeless => self.summary(state),
        };
        ConnectionStatus {
            state: state.clone(),
            state_text,
            needs_attention,
            account: self.own_jid(),
        }
    }

    /// How things stand now.
    pub async fn status(&self, wording: Wording) -> Result<Status> {
        let jobs = self.open_jobs().await?;
        let counts = Counts::read(self.store()).await?;
        let state = self.state().borrow().clone();
        let progress = self.progress().borrow().clone();
        Ok(Status {
            connection: self.connection(&state, wording),
            demo: self.is_demo(),
            progress,
            jobs,
            counts,
        })
    }
}
