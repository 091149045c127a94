//! A simulated WhatsApp account: server and primary phone in one, behind the
//! engine's port, emitting the client crate's own events.
//!
//! Linking: `connect` shows QR codes that rotate and run out like the real ones;
//! [`SimulatedAccount::scan`] is the phone's camera reading one, and
//! [`SimulatedAccount::enter_code`] is the person typing a phone-number pairing
//! code. Once linked, the phone sends saved contact names (app state), then the
//! newest part of each chat as zlib-compressed `HistorySync` chunks, exactly the
//! format the real phone uses; older messages come on demand, a window at a
//! time. Sends, read receipts, uploads, downloads and media re-uploads are
//! answered the way the server and phone would, and the fault methods break
//! things the way the real world does.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wa::history_sync::HistorySyncType;
use wa_corpus::Corpus;
use wa_store::{ChatKind, Item, MemberRole, NewMessage};
use whatsapp_rust::Jid;
use whatsapp_rust::async_channel::{Receiver, Sender, unbounded};
use whatsapp_rust::buffa::{Message as _, MessageField};
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::chrono::{TimeZone, Utc};
use whatsapp_rust::download::{DownloadParams, MediaType};
use whatsapp_rust::features::{GroupMetadata, GroupParticipant, ParticipantType};
use whatsapp_rust::types::message::MessageInfo;
use whatsapp_rust::wacore::net::DisconnectReason;
use whatsapp_rust::wacore::types::events::{
    BatchOrigin, ClientOutdated, ConnectFailure, ConnectFailureReason, Connected, ContactUpdate, Disconnected, Event,
    InboundMessage, LazyHistorySync, LoggedOut, MessageBatch, PairSuccess, PairingCode, PairingQrCode,
    PairingQrCodesExhausted, StreamReplaced, TempBanReason, TemporaryBan,
};
use whatsapp_rust::waproto::whatsapp as wa;

use super::media;
use crate::port::{HistoryAnchor, PortError, PortResult, ReuploadRequest, Uploaded, WhatsAppPort};
use crate::wire::{change_message, content, web_message};

/// How the simulated phone behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Conversations per history-sync chunk.
    pub conversations_per_chunk: usize,
    /// Newest messages per chat the phone sends right after linking; older ones
    /// come on request. `None`: the whole history at once.
    pub initial_per_chat: Option<usize>,
    /// The phone's and network's delay before each chunk or answer.
    pub latency: Duration,
    /// QR codes per connection before they run out (the real server sends 6).
    pub qr_codes: u32,
    /// How long the first code is valid; the following ones last a third of it
    /// (the real client: 60 s, then 20 s each).
    pub first_qr_timeout: Duration,
    /// The phone scans the code on screen by itself after this long (demo mode).
    pub auto_scan: Option<Duration>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            conversations_per_chunk: 20,
            initial_per_chat: None,
            latency: Duration::ZERO,
            qr_codes: 6,
            first_qr_timeout: Duration::from_mins(1),
            auto_scan: None,
        }
    }
}

/// Something the simulated phone received from us.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub chat_jid: String,
    pub msg_id: String,
    pub message: wa::Message,
}

#[derive(Debug, Default)]
// The simulated phone's switches, each flipped by a fault method.
#[allow(clippy::struct_excessive_bools)]
struct Phone {
    linked: bool,
    connected: bool,
    online: bool,
    /// The linked-device list on the phone is full: scans are refused.
    devices_full: bool,
    showing: Option<String>,
    pair_code: Option<String>,
    /// Bumped on every connection change; stale QR rotations stop.
    generation: u64,
    codes: u32,
    connect_failures: Vec<ConnectFailureReason>,
    rate_limited_requests: u32,
    outdated: bool,
    sent: Vec<Received>,
    read: Vec<(String, Option<String>, Vec<String>)>,
    history_requests: u32,
    /// Pairing codes asked for on this connection (WhatsApp allows a few).
    codes_asked: u32,
    /// The history push's next chunk while one is under way (`None`: none).
    /// Like WhatsApp's offline queue, a push cut by a lost connection goes on
    /// at the next connection.
    push_next: Option<usize>,
    /// A thread is sending the push now.
    pushing: bool,
}

