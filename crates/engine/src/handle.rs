//! The engine handle: one WhatsApp account, one store, one loop.
//!
//! [`Engine::start`] takes any [`WhatsAppPort`] (the real client or the
//! simulated account) and the store, and runs the event loop: the account's
//! events are folded into the state machine (reconnecting after the backoff
//! where that is the right answer) and written to the store; history chunks are
//! decoded on a blocking thread. The handle's methods are what the app and the
//! MCP layer call: linking, sync jobs (`jobs`), media (`media`), sending and
//! read receipts (`send`, `jobs`). Watch [`Engine::state`] and [`Engine::progress`], or
//! subscribe to [`Engine::events`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Semaphore, broadcast, watch};
use wa_store::{Item, Store, StoreError, SyncJob};
use whatsapp_rust::wacore::types::events::Event;

use crate::clock::now_ms;
use crate::events::{items_from_event, items_from_history};
use crate::port::{DynPort, PortError, WhatsAppPort};
use crate::state::{Action, Connection, EngineState};
use crate::sync::on_demand::Answer;
use crate::sync::{JobCommandRefused, ProgressTracker, SyncProgress, Throttle};

/// Why the engine could not do what it was asked, in words for people.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("This needs a linked WhatsApp account. Link one in the app first.")]
    NotLinked,
    #[error("Not connected to WhatsApp right now; try again when the app shows Connected.")]
    NotConnected,
    #[error("{0}")]
    Job(#[from] JobCommandRefused),
    #[error("{what} was not found.")]
    NotFound { what: String },
    #[error("That message has no photo, video, audio or document to download.")]
    NoMedia,
    #[error("The file is {size_mb} MB, more than the {limit_mb} MB limit. Raise the limit in Settings if you need it.")]
    TooLarge { size_mb: u64, limit_mb: u64 },
    #[error(
        "The file is no longer on WhatsApp's servers and only your phone can send it again, but your phone did \
         not answer. Open WhatsApp on your phone, keep it connected to the internet, and try again."
    )]
    PhoneOffline,
    #[error("The downloaded file does not match what the message describes (it was damaged); try again.")]
    Damaged,
    #[error("{0}")]
    InvalidInput(String),
    #[error("The file {path} could not be read or written: {detail}")]
    File { path: PathBuf, detail: String },
    #[error("WhatsApp is busy; the engine tried several times. Try again in a few minutes. ({0})")]
    GaveUp(PortError),
    #[error("{0}")]
    Port(PortError),
}

impl From<PortError> for EngineError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::NotConnected => Self::NotConnected,
            PortError::PhoneOffline => Self::PhoneOffline,
            other => Self::Port(other),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Where downloaded media is saved (a `media` folder inside it).
    pub data_dir: PathBuf,
    /// Whether a session is already linked (a restart), or linking starts.
    pub linked: bool,
    /// Messages asked of the phone per "older messages" request (WhatsApp Web asks 50).
    pub history_batch: u32,
    /// How long to wait for the phone's answer before trying again.
    pub phone_timeout: Duration,
    /// Unanswered requests in a row before a job pauses with "phone offline".
    pub phone_attempts: u32,
    /// Largest media file downloaded or sent.
    pub max_media_bytes: u64,
    /// The first retry delay; later ones double (up to 5 minutes).
    pub backoff_base: Duration,
    /// Seed for the backoff's jitter (tests pass a fixed one).
    pub seed: u64,
}

impl EngineOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            linked: false,
            history_batch: 50,
            phone_timeout: Duration::from_secs(30),
            phone_attempts: 3,
            max_media_bytes: 100 * 1024 * 1024,
            backoff_base: Duration::from_secs(1),
            seed: fastrand::u64(..),
        }
    }
}

/// Something the window or an assistant may want to hear about.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    State {
        state: EngineState,
        text: String,
    },
    Progress(SyncProgress),
    Job(SyncJob),
    /// New messages were stored (live or history).
    Stored {
        messages: u64,
    },
}

pub(crate) struct Inner {
    pub port: Arc<dyn DynPort>,
    pub store: Store,
    pub options: EngineOptions,
    pub connection: Mutex<Connection>,
    pub state: watch::Sender<EngineState>,
    pub progress: watch::Sender<SyncProgress>,
    pub tracker: Mutex<ProgressTracker>,
    pub throttle: Mutex<Throttle>,
    pub events: broadcast::Sender<EngineEvent>,
    pub answers: Mutex<crate::sync::on_demand::Answers>,
    /// Control of running jobs: the state each should be in.
    pub jobs: Mutex<HashMap<i64, watch::Sender<wa_store::JobState>>>,
    /// One request to the phone at a time: it answers them in turn anyway.
    pub phone: Semaphore,
    /// Group refreshes asked for (0: none running).
    pub groups_refresh: Mutex<u32>,
    /// Set when the engine shuts down: its loop stops taking events.
    pub closed: watch::Sender<bool>,
    /// Why what the phone sent cannot be stored right now (a full disk, a
    /// read-only file), in words; `None` when all is well.
    pub storage_problem: watch::Sender<Option<String>>,
    /// This computer was linked in this run: the phone's first history is on
    /// its way even before its first chunk says how far it got.
    pub history_expected: AtomicBool,
}

