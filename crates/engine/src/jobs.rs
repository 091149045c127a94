//! Sync jobs: "everything the phone will give", "older messages of this chat",
//! "all chats of a community", and "mark a community read".
//!
//! A job walks its chats one at a time. For each, it asks the phone for the
//! messages older than the oldest one stored (the chat's checkpoint; see
//! `on_demand`), and once the phone has nothing older or the job's limit is
//! reached, the chat's checkpoint is marked complete. Progress is written to
//! the job row after every answer, so a crash or a restart resumes from the
//! checkpoints without asking for anything twice (and the store is idempotent,
//! so asking twice would not duplicate anything either).
//!
//! Pause, resume and cancel follow [`next_state`]; a job that cannot go on
//! (the phone does not answer, WhatsApp refuses, a checkpoint cannot be
//! written) pauses with a sentence saying why, and Resume continues from the
//! checkpoints. Other store errors fail the job with the store's sentence.

use std::time::Duration;

use tokio::sync::watch;
use wa_store::{ChatFilter, CheckpointState, Jid, JobKind, JobState, StoreError, SyncJob};

use crate::engine::{Engine, lock};
use crate::error::{EngineError, Result};
use crate::sync::{JobCommand, SyncProgress, next_state};

/// What a person or an assistant asks to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRequest {
    /// Everything the phone will give, for every chat.
    Everything,
    /// Up to `count` older messages of one chat.
    Chat { jid: Jid, count: u32 },
    /// Every chat of a community, up to `per_chat` older messages each (`None`: all).
    Community { jid: Jid, per_chat: Option<u32> },
    /// Mark every chat of a community read, after fetching up to
    /// `fetch_first` recent messages of each when given.
    MarkCommunityRead { jid: Jid, fetch_first: Option<u32> },
}

/// Why a job stopped before its end.
pub(crate) enum Stop {
    Cancelled,
    /// The engine is shutting down: the job stays open for the next start.
    Shutdown,
}

impl Engine {
    /// Create a job and start it in the background; returns it at once.
    pub async fn start_sync(&self, request: SyncRequest) -> Result<SyncJob> {
        let store = &self.inner.store;
        let (kind, target, max) = match &request {
            SyncRequest::Everything => (JobKind::Full, None, None),
            SyncRequest::Chat { jid, count } => {
                if store.get_chat(jid).await?.is_none() {
                    return Err(EngineError::NotFound {
                        what: format!("The chat {jid}"),
                    });
                }
                (JobKind::Chat, Some(jid.as_str()), Some(i64::from((*count).max(1))))
            }
            SyncRequest::Community { jid, per_chat } => {
                self.community(jid).await?;
                (JobKind::Community, Some(jid.as_str()), per_chat.map(i64::from))
            }
            SyncRequest::MarkCommunityRead { jid, fetch_first } => {
                self.community(jid).await?;
                (JobKind::MarkRead, Some(jid.as_str()), fetch_first.map(i64::from))
            }
        };
        if self.own_jid().is_none() {
            return Err(EngineError::NotLinked);
        }
        let job = store.create_job(kind, target, max).await?;
        self.spawn_job(job.clone());
        Ok(job)
    }