/// A file the server holds, and whether its link has expired.
#[derive(Debug, Clone)]
struct ServerFile {
    data: Arc<Vec<u8>>,
    expired: bool,
}

/// The account. Cheap to share: clone the `Arc`.
pub struct SimulatedAccount {
    corpus: Arc<Corpus>,
    config: SimConfig,
    chat_index: HashMap<String, usize>,
    tx: Sender<Arc<Event>>,
    rx: Receiver<Arc<Event>>,
    phone: Mutex<Phone>,
    files: Mutex<HashMap<String, ServerFile>>,
    /// What the phone still has, by message id (for re-uploads).
    originals: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    /// The direct path of every download request that reached the media server.
    downloads: Mutex<Vec<String>>,
    ids: AtomicU64,
}

impl std::fmt::Debug for SimulatedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedAccount")
            .field("phone", &self.phone)
            .finish_non_exhaustive()
    }
}

impl SimulatedAccount {
    /// An unlinked account whose phone holds `corpus` and sends it all after linking,
    /// `conversations_per_chunk` conversations at a time.
    pub fn new(corpus: Corpus, conversations_per_chunk: usize) -> Arc<Self> {
        Self::with_config(
            corpus,
            SimConfig {
                conversations_per_chunk,
                ..SimConfig::default()
            },
        )
    }

    pub fn with_config(corpus: Corpus, mut config: SimConfig) -> Arc<Self> {
        config.conversations_per_chunk = config.conversations_per_chunk.max(1);
        config.qr_codes = config.qr_codes.max(1);
        let (tx, rx) = unbounded();
        let chat_index = corpus
            .chats
            .iter()
            .enumerate()
            .map(|(i, c)| (c.jid.clone(), i))
            .collect();
        Arc::new(Self {
            corpus: Arc::new(corpus),
            config,
            chat_index,
            tx,
            rx,
            phone: Mutex::new(Phone {
                online: true,
                ..Phone::default()
            }),
            files: Mutex::new(HashMap::new()),
            originals: Mutex::new(HashMap::new()),
            downloads: Mutex::new(Vec::new()),
            ids: AtomicU64::new(1),
        })
    }

    /// An account that is already linked (the session survived a restart).
    pub fn linked(corpus: Corpus, config: SimConfig) -> Arc<Self> {
        let account = Self::with_config(corpus, config);
        account.phone().linked = true;
        account
    }

    pub fn corpus(&self) -> &Corpus {
        &self.corpus
    }

