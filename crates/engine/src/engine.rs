//! The engine: one WhatsApp account, one store, one event loop.
//!
//! [`Engine::start`] takes any [`WhatsAppPort`] (the real client or the
//! simulated account) and the store, starts the event loop (`connection`) and
//! resumes the sync jobs a previous run left open. Its methods are what the app
//! and the MCP layer call, each in the module of what it does: linking
//! (`pairing`), reconnecting (`connection`), sync jobs (`jobs`), media
//! (`media`), sending (`send`) and read receipts (`read`). Watch
//! [`Engine::state`] and [`Engine::progress`], or subscribe to [`Engine::events`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Semaphore, broadcast, watch};
use wa_store::{Store, SyncJob};

use crate::clock::now_ms;
use crate::port::{DynPort, WhatsAppPort};
use crate::state::{Connection, EngineState};
use crate::sync::Answers;
use crate::sync::{ProgressTracker, SyncProgress, Throttle};

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
    pub answers: Mutex<Answers>,
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
                answers: Mutex::new(Answers::default()),
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
        self.with_storage_problem(state, state.describe_now())
    }

    /// [`Engine::describe`] without the time left (the window words its countdowns itself).
    pub fn summary(&self, state: &EngineState) -> (String, bool) {
        self.with_storage_problem(state, state.summary())
    }

    fn with_storage_problem(&self, state: &EngineState, words: String) -> (String, bool) {
        match self.storage_problem() {
            Some(problem) => (format!("{problem} {words}"), true),
            None => (words, state.needs_attention()),
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
}
