//! The real WhatsApp account: `whatsapp-rust`'s client behind the engine's port.
//!
//! Built once per app run: the client's session keys live in their own SQLite
//! file (the crate's `SqliteStore`) in the same user-only data directory as the
//! message store; live messages are written to the store by
//! [`StoreFirst`](crate::durability::StoreFirst) before the client acknowledges
//! them; the phone shows this computer as "WhatsApp MCP Desktop" under Linked
//! devices.
//!
//! Reconnects: the client runs its own reconnect loop (WhatsApp Web's Fibonacci
//! backoff, which also honours the server's 429 penalties and reconnects at once
//! after the post-pairing 515). So `connect` here only starts that loop when it
//! is not running (first start, after the codes ran out, after a logout) and is
//! a no-op otherwise: the engine's own scheduled reconnects never double it.
//!
//! Tested with the unmodified client against the local WhatsApp server
//! (`crates/localserver`): the engine's real-client suite,
//! `tests/it/real_client.rs` (what it covers and what not: docs/testing.md).

mod endpoints;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wa_store::Store;
use whatsapp_rust::async_channel::{Receiver, Sender, unbounded};
use whatsapp_rust::bot::Bot;
use whatsapp_rust::download::{DownloadParams, MediaType};
use whatsapp_rust::features::{GroupMetadata, MediaRetryResult, MediaReuploadError, MediaReuploadRequest};
use whatsapp_rust::http::HttpStatusError;
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::store::{SqliteStore, SqliteStoreConfig};
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::wacore::net::DisconnectReason;
use whatsapp_rust::wacore::store::DevicePropsOverride;
use whatsapp_rust::wacore::types::events::{Disconnected, Event, EventHandler};
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Client, Jid, UploadOptions};

use crate::durability::StoreFirst;
use crate::port::{HistoryAnchor, PortError, PortResult, ReuploadRequest, Uploaded, WhatsAppPort};
pub use endpoints::Endpoints;
use endpoints::Http;

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("WhatsApp's session file {path} could not be opened: {detail}")]
    Session { path: String, detail: String },
    #[error("The WhatsApp client could not start: {0}")]
    Client(String),
}

/// Forwards the client's events to the engine's channel, in order, and notes
/// a logout (the next start needs a new session).
struct Forward {
    events: Sender<Arc<Event>>,
    logged_out: Arc<AtomicBool>,
}

impl EventHandler for Forward {
    fn handle_event(&self, event: Arc<Event>) {
        if matches!(*event, Event::LoggedOut(_)) {
            self.logged_out.store(true, Ordering::SeqCst);
        }
        let _ = self.events.try_send(event);
    }
}