    fn phone(&self) -> std::sync::MutexGuard<'_, Phone> {
        self.phone.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<String, ServerFile>> {
        self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn emit(&self, event: Event) {
        // The receiver lives as long as the account: sending cannot fail.
        let _ = self.tx.try_send(Arc::new(event));
    }

    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}{:012X}", self.ids.fetch_add(1, Ordering::Relaxed))
    }

    // ----- the person at the phone -----

    /// The phone reads `code` with its camera. Links and starts the history
    /// transfer when it is the code on screen and the phone may link another
    /// device; returns whether it linked.
    pub fn scan(self: &Arc<Self>, code: &str) -> bool {
        {
            let mut phone = self.phone();
            // A full device list: the phone shows its own error; the desktop sees nothing.
            if phone.showing.as_deref() != Some(code) || phone.linked || phone.devices_full {
                return false;
            }
            phone.showing = None;
        }
        self.complete_link();
        true
    }

    /// The person types the phone-number pairing code on the phone.
    pub fn enter_code(self: &Arc<Self>, code: &str) -> bool {
        {
            let mut phone = self.phone();
            let typed: String = code.chars().filter(char::is_ascii_alphanumeric).collect();
            let expected = phone.pair_code.as_deref().map(|c| c.replace('-', ""));
            if expected.as_deref() != Some(typed.as_str()) || phone.linked || phone.devices_full {
                return false;
            }
            phone.pair_code = None;
            phone.showing = None;
        }
        self.complete_link();
        true
    }

    fn complete_link(self: &Arc<Self>) {
        {
            let mut phone = self.phone();
            phone.linked = true;
            phone.connected = true;
            phone.generation += 1;
        }
        let own = Jid::pn(self.corpus.own_jid.trim_end_matches("@s.whatsapp.net"));
        self.emit(Event::PairSuccess(
            PairSuccess::builder()
                .id(own)
                .lid(Jid::lid("100000000000001"))
                .business_name(String::new())
                .platform("android".to_owned())
                .build(),
        ));
        self.emit(Event::Connected(Connected::builder().build()));
        self.start_push(0);
    }

    /// A message arrives from someone (or from this account's phone).
    pub fn receive(&self, message: &NewMessage) {
        let own = &self.corpus.own_jid;
        let chat: Jid = message.chat_jid.parse().unwrap_or_else(|_| Jid::pn("0"));
        let sender: Jid = message.sender_jid.parse().unwrap_or_else(|_| chat.clone());
        let mut info = MessageInfo {
            id: message.msg_id.clone(),
            push_name: message.push_name.clone().unwrap_or_default(),
            timestamp: Utc.timestamp_millis_opt(message.ts).single().unwrap_or_else(Utc::now),
            ..Default::default()
        };
        info.source.chat = chat.clone();
        info.source.sender = sender;
        info.source.is_from_me = message.sender_jid == *own;
        info.source.is_group = wa_store::jid::is_group(&message.chat_jid);
        let inbound = InboundMessage::builder()
            .message(Arc::new(content(message, own)))
            .info(Arc::new(info))
            .build();
        self.emit(Event::Messages(
            MessageBatch::builder()
                .messages(Arc::from(vec![inbound]))
                .origin(BatchOrigin::Live)
                .hook_committed(false)
                .build(),
        ));
    }

    /// The phone sends its history push again (as after linking).
    pub fn push_history(self: &Arc<Self>) {
        self.start_push(0);
    }

    /// The push chunks this computer never stored are delivered again at the
    /// next connection, as WhatsApp's servers do with unacknowledged history
    /// notifications: those after the one that brought the phone's progress to
    /// `percent` (0: all of them; 100: none). For an account made with
    /// [`SimulatedAccount::linked`], whose earlier run ended mid-push.
    pub fn resume_history_after(&self, percent: u32) {
        let chunks = self.push_chunks();
        let next = (0..chunks).find(|&n| chunk_percent(n, chunks) > percent);
        self.phone().push_next = next;
    }

    fn push_chunks(&self) -> usize {
        self.corpus.chats.len().div_ceil(self.config.conversations_per_chunk)
    }

    /// Send the push from chunk `from` (a push under way starts over there).
    fn start_push(self: &Arc<Self>, from: usize) {
        {
            let mut phone = self.phone();
            phone.push_next = Some(from);
            if std::mem::replace(&mut phone.pushing, true) {
                return;
            }
        }
        let account = Arc::clone(self);
        std::thread::spawn(move || account.send_history());
    }

    /// At a connection: go on with a push that was cut (a push still being
    /// sent just goes on).
    fn continue_push(self: &Arc<Self>) {
        let next = self.phone().push_next;
        if let Some(next) = next {
            self.start_push(next);
        }
    }

    /// How many of each chat's newest messages the push carries (`None`: all).
    pub fn initial_window(&self) -> Option<usize> {
        self.config.initial_per_chat
    }

    /// What this computer sent.
    pub fn sent(&self) -> Vec<Received> {
        self.phone().sent.clone()
    }

    /// The read receipts this computer sent: (chat, sender, ids).
    pub fn read_receipts(&self) -> Vec<(String, Option<String>, Vec<String>)> {
        self.phone().read.clone()
    }

    /// How many "older messages" requests reached the phone.
    pub fn history_requests(&self) -> u32 {
        self.phone().history_requests
    }

    /// The direct path of every download request that reached the media server, in order.
    pub fn download_requests(&self) -> Vec<String> {
        self.downloads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The bytes the server holds for a direct path (to check downloads).
    pub fn file(&self, direct_path: &str) -> Option<Vec<u8>> {
        self.files().get(direct_path).map(|f| f.data.as_ref().clone())
    }

    // ----- faults -----

    /// The network drops the connection.
    pub fn drop_connection(&self) {
        let was_connected = {
            let mut phone = self.phone();
            phone.generation += 1;
            std::mem::replace(&mut phone.connected, false)
        };
        if was_connected {
            self.emit(Event::Disconnected(
                Disconnected::builder()
                    .reason(DisconnectReason::ReadError("connection reset by peer".into()))
                    .build(),
            ));
        }
    }

    /// The person removes this computer under Linked devices on the phone.
    pub fn log_out_from_phone(&self) {
        {
            let mut phone = self.phone();
            phone.linked = false;
            phone.connected = false;
            phone.generation += 1;
        }
        self.emit(Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(false)
                .reason(ConnectFailureReason::LoggedOut)
                .build(),
        ));
    }

    /// The next connection attempts fail with these server answers (for example 503).
    pub fn fail_next_connects(&self, reasons: impl IntoIterator<Item = ConnectFailureReason>) {
        self.phone().connect_failures.extend(reasons);
    }

    /// A bad network and a busy server, for the fault campaign (and a demo
    /// that wants it): every `every` (±50%), one of: the connection drops; it
    /// drops and the next two connects get a 503; the next two history
    /// requests are refused as too many. Runs until the process ends; `seed`
    /// makes the sequence repeatable.
    pub fn misbehave(self: &Arc<Self>, every: Duration, seed: u64) {
        let phone = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(seed);
            loop {
                tokio::time::sleep(every.mul_f64(0.5 + rng.f64())).await;
                let Some(phone) = phone.upgrade() else { return };
                match rng.u8(0..3) {
                    0 => phone.drop_connection(),
                    1 => {
                        phone.fail_next_connects([ConnectFailureReason::ServiceUnavailable; 2]);
                        phone.drop_connection();
                    }
                    _ => phone.rate_limit_next_requests(2),
                }
            }
        });
    }

    /// The next `n` "older messages" requests are refused as too many.
    pub fn rate_limit_next_requests(&self, n: u32) {
        self.phone().rate_limited_requests += n;
    }

    /// WhatsApp blocks the account for a while.
    pub fn ban(&self, for_how_long: Duration) {
        {
            let mut phone = self.phone();
            phone.connected = false;
            phone.generation += 1;
        }
        self.emit(Event::TemporaryBan(
            TemporaryBan::builder()
                .code(TempBanReason::SentToTooManyPeople)
                .expire(whatsapp_rust::chrono::Duration::from_std(for_how_long).unwrap_or_default())
                .build(),
        ));
    }

    /// Another client takes over this session.
    pub fn replace(&self) {
        {
            let mut phone = self.phone();
            phone.connected = false;
            phone.generation += 1;
        }
        self.emit(Event::StreamReplaced(StreamReplaced::builder().build()));
    }

    /// WhatsApp stops accepting this client version (at the next connection).
    pub fn set_outdated(&self, outdated: bool) {
        self.phone().outdated = outdated;
    }

    /// The phone goes offline (or comes back): requests that need it go unanswered.
    pub fn set_phone_online(&self, online: bool) {
        self.phone().online = online;
    }

    /// The phone already has the most linked devices WhatsApp allows.
    pub fn set_device_list_full(&self, full: bool) {
        self.phone().devices_full = full;
    }

    // ----- what the phone sends -----

    /// After linking: contact names, then the newest part of each chat, chunk
    /// by chunk from `push_next`. Stops when the connection is lost (the rest
    /// goes at the next connection, [`Self::continue_push`]).
    fn send_history(&self) {
        let chunks = self.push_chunks();
        loop {
            std::thread::sleep(self.config.latency);
            let n = {
                let mut phone = self.phone();
                match phone.push_next {
                    Some(n) if n < chunks && phone.connected => {
                        phone.push_next = Some(n + 1);
                        n
                    }
                    next => {
                        if next.is_some_and(|n| n >= chunks) {
                            phone.push_next = None;
                        }
                        phone.pushing = false;
                        return;
                    }
                }
            };
            if n == 0 {
                self.send_contact_names();
            }
            let size = self.config.conversations_per_chunk;
            let chats = n * size..((n + 1) * size).min(self.corpus.chats.len());
            let sync = wa::HistorySync {
                sync_type: if n == 0 {
                    HistorySyncType::INITIAL_BOOTSTRAP
                } else {
                    HistorySyncType::RECENT
                },
                conversations: chats
                    .map(|c| {
                        let items = self.corpus.chat_items(c).collect::<Vec<_>>();
                        let start = window_start(&items, items.len(), self.config.initial_per_chat);
                        self.conversation(c, &items[start..])
                    })
                    .collect(),
                pushnames: if n == 0 { self.push_names() } else { Vec::new() },
                chunk_order: u32::try_from(n).ok(),
                progress: Some(chunk_percent(n, chunks)),
                ..Default::default()
            };
            self.emit(Event::HistorySync(Box::new(compress(&sync, None))));
        }
    }

    /// Saved contact names, from the phone's app state.
    fn send_contact_names(&self) {
        let now = Utc::now();
        for contact in &self.corpus.contacts {
            let (Some(name), Ok(jid)) = (contact.saved_name.clone(), contact.jid.parse::<Jid>()) else {
                continue;
            };
            let action = wa::sync_action_value::ContactAction {
                full_name: Some(name),
                ..Default::default()
            };
            self.emit(Event::ContactUpdate(
                ContactUpdate::builder()
                    .jid(jid)
                    .timestamp(now)
                    .action(Box::new(action))
                    .from_full_sync(true)
                    .build(),
            ));
        }
    }

    fn push_names(&self) -> Vec<wa::Pushname> {
        self.corpus
            .contacts
            .iter()
            .map(|c| wa::Pushname {
                id: Some(c.jid.clone()),
                pushname: c.push_name.clone(),
            })
            .collect()
    }

    /// One chat's `items` as the phone's history sync describes it. Media files
    /// are put on the server as they are described.
    fn conversation(&self, chat: usize, items: &[Item]) -> wa::Conversation {
        let plan = &self.corpus.chats[chat];
        let own = &self.corpus.own_jid;
        let messages = items
            .iter()
            .filter_map(|item| match item {
                Item::Message(m) => Some(web_message(&self.with_server_media(m), own)),
                other => change_message(other, own),
            })
            .map(|info| wa::HistorySyncMsg {
                message: MessageField::some(info),
                ..Default::default()
            })
            .collect();
        wa::Conversation {
            id: plan.jid.clone(),
            name: plan.name.clone(),
            is_parent_group: Some(plan.kind == ChatKind::Community),
            parent_group_id: plan.parent.clone(),
            messages,
            ..Default::default()
        }
    }

    /// `message` with its media fields describing a file the server holds.
    fn with_server_media(&self, message: &NewMessage) -> NewMessage {
        let mut message = message.clone();
        if let Some(info) = message.media.as_mut() {
            let data = Arc::new(media::prepare(&message.msg_id, info));
            if let Some(path) = info.direct_path.clone() {
                let expired = media::starts_expired(&message.msg_id);
                self.files().entry(path).or_insert(ServerFile {
                    data: Arc::clone(&data),
                    expired,
                });
            }
            self.originals
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(message.msg_id.clone(), data);
        }
        message
    }

    /// The messages of `chat` older than `anchor`, at most `count`, and the
    /// changes among them.
    fn older_items(&self, anchor: &HistoryAnchor, count: u32) -> Option<(usize, Vec<Item>)> {
        let &chat = self.chat_index.get(&anchor.chat_jid)?;
        let items: Vec<Item> = self.corpus.chat_items(chat).collect();
        let end = items
            .iter()
            .position(|i| matches!(i, Item::Message(m) if m.msg_id == anchor.msg_id))
            .unwrap_or_else(|| {
                items
                    .iter()
                    .position(|i| matches!(i, Item::Message(m) if m.ts >= anchor.ts_ms))
                    .unwrap_or(items.len())
            });
        let start = window_start(&items, end, Some(count as usize));
        Some((chat, items[start..end].to_vec()))
    }

    fn answer_history_request(&self, request_id: String, anchor: &HistoryAnchor, count: u32) {
        let (conversations, progress) = match self.older_items(anchor, count) {
            Some((chat, items)) => (vec![self.conversation(chat, &items)], Some(100)),
            None => (Vec::new(), Some(100)),
        };
        let sync = wa::HistorySync {
            sync_type: HistorySyncType::ON_DEMAND,
            conversations,
            progress,
            ..Default::default()
        };
        self.emit(Event::HistorySync(Box::new(compress(&sync, Some(request_id)))));
    }

    fn start_qr_rotation(self: &Arc<Self>, generation: u64) {
        let account = Arc::clone(self);
        tokio::spawn(async move {
            let first = account.config.first_qr_timeout;
            for n in 0..account.config.qr_codes {
                let timeout = if n == 0 { first } else { first / 3 };
                let code = {
                    let mut phone = account.phone();
                    if phone.generation != generation || phone.linked || !phone.connected {
                        return;
                    }
                    phone.codes += 1;
                    let code = format!(
                        "2@sim-ref-{},sim-noise-key,sim-identity-key,sim-adv-secret",
                        phone.codes
                    );
                    phone.showing = Some(code.clone());
                    code
                };
                account.emit(Event::PairingQrCode(
                    PairingQrCode::builder().code(code.clone()).timeout(timeout).build(),
                ));
                if let Some(after) = account.config.auto_scan {
                    let scanner = Arc::clone(&account);
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        scanner.scan(&code);
                    });
                }
                tokio::time::sleep(timeout).await;
            }
            {
                let mut phone = account.phone();
                if phone.generation != generation || phone.linked || !phone.connected || phone.pair_code.is_some() {
                    return;
                }
                phone.connected = false;
                phone.showing = None;
            }
            // Like the real client: out of codes, it disconnects by itself.
            account.emit(Event::PairingQrCodesExhausted(
                PairingQrCodesExhausted::builder().disconnected(true).build(),
            ));
        });
    }
}

