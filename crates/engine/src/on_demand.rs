//! On-demand history: asking the phone for the messages of one chat older than
//! the oldest one stored, a window at a time, and matching its answers to the
//! requests.
//!
//! The phone answers through the account's event stream (a `HistorySync` chunk
//! carrying the request id), which the event loop stores like any history; the
//! waiting request gets an [`Answer`] (how many messages, how many new), whether
//! the answer or the wait comes first. Rate limits and server errors back off
//! exponentially; a phone that does not answer pauses the job with a sentence.

use tokio::sync::{oneshot, watch};
use wa_store::{CheckpointState, JobState, StoreError};

use crate::engine::{Engine, lock};
use crate::jobs::Stop;
use crate::port::{HistoryAnchor, PortError};
use crate::sync::Answer;

const MAX_BACKOFF_ATTEMPTS: u32 = 8;

impl Engine {
    /// Fetch older messages of `chat` until the phone has no more or `limit` is
    /// reached. Returns the messages added.
    ///
    /// A checkpoint the store cannot read or write pauses the job with the
    /// store's sentence (never taken as written); Resume tries again.
    // The request loop with its backoff and pause states in one place; split next (issue 18 follow-up).
    #[allow(clippy::too_many_lines)]
    pub(crate) async fn fetch_chat(
        &self,
        job: i64,
        chat: &str,
        limit: Option<i64>,
        control: &mut watch::Receiver<JobState>,
    ) -> Result<u64, Stop> {
        let store = &self.inner.store;
        let mut added: u64 = 0;
        let mut backoff = self.backoff(job.unsigned_abs());
        let mut attempt = 0;
        let mut unanswered = 0;
        loop {
            self.checkpoint_control(job, control).await?;
            let checkpoint = match store.refresh_checkpoint(chat).await {
                Ok(checkpoint) => checkpoint,
                // The chat is no longer stored (deleted from this computer): nothing to fetch.
                Err(StoreError::NotFound { .. }) => return Ok(added),
                Err(e) => {
                    self.pause_for_store(job, chat, &e).await;
                    continue;
                }
            };
            if checkpoint.state == CheckpointState::Complete {
                return Ok(added);
            }
            let remaining = limit.map(|l| l - i64::try_from(added).unwrap_or(i64::MAX));
            if remaining.is_some_and(|r| r <= 0) {
                return Ok(added);
            }
            let (Some(oldest), Some(from_me), Some(ts)) =
                (checkpoint.oldest, checkpoint.oldest_from_me, checkpoint.oldest_ts)
            else {
                // Nothing stored to continue from (WhatsApp needs an anchor
                // message): not complete, the chat's first messages may be on
                // their way (run_job takes it up again when they land).
                return Ok(added);
            };
            let anchor = HistoryAnchor {
                chat_jid: chat.to_owned(),
                msg_id: oldest.msg_id,
                from_me,
                ts_ms: ts,
            };
            let batch = remaining.map_or(self.inner.options.history_batch, |r| {
                u32::try_from(r)
                    .unwrap_or(u32::MAX)
                    .min(self.inner.options.history_batch)
            });
            if !self.wait_connected_or_stop(control).await? {
                continue;
            }
            if let Err(e) = store.set_checkpoint_state(chat, CheckpointState::Requested, None).await {
                // A marker only: what counts is the checkpoint written after the answer.
                tracing::warn!(job, chat, error = %e, "could not mark the chat's checkpoint as requested");
            }
            let Some(answer) = self.ask_phone(&anchor, batch, control).await else {
                // Paused or cancelled while waiting: honoured at the top.
                continue;
            };
            match answer {
                Ok(answer) => {
                    attempt = 0;
                    unanswered = 0;
                    added += answer.inserted;
                    self.count_answer(job, answer.inserted).await;
                    // Did the archive reach further back? Judged from the store, not
                    // the answer alone: after a timeout and a repeat, the late first
                    // answer may have stored what the repeat brings again.
                    let moved = match store.refresh_checkpoint(chat).await {
                        Ok(checkpoint) => checkpoint.oldest.is_some_and(|o| o.msg_id != anchor.msg_id),
                        Err(e) => {
                            self.pause_for_store(job, chat, &e).await;
                            continue;
                        }
                    };
                    // Complete: the phone has nothing older.
                    let next = if answer.messages == 0 || !moved {
                        CheckpointState::Complete
                    } else {
                        CheckpointState::Idle
                    };
                    if let Err(e) = store.set_checkpoint_state(chat, next, None).await {
                        self.pause_for_store(job, chat, &e).await;
                        continue;
                    }
                    if next == CheckpointState::Complete {
                        return Ok(added);
                    }
                }
                // Not the phone: its answer waits behind a batch that cannot be
                // stored (a full disk). Wait for room instead of blaming the phone.
                Err(PortError::PhoneOffline) if self.inner.storage_problem.borrow().is_some() => {
                    let mut storage = self.inner.storage_problem.subscribe();
                    tokio::select! {
                        _ = storage.wait_for(Option::is_none) => {}
                        _ = control.changed() => {}
                    }
                }
                Err(PortError::PhoneOffline) => {
                    unanswered += 1;
                    if unanswered >= self.inner.options.phone_attempts {
                        let text = "Your phone did not answer. Open WhatsApp on your phone and keep it connected \
                                    to the internet, then resume this sync.";
                        if let Err(e) = store
                            .set_checkpoint_state(chat, CheckpointState::Idle, Some(text))
                            .await
                        {
                            // The job's own pause below carries the same sentence.
                            tracing::warn!(job, chat, error = %e, "could not note on the chat's checkpoint that the phone did not answer");
                        }
                        // Paused in place: the runner waits at the top of the loop for
                        // Resume or Cancel (exiting would race with a Resume sent meanwhile).
                        self.pause_with(job, text).await;
                        unanswered = 0;
                    }
                }
                Err(e) if e.is_transient() && attempt < MAX_BACKOFF_ATTEMPTS => {
                    attempt += 1;
                    let mut delay = backoff.delay(attempt);
                    if let PortError::RateLimited {
                        retry_after: Some(after),
                    } = &e
                    {
                        delay = delay.max(*after);
                    }
                    tracing::info!(chat, attempt, ?delay, error = %e, "history request refused; backing off");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = control.changed() => {}
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    if let Err(store_error) = store
                        .set_checkpoint_state(chat, CheckpointState::Failed, Some(&text))
                        .await
                    {
                        // The job's own pause below carries the same sentence.
                        tracing::warn!(job, chat, error = %store_error, refused = %text, "could not note on the chat's checkpoint why WhatsApp refused");
                    }
                    self.pause_with(job, &format!("{text} The sync paused; resume it to try again."))
                        .await;
                    attempt = 0;
                }
            }
        }
    }

