//! The started core the window's commands work on: the store, the engine, the
//! approvals queue, and what the app knows about itself. Each method is what
//! one of the window's actions does; the window's commands only adapt them.

use std::path::PathBuf;
use std::sync::Arc;

use wa_engine::sim::account::SimulatedAccount;
use wa_engine::{Engine, JobCommand, SyncRequest};
use wa_mcp::{Approvals, PendingApproval};
use wa_store::{AuditEntry, ChatReach, Jid, JobState, Page, Store, SyncJob};

use crate::demo::{self, DemoAction};
use crate::error::AppError;
use crate::paths::Layout;

/// A started core: what every command of the window needs.
pub struct Services {
    pub store: Store,
    pub engine: Engine,
    /// This mode's folder (the demo's archive sits in `<data>/demo`).
    pub data_dir: PathBuf,
    /// The simulated phone, in demo mode.
    pub demo: Option<Arc<SimulatedAccount>>,
    /// Sends waiting for the person's approval.
    pub approvals: Arc<Approvals>,
    /// The `whatsapp-mcp` helper that assistant configs launch (beside the app).
    pub helper: PathBuf,
}

impl Services {
    pub fn layout(&self) -> Layout {
        Layout::in_dir(&self.data_dir)
    }

    /// Show fresh QR codes (after they ran out, or to start linking again).
    pub async fn new_qr_codes(&self) -> Result<(), AppError> {
        Ok(self.engine.new_qr_codes().await?)
    }

    /// Link with a phone number: the code to type on the phone.
    pub async fn pair_with_phone(&self, phone: &str) -> Result<String, AppError> {
        Ok(self.engine.pair_with_phone(phone).await?)
    }

    /// Try the connection again now (after "no network", a ban's end, ...).
    pub async fn reconnect(&self) -> Result<(), AppError> {
        Ok(self.engine.reconnect_now().await?)
    }

    /// What the demo phone does at the person's (or a test's) request.
    pub fn demo_phone(&self, action: DemoAction, code: &str) -> Result<bool, AppError> {
        let phone = self.demo.as_ref().ok_or(AppError::NotDemo)?;
        Ok(demo::act(phone, action, code))
    }

    /// How much history to fetch after linking: what the phone sends by itself
    /// (recent, no job), or everything it offers (a background job).
    pub async fn start_sync(&self, everything: bool) -> Result<Option<SyncJob>, AppError> {
        if !everything {
            return Ok(None);
        }
        Ok(Some(self.engine.start_sync(SyncRequest::Everything).await?))
    }

    /// Fetch up to `count` older messages of one chat (1 to 10,000).
    /// Fetch older messages of one chat: `chat` is a chat's address or a
    /// phone number as the person typed it.
    pub async fn fetch_older(&self, chat: &str, count: u32) -> Result<SyncJob, AppError> {
        let jid = Jid::from_input(chat).map_err(|e| AppError::Said(e.to_string()))?;
        let request = SyncRequest::Chat {
            jid,
            count: count.clamp(1, 10_000),
        };
        Ok(self.engine.start_sync(request).await?)
    }

    /// How far back each chat reaches (per-chat checkpoints), most recently synced first.
    pub async fn chat_reach(&self) -> Result<Vec<ChatReach>, AppError> {
        Ok(self.store.chat_reach(100).await?)
    }

    pub async fn control_sync(&self, job_id: i64, command: JobCommand) -> Result<SyncJob, AppError> {
        Ok(self.engine.control_job(job_id, command).await?)
    }

    /// Pause every open job, or resume every paused one (the tray's menu item).
    pub async fn pause_or_resume_all(&self) -> Result<(), AppError> {
        pause_or_resume_all(&self.engine).await
    }

    pub fn approvals(&self) -> Vec<PendingApproval> {
        self.approvals.pending()
    }

    pub fn answer_approval(&self, id: u64, approved: bool) -> Result<(), AppError> {
        Ok(self.approvals.answer(id, approved)?)
    }

    /// A page of the audit log, newest first, optionally only entries matching `query`.
    pub async fn audit_log(&self, query: Option<String>, cursor: Option<String>) -> Result<Page<AuditEntry>, AppError> {
        let query = query.filter(|q| !q.trim().is_empty());
        Ok(self.store.audit_log(query.as_deref(), 50, cursor.as_deref()).await?)
    }

    pub fn engine_state(&self) -> wa_engine::EngineState {
        self.engine.state().borrow().clone()
    }

    /// How far the phone's history push got, when it reported it.
    pub fn history_percent(&self) -> Option<u8> {
        self.engine.progress().borrow().percent
    }

    /// Open sync jobs (none, with a warning in the log, when the archive cannot say).
    pub async fn open_jobs(&self) -> Vec<SyncJob> {
        self.engine.open_jobs().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the open sync jobs could not be read");
            Vec::new()
        })
    }

    /// Stop the engine and close the archive (the app's exit).
    pub async fn shutdown(&self) {
        self.engine.shutdown().await;
        self.store.close().await;
    }
}

/// Pause every open job of `engine`, or resume every paused one.
pub async fn pause_or_resume_all(engine: &Engine) -> Result<(), AppError> {
    let jobs = engine.open_jobs().await?;
    let pause = jobs.iter().any(|j| j.state != JobState::Paused);
    for job in jobs {
        let command = if pause { JobCommand::Pause } else { JobCommand::Resume };
        if let Err(e) = engine.control_job(job.id, command).await {
            tracing::debug!(error = %e, job = job.id, "job not changed");
        }
    }
    Ok(())
}
