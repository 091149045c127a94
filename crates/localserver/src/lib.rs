//! A local WhatsApp: the chat server and the account's primary phone, on
//! 127.0.0.1, for tests of the real `whatsapp-rust` client.
//!
//! The client connects over a WebSocket exactly as it does to
//! `web.whatsapp.com` (its own transport, pointed at our URL), runs the Noise
//! handshake against our static key, and exchanges the same binary stanzas.
//! The one concession: our certificate chain is not signed by WhatsApp's root,
//! so the client must be built with `danger-skip-cert-chain-verify` (enabled
//! by this crate, which only tests depend on).
//!
//! What it plays (issue 8, see docs/testing.md): linking by QR code (rotating
//! refs, the phone "scanning" a code and signing the device identity with its
//! account key) or by phone-number code, the post-pairing 515 and login, IK
//! resume, the IQs a fresh login sends, faults at chosen points (refused
//! logins: logged out, banned, outdated, 5xx; stream errors: replaced, device
//! removed; dropped connections), and people with real Signal sessions who
//! message the device and decrypt what it sends (direct chats).

mod conn;
mod http;
mod iq;
mod keys;
mod messages;
mod noise;
mod pair_code;
pub mod phone;
mod signal;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use whatsapp_rust::wacore_binary::Node;

pub use messages::{Received, text_of};
pub use phone::{Account, LinkedDevice};
pub use whatsapp_rust::waproto::whatsapp as wa;

/// Why the local server or its phone could not do something.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("the phone could not read the QR code: {0}")]
    BadCode(String),
    #[error("no connection is showing that QR code (expired, or already used)")]
    UnknownRef,
    #[error("the account already has the most linked devices allowed")]
    DeviceLimit,
    #[error("no device connection is open")]
    NotConnected,
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// How the server answers a login (the `<failure>` it sends instead of `<success>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// 401: the device was removed (logged out on the phone).
    LoggedOut,
    /// 402: temporarily banned, for this many seconds.
    TempBanned { code: u16, seconds: u64 },
    /// 405: this client version is no longer accepted.
    ClientOutdated,
    /// 5xx: WhatsApp's servers are busy.
    ServerError(u16),
}

/// A fault to apply to the next connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Refuse the next logins (count) with this answer.
    RefuseLogin(LoginRefusal, u32),
    /// Close the next connection (count) right after the handshake, before any stanza.
    DropAfterHandshake(u32),
    /// Close the next connection after this many stanzas from the client
    /// (mid-login: pre-keys, passive, props...).
    DropAfterStanzas { stanzas: u32, times: u32 },
}

/// Something the server saw, for tests to wait on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A handshake completed (`ik`: the client resumed with our cached key).
    Handshake { ik: bool, registered: bool },
    /// A device logged in (`<success>` sent).
    LoggedIn { device: u16 },
    /// `pair-device` with these refs went to a new client.
    PairDevice { refs: usize },
    /// A device was linked and confirmed its identity.
    Linked { device: u16 },
    /// An IQ the server has no answer for (namespace and first child).
    UnhandledIq { xmlns: String, child: String },
    /// A connection closed.
    Closed { device: Option<u16> },
    /// The linked device sent a message (acknowledged, and delivered to the
    /// people we play: see [`LocalServer::received`]).
    MessageFromDevice { id: String, to: String },
    /// A phone uploaded the media of message `id` again, after the device
    /// found it expired.
    MediaReuploaded { id: String },
    /// The phone answered a request for older messages of `chat` with `messages`.
    OnDemandHistory { chat: String, messages: usize },
    /// A message from the device could not be handled (for example, not decrypted).
    MessageNotHandled { error: String },
    /// A device could not decrypt message `id` and asked for it again
    /// (a retry receipt); it was sent again over a new session.
    Resent { id: String },
}

/// A file on the media host, and the HTTP status that replaces it when set.
type HostedFile = (Vec<u8>, Option<u16>);

pub(crate) struct Shared {
    identity: noise::ServerIdentity,
    state: Mutex<State>,
    /// The people we play (the account's phone and its contacts), by phone number.
    people: tokio::sync::Mutex<HashMap<String, signal::Person>>,
    received: Mutex<Vec<Received>>,
    /// The media host's files by direct path, with an HTTP status that
    /// replaces them (404/410: expired) when set.
    media: Mutex<HashMap<String, HostedFile>>,
    /// Media people sent, by message id: the key and the file's direct path
    /// (a re-upload after the file expired moves it to a new path).
    sent_media: Mutex<HashMap<String, ([u8; 32], String)>>,
    /// Every pairwise message a person sent the devices, by id: sent again,
    /// over a new session, when a device answers with a retry receipt.
    delivered: Mutex<HashMap<String, (String, wa::Message)>>,
    /// What the phone holds of each chat, oldest first, for on-demand
    /// history requests ("load older messages").
    on_demand: Mutex<HashMap<String, Vec<wa::WebMessageInfo>>>,
    seen: watch::Sender<Vec<Seen>>,
}