/// The phone's progress once chunk `n` of `chunks` has been sent.
fn chunk_percent(n: usize, chunks: usize) -> u32 {
    u32::try_from((n + 1) * 100 / chunks.max(1)).unwrap_or(100)
}

/// Where the window of the newest `count` messages before `end` starts in
/// `items` (changes in between included). `None`: from the start.
fn window_start(items: &[Item], end: usize, count: Option<usize>) -> usize {
    let Some(count) = count else { return 0 };
    let mut seen = 0;
    for i in (0..end).rev() {
        if matches!(items[i], Item::Message(_)) {
            seen += 1;
            if seen == count {
                return i;
            }
        }
    }
    0
}

/// A history-sync blob as it travels: protobuf, zlib-compressed.
fn compress(sync: &wa::HistorySync, request_id: Option<String>) -> LazyHistorySync {
    let raw = sync.encode_to_vec();
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::with_capacity(raw.len() / 3), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = zlib.write_all(&raw);
    let compressed = zlib.finish().unwrap_or_default();
    LazyHistorySync::new(
        Bytes::from(compressed),
        raw.len(),
        sync.sync_type as i32,
        sync.chunk_order,
        sync.progress,
    )
    .with_peer_data_request_session_id(request_id)
}

impl WhatsAppPort for Arc<SimulatedAccount> {
    fn events(&self) -> Receiver<Arc<Event>> {
        self.rx.clone()
    }

