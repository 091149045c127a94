//! What the gate hands out: a [`Permit`] for one act (the only way to the
//! engine's acting methods, made by the gate alone), and an [`EngineView`]
//! for tools that only look.

use tokio::sync::{broadcast, watch};
use wa_engine::{Engine, EngineError, EngineEvent, JobCommand, Outgoing, SavedMedia, Sent, SyncProgress, SyncRequest};
use wa_store::{Jid, MessageKey, Store, StoreError, SyncJob};

/// Leave to do one act, handed by [`super::Gate::act`] to the tool's closure once
/// the act is allowed or approved. Each method uses it up.
pub(in crate::server) struct Permit {
    engine: Engine,
    store: Store,
}

impl Permit {
    /// Only the gate makes permits (this is its child module).
    pub(super) fn new(engine: Engine, store: Store) -> Self {
        Self { engine, store }
    }

    pub(in crate::server) async fn send(self, outgoing: Outgoing) -> Result<Sent, EngineError> {
        self.engine.send(outgoing).await
    }

    /// Delete one of the account's own messages for everyone.
    pub(in crate::server) async fn revoke(self, key: &MessageKey) -> Result<Sent, EngineError> {
        self.engine.revoke(key).await
    }

    /// Drop this computer's copy of a message (WhatsApp and the phone keep theirs).
    pub(in crate::server) async fn drop_local_copy(self, key: &MessageKey) -> Result<bool, StoreError> {
        self.store.drop_message(key).await
    }

    /// Mark a chat read: its senders see blue ticks.
    pub(in crate::server) async fn mark_read(self, chat: &Jid) -> Result<u32, EngineError> {
        self.engine.mark_read(chat).await
    }

    /// Resume a paused job (it fetches from the phone, or marks chats read).
    pub(in crate::server) async fn resume_job(self, id: i64) -> Result<SyncJob, EngineError> {
        self.engine.control_job(id, JobCommand::Resume).await
    }

    /// Fetch up to `count` older messages of one chat from the phone.
    pub(in crate::server) async fn fetch_chat_history(self, jid: Jid, count: u32) -> Result<SyncJob, EngineError> {
        self.engine.start_sync(SyncRequest::Chat { jid, count }).await
    }

    /// Fetch everything the phone will give, for every chat.
    pub(in crate::server) async fn fetch_all_history(self) -> Result<SyncJob, EngineError> {
        self.engine.start_sync(SyncRequest::Everything).await
    }

    /// Save a message's media to this computer (asking the phone to upload it
    /// again if it expired on WhatsApp's servers).
    pub(in crate::server) async fn download_media(self, key: &MessageKey) -> Result<SavedMedia, EngineError> {
        self.engine.download_media(key).await
    }

    /// Start the background job that marks every group of a community read.
    pub(in crate::server) async fn mark_community_read(
        self,
        jid: Jid,
        fetch_first: Option<u32>,
    ) -> Result<SyncJob, EngineError> {
        self.engine
            .start_sync(SyncRequest::MarkCommunityRead { jid, fetch_first })
            .await
    }
}

/// The engine as tools that only look see it: state, progress, jobs, and
/// pausing or cancelling a job; nothing that others see, nothing that fetches
/// or saves.
#[derive(Clone, Copy)]
pub(in crate::server) struct EngineView<'a>(&'a Engine);

impl<'a> EngineView<'a> {
    pub(super) fn new(engine: &'a Engine) -> Self {
        Self(engine)
    }
}

impl EngineView<'_> {
    /// How things stand (the window's status model), worded as asked.
    pub(in crate::server) async fn status(self, wording: wa_engine::Wording) -> Result<wa_engine::Status, EngineError> {
        self.0.status(wording).await
    }

    pub(in crate::server) fn progress(self) -> watch::Receiver<SyncProgress> {
        self.0.progress()
    }

    pub(in crate::server) fn events(self) -> broadcast::Receiver<EngineEvent> {
        self.0.events()
    }

    pub(in crate::server) async fn job(self, id: i64) -> Result<SyncJob, EngineError> {
        self.0.job(id).await
    }

    /// Stop a job for now; resuming it is an act ([`Permit::resume_job`]).
    pub(in crate::server) async fn pause_job(self, id: i64) -> Result<SyncJob, EngineError> {
        self.0.control_job(id, JobCommand::Pause).await
    }

    /// Stop a job for good (what it fetched stays).
    pub(in crate::server) async fn cancel_job(self, id: i64) -> Result<SyncJob, EngineError> {
        self.0.control_job(id, JobCommand::Cancel).await
    }
}