pub(crate) struct State {
    account: Account,
    conns: HashMap<u64, ConnInfo>,
    next_conn: u64,
    faults: Vec<Fault>,
    /// Groups: subject and members (phone numbers), the account included.
    groups: HashMap<String, (String, Vec<String>)>,
    /// Stanzas for devices that were not connected, delivered at their next login.
    offline: Vec<(u16, Node)>,
    /// Pre-key bundles uploaded by linked devices.
    bundles: HashMap<u16, keys::Bundle>,
    qr_refs: usize,
    /// The latest request to link with a phone-number code.
    pair_code: Option<pair_code::Request>,
    /// Refs a pairing connection shows, per connection.
    /// with the time each stops being valid (the first 60 s after it was
    /// sent, each next one 20 s after that, as the client shows them).
    refs: HashMap<u64, Vec<(String, std::time::Instant)>>,
    next_ref: u64,
}

pub(crate) struct ConnInfo {
    out: mpsc::UnboundedSender<Outbound>,
    device: Option<u16>,
    /// Set while linking: the Noise and identity keys the client registered.
    registering: Option<phone::ScannedCode>,
}

pub(crate) enum Outbound {
    Node(Node),
    /// Close the socket (after what is queued).
    Close,
}

impl State {
    /// A number not handed out before (refs, message ids, media paths).
    pub(crate) fn fresh(&mut self) -> u64 {
        self.next_ref += 1;
        self.next_ref
    }
}

impl Shared {
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn media_put(&self, direct_path: &str, bytes: Vec<u8>) {
        self.media
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(direct_path.to_owned(), (bytes, None));
    }

    pub(crate) fn media_get(&self, direct_path: &str) -> Result<Vec<u8>, u16> {
        match self
            .media
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(direct_path)
        {
            Some((_, Some(status))) => Err(*status),
            Some((bytes, None)) => Ok(bytes.clone()),
            None => Err(404),
        }
    }

    /// Send to a logged-in device now, or keep it for its next login.
    pub(crate) fn send_to_device(&self, device: u16, node: Node) {
        let mut state = self.state();
        match state
            .conns
            .values()
            .find(|c| c.device == Some(device) && c.registering.is_none())
        {
            Some(conn) => {
                let _ = conn.out.send(Outbound::Node(node));
            }
            None => state.offline.push((device, node)),
        }
    }

    /// A number not handed out before (refs, message ids, media paths).
    pub(crate) fn fresh(&self) -> u64 {
        self.state().fresh()
    }

    pub(crate) fn saw(&self, seen: Seen) {
        tracing::debug!(?seen, "local server");
        self.seen.send_modify(|list| list.push(seen));
    }
}

/// Take each connection on `listener` to `handle` in a task of its own.
pub(crate) async fn accept_each<F, Fut>(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    what: &'static str,
    handle: F,
) where
    F: Fn(tokio::net::TcpStream, Arc<Shared>) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let task = handle(stream, Arc::clone(&shared));
        tokio::spawn(async move {
            if let Err(e) = task.await {
                tracing::debug!(error = %e, "local server: {what}");
            }
        });
    }
}

/// The running server. Dropping it stops it.
pub struct LocalServer {
    shared: Arc<Shared>,
    chat: SocketAddr,
    http: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalServer")
            .field("chat", &self.chat)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for conn in self.shared.state().conns.values() {
            let _ = conn.out.send(Outbound::Close);
        }
    }
}

