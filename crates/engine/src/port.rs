//! The narrow seam between the engine and a WhatsApp account.
//!
//! Everything above it (state machine, ingestion, sync jobs, checkpoints,
//! media, sends, the store) is the code that ships. Below it sit either the
//! real `whatsapp-rust` client (`real`) or the simulated account (`sim`), which
//! emits the client crate's own `Event` values and takes the client crate's own
//! message and download types. Kept small on purpose: what is not here cannot
//! differ between them.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use whatsapp_rust::async_channel::Receiver;
use whatsapp_rust::download::{DownloadParams, MediaType};
use whatsapp_rust::features::GroupMetadata;
use whatsapp_rust::wacore::types::events::Event;
use whatsapp_rust::waproto::whatsapp as wa;

/// Why the account side could not do what the engine asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("Not connected to WhatsApp.")]
    NotConnected,
    #[error("WhatsApp could not be reached: {0}")]
    Unreachable(String),
    /// WhatsApp asked us to slow down (HTTP 429 or a rate-limit error).
    #[error("WhatsApp asked to slow down.")]
    RateLimited { retry_after: Option<Duration> },
    /// A server error such as 500 or 503: worth retrying later.
    #[error("WhatsApp's servers answered with error {code}.")]
    Server { code: u16 },
    /// The media's download link expired (WhatsApp keeps files for a few weeks).
    #[error("The file is no longer on WhatsApp's servers.")]
    MediaExpired,
    /// The request needs the primary phone, which did not answer.
    #[error("Your phone did not answer.")]
    PhoneOffline,
    /// WhatsApp refused the request for a reason it stated.
    #[error("WhatsApp refused: {0}")]
    Rejected(String),
}

impl PortError {
    /// Whether trying again later can succeed without the person doing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::NotConnected | Self::Unreachable(_) | Self::RateLimited { .. } | Self::Server { .. }
        )
    }
}

/// Where "older messages of this chat" continue from: the oldest one we have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryAnchor {
    pub chat_jid: String,
    pub msg_id: String,
    pub from_me: bool,
    pub ts_ms: i64,
}

/// A file uploaded to WhatsApp's media servers, ready to be referenced by a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub url: String,
    pub direct_path: String,
    pub media_key: Vec<u8>,
    pub file_sha256: Vec<u8>,
    pub file_enc_sha256: Vec<u8>,
    pub file_length: u64,
}

/// Asking the phone to upload an expired file again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReuploadRequest {
    pub msg_id: String,
    pub chat_jid: String,
    pub media_key: Vec<u8>,
    pub from_me: bool,
    /// The sender, in groups.
    pub participant: Option<String>,
}

pub type PortResult<T> = Result<T, PortError>;

