//! Pending approvals: the app's answer to "ask before sending".
//!
//! A send (or mark-read) by an assistant under the `ask` policy waits here
//! until the person approves or denies it in the app, or the time runs out
//! (a no). The app lists what is waiting ([`Approvals::pending`]), shows it
//! with recipient and full content, and answers ([`Approvals::answer`]);
//! [`Approvals::changes`] tells it when to look again (dialog, tray,
//! notification). A request whose assistant gave up (the MCP call was
//! cancelled or the connection closed) disappears from the list at once and
//! can no longer be approved.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::policy::{Approval, ApprovalRequest, Approver, BoxFuture};

/// One request waiting for the person, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingApproval {
    pub id: u64,
    #[serde(flatten)]
    pub request: ApprovalRequest,
    /// When it was asked and when an unanswered request becomes a no (Unix ms).
    pub asked_at: i64,
    pub expires_at: i64,
}

/// Why an answer did not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("This request is no longer waiting: it was answered, timed out, or the assistant withdrew it.")]
    Gone,
}

/// How many requests of one assistant may wait for the person at once; more
/// are refused at once (a flood of requests is not a flood of dialogs and
/// notifications).
pub const MAX_WAITING_PER_CLIENT: usize = 3;
/// How many may wait at once from all assistants together.
pub const MAX_WAITING: usize = 10;

struct Waiting {
    shown: PendingApproval,
    answer: oneshot::Sender<Approval>,
}

/// The queue of requests waiting for the person.
pub struct Approvals {
    waiting: Mutex<(u64, BTreeMap<u64, Waiting>)>,
    changes: watch::Sender<u64>,
    can_ask: AtomicBool,
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvals")
            .field("pending", &self.pending().len())
            .finish_non_exhaustive()
    }
}

impl Default for Approvals {
    fn default() -> Self {
        Self::new()
    }
}

impl Approvals {
    pub fn new() -> Self {
        Self {
            waiting: Mutex::new((0, BTreeMap::new())),
            changes: watch::channel(0).0,
            can_ask: AtomicBool::new(true),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<u64, Waiting>)> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Whether someone can answer (the app has its window or tray). When not,
    /// requests are refused at once with a sentence instead of waiting.
    pub fn set_can_ask(&self, can: bool) {
        self.can_ask.store(can, Ordering::Relaxed);
    }

    /// What is waiting, oldest first.
    pub fn pending(&self) -> Vec<PendingApproval> {
        self.lock().1.values().map(|w| w.shown.clone()).collect()
    }

    /// Ticks whenever a request arrives or leaves.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The person's answer to request `id`.
    pub fn answer(&self, id: u64, approved: bool) -> Result<(), AnswerError> {
        let waiting = self.lock().1.remove(&id).ok_or(AnswerError::Gone)?;
        self.changed();
        let answer = if approved { Approval::Approved } else { Approval::Denied };
        // The asker may have left just now; then nothing is done either way.
        waiting.answer.send(answer).map_err(|_| AnswerError::Gone)
    }
}

/// Removes a request from the list when its wait ends for any reason
/// (answer, timeout, or the asking call dropped).
struct Leave<'a> {
    approvals: &'a Approvals,
    id: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if self.approvals.lock().1.remove(&self.id).is_some() {
            self.approvals.changed();
        }
    }
}

