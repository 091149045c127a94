//! Connection supervision: the engine's event loop.
//!
//! It connects, then takes the account's events one at a time, in order: each
//! is folded into the state machine (`state`), which says whether to reconnect
//! after a backoff; a logout, a ban or a takeover waits for the person instead.
//! What the events carry is written to the store (history chunks decoded on a
//! blocking thread first); a batch the disk cannot take is kept and tried
//! again, and later events wait behind it. On-demand answers are handed to the
//! sync job waiting for them (`on_demand`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use wa_store::{Item, StoreError};
use whatsapp_rust::wacore::types::events::Event;

use crate::clock::now_ms;
use crate::engine::{Engine, EngineEvent, lock};
use crate::error::Result;
use crate::events::{items_from_event, items_from_history};
use crate::state::{Action, EngineState};
use crate::sync::Answer;

impl Engine {
    /// Try to connect now (after a ban ended, or when the person presses Retry).
    pub async fn reconnect_now(&self) -> Result<()> {
        self.inner.port.connect().await?;
        Ok(())
    }

    pub(crate) async fn event_loop(self) {
        let events = self.inner.port.events();
        if let Err(e) = self.inner.port.connect().await {
            tracing::warn!(error = %e, "first connection attempt failed");
        }
        let mut closed = self.inner.closed.subscribe();
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => self.on_event(&event).await,
                    Err(_) => break,
                },
                () = async { let _ = closed.wait_for(|c| *c).await; } => return,
            }
        }
        tracing::info!("the account's event stream ended");
    }

    async fn on_event(&self, event: &Arc<Event>) {
        let now = now_ms();
        let action = lock(&self.inner.connection).on_event(event, now);
        if let Action::Reconnect(delay) = action {
            self.schedule_reconnect(delay);
        }
        self.publish_state();
        if matches!(&**event, Event::PairSuccess(_)) {
            // WhatsApp sends a new device the phone's history next.
            self.inner.history_expected.store(true, Ordering::Relaxed);
        }
        if matches!(&**event, Event::Connected(_) | Event::GroupUpdate(_)) {
            self.refresh_groups();
        }

        let own_jid = self.inner.port.own_jid().unwrap_or_default();
        let (items, phone_progress, request) = match &**event {
            Event::HistorySync(history) => {
                let request = history.peer_data_request_session_id().map(str::to_owned);
                let history = (**history).clone();
                let progress = history.progress();
                let decoded = tokio::task::spawn_blocking(move || items_from_history(&history, &own_jid, now)).await;
                match decoded {
                    Ok(Ok(items)) => (items, progress, request),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "skipping an unreadable history chunk");
                        self.answer(request, Answer::default());
                        return;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "history decoding stopped unexpectedly");
                        return;
                    }
                }
            }
            // Already committed by the durability hook before it was acknowledged.
            Event::Messages(batch) if batch.hook_committed => return,
            other => (items_from_event(other, &own_jid), None, None),
        };
        if items.is_empty() {
            self.answer(request, Answer::default());
            return;
        }
        let stored = match self.inner.store.apply(&items).await {
            Ok(report) => Some(report),
            Err(e) => self.store_when_possible(&items, e).await,
        };
        if let Some(report) = stored {
            let chats = items.iter().filter_map(|i| match i {
                Item::Message(m) => Some(m.chat_jid.as_str()),
                _ => None,
            });
            let messages = items.iter().filter(|i| matches!(i, Item::Message(_))).count() as u64;
            // On-demand answers are counted by their job; the tracker follows
            // the phone's own push (initial and recent history).
            if request.is_none() {
                self.record_progress(now, report.inserted, chats, phone_progress);
            }
            if report.inserted > 0 {
                let _ = self.inner.events.send(EngineEvent::Stored {
                    messages: report.inserted,
                });
            }
            self.answer(
                request,
                Answer {
                    messages,
                    inserted: report.inserted,
                },
            );
        }
    }

    /// A batch that cannot be stored because of the disk (full, or the file
    /// made read-only) or a busy database is kept and tried again, 2 s then up
    /// to 30 s apart, until it is stored or the engine stops: nothing the phone
    /// sent is dropped. Meanwhile later events wait behind it, in order, and the
    /// status says why (`storage_problem`). Other errors are logged and the
    /// batch is skipped (the next sync fetches it again).
    async fn store_when_possible(&self, items: &[Item], first: StoreError) -> Option<wa_store::BatchReport> {
        if !matches!(
            first,
            StoreError::DiskFull { .. } | StoreError::ReadOnly { .. } | StoreError::Busy
        ) {
            tracing::error!(error = %first, items = items.len(), "could not store a batch");
            return None;
        }
        tracing::error!(error = %first, items = items.len(), "could not store a batch; it is kept and tried again");
        self.inner.storage_problem.send_replace(Some(first.to_string()));
        let mut closed = self.inner.closed.subscribe();
        let mut delay = Duration::from_secs(2);
        loop {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = closed.wait_for(|c| *c) => return None,
            }
            match self.inner.store.apply(items).await {
                Ok(report) => {
                    self.inner.storage_problem.send_replace(None);
                    tracing::info!(items = items.len(), "the batch that was waiting is stored");
                    return Some(report);
                }
                Err(e) => {
                    self.inner.storage_problem.send_replace(Some(e.to_string()));
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    fn record_progress<'a>(
        &self,
        now: i64,
        inserted: u64,
        chats: impl IntoIterator<Item = &'a str>,
        phone_progress: Option<u32>,
    ) {
        let snapshot = {
            let mut tracker = lock(&self.inner.tracker);
            tracker.record(now, inserted, chats, phone_progress);
            tracker.snapshot(now)
        };
        self.inner.progress.send_replace(snapshot.clone());
        let done = snapshot.percent == Some(100);
        let allowed = lock(&self.inner.throttle).allow(now) || (done && lock(&self.inner.throttle).flush());
        if allowed {
            let _ = self.inner.events.send(EngineEvent::Progress(snapshot));
        }
    }

    fn schedule_reconnect(&self, delay: Duration) {
        let engine = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // Only if nothing else happened meanwhile (the person re-linked, a
            // logout came, another reconnect already succeeded).
            let still_down = matches!(
                *engine.inner.state.borrow(),
                EngineState::Reconnecting { .. } | EngineState::Unlinked
            );
            if still_down && let Err(e) = engine.inner.port.connect().await {
                tracing::warn!(error = %e, "reconnect failed");
            }
        });
    }

    /// Wait until connected (or the job is told to stop).
    pub(crate) async fn wait_connected(&self) {
        let mut state = self.state();
        let _ = state.wait_for(|s| matches!(s, EngineState::Connected { .. })).await;
    }
}

#[cfg(test)]
mod tests;