    /// Ask the phone for `batch` messages older than `anchor` and wait for its
    /// answer (one request to the phone at a time). `None`: the job was paused
    /// or cancelled meanwhile; no answer is `PhoneOffline`.
    async fn ask_phone(
        &self,
        anchor: &HistoryAnchor,
        batch: u32,
        control: &mut watch::Receiver<JobState>,
    ) -> Option<Result<Answer, PortError>> {
        let _turn = self.inner.phone.acquire().await;
        let request = match self.inner.port.request_history(anchor, batch).await {
            Ok(request) => request,
            Err(e) => return Some(Err(e)),
        };
        let rx = self.await_answer(&request);
        let waiting = tokio::time::timeout(self.inner.options.phone_timeout, rx);
        tokio::pin!(waiting);
        // Pause and Cancel act at once, even while the phone is slow to answer
        // (a late answer is still stored by the event loop).
        let answered = loop {
            tokio::select! {
                answered = &mut waiting => break answered.ok().and_then(Result::ok),
                changed = control.changed() => {
                    if changed.is_err() || *control.borrow() != JobState::Running {
                        break None;
                    }
                }
            }
        };
        if let Some(answer) = answered {
            return Some(Ok(answer));
        }
        self.forget_answer(&request);
        if *control.borrow() != JobState::Running {
            return None;
        }
        Some(Err(PortError::PhoneOffline))
    }