    async fn connect(&self) -> PortResult<()> {
        enum Next {
            Fail(ConnectFailureReason),
            Outdated,
            Qr(u64),
            Connected,
            AlreadyUp,
        }
        let next = {
            let mut phone = self.phone();
            if phone.connected {
                Next::AlreadyUp
            } else if !phone.connect_failures.is_empty() {
                Next::Fail(phone.connect_failures.remove(0))
            } else if phone.outdated {
                Next::Outdated
            } else {
                phone.connected = true;
                phone.generation += 1;
                if phone.linked {
                    Next::Connected
                } else {
                    Next::Qr(phone.generation)
                }
            }
        };
        match next {
            Next::AlreadyUp => {}
            Next::Fail(reason) => self.emit(Event::ConnectFailure(
                ConnectFailure::builder()
                    .reason(reason)
                    .message("simulated server error".to_owned())
                    .build(),
            )),
            Next::Outdated => self.emit(Event::ClientOutdated(ClientOutdated::builder().build())),
            Next::Qr(generation) => self.start_qr_rotation(generation),
            Next::Connected => {
                self.emit(Event::Connected(Connected::builder().build()));
                self.continue_push();
            }
        }
        Ok(())
    }

    async fn disconnect(&self) {
        let mut phone = self.phone();
        phone.connected = false;
        phone.showing = None;
        phone.generation += 1;
    }