impl LocalServer {
    /// Start on two free ports of 127.0.0.1 (chat socket and HTTPS stand-in),
    /// for the account `phone` (digits only).
    pub async fn start(phone: &str) -> Result<Self, Error> {
        let chat_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let chat = chat_listener.local_addr()?;
        let http = http_listener.local_addr()?;
        let lid = format!("9{}", &phone[phone.len().saturating_sub(11)..]);
        let account = Account::new(phone, &lid, "Local Test Phone");
        let own_phone = signal::Person::new(&account.jid(0), &account.push_name, &account.keys)?;
        let shared = Arc::new(Shared {
            identity: noise::ServerIdentity::generate(),
            people: tokio::sync::Mutex::new(HashMap::from([(phone.to_owned(), own_phone)])),
            received: Mutex::new(Vec::new()),
            media: Mutex::new(HashMap::new()),
            on_demand: Mutex::new(HashMap::new()),
            delivered: Mutex::new(HashMap::new()),
            sent_media: Mutex::new(HashMap::new()),
            state: Mutex::new(State {
                account,
                offline: Vec::new(),
                groups: HashMap::new(),
                conns: HashMap::new(),
                next_conn: 1,
                faults: Vec::new(),
                bundles: HashMap::new(),
                pair_code: None,
                qr_refs: 6,
                refs: HashMap::new(),
                next_ref: 1,
            }),
            seen: watch::channel(Vec::new()).0,
        });
        let tasks = vec![
            tokio::spawn(conn::accept_loop(chat_listener, Arc::clone(&shared))),
            tokio::spawn(http::serve(http_listener, Arc::clone(&shared))),
        ];
        Ok(Self {
            shared,
            chat,
            http,
            tasks,
        })
    }

    /// The chat socket's URL, for the client's transport.
    pub fn chat_url(&self) -> String {
        format!("ws://{}/ws/chat", self.chat)
    }

    /// Where HTTPS requests of the client go instead (media, version check).
    pub fn http_base(&self) -> String {
        format!("http://{}", self.http)
    }

    /// The account's phone number JID (device 0).
    pub fn phone_jid(&self) -> String {
        self.shared.state().account.jid(0)
    }

    /// Key material this session puts in the client's hands, for tests that
    /// look for leaks: the app-state key, the phone's identity key, the server's
    /// Noise key.
    pub fn known_keys(&self) -> Vec<Vec<u8>> {
        let state = self.shared.state();
        vec![
            state.account.app_state_key.clone(),
            state.account.keys.public_key.public_key_bytes().to_vec(),
            self.shared.identity.keys.public_key.public_key_bytes().to_vec(),
        ]
    }

    /// Linked devices, in id order.
    pub fn devices(&self) -> Vec<LinkedDevice> {
        self.shared.state().account.devices.values().cloned().collect()
    }

    /// How many QR refs a new client gets (WhatsApp: 6; the first lasts 60 s, the others 20 s).
    pub fn set_qr_refs(&self, count: usize) {
        self.shared.state().qr_refs = count;
    }

    /// How many companion devices the account may link (WhatsApp: 4).
    pub fn set_max_devices(&self, max: usize) {
        self.shared.state().account.max_devices = max;
    }

    /// Apply a fault to the next connections.
    pub fn inject(&self, fault: Fault) {
        self.shared.state().faults.push(fault);
    }

    /// The phone scans a QR code shown by the client: it links the device and
    /// the server sends `pair-success` on the connection showing that code.
    pub fn scan_qr(&self, code: &str) -> Result<u16, Error> {
        conn::scan(&self.shared, code)
    }

    /// The person types the code the client showed into the phone ("Link with
    /// phone number instead"). The link completes when the client answers.
    pub fn enter_code(&self, code: &str) -> Result<(), Error> {
        conn::enter_code(&self.shared, code)
    }

    /// Remove a linked device from the phone ("Log out" under Linked devices):
    /// a connected device gets `<stream:error code="401">` with `device_removed`.
    pub fn remove_device(&self, device: u16) {
        let mut state = self.shared.state();
        state.account.devices.remove(&device);
        let error = iq::stream_error_conflict("401", "device_removed");
        for conn in state.conns.values().filter(|c| c.device == Some(device)) {
            let _ = conn.out.send(Outbound::Node(error.clone()));
            let _ = conn.out.send(Outbound::Close);
        }
    }

    /// Another client took this session: `<stream:error code="409"><conflict type="replaced"/>`.
    pub fn replace_session(&self, device: u16) {
        let state = self.shared.state();
        let error = iq::stream_error_conflict("409", "replaced");
        for conn in state.conns.values().filter(|c| c.device == Some(device)) {
            let _ = conn.out.send(Outbound::Node(error.clone()));
            let _ = conn.out.send(Outbound::Close);
        }
    }

    /// Drop every open connection without a word (the network went away).
    pub fn drop_connections(&self) {
        for conn in self.shared.state().conns.values() {
            let _ = conn.out.send(Outbound::Close);
        }
    }