    /// Pause, resume or cancel a job. Returns the job as it now is.
    pub async fn control_job(&self, id: i64, command: JobCommand) -> Result<SyncJob> {
        let store = &self.inner.store;
        let job = store.job(id).await?.ok_or_else(|| EngineError::NotFound {
            what: format!("Sync job {id}"),
        })?;
        let next = next_state(job.state, command)?;
        let running = lock(&self.inner.jobs).get(&id).cloned();
        if let Some(control) = running {
            // The runner records the change itself when it sees it.
            control.send_replace(next);
        } else {
            store
                .update_job(
                    id,
                    next,
                    (job.messages_done, job.chats_done, job.chats_total),
                    // Resuming clears the reason it stopped.
                    job.last_error.as_deref().filter(|_| next != JobState::Running),
                )
                .await?;
            if next == JobState::Running {
                let mut resumed = job.clone();
                resumed.state = JobState::Running;
                self.spawn_job(resumed);
            }
        }
        // Give the runner a moment to record it, then report what is stored.
        for _ in 0..50 {
            let now = store.job(id).await?;
            if let Some(now) = now
                && (now.state == next || now.state.is_finished())
            {
                return Ok(now);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        store.job(id).await?.ok_or_else(|| EngineError::NotFound {
            what: format!("Sync job {id}"),
        })
    }

    /// One job as stored.
    pub async fn job(&self, id: i64) -> Result<SyncJob> {
        self.inner.store.job(id).await?.ok_or_else(|| EngineError::NotFound {
            what: format!("Sync job {id}"),
        })
    }

    /// Jobs that are queued, running or paused.
    pub async fn open_jobs(&self) -> Result<Vec<SyncJob>> {
        Ok(self.inner.store.open_jobs().await?)
    }

    pub(crate) async fn resume_open_jobs(&self) {
        match self.inner.store.open_jobs().await {
            Ok(jobs) => {
                for job in jobs.into_iter().filter(|j| j.state != JobState::Paused) {
                    tracing::info!(job = job.id, "resuming a sync job from its checkpoints");
                    self.spawn_job(job);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read open sync jobs"),
        }
    }

    fn spawn_job(&self, job: SyncJob) {
        let (tx, rx) = watch::channel(JobState::Running);
        {
            let mut jobs = lock(&self.inner.jobs);
            if jobs.contains_key(&job.id) {
                return;
            }
            jobs.insert(job.id, tx);
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let id = job.id;
            if let Err(e) = engine.run_job(job, rx).await {
                tracing::warn!(job = id, error = %e, "sync job failed");
                engine.record_failure(id, &e.to_string()).await;
            }
            lock(&engine.inner.jobs).remove(&id);
        });
    }

    /// Record that job `id` failed with `reason`, and tell the window. The job
    /// ran on its own task, so there is no one to return a store error to: it
    /// is logged.
    async fn record_failure(&self, id: i64, reason: &str) {
        let store = &self.inner.store;
        match store.job(id).await {
            Ok(Some(now)) => {
                let progress = (now.messages_done, now.chats_done, now.chats_total);
                match store.update_job(id, JobState::Failed, progress, Some(reason)).await {
                    Ok(()) => self.publish_job_by_id(id).await,
                    Err(e) => {
                        tracing::error!(job = id, error = %e, reason, "could not record that the sync job failed");
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(job = id, error = %e, reason, "could not read the failed sync job to record why"),
        }
    }

    pub(crate) async fn publish_job_by_id(&self, id: i64) {
        match self.inner.store.job(id).await {
            Ok(Some(job)) => self.publish_job(&job),
            Ok(None) => {}
            Err(e) => tracing::warn!(job = id, error = %e, "could not read the sync job to report it"),
        }
    }

    async fn community(&self, jid: &str) -> Result<()> {
        let chat = self.inner.store.get_chat(jid).await?;
        match chat {
            Some(c) if c.kind == wa_store::ChatKind::Community => Ok(()),
            Some(_) => Err(EngineError::InvalidInput(format!("{jid} is not a community."))),
            None => Err(EngineError::NotFound {
                what: format!("The community {jid}"),
            }),
        }
    }

    /// The chats a job covers, in a stable order.
    async fn job_chats(&self, job: &SyncJob) -> Result<Vec<String>> {
        let store = &self.inner.store;
        let mut filter = ChatFilter {
            limit: 500,
            ..ChatFilter::default()
        };
        let mut chats = Vec::new();
        match job.kind {
            JobKind::Chat => return Ok(job.target.iter().cloned().collect()),
            JobKind::Full => {}
            JobKind::Community | JobKind::MarkRead => {
                chats.extend(job.target.iter().cloned());
                filter.parent_jid = job.target.as_deref().map(Jid::parse).transpose()?;
            }
        }
        loop {
            let page = store.list_chats(&filter).await?;
            chats.extend(page.items.into_iter().map(|c| c.jid));
            match page.next_cursor {
                Some(cursor) => filter.cursor = Some(cursor),
                None => break,
            }
        }
        chats.sort();
        chats.dedup();
        Ok(chats)
    }

    async fn run_job(&self, job: SyncJob, mut control: watch::Receiver<JobState>) -> Result<()> {
        let store = &self.inner.store;
        let chats = self.job_chats(&job).await?;
        let total = i64::try_from(chats.len()).unwrap_or(i64::MAX);
        let mut done_messages = job.messages_done;
        let mut done_chats = 0;
        self.set_job(job.id, JobState::Running, (done_messages, 0, Some(total)), None)
            .await?;
        // A chat job's limit counts across restarts; the others' is per chat.
        let per_chat_limit = match job.kind {
            JobKind::Chat => job.max_messages.map(|m| (m - job.messages_done).max(0)),
            _ => job.max_messages,
        };
        // Chats that arrive while a full or community job runs (the first
        // history is often still landing) are covered too: after each pass the
        // list is read again. A chat with nothing stored yet has no message to
        // ask "older than" from: it waits (not marked complete) and is taken
        // up again once its newest messages have landed. The job ends when a
        // pass, and one short wait after it, bring nothing new, and the phone's
        // push is not moving any more.
        let mut covered = std::collections::HashSet::new();
        let mut chats = chats;
        let mut total = total;
        let mut waiting: Vec<String> = Vec::new();
        let mut waited = false;
        loop {
            for chat in &chats {
                if job.kind != JobKind::MarkRead && !self.has_anchor(chat).await? {
                    waiting.push(chat.clone());
                    continue;
                }
                let fetched = match job.kind {
                    JobKind::MarkRead if job.max_messages.is_none() => Ok(0),
                    _ => self.fetch_chat(job.id, chat, per_chat_limit, &mut control).await,
                };
                match fetched {
                    Ok(n) => done_messages += i64::try_from(n).unwrap_or(0),
                    Err(stop) => {
                        let state = match stop {
                            Stop::Cancelled => JobState::Cancelled,
                            Stop::Shutdown => return Ok(()),
                        };
                        let error = store.job(job.id).await?.and_then(|j| j.last_error);
                        self.set_job(
                            job.id,
                            state,
                            (done_messages, done_chats, Some(total)),
                            error.as_deref(),
                        )
                        .await?;
                        return Ok(());
                    }
                }
                if job.kind == JobKind::MarkRead {
                    self.mark_read(&Jid::parse(chat)?).await?;
                }
                done_chats += 1;
                self.set_job(
                    job.id,
                    JobState::Running,
                    (done_messages, done_chats, Some(total)),
                    None,
                )
                .await?;
            }
            if job.kind == JobKind::MarkRead {
                break;
            }
            covered.extend(chats.drain(..).filter(|c| !waiting.contains(c)));
            chats = match self
                .next_pass(&job, &covered, &mut waiting, &mut waited, &mut control)
                .await?
            {
                Ok(next) => next,
                Err(stop) => {
                    if matches!(stop, Stop::Cancelled) {
                        self.set_job(
                            job.id,
                            JobState::Cancelled,
                            (done_messages, done_chats, Some(total)),
                            None,
                        )
                        .await?;
                    }
                    return Ok(());
                }
            };
            total = i64::try_from(covered.len() + chats.len() + waiting.len()).unwrap_or(i64::MAX);
            if chats.is_empty() {
                break;
            }
        }
        self.set_job(job.id, JobState::Done, (done_messages, done_chats, Some(total)), None)
            .await?;
        Ok(())
    }

    /// After a pass of `run_job`: the chats of the next pass (none: the job
    /// is done), or why to stop. Chats that arrived meanwhile are listed
    /// again; chats still without a stored message wait in `waiting` (one short
    /// wait per job, `waited`); while the phone's own push moves, it waits for
    /// that.
    async fn next_pass(
        &self,
        job: &SyncJob,
        covered: &std::collections::HashSet<String>,
        waiting: &mut Vec<String>,
        waited: &mut bool,
        control: &mut watch::Receiver<JobState>,
    ) -> Result<Result<Vec<String>, Stop>> {
        loop {
            let mut next: Vec<String> = Vec::new();
            if job.kind != JobKind::Chat {
                let listed = self.job_chats(job).await?;
                next.extend(
                    listed
                        .into_iter()
                        .filter(|c| !covered.contains(c) && !waiting.contains(c)),
                );
            }
            let mut still = Vec::new();
            for chat in waiting.drain(..) {
                if self.has_anchor(&chat).await? {
                    next.push(chat);
                } else {
                    still.push(chat);
                }
            }
            *waiting = still;
            // The phone's own history push is still under way: its next
            // chunks bring chats no pass has seen. Wait while it moves.
            let push = if next.is_empty() && waiting.is_empty() && job.kind != JobKind::Chat {
                self.push_under_way()
            } else {
                None
            };
            if push.is_none() && (!next.is_empty() || waiting.is_empty() || *waited) {
                return Ok(Ok(next));
            }
            if let Some(mut progress) = push {
                let before = progress.borrow_and_update().percent;
                let moved = tokio::select! {
                    moved = tokio::time::timeout(
                        self.inner.options.phone_timeout,
                        progress.wait_for(|p| p.percent != before),
                    ) => moved.is_ok_and(|r| r.is_ok()),
                    _ = control.changed() => true,
                };
                if !moved {
                    // The phone stopped sending (it may go on later:
                    // a next sync covers what it brings).
                    return Ok(Ok(next));
                }
            } else {
                // Only chats with nothing stored are left: give their first
                // messages a moment to land (once per job), then look again.
                *waited = true;
                tokio::select! {
                    () = tokio::time::sleep(self.inner.options.phone_timeout.min(Duration::from_secs(10))) => {}
                    _ = control.changed() => {}
                }
            }
            // Pause and Cancel count here too (a pause waits for Resume).
            if let Err(stop) = self.checkpoint_control(job.id, control).await {
                return Ok(Err(stop));
            }
        }
    }

    /// Wait here while the job is paused; `Err` when it must stop.
    pub(crate) async fn checkpoint_control(
        &self,
        job: i64,
        control: &mut watch::Receiver<JobState>,
    ) -> Result<(), Stop> {
        loop {
            let wanted = *control.borrow_and_update();
            match wanted {
                JobState::Running => return Ok(()),
                JobState::Cancelled | JobState::Done | JobState::Failed => return Err(Stop::Cancelled),
                JobState::Queued => return Err(Stop::Shutdown),
                JobState::Paused => {
                    // Record the pause once, then sleep until told otherwise.
                    self.record_runner_state(job, JobState::Paused).await;
                    if control.changed().await.is_err() {
                        return Err(Stop::Shutdown);
                    }
                    if *control.borrow() == JobState::Running {
                        self.record_runner_state(job, JobState::Running).await;
                    }
                }
            }
        }
    }

    /// Record that the runner of `job` is now `state` (its counts kept, its
    /// reason cleared) and tell the window, unless the store says so already.
    /// The runner follows its in-memory control either way, so a store that
    /// cannot take it is logged, not fatal.
    async fn record_runner_state(&self, job: i64, state: JobState) {
        let store = &self.inner.store;
        match store.job(job).await {
            Ok(Some(j)) if j.state != state => {
                let progress = (j.messages_done, j.chats_done, j.chats_total);
                match store.update_job(job, state, progress, None).await {
                    Ok(()) => self.publish_job_by_id(job).await,
                    Err(e) => tracing::warn!(job, ?state, error = %e, "could not record the sync job's state"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(job, ?state, error = %e, "could not read the sync job to record its state"),
        }
    }

    /// Record a job's state and progress, and tell the window and assistants.
    async fn set_job(
        &self,
        id: i64,
        state: JobState,
        progress: (i64, i64, Option<i64>),
        error: Option<&str>,
    ) -> Result<()> {
        self.inner.store.update_job(id, state, progress, error).await?;
        self.publish_job_by_id(id).await;
        Ok(())
    }

    /// While the phone's own history push is under way (it said how far it
    /// got, and not yet 100%; or this computer was just linked and it has not
    /// started yet): a receiver of its progress.
    fn push_under_way(&self) -> Option<watch::Receiver<SyncProgress>> {
        let progress = self.inner.progress.subscribe();
        let under_way = match progress.borrow().percent {
            Some(p) => p < 100,
            None => self.inner.history_expected.load(std::sync::atomic::Ordering::Relaxed),
        };
        under_way.then_some(progress)
    }

    /// Whether `chat` has a stored message to ask "older than" from (or is
    /// complete). A store that cannot tell fails the job with its sentence.
    async fn has_anchor(&self, chat: &str) -> Result<bool> {
        match self.inner.store.refresh_checkpoint(chat).await {
            Ok(c) => Ok(c.oldest.is_some() || c.state == CheckpointState::Complete),
            // Not stored (any more): nothing to ask "older than" from.
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests;