/// A WhatsApp account as the engine sees it.
pub trait WhatsAppPort: Send + Sync + 'static {
    /// The events the account emits, in order. One receiver per engine.
    fn events(&self) -> Receiver<Arc<Event>>;
    /// Open the connection (or make sure it is being opened); pairing or login
    /// events follow on `events`.
    fn connect(&self) -> impl Future<Output = PortResult<()>> + Send;
    /// Close the connection (no events follow until `connect`).
    fn disconnect(&self) -> impl Future<Output = ()> + Send;
    /// This account's own JID (phone number form, no device), once linked.
    fn own_jid(&self) -> Option<String>;
    /// Link with a phone number instead of a QR code: the 8-character code to
    /// type on the phone (`Event::PairingCode` follows too).
    fn pair_with_phone(&self, phone: &str) -> impl Future<Output = PortResult<String>> + Send;
    /// Ask the phone for up to `count` messages older than `anchor`. The answer
    /// arrives later as an on-demand `Event::HistorySync` whose
    /// `peer_data_request_session_id` is the returned request id.
    fn request_history(&self, anchor: &HistoryAnchor, count: u32) -> impl Future<Output = PortResult<String>> + Send;
    /// Send a message; returns its id.
    fn send(&self, chat_jid: &str, message: wa::Message) -> impl Future<Output = PortResult<String>> + Send;
    /// Read receipts for messages of one sender (`None` in one-to-one chats).
    fn mark_read(
        &self,
        chat_jid: &str,
        sender_jid: Option<&str>,
        ids: &[String],
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Encrypt and upload a file.
    fn upload(&self, data: Vec<u8>, kind: MediaType) -> impl Future<Output = PortResult<Uploaded>> + Send;
    /// Download and decrypt a file (the client checks its MAC and hashes).
    fn download(&self, params: &DownloadParams) -> impl Future<Output = PortResult<Vec<u8>>> + Send;
    /// Ask the phone to upload an expired file again; returns the new direct path.
    fn reupload(&self, request: &ReuploadRequest) -> impl Future<Output = PortResult<String>> + Send;
    /// Every group and community the account is in, with members.
    fn groups(&self) -> impl Future<Output = PortResult<Vec<GroupMetadata>>> + Send;
    /// Whether this is the simulated account (the app labels it "Demo").
    fn is_simulated(&self) -> bool {
        false
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`WhatsAppPort`] with boxed futures, so the engine holds one `Arc<dyn DynPort>`
/// whichever account is behind it.
pub(crate) trait DynPort: Send + Sync + 'static {
    fn events(&self) -> Receiver<Arc<Event>>;
    fn connect(&self) -> BoxFuture<'_, PortResult<()>>;
    fn disconnect(&self) -> BoxFuture<'_, ()>;
    fn own_jid(&self) -> Option<String>;
    fn pair_with_phone<'a>(&'a self, phone: &'a str) -> BoxFuture<'a, PortResult<String>>;
    fn request_history<'a>(&'a self, anchor: &'a HistoryAnchor, count: u32) -> BoxFuture<'a, PortResult<String>>;
    fn send<'a>(&'a self, chat_jid: &'a str, message: wa::Message) -> BoxFuture<'a, PortResult<String>>;
    fn mark_read<'a>(
        &'a self,
        chat_jid: &'a str,
        sender_jid: Option<&'a str>,
        ids: &'a [String],
    ) -> BoxFuture<'a, PortResult<()>>;
    fn upload(&self, data: Vec<u8>, kind: MediaType) -> BoxFuture<'_, PortResult<Uploaded>>;
    fn download<'a>(&'a self, params: &'a DownloadParams) -> BoxFuture<'a, PortResult<Vec<u8>>>;
    fn reupload<'a>(&'a self, request: &'a ReuploadRequest) -> BoxFuture<'a, PortResult<String>>;
    fn groups(&self) -> BoxFuture<'_, PortResult<Vec<GroupMetadata>>>;
    fn is_simulated(&self) -> bool;
}

impl<P: WhatsAppPort> DynPort for P {
    fn events(&self) -> Receiver<Arc<Event>> {
        WhatsAppPort::events(self)
    }
    fn connect(&self) -> BoxFuture<'_, PortResult<()>> {
        Box::pin(WhatsAppPort::connect(self))
    }
    fn disconnect(&self) -> BoxFuture<'_, ()> {
        Box::pin(WhatsAppPort::disconnect(self))
    }
    fn own_jid(&self) -> Option<String> {
        WhatsAppPort::own_jid(self)
    }
    fn pair_with_phone<'a>(&'a self, phone: &'a str) -> BoxFuture<'a, PortResult<String>> {
        Box::pin(WhatsAppPort::pair_with_phone(self, phone))
    }
    fn request_history<'a>(&'a self, anchor: &'a HistoryAnchor, count: u32) -> BoxFuture<'a, PortResult<String>> {
        Box::pin(WhatsAppPort::request_history(self, anchor, count))
    }
    fn send<'a>(&'a self, chat_jid: &'a str, message: wa::Message) -> BoxFuture<'a, PortResult<String>> {
        Box::pin(WhatsAppPort::send(self, chat_jid, message))
    }
    fn mark_read<'a>(
        &'a self,
        chat_jid: &'a str,
        sender_jid: Option<&'a str>,
        ids: &'a [String],
    ) -> BoxFuture<'a, PortResult<()>> {
        Box::pin(WhatsAppPort::mark_read(self, chat_jid, sender_jid, ids))
    }
    fn upload(&self, data: Vec<u8>, kind: MediaType) -> BoxFuture<'_, PortResult<Uploaded>> {
        Box::pin(WhatsAppPort::upload(self, data, kind))
    }
    fn download<'a>(&'a self, params: &'a DownloadParams) -> BoxFuture<'a, PortResult<Vec<u8>>> {
        Box::pin(WhatsAppPort::download(self, params))
    }
    fn reupload<'a>(&'a self, request: &'a ReuploadRequest) -> BoxFuture<'a, PortResult<String>> {
        Box::pin(WhatsAppPort::reupload(self, request))
    }
    fn groups(&self) -> BoxFuture<'_, PortResult<Vec<GroupMetadata>>> {
        Box::pin(WhatsAppPort::groups(self))
    }
    fn is_simulated(&self) -> bool {
        WhatsAppPort::is_simulated(self)
    }
}
