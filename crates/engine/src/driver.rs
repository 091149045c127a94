//! The engine's loop: the account's events, folded into the state machine and
//! written to the store, with progress for the window and the assistant.
//!
//! History-sync blobs are inflated and decoded on a blocking thread; everything
//! else is mapped inline. A batch the store cannot take is logged and skipped:
//! WhatsApp redelivers what was never acknowledged (live messages are stored by
//! the client's durability hook, `durability::StoreFirst`, before any ack).

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wa_store::{Item, Store};
use whatsapp_rust::wacore::types::events::Event;

use crate::events::{items_from_event, items_from_history};
use crate::port::WhatsAppPort;
use crate::state::{Action, Connection, EngineState};
use crate::sync::{ProgressTracker, SyncProgress};

/// What the rest of the app watches.
#[derive(Debug, Clone)]
pub struct Watches {
    pub state: watch::Receiver<EngineState>,
    pub progress: watch::Receiver<SyncProgress>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Start the engine on `port`, writing to `store`. It runs until the account's
/// event stream ends.
pub fn start<P: WhatsAppPort>(port: Arc<P>, store: Store, linked: bool) -> (Watches, JoinHandle<()>) {
    let connection = Connection::new(linked, now_ms().unsigned_abs());
    let (state_tx, state) = watch::channel(connection.state().clone());
    let tracker = ProgressTracker::new(now_ms());
    let (progress_tx, progress) = watch::channel(tracker.snapshot(now_ms()));
    let task = tokio::spawn(run(port, store, connection, tracker, state_tx, progress_tx));
    (Watches { state, progress }, task)
}

async fn run<P: WhatsAppPort>(
    port: Arc<P>,
    store: Store,
    mut connection: Connection,
    mut tracker: ProgressTracker,
    state_tx: watch::Sender<EngineState>,
    progress_tx: watch::Sender<SyncProgress>,
) {
    let events = port.events();
    if let Err(e) = port.connect().await {
        tracing::warn!(error = %e, "first connection attempt failed");
    }
    while let Ok(event) = events.recv().await {
        let now = now_ms();
        if let Action::Reconnect(delay) = connection.on_event(&event, now) {
            let port = Arc::clone(&port);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Err(e) = port.connect().await {
                    tracing::warn!(error = %e, "reconnect failed");
                }
            });
        }
        state_tx.send_replace(connection.state().clone());

        let own_jid = port.own_jid().unwrap_or_default();
        let (items, phone_progress) = match &*event {
            Event::HistorySync(history) => {
                let history = (**history).clone();
                let progress = history.progress();
                let decoded = tokio::task::spawn_blocking(move || items_from_history(&history, &own_jid, now)).await;
                match decoded {
                    Ok(Ok(items)) => (items, progress),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "skipping an unreadable history chunk");
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "history decoding stopped unexpectedly");
                        continue;
                    }
                }
            }
            // Already committed by the durability hook before it was acknowledged.
            Event::Messages(batch) if batch.hook_committed => continue,
            other => (items_from_event(other, &own_jid), None),
        };
        if items.is_empty() {
            continue;
        }
        match store.apply(&items).await {
            Ok(report) => {
                let chats = items.iter().filter_map(|i| match i {
                    Item::Message(m) => Some(m.chat_jid.as_str()),
                    _ => None,
                });
                tracker.record(now, report.inserted, chats, phone_progress);
                progress_tx.send_replace(tracker.snapshot(now));
            }
            Err(e) => tracing::error!(error = %e, items = items.len(), "could not store a batch"),
        }
    }
}

#[cfg(test)]
mod tests;