    fn own_jid(&self) -> Option<String> {
        self.phone().linked.then(|| self.corpus.own_jid.clone())
    }

    async fn pair_with_phone(&self, number: &str) -> PortResult<String> {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        let own_digits = self.corpus.own_jid.trim_end_matches("@s.whatsapp.net");
        if !wa_store::jid::PHONE_DIGITS.contains(&digits.len()) {
            return Err(PortError::Rejected("that is not a valid phone number".into()));
        }
        if digits != own_digits {
            return Err(PortError::Rejected("no WhatsApp account uses that number".into()));
        }
        let code = {
            let mut phone = self.phone();
            if !phone.connected {
                return Err(PortError::NotConnected);
            }
            phone.codes_asked += 1;
            if phone.codes_asked > 2 {
                return Err(PortError::RateLimited {
                    retry_after: Some(Duration::from_mins(5)),
                });
            }
            let raw = self.next_id("");
            let code = format!("SIM{}", &raw[raw.len() - 5..]);
            let shown = format!("{}-{}", &code[..4], &code[4..]);
            phone.pair_code = Some(shown.clone());
            shown
        };
        self.emit(Event::PairingCode(
            PairingCode::builder()
                .code(code.clone())
                .timeout(Duration::from_mins(3))
                .build(),
        ));
        Ok(code)
    }