fn current(client: &std::sync::RwLock<Arc<Client>>) -> Arc<Client> {
    Arc::clone(&client.read().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// A client on the session file at `session_db` (created for this user alone).
async fn build_bot(
    session_db: &Path,
    store: &Store,
    endpoints: &Endpoints,
    events: &Sender<Arc<Event>>,
    logged_out: &Arc<AtomicBool>,
) -> Result<Bot, SetupError> {
    create_private(session_db).map_err(|e| SetupError::Session {
        path: session_db.display().to_string(),
        detail: e.to_string(),
    })?;
    let url = session_db.to_string_lossy().into_owned();
    let session_error = |detail: String| SetupError::Session {
        path: url.clone(),
        detail,
    };
    // The session holds the account's keys: locked with the archive's key. A
    // session file from before encryption is encrypted first.
    let key = store.key();
    let mut config = SqliteStoreConfig::default();
    if let Some(value) = key.pragma_value() {
        if wa_store::cipher::is_plain_sqlite(session_db) {
            wa_store::cipher::encrypt_in_place(session_db, key)
                .await
                .map_err(|e| session_error(e.to_string()))?;
        }
        config = config.with_connection_init(move |conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute(&format!("PRAGMA key = {};", value.as_str()))?;
            // A wrong key shows here, not at some later query.
            conn.batch_execute("SELECT count(*) FROM sqlite_master;")?;
            Ok(())
        });
    }
    let backend = SqliteStore::with_config(&url, config)
        .await
        .map_err(|e| session_error(e.to_string()))?;
    let transport = match &endpoints.chat_url {
        Some(url) => TokioWebSocketTransportFactory::new().with_url(url.clone()),
        None => TokioWebSocketTransportFactory::new(),
    };
    let http = Http::new(endpoints);
    Bot::builder()
        .with_backend(backend)
        .with_transport_factory(transport)
        .with_http_client(http)
        .with_event_handler(Forward {
            events: events.clone(),
            logged_out: Arc::clone(logged_out),
        })
        .with_inbound_durability_hook(StoreFirst::new(store.clone()))
        .with_device_props(
            DevicePropsOverride::new()
                .with_os(device_name())
                .with_platform_type(wa::device_props::PlatformType::DESKTOP),
        )
        .build()
        .await
        .map_err(|e| SetupError::Client(e.to_string()))
}

/// Delete a session file and SQLite's companions of it.
fn remove_session(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The name the phone shows under Linked devices.
pub fn device_name() -> String {
    let os = match std::env::consts::OS {
        "macos" => "macOS",
        "windows" => "Windows",
        "linux" => "Linux",
        other => other,
    };
    format!("WhatsApp MCP Desktop ({os})")
}

/// The real account.
///
/// A `whatsapp-rust` client cannot run again once its run loop has ended (after
/// a logout, or when the QR codes ran out and it disconnected itself), so each
/// start after that builds a new one on the same session file. After a logout
/// the session file is deleted first: the crate keeps the old device's keys
/// otherwise, and WhatsApp would refuse them. The message store is untouched.
pub struct RealAccount {
    session_db: PathBuf,
    store: Store,
    endpoints: Endpoints,
    client: Arc<std::sync::RwLock<Arc<Client>>>,
    bot: std::sync::Mutex<Option<Bot>>,
    running: Arc<AtomicBool>,
    logged_out: Arc<AtomicBool>,
    tx: Sender<Arc<Event>>,
    rx: Receiver<Arc<Event>>,
}

impl std::fmt::Debug for RealAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealAccount")
            .field("running", &self.running.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RealAccount {
    /// Set up the client with its session file at `session_db`, writing live
    /// messages to `store` before they are acknowledged. Does not connect.
    pub async fn open(session_db: &Path, store: Store) -> Result<Self, SetupError> {
        Self::open_at(session_db, store, Endpoints::default()).await
    }

    /// [`open`](Self::open), connecting to `endpoints`.
    pub async fn open_at(session_db: &Path, store: Store, endpoints: Endpoints) -> Result<Self, SetupError> {
        let (tx, rx) = unbounded();
        let logged_out = Arc::new(AtomicBool::new(false));
        let bot = build_bot(session_db, &store, &endpoints, &tx, &logged_out).await?;
        Ok(Self {
            session_db: session_db.to_path_buf(),
            store,
            endpoints,
            client: Arc::new(std::sync::RwLock::new(bot.client())),
            bot: std::sync::Mutex::new(Some(bot)),
            running: Arc::new(AtomicBool::new(false)),
            logged_out,
            tx,
            rx,
        })
    }

    /// The current client.
    fn client(&self) -> Arc<Client> {
        current(&self.client)
    }

    /// Whether the session file holds a linked device (a restart, not a first run).
    pub fn is_linked(&self) -> bool {
        self.client().pn().is_some()
    }

    /// The client retries failed connections silently: while it stays
    /// disconnected, find out why and report it as a disconnect with a diagnosis.
    fn watch_connection(&self) {
        // The host the chat socket goes to (WhatsApp's, unless pointed elsewhere).
        let (host, port) = self
            .endpoints
            .chat_url
            .as_deref()
            .and_then(|url| url.split("://").nth(1))
            .and_then(|rest| rest.split('/').next())
            .and_then(|authority| authority.rsplit_once(':'))
            .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
            .unwrap_or_else(|| (crate::net::WHATSAPP_HOST.to_owned(), 443));
        let client = Arc::clone(&self.client);
        let running = Arc::clone(&self.running);
        let events = self.tx.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(15);
            loop {
                tokio::time::sleep(wait).await;
                if !running.load(Ordering::SeqCst) {
                    return;
                }
                if !current(&client).is_connected() {
                    let found = crate::net::diagnose(&host, port).await;
                    tracing::warn!(diagnosis = %found, "WhatsApp is unreachable");
                    let event = Event::Disconnected(
                        Disconnected::builder()
                            .reason(DisconnectReason::ReadError(format!(
                                "{}{found}",
                                crate::net::DIAGNOSIS_PREFIX
                            )))
                            .build(),
                    );
                    let _ = events.try_send(Arc::new(event));
                }
                wait = (wait * 2).min(Duration::from_mins(2));
            }
        });
    }

    fn connected(&self) -> PortResult<Arc<Client>> {
        let client = self.client();
        if client.is_connected() {
            Ok(client)
        } else {
            Err(PortError::NotConnected)
        }
    }
}

/// Create the session file for this user alone before SQLite opens it (SQLite
/// gives its journal files the same permissions).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

fn jid(text: &str) -> PortResult<Jid> {
    text.parse()
        .map_err(|_| PortError::Rejected(format!("\"{text}\" is not a WhatsApp address")))
}

/// An HTTP-ish failure in words the engine acts on.
fn classify(error: &whatsapp_rust::anyhow::Error) -> PortError {
    let status = error
        .chain()
        .find_map(|c| c.downcast_ref::<HttpStatusError>())
        .map(|s| s.status);
    match status {
        Some(404 | 410) => PortError::MediaExpired,
        Some(429) => PortError::RateLimited { retry_after: None },
        Some(code) if code >= 500 => PortError::Server { code },
        _ => PortError::Unreachable(format!("{error:#}")),
    }
}

impl WhatsAppPort for RealAccount {
    fn events(&self) -> Receiver<Arc<Event>> {
        self.rx.clone()
    }

    async fn connect(&self) -> PortResult<()> {
        if self.running.swap(true, Ordering::SeqCst) {
            // The client's own loop is connecting or connected.
            return Ok(());
        }
        let first = self
            .bot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let bot = if let Some(bot) = first {
            bot
        } else {
            // The last client's run loop ended: start a new one, on a new
            // session after a logout.
            if self.logged_out.swap(false, Ordering::SeqCst) {
                // Let the old client finish writing before its file goes.
                self.client().disconnect().await;
                remove_session(&self.session_db).map_err(|e| {
                    self.running.store(false, Ordering::SeqCst);
                    PortError::Rejected(format!(
                        "The old WhatsApp session file {} could not be removed: {e}",
                        self.session_db.display()
                    ))
                })?;
            }
            match build_bot(
                &self.session_db,
                &self.store,
                &self.endpoints,
                &self.tx,
                &self.logged_out,
            )
            .await
            {
                Ok(bot) => bot,
                Err(e) => {
                    self.running.store(false, Ordering::SeqCst);
                    return Err(PortError::Rejected(e.to_string()));
                }
            }
        };
        *self.client.write().unwrap_or_else(std::sync::PoisonError::into_inner) = bot.client();
        let running = Arc::clone(&self.running);
        self.watch_connection();
        let handle = bot.spawn();
        tokio::spawn(async move {
            // The handle is the run loop: it ends after a logout, or when the
            // QR codes ran out. Dropping it would abort the client.
            handle.await;
            running.store(false, Ordering::SeqCst);
        });
        Ok(())
    }

    async fn disconnect(&self) {
        self.client().disconnect().await;
        self.running.store(false, Ordering::SeqCst);
    }

    fn own_jid(&self) -> Option<String> {
        self.client().pn().map(|j| j.to_non_ad_string())
    }

    async fn pair_with_phone(&self, phone: &str) -> PortResult<String> {
        let options = PairCodeOptions {
            phone_number: phone.to_owned(),
            ..PairCodeOptions::default()
        };
        self.client().pair_with_code(options).await.map_err(|e| {
            PortError::Rejected(format!(
                "WhatsApp did not give a code ({e}). Check the number; after several tries WhatsApp makes you \
                 wait a few minutes."
            ))
        })
    }

    async fn request_history(&self, anchor: &HistoryAnchor, count: u32) -> PortResult<String> {
        let client = self.connected()?;
        let chat = jid(&anchor.chat_jid)?;
        client
            .fetch_message_history(
                &chat,
                &anchor.msg_id,
                anchor.from_me,
                anchor.ts_ms,
                i32::try_from(count).unwrap_or(50),
            )
            .await
            .map_err(|e| classify(&e))
    }

    async fn send(&self, chat_jid: &str, message: wa::Message) -> PortResult<String> {
        let client = self.connected()?;
        let to = jid(chat_jid)?;
        client
            .send_message(to, message)
            .await
            .map(|r| r.message_id)
            .map_err(|e| PortError::Rejected(e.to_string()))
    }

    async fn mark_read(&self, chat_jid: &str, sender_jid: Option<&str>, ids: &[String]) -> PortResult<()> {
        let client = self.connected()?;
        let chat = jid(chat_jid)?;
        let sender = sender_jid.map(jid).transpose()?;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        client
            .mark_as_read(&chat, sender.as_ref(), &ids)
            .await
            .map_err(|e| classify(&e))
    }

    async fn upload(&self, data: Vec<u8>, kind: MediaType) -> PortResult<Uploaded> {
        let client = self.connected()?;
        let up = client
            .upload(data, kind, UploadOptions::default())
            .await
            .map_err(|e| classify(&e))?;
        Ok(Uploaded {
            url: up.url,
            direct_path: up.direct_path,
            media_key: up.media_key.to_vec(),
            file_sha256: up.file_sha256.to_vec(),
            file_enc_sha256: up.file_enc_sha256.to_vec(),
            file_length: up.file_length,
        })
    }

    async fn download(&self, params: &DownloadParams) -> PortResult<Vec<u8>> {
        let client = self.connected()?;
        client.download_from_params(params).await.map_err(|e| classify(&e))
    }

    async fn reupload(&self, request: &ReuploadRequest) -> PortResult<String> {
        let client = self.connected()?;
        let chat = jid(&request.chat_jid)?;
        let participant = request.participant.as_deref().map(jid).transpose()?;
        let asked = MediaReuploadRequest {
            msg_id: &request.msg_id,
            chat_jid: &chat,
            media_key: &request.media_key,
            is_from_me: request.from_me,
            participant: participant.as_ref(),
        };
        match client.media_reupload().request(&asked).await {
            Ok(MediaRetryResult::Success { direct_path }) => Ok(direct_path),
            Ok(MediaRetryResult::NotFound) => Err(PortError::Rejected("the phone no longer has this file".into())),
            Ok(other) => Err(PortError::Rejected(format!(
                "the phone could not send the file again ({other:?})"
            ))),
            Err(MediaReuploadError::Timeout) => Err(PortError::PhoneOffline),
            Err(MediaReuploadError::NotLoggedIn) => Err(PortError::NotConnected),
            Err(e) => Err(PortError::Unreachable(e.to_string())),
        }
    }

    async fn groups(&self) -> PortResult<Vec<GroupMetadata>> {
        let client = self.connected()?;
        let groups = client
            .groups()
            .get_participating()
            .await
            .map_err(|e| PortError::Unreachable(e.to_string()))?;
        Ok(groups.into_values().collect())
    }
}