impl Approver for Approvals {
    fn approve(&self, request: ApprovalRequest, timeout: Duration) -> BoxFuture<'_, Approval> {
        let (tx, rx) = oneshot::channel();
        let asked_at = wa_store::now_ms();
        let id = {
            let mut guard = self.lock();
            let same_client = guard
                .1
                .values()
                .filter(|w| w.shown.request.client == request.client)
                .count();
            if same_client >= MAX_WAITING_PER_CLIENT || guard.1.len() >= MAX_WAITING {
                return Box::pin(async { Approval::Busy });
            }
            guard.0 += 1;
            let id = guard.0;
            guard.1.insert(
                id,
                Waiting {
                    shown: PendingApproval {
                        id,
                        request,
                        asked_at,
                        expires_at: asked_at + timeout.as_millis() as i64,
                    },
                    answer: tx,
                },
            );
            id
        };
        self.changed();
        // Made before the future, so even a future that is never polled leaves the list when dropped.
        let leave = Leave { approvals: self, id };
        Box::pin(async move {
            let _leave = leave;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(_)) | Err(_) => Approval::NoAnswer,
            }
        })
    }

    fn can_ask(&self) -> bool {
        self.can_ask.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> ApprovalRequest {
        ApprovalRequest {
            client: "claude-ai".into(),
            tool: "send_message".into(),
            recipient: "447700900123@s.whatsapp.net".into(),
            recipient_name: None,
            content: text.into(),
            context: None,
            preview: None,
            local: false,
        }
    }

    #[tokio::test]
    async fn the_person_sees_each_request_and_their_answer_is_the_result() {
        let approvals = Approvals::new();
        let mut changes = approvals.changes();
        let (a, b) = tokio::join!(approvals.approve(request("first"), Duration::from_secs(5)), async {
            changes.changed().await.expect("tick");
            let listed = approvals.pending();
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].request.content, "first", "the full content is shown");
            assert!(listed[0].expires_at - listed[0].asked_at == 5_000);
            approvals.answer(listed[0].id, true).expect("answered");
            // A second answer to the same request does nothing.
            approvals.answer(listed[0].id, false)
        });
        assert_eq!(a, Approval::Approved);
        assert_eq!(b, Err(AnswerError::Gone));
        assert!(approvals.pending().is_empty());
    }

    #[tokio::test]
    async fn denied_and_unanswered_requests_are_a_no_and_leave_the_list() {
        let approvals = Approvals::new();
        let (denied, ()) = tokio::join!(approvals.approve(request("x"), Duration::from_secs(5)), async {
            tokio::task::yield_now().await;
            let id = approvals.pending()[0].id;
            approvals.answer(id, false).expect("answered");
        });
        assert_eq!(denied, Approval::Denied);
        let timed_out = approvals.approve(request("y"), Duration::from_millis(50)).await;
        assert_eq!(timed_out, Approval::NoAnswer);
        assert!(approvals.pending().is_empty(), "an expired request is gone");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_requests_shows_a_few_and_refuses_the_rest_at_once() {
        let approvals = std::sync::Arc::new(Approvals::new());
        let mut changes = approvals.changes();
        let asks: Vec<_> = (0..1000)
            .map(|i| {
                let approvals = approvals.clone();
                tokio::spawn(async move {
                    approvals
                        .approve(request(&format!("flood {i}")), Duration::from_secs(30))
                        .await
                })
            })
            .collect();
        // Another assistant still gets its request in.
        let other = {
            let approvals = approvals.clone();
            let mut other = request("from another assistant");
            other.client = "cursor".into();
            tokio::spawn(async move { approvals.approve(other, Duration::from_secs(30)).await })
        };
        let mut busy = 0;
        let mut waiting = Vec::new();
        for ask in asks {
            if ask.is_finished() {
                assert_eq!(ask.await.expect("task"), Approval::Busy);
                busy += 1;
            } else {
                waiting.push(ask);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pending = approvals.pending();
        assert_eq!(
            pending.iter().filter(|p| p.request.client == "claude-ai").count(),
            MAX_WAITING_PER_CLIENT
        );
        assert!(pending.iter().any(|p| p.request.client == "cursor"), "{pending:?}");
        // The app was told of the few shown, not of the thousand.
        assert!(*changes.borrow_and_update() <= 1 + MAX_WAITING_PER_CLIENT as u64);
        for p in &pending {
            approvals.answer(p.id, true).expect("answered");
        }
        let mut approved = 0;
        for ask in waiting {
            match ask.await.expect("task") {
                Approval::Approved => approved += 1,
                Approval::Busy => busy += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(other.await.expect("task"), Approval::Approved);
        assert_eq!(
            (approved, busy),
            (MAX_WAITING_PER_CLIENT, 1000 - MAX_WAITING_PER_CLIENT)
        );
        assert!(approvals.pending().is_empty());
    }

    #[tokio::test]
    async fn a_withdrawn_request_disappears_and_cannot_be_approved() {
        let approvals = Approvals::new();
        let waiting = approvals.approve(request("z"), Duration::from_secs(30));
        // The asking call is dropped (its MCP request was cancelled) before anyone answers.
        let cancelled = tokio::time::timeout(Duration::from_millis(20), waiting).await;
        assert!(cancelled.is_err());
        assert!(approvals.pending().is_empty());
        assert_eq!(approvals.answer(1, true), Err(AnswerError::Gone));
        // Even one that was never polled.
        drop(approvals.approve(request("w"), Duration::from_secs(30)));
        assert!(approvals.pending().is_empty());
    }
}