    async fn request_history(&self, anchor: &HistoryAnchor, count: u32) -> PortResult<String> {
        let online = {
            let mut phone = self.phone();
            if !phone.connected {
                return Err(PortError::NotConnected);
            }
            if phone.rate_limited_requests > 0 {
                phone.rate_limited_requests -= 1;
                return Err(PortError::RateLimited {
                    retry_after: Some(Duration::from_millis(50)),
                });
            }
            phone.history_requests += 1;
            phone.online
        };
        let request_id = self.next_id("PDO");
        if online {
            let account = Arc::clone(self);
            let (id, anchor) = (request_id.clone(), anchor.clone());
            std::thread::spawn(move || {
                std::thread::sleep(account.config.latency);
                account.answer_history_request(id, &anchor, count);
            });
        }
        Ok(request_id)
    }

    async fn send(&self, chat_jid: &str, message: wa::Message) -> PortResult<String> {
        let mut phone = self.phone();
        if !phone.connected {
            return Err(PortError::NotConnected);
        }
        let msg_id = self.next_id("3EB0");
        phone.sent.push(Received {
            chat_jid: chat_jid.to_owned(),
            msg_id: msg_id.clone(),
            message,
        });
        Ok(msg_id)
    }

    async fn mark_read(&self, chat_jid: &str, sender_jid: Option<&str>, ids: &[String]) -> PortResult<()> {
        let mut phone = self.phone();
        if !phone.connected {
            return Err(PortError::NotConnected);
        }
        phone
            .read
            .push((chat_jid.to_owned(), sender_jid.map(str::to_owned), ids.to_vec()));
        Ok(())
    }