/// Lock a std mutex; a panic elsewhere never leaves these maps half-written.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The engine. Cheap to clone; every clone drives the same account.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state", &*self.inner.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Start the engine on `port`, writing to `store`: it connects, and resumes
    /// the sync jobs a previous run left open.
    pub fn start<P: WhatsAppPort>(port: P, store: Store, options: EngineOptions) -> Self {
        let now = now_ms();
        let connection = Connection::new(options.linked, options.seed).with_backoff_base(options.backoff_base);
        let (state, _) = watch::channel(connection.state().clone());
        let tracker = ProgressTracker::new(now);
        let (progress, _) = watch::channel(tracker.snapshot(now));
        let (events, _) = broadcast::channel(256);
        let port: Arc<dyn DynPort> = Arc::new(port);
        let engine = Self {
            inner: Arc::new(Inner {
                port,
                store,
                options,
                connection: Mutex::new(connection),
                state,
                progress,
                tracker: Mutex::new(tracker),
                throttle: Mutex::new(Throttle::per_second(10)),
                events,
                answers: Mutex::new(crate::sync::on_demand::Answers::default()),
                jobs: Mutex::new(HashMap::new()),
                phone: Semaphore::new(1),
                groups_refresh: Mutex::new(0),
                closed: watch::channel(false).0,
                storage_problem: watch::channel(None).0,
                history_expected: AtomicBool::new(false),
            }),
        };
        let looping = engine.clone();
        tokio::spawn(async move { looping.event_loop().await });
        let resuming = engine.clone();
        tokio::spawn(async move { resuming.resume_open_jobs().await });
        engine
    }

    /// Where the link is; `changed()` wakes on every transition.
    pub fn state(&self) -> watch::Receiver<EngineState> {
        self.inner.state.subscribe()
    }

    /// How far history sync is.
    pub fn progress(&self) -> watch::Receiver<SyncProgress> {
        self.inner.progress.subscribe()
    }

    /// Why messages cannot be stored right now (disk full, read-only), in
    /// words with what to do; `None` when all is well.
    pub fn storage_problem(&self) -> Option<String> {
        self.inner.storage_problem.borrow().clone()
    }

    /// `state` in words for people, and whether they need to act. A storage
    /// problem (a full disk, a read-only archive) comes first: nothing new is
    /// saved until it is solved. What the window and assistants show.
    pub fn describe(&self, state: &EngineState) -> (String, bool) {
        match self.storage_problem() {
            Some(problem) => (format!("{problem} {}", state.describe_now()), true),
            None => (state.describe_now(), state.needs_attention()),
        }
    }

    /// State changes, progress, job updates and stored messages, as they happen.
    pub fn events(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Whether the account behind the engine is the simulated one (demo mode).
    pub fn is_demo(&self) -> bool {
        self.inner.port.is_simulated()
    }

    /// This account's JID, once linked.
    pub fn own_jid(&self) -> Option<String> {
        self.inner.port.own_jid()
    }

    /// The person asks for fresh QR codes (after they ran out, or to start over).
    pub async fn new_qr_codes(&self) -> Result<()> {
        let action = lock(&self.inner.connection).restart_linking();
        self.publish_state();
        if let Action::Reconnect(_) = action {
            self.inner.port.disconnect().await;
            self.inner.port.connect().await?;
        }
        Ok(())
    }

    /// Link with a phone number: returns the 8-character code to type on the phone.
    pub async fn pair_with_phone(&self, phone: &str) -> Result<String> {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        if !(7..=15).contains(&digits.len()) {
            return Err(EngineError::InvalidInput(
                "Type the full phone number with its country code, for example +44 7700 900123.".into(),
            ));
        }
        match self.inner.port.pair_with_phone(&digits).await {
            Ok(code) => Ok(code),
            Err(PortError::RateLimited { .. }) => Err(EngineError::InvalidInput(
                "WhatsApp gives only a few codes in a row. Wait a few minutes and ask again, or scan the QR \
                 code instead."
                    .into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Try to connect now (after a ban ended, or when the person presses Retry).
    pub async fn reconnect_now(&self) -> Result<()> {
        self.inner.port.connect().await?;
        Ok(())
    }

    /// Disconnect (the app is quitting); the store stays open for readers.
    pub async fn shutdown(&self) {
        for control in lock(&self.inner.jobs).values() {
            // Running jobs stop where they are; their state stays "running" in
            // the store, so the next start resumes them from their checkpoints.
            control.send_replace(wa_store::JobState::Queued);
        }
        self.inner.closed.send_replace(true);
        self.inner.port.disconnect().await;
    }

    pub(crate) fn backoff(&self, salt: u64) -> crate::state::Backoff {
        let mut backoff = crate::state::Backoff::new(self.inner.options.seed ^ salt);
        backoff.base = self.inner.options.backoff_base;
        backoff
    }

    pub(crate) fn publish_state(&self) {
        let state = lock(&self.inner.connection).state().clone();
        let text = state.describe_now();
        self.inner.state.send_replace(state.clone());
        let _ = self.inner.events.send(EngineEvent::State { state, text });
    }

    pub(crate) fn publish_job(&self, job: &SyncJob) {
        let _ = self.inner.events.send(EngineEvent::Job(job.clone()));
    }

    async fn event_loop(self) {
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

    /// Store every group's name, community and members (after connecting, and
    /// when a group notification says something changed). One refresh at a time;
    /// notifications arriving during one are covered by a single follow-up.
    fn refresh_groups(&self) {
        {
            let mut pending = lock(&self.inner.groups_refresh);
            *pending += 1;
            if *pending > 1 {
                return;
            }
        }
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                match engine.inner.port.groups().await {
                    Ok(groups) => {
                        let now = now_ms();
                        let items: Vec<Item> = groups
                            .iter()
                            .flat_map(|g| crate::groups::items_from_group(g, now))
                            .collect();
                        if let Err(e) = engine.inner.store.apply(&items).await {
                            tracing::warn!(error = %e, "could not store group details");
                        }
                    }
                    Err(e) => tracing::info!(error = %e, "group details not available now"),
                }
                let mut pending = lock(&engine.inner.groups_refresh);
                if *pending > 1 {
                    *pending = 1;
                } else {
                    *pending = 0;
                    return;
                }
            }
        });
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