    /// Add an answer's new messages to the job's count and tell the window. The
    /// count is for people and the runner keeps its own (written after each
    /// chat), so the job goes on when it cannot be written; the log says so.
    async fn count_answer(&self, job: i64, inserted: u64) {
        let store = &self.inner.store;
        let counted = match store.job(job).await {
            Ok(Some(j)) => {
                let done = j.messages_done + i64::try_from(inserted).unwrap_or(0);
                store
                    .update_job(job, JobState::Running, (done, j.chats_done, j.chats_total), None)
                    .await
                    .map(|()| true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        };
        match counted {
            Ok(true) => self.publish_job_by_id(job).await,
            Ok(false) => {}
            Err(e) => tracing::warn!(job, error = %e, "could not record the sync job's progress"),
        }
    }

    /// The store could not read or write `chat`'s checkpoint: the job pauses
    /// with the store's sentence rather than going on as if it were written.
    async fn pause_for_store(&self, job: i64, chat: &str, error: &StoreError) {
        tracing::error!(job, chat, error = %error, "the sync could not read or write a checkpoint; it pauses");
        self.pause_with(job, &format!("{error} The sync paused; resume it to try again."))
            .await;
    }

    /// Pause job `job` in place with `text` saying why; the runner waits at
    /// the top of its loop for Resume or Cancel.
    async fn pause_with(&self, job: i64, text: &str) {
        let store = &self.inner.store;
        match store.job(job).await {
            Ok(Some(j)) => {
                let progress = (j.messages_done, j.chats_done, j.chats_total);
                if let Err(e) = store.update_job(job, JobState::Paused, progress, Some(text)).await {
                    tracing::error!(job, error = %e, reason = text, "could not record that the sync paused, or why");
                }
            }
            Ok(None) => tracing::warn!(job, reason = text, "the sync job to pause is no longer stored"),
            Err(e) => {
                tracing::error!(job, error = %e, reason = text, "could not read the sync job to record its pause");
            }
        }
        if let Some(control) = lock(&self.inner.jobs).get(&job) {
            control.send_replace(JobState::Paused);
        }
    }

    /// `Ok(true)` once connected; `Ok(false)` when the job was paused or
    /// resumed meanwhile (the caller re-checks from the top).
    async fn wait_connected_or_stop(&self, control: &mut watch::Receiver<JobState>) -> Result<bool, Stop> {
        tokio::select! {
            () = self.wait_connected() => Ok(true),
            _ = control.changed() => {
                // A pause is waited out at the top of the caller's next round.
                match *control.borrow() {
                    JobState::Running | JobState::Paused => Ok(false),
                    JobState::Queued => Err(Stop::Shutdown),
                    _ => Err(Stop::Cancelled),
                }
            }
        }
    }

    /// Hand an on-demand answer to the job waiting for it (or keep it until it asks).
    pub(crate) fn answer(&self, request: Option<String>, answer: Answer) {
        let Some(request) = request else { return };
        let mut answers = lock(&self.inner.answers);
        match answers.waiting.remove(&request) {
            Some(waiter) => {
                let _ = waiter.send(answer);
            }
            None => {
                answers.early.insert(request, answer);
            }
        }
    }

    /// A receiver for the answer to `request`, ready at once if it already came.
    pub(crate) fn await_answer(&self, request: &str) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        let mut answers = lock(&self.inner.answers);
        match answers.early.remove(request) {
            Some(answer) => {
                let _ = tx.send(answer);
            }
            None => {
                answers.waiting.insert(request.to_owned(), tx);
            }
        }
        rx
    }

    pub(crate) fn forget_answer(&self, request: &str) {
        lock(&self.inner.answers).waiting.remove(request);
    }
}

#[cfg(test)]
mod tests;