    async fn upload(&self, data: Vec<u8>, _kind: MediaType) -> PortResult<Uploaded> {
        if !self.phone().connected {
            return Err(PortError::NotConnected);
        }
        let direct_path = format!("/v/t62.sim/{}.enc", self.next_id("up"));
        let uploaded = Uploaded {
            url: format!("https://mmg.whatsapp.net{direct_path}"),
            direct_path: direct_path.clone(),
            media_key: media::digest(direct_path.as_bytes()),
            file_sha256: media::digest(&data),
            file_enc_sha256: media::digest(&[direct_path.as_bytes(), &data].concat()),
            file_length: data.len() as u64,
        };
        self.files().insert(
            direct_path,
            ServerFile {
                data: Arc::new(data),
                expired: false,
            },
        );
        Ok(uploaded)
    }

    async fn download(&self, params: &DownloadParams) -> PortResult<Vec<u8>> {
        if !self.phone().connected {
            return Err(PortError::NotConnected);
        }
        self.downloads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(params.direct_path.clone());
        match self.files().get(&params.direct_path) {
            Some(file) if !file.expired => Ok(file.data.as_ref().clone()),
            // Expired and unknown links both answer 404/410 on the real CDN.
            _ => Err(PortError::MediaExpired),
        }
    }

    async fn reupload(&self, request: &ReuploadRequest) -> PortResult<String> {
        let online = {
            let phone = self.phone();
            if !phone.connected {
                return Err(PortError::NotConnected);
            }
            phone.online
        };
        if !online {
            // The real client waits for the phone's answer, then times out.
            tokio::time::sleep(self.config.latency).await;
            return Err(PortError::PhoneOffline);
        }
        let original = self
            .originals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&request.msg_id)
            .cloned();
        let Some(data) = original else {
            return Err(PortError::Rejected("the phone no longer has this file".into()));
        };
        let direct_path = format!("/v/t62.sim-reupload/{}_{}.enc", request.msg_id, self.next_id(""));
        self.files()
            .insert(direct_path.clone(), ServerFile { data, expired: false });
        Ok(direct_path)
    }

    async fn groups(&self) -> PortResult<Vec<GroupMetadata>> {
        if !self.phone().connected {
            return Err(PortError::NotConnected);
        }
        let metadata = self.corpus.metadata_items();
        let mut groups = Vec::new();
        for item in &metadata {
            let Item::Members { group_jid, members } = item else {
                continue;
            };
            let Some(&chat) = self.chat_index.get(group_jid) else {
                continue;
            };
            let plan = &self.corpus.chats[chat];
            let participants = members
                .iter()
                .filter_map(|(jid, role)| {
                    Some(GroupParticipant {
                        jid: jid.parse().ok()?,
                        phone_number: None,
                        lid: None,
                        username: None,
                        participant_type: match role {
                            MemberRole::SuperAdmin => ParticipantType::SuperAdmin,
                            MemberRole::Admin => ParticipantType::Admin,
                            MemberRole::Member => ParticipantType::Member,
                        },
                        details: None,
                    })
                })
                .collect();
            groups.push(GroupMetadata {
                id: group_jid
                    .parse()
                    .map_err(|_| PortError::Rejected(format!("bad group {group_jid}")))?,
                subject: plan.name.clone().unwrap_or_default(),
                participants,
                is_parent_group: plan.kind == ChatKind::Community,
                parent_group_jid: plan.parent.as_deref().and_then(|p| p.parse().ok()),
                ..GroupMetadata::default()
            });
        }
        Ok(groups)
    }

    fn is_simulated(&self) -> bool {
        true
    }
}