    /// A contact of the account (digits of the phone number), who can write
    /// to the linked device and whom the device can write to. Its JID.
    pub async fn add_contact(&self, user: &str, name: &str) -> Result<String, Error> {
        let person = messages::person(user, name)?;
        let jid = person.jid.clone();
        self.shared.people.lock().await.insert(user.to_owned(), person);
        Ok(jid)
    }

    /// A group with the account and these contacts (phone numbers) in it. Its JID.
    pub fn add_group(&self, id: &str, subject: &str, members: &[&str]) -> String {
        let jid = format!("{id}@g.us");
        let mut state = self.shared.state();
        let mut all: Vec<String> = vec![state.account.phone.clone()];
        all.extend(members.iter().map(|m| (*m).to_owned()));
        state.groups.insert(jid.clone(), (subject.to_owned(), all));
        jid
    }

    /// Contact `from` writes `text` in `group`: its sender key goes to each
    /// linked device in a pairwise message, the text under the sender key.
    pub async fn send_group_text(&self, group: &str, from: &str, text: &str) -> Result<String, Error> {
        let message = wa::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        };
        messages::deliver_to_group(&self.shared, group, from, &message).await
    }

    /// Contact `from` (digits) sends `message` to the account: encrypted for
    /// each linked device (a new Signal session from its uploaded pre-keys the
    /// first time). The message id.
    pub async fn send_message(&self, from: &str, message: &wa::Message) -> Result<String, Error> {
        messages::deliver(&self.shared, from, message).await
    }

    /// [`send_message`](Self::send_message) with a plain text.
    pub async fn send_text(&self, from: &str, text: &str) -> Result<String, Error> {
        let message = wa::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        };
        self.send_message(from, &message).await
    }

    /// Contact `from` (digits) sends a file: encrypted as WhatsApp encrypts
    /// media, put on the media host, and announced in an image (for `image/*`)
    /// or document message. The message id and the direct path.
    pub async fn send_file(&self, from: &str, bytes: &[u8], mime: &str, name: &str) -> Result<(String, String), Error> {
        let (message, direct_path, media_key) = messages::file_message(&self.shared, bytes, mime, name)?;
        let id = self.send_message(from, &message).await?;
        self.shared
            .sent_media
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), (media_key, direct_path.clone()));
        Ok((id, direct_path))
    }

    /// The account's phone sends a chunk of history, as after linking: the
    /// `HistorySync` compressed and encrypted onto the media host, and a
    /// history-sync notification to each linked device. The message id.
    pub async fn send_history(&self, sync: &wa::HistorySync) -> Result<String, Error> {
        let message = messages::history_notification(&self.shared, sync)?;
        let phone = self.shared.state().account.phone.clone();
        self.send_message(&phone, &message).await
    }

    /// What the phone holds of `chat` (oldest first): the device's requests
    /// for older messages are answered from it, as the phone answers them.
    pub fn set_phone_history(&self, chat: &str, messages: Vec<wa::WebMessageInfo>) {
        self.shared
            .on_demand
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(chat.to_owned(), messages);
    }

    /// Make a file on the media host answer with `status` (404 or 410: expired).
    pub fn expire_media(&self, direct_path: &str, status: u16) {
        if let Some(entry) = self
            .shared
            .media
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(direct_path)
        {
            entry.1 = Some(status);
        }
    }

    /// What a person's phone gets when it opens media the device sent: the
    /// file from the media host, checked and decrypted with the message's key.
    pub fn open_media(&self, message: &wa::Message) -> Result<Vec<u8>, Error> {
        messages::open_media(&self.shared, message)
    }

    /// Contact `person` (digits) read these messages from the device.
    pub fn read(&self, person: &str, ids: &[String]) {
        messages::read(&self.shared, person, ids);
    }

    /// Every message the linked device sent, as its recipients decrypted it.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.borrow().clone()
    }

    /// Wait until something matching `want` has been seen (at or after `from`
    /// in the list), returning its index.
    pub async fn wait_for(&self, from: usize, timeout: Duration, want: impl Fn(&Seen) -> bool) -> Result<usize, Error> {
        let mut rx = self.shared.seen.subscribe();
        let wait = async {
            loop {
                if let Some(i) = rx.borrow_and_update().iter().skip(from).position(&want) {
                    return i + from;
                }
                if rx.changed().await.is_err() {
                    return usize::MAX;
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(i) if i != usize::MAX => Ok(i),
            _ => Err(Error::Timeout(format!(
                "not seen within {timeout:?}; seen: {:?}",
                self.seen().iter().skip(from).collect::<Vec<_>>()
            ))),
        }
    }
}
