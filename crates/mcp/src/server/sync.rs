//! History sync jobs: start one (and follow it with progress notifications),
//! its status or a chat's reach, pause, resume, cancel.

use std::time::Duration;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ProgressNotificationParam, RequestMetaObject};
use rmcp::service::RequestContext;
use rmcp::{Json, Peer, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use wa_engine::EngineEvent;

use super::{WhatsAppMcp, err};
use crate::format::{iso, to_jid};

/// The target named for an act on every chat (the dialog's and the audit's).
const ALL_CHATS: &str = "all chats";

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct SyncParams {
    /// One chat; absent: everything the phone will give, for every chat.
    pub chat_jid: Option<String>,
    /// For one chat: how many older messages to fetch (default 200).
    pub max_messages: Option<u32>,
    /// Wait up to this many seconds (at most 50) for the job to finish before answering.
    pub wait_seconds: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobOut {
    pub job_id: i64,
    /// full, chat, community or mark_read.
    pub kind: String,
    pub target: Option<String>,
    /// queued, running, paused, done, failed or cancelled.
    pub state: String,
    pub messages_fetched: i64,
    pub chats_done: i64,
    pub chats_total: Option<i64>,
    pub percent: Option<u8>,
    pub last_error: Option<String>,
    pub started: String,
    pub finished: Option<String>,
    /// What to call next.
    pub hint: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct SyncStatusParams {
    /// A job id from start_history_sync.
    pub job_id: Option<i64>,
    /// Or a chat: how far its history reaches.
    pub chat_jid: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncStatusOut {
    pub job: Option<JobOut>,
    pub chat: Option<CheckpointOut>,
    /// Open jobs (when neither a job nor a chat was asked about).
    pub open_jobs: Vec<JobOut>,
    pub history_sync_percent: Option<u8>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckpointOut {
    pub chat_jid: String,
    pub oldest_message: Option<String>,
    pub newest_message: Option<String>,
    pub messages: i64,
    /// idle, requested, complete (the phone has nothing older) or failed.
    pub state: String,
    pub last_error: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct JobParams {
    pub job_id: i64,
}

impl WhatsAppMcp {
    pub(super) fn job_out(job: &wa_store::SyncJob) -> JobOut {
        let percent = job
            .chats_total
            .filter(|t| *t > 0)
            .map(|t| u8::try_from((job.chats_done * 100 / t).clamp(0, 100)).unwrap_or(100));
        let hint = match job.state {
            wa_store::JobState::Queued | wa_store::JobState::Running => {
                format!(
                    "Running in the background. Call get_sync_status with job_id {} to follow it.",
                    job.id
                )
            }
            wa_store::JobState::Paused => format!("Paused. Call resume_sync with job_id {} to continue.", job.id),
            wa_store::JobState::Done => "Finished. The messages are searchable now.".to_owned(),
            wa_store::JobState::Failed | wa_store::JobState::Cancelled => {
                "Stopped. Start a new sync to continue; it picks up where this one stopped.".to_owned()
            }
        };
        JobOut {
            job_id: job.id,
            kind: job.kind.as_str().to_owned(),
            target: job.target.clone(),
            state: job.state.as_str().to_owned(),
            messages_fetched: job.messages_done,
            chats_done: job.chats_done,
            chats_total: job.chats_total,
            percent,
            last_error: job.last_error.clone(),
            started: iso(job.created_at),
            finished: job.finished_at.map(iso),
            hint,
        }
    }

    /// Follow a job: progress notifications when the client asked for them,
    /// and an optional wait (capped well under the 60 s clients give a call).
    pub(super) async fn follow_job(
        &self,
        job: wa_store::SyncJob,
        meta: &RequestMetaObject,
        peer: &Peer<RoleServer>,
        ct: &CancellationToken,
        wait_seconds: Option<u32>,
    ) -> Result<wa_store::SyncJob, String> {
        let engine = self.engine()?;
        if let Some(token) = meta.get_progress_token() {
            let mut events = engine.events();
            let peer = peer.clone();
            let id = job.id;
            tokio::spawn(async move {
                while let Ok(event) = events.recv().await {
                    let EngineEvent::Job(j) = event else { continue };
                    if j.id != id {
                        continue;
                    }
                    let mut note = ProgressNotificationParam::new(token.clone(), j.chats_done as f64).with_message(
                        format!("{} messages fetched, {} chats done", j.messages_done, j.chats_done),
                    );
                    if let Some(total) = j.chats_total {
                        note = note.with_total(total as f64);
                    }
                    if peer.notify_progress(note).await.is_err() || j.state.is_finished() {
                        break;
                    }
                }
            });
        }
        let wait = Duration::from_secs(u64::from(wait_seconds.unwrap_or(0).min(50)));
        let deadline = tokio::time::Instant::now() + wait;
        let mut now = job;
        // A cancelled call stops waiting; the job itself goes on (cancel_sync stops it).
        while !now.state.is_finished() && tokio::time::Instant::now() < deadline && !ct.is_cancelled() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                () = ct.cancelled() => break,
            }
            now = engine.job(now.id).await.map_err(err)?;
        }
        Ok(now)
    }
}

impl WhatsAppMcp {
    /// Sync job `id`, if its chat is one assistants may see.
    async fn job_in_scope(&self, id: i64) -> Result<wa_store::SyncJob, String> {
        let job = self
            .store()
            .job(id)
            .await
            .map_err(err)?
            .ok_or_else(|| format!("Sync job {id} was not found."))?;
        let policy = self.policy().await?;
        match job.target.as_deref() {
            Some(target) if !policy.allows_chat(target) => Err(crate::policy::Policy::chat_refusal(target)),
            _ => Ok(job),
        }
    }
}

#[tool_router(router = sync_router, vis = "pub(super)")]
impl WhatsAppMcp {
    #[tool(
        description = "Fetch older history from the phone in the background: for one chat (max_messages, default 200) or everything the phone will give. Returns a job id at once; progress notifications follow when a progress token is sent; get_sync_status follows it. Subject to the person's policy like a send: by default they approve it in the app.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn start_history_sync(
        &self,
        Parameters(p): Parameters<SyncParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<JobOut>, String> {
        // A history fetch asks the phone and fills this computer's archive:
        // an act, asked and audited like one (it reaches no one else).
        let (job, _) = if let Some(chat) = p.chat_jid.as_deref().map(to_jid).transpose()? {
            let count = p.max_messages.unwrap_or(200).max(1);
            let content = format!("fetch up to {count} older messages of this chat from the phone");
            let target = chat.clone();
            self.gate()
                .act_here(&cx, "start_history_sync", &chat, content, |permit| async move {
                    let job = permit.fetch_chat_history(target, count).await.map_err(err)?;
                    let detail = format!("job {}", job.id);
                    Ok((job, detail))
                })
                .await?
        } else {
            // Every chat's history lands in the archive: only when
            // assistants may see every chat.
            if !self.policy().await?.scope().is_all() {
                return Err(
                    "Assistants may see only some chats, so they may fetch history one chat at a \
                            time: give chat_jid."
                        .to_owned(),
                );
            }
            let content = "fetch all the history the phone will give, for every chat";
            self.gate()
                .act_here(&cx, "start_history_sync", ALL_CHATS, content, |permit| async move {
                    let job = permit.fetch_all_history().await.map_err(err)?;
                    let detail = format!("job {}", job.id);
                    Ok((job, detail))
                })
                .await?
        };
        let job = self.follow_job(job, &cx.meta, &cx.peer, &cx.ct, p.wait_seconds).await?;
        Ok(Json(Self::job_out(&job)))
    }

    #[tool(
        description = "Same as start_history_sync (the name other WhatsApp MCP servers use).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn fetch_history(
        &self,
        params: Parameters<SyncParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<JobOut>, String> {
        self.start_history_sync(params, cx).await
    }

    #[tool(
        description = "How a sync job is going (job_id), how far a chat's history reaches (chat_jid), or, with neither, every open job.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_sync_status(
        &self,
        Parameters(p): Parameters<SyncStatusParams>,
    ) -> Result<Json<SyncStatusOut>, String> {
        let store = self.store();
        // A job names its chat: the chat scope applies to jobs too.
        let policy = self.policy().await?;
        let in_scope = |job: &wa_store::SyncJob| job.target.as_deref().is_none_or(|t| policy.allows_chat(t));
        let job = match p.job_id {
            Some(id) => {
                let job = store
                    .job(id)
                    .await
                    .map_err(err)?
                    .ok_or_else(|| format!("There is no sync job {id}."))?;
                if !in_scope(&job) {
                    return Err(crate::policy::Policy::chat_refusal(
                        job.target.as_deref().unwrap_or_default(),
                    ));
                }
                Some(Self::job_out(&job))
            }
            None => None,
        };
        let chat = match &p.chat_jid {
            Some(jid) => {
                Self::check_chat(&policy, jid)?;
                let cp = match store.checkpoint(jid).await.map_err(err)? {
                    Some(cp) => cp,
                    None => store.refresh_checkpoint(jid).await.map_err(err)?,
                };
                Some(CheckpointOut {
                    chat_jid: cp.chat_jid,
                    oldest_message: cp.oldest_ts.map(iso),
                    newest_message: cp.newest_ts.map(iso),
                    messages: cp.messages_synced,
                    state: cp.state.as_str().to_owned(),
                    last_error: cp.last_error,
                })
            }
            None => None,
        };
        let open_jobs = if job.is_none() && chat.is_none() {
            store
                .open_jobs()
                .await
                .map_err(err)?
                .iter()
                .filter(|j| in_scope(j))
                .map(Self::job_out)
                .collect()
        } else {
            Vec::new()
        };
        Ok(Json(SyncStatusOut {
            job,
            chat,
            open_jobs,
            history_sync_percent: self.engine().ok().and_then(|e| e.progress().borrow().percent),
        }))
    }

    #[tool(
        description = "Pause a sync job; resume_sync continues it.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn pause_sync(&self, Parameters(p): Parameters<JobParams>) -> Result<Json<JobOut>, String> {
        self.job_in_scope(p.job_id).await?;
        let job = self.engine()?.pause_job(p.job_id).await.map_err(err)?;
        Ok(Json(Self::job_out(&job)))
    }

    #[tool(
        description = "Resume a paused sync job from where it stopped (the person's policy applies, as when it was started).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn resume_sync(
        &self,
        Parameters(p): Parameters<JobParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<JobOut>, String> {
        let paused = self.job_in_scope(p.job_id).await?;
        // Resuming is an act like the request that started the job: marking
        // chats read reaches others (blue ticks); fetching asks the phone.
        let target = paused.target.clone().unwrap_or_else(|| ALL_CHATS.to_owned());
        let id = p.job_id;
        let resume = |permit: super::gate::Permit| async move {
            let job = permit.resume_job(id).await.map_err(err)?;
            Ok((job, format!("job {id}")))
        };
        let (job, _) = if paused.kind == wa_store::JobKind::MarkRead {
            let content = format!("resume marking read (job {id})");
            self.gate().act(&cx, "resume_sync", &target, &content, resume).await?
        } else {
            let content = format!("resume fetching history from the phone (job {id})");
            self.gate()
                .act_here(&cx, "resume_sync", &target, &content, resume)
                .await?
        };
        Ok(Json(Self::job_out(&job)))
    }

    #[tool(
        description = "Cancel a sync job (what it fetched stays).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn cancel_sync(&self, Parameters(p): Parameters<JobParams>) -> Result<Json<JobOut>, String> {
        self.job_in_scope(p.job_id).await?;
        let job = self.engine()?.cancel_job(p.job_id).await.map_err(err)?;
        Ok(Json(Self::job_out(&job)))
    }
}
