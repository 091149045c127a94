//! A simulated WhatsApp account: server and primary phone in one, behind the
//! engine's port, emitting the client crate's own events.
//!
//! Linking: `connect` shows a QR code; [`SimulatedAccount::scan`] is the phone's
//! camera reading it. Once linked, the phone sends the corpus as history: saved
//! contact names (app-state), then zlib-compressed `HistorySync` chunks of
//! conversations, exactly the format the real phone uses.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wa::history_sync::HistorySyncType;
use wa_corpus::Corpus;
use wa_store::{ChatKind, Item};
use whatsapp_rust::Jid;
use whatsapp_rust::async_channel::{Receiver, Sender, unbounded};
use whatsapp_rust::buffa::{Message as _, MessageField};
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::chrono::Utc;
use whatsapp_rust::wacore::net::DisconnectReason;
use whatsapp_rust::wacore::types::events::{
    ConnectFailureReason, Connected, ContactUpdate, Disconnected, Event, LazyHistorySync, LoggedOut, PairSuccess,
    PairingQrCode,
};
use whatsapp_rust::waproto::whatsapp as wa;

use super::wire::{change_message, web_message};
use crate::port::{PortError, WhatsAppPort};

#[derive(Debug, Default)]
struct Phone {
    linked: bool,
    connected: bool,
    showing: Option<String>,
    codes: u32,
}

/// The account. Cheap to share: clone the `Arc`.
pub struct SimulatedAccount {
    corpus: Arc<Corpus>,
    conversations_per_chunk: usize,
    tx: Sender<Arc<Event>>,
    rx: Receiver<Arc<Event>>,
    phone: Mutex<Phone>,
}

impl std::fmt::Debug for SimulatedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedAccount")
            .field("phone", &self.phone)
            .finish_non_exhaustive()
    }
}

impl SimulatedAccount {
    /// An unlinked account whose phone holds `corpus`, sending its history in
    /// chunks of `conversations_per_chunk` conversations.
    pub fn new(corpus: Corpus, conversations_per_chunk: usize) -> Arc<Self> {
        let (tx, rx) = unbounded();
        Arc::new(Self {
            corpus: Arc::new(corpus),
            conversations_per_chunk: conversations_per_chunk.max(1),
            tx,
            rx,
            phone: Mutex::new(Phone::default()),
        })
    }

    fn phone(&self) -> std::sync::MutexGuard<'_, Phone> {
        self.phone.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn emit(&self, event: Event) {
        // The receiver lives as long as the account: sending cannot fail.
        let _ = self.tx.try_send(Arc::new(event));
    }

    /// The phone reads `code` with its camera. Links and starts the history
    /// transfer when it is the code on screen; returns whether it was.
    pub fn scan(self: &Arc<Self>, code: &str) -> bool {
        {
            let mut phone = self.phone();
            if phone.showing.as_deref() != Some(code) || phone.linked {
                return false;
            }
            phone.linked = true;
            phone.showing = None;
        }
        let own = Jid::pn(self.corpus.own_jid.trim_end_matches("@s.whatsapp.net"));
        self.emit(Event::PairSuccess(
            PairSuccess::builder()
                .id(own.clone())
                .lid(Jid::lid("100000000000001"))
                .business_name(String::new())
                .platform("android".to_owned())
                .build(),
        ));
        self.emit(Event::Connected(Connected::builder().build()));
        let account = Arc::clone(self);
        std::thread::spawn(move || account.send_history());
        true
    }

    /// Fault: the network drops the connection.
    pub fn drop_connection(&self) {
        let was_connected = std::mem::replace(&mut self.phone().connected, false);
        if was_connected {
            self.emit(Event::Disconnected(
                Disconnected::builder()
                    .reason(DisconnectReason::ReadError("connection reset by peer".into()))
                    .build(),
            ));
        }
    }

    /// Fault: the person removes this computer under Linked devices on the phone.
    pub fn log_out_from_phone(&self) {
        {
            let mut phone = self.phone();
            phone.linked = false;
            phone.connected = false;
        }
        self.emit(Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(false)
                .reason(ConnectFailureReason::LoggedOut)
                .build(),
        ));
    }

    /// What the phone sends after linking: contact names, then history chunks.
    fn send_history(&self) {
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
        let chats: Vec<usize> = (0..self.corpus.chats.len()).collect();
        let chunks = chats.chunks(self.conversations_per_chunk).count();
        for (n, chunk) in chats.chunks(self.conversations_per_chunk).enumerate() {
            let sync = wa::HistorySync {
                sync_type: if n == 0 {
                    HistorySyncType::INITIAL_BOOTSTRAP
                } else {
                    HistorySyncType::RECENT
                },
                conversations: chunk.iter().map(|&c| self.conversation(c)).collect(),
                pushnames: if n == 0 { self.push_names() } else { Vec::new() },
                chunk_order: u32::try_from(n).ok(),
                progress: u32::try_from((n + 1) * 100 / chunks).ok(),
                ..Default::default()
            };
            self.emit(Event::HistorySync(Box::new(compress(&sync))));
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

    /// One chat as the phone's history sync describes it.
    fn conversation(&self, chat: usize) -> wa::Conversation {
        let plan = &self.corpus.chats[chat];
        let own = &self.corpus.own_jid;
        let messages = self
            .corpus
            .chat_items(chat)
            .filter_map(|item| match &item {
                Item::Message(m) => Some(web_message(m, own)),
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
}

/// A history-sync blob as it travels: protobuf, zlib-compressed.
fn compress(sync: &wa::HistorySync) -> LazyHistorySync {
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
}

impl WhatsAppPort for SimulatedAccount {
    fn events(&self) -> Receiver<Arc<Event>> {
        self.rx.clone()
    }

    async fn connect(&self) -> Result<(), PortError> {
        let code = {
            let mut phone = self.phone();
            phone.connected = true;
            if phone.linked {
                None
            } else {
                phone.codes += 1;
                let code = format!(
                    "2@sim-ref-{},sim-noise-key,sim-identity-key,sim-adv-secret",
                    phone.codes
                );
                phone.showing = Some(code.clone());
                Some(code)
            }
        };
        match code {
            Some(code) => self.emit(Event::PairingQrCode(
                PairingQrCode::builder()
                    .code(code)
                    .timeout(Duration::from_mins(1))
                    .build(),
            )),
            None => self.emit(Event::Connected(Connected::builder().build())),
        }
        Ok(())
    }

    async fn disconnect(&self) {
        let mut phone = self.phone();
        phone.connected = false;
        phone.showing = None;
    }

    fn own_jid(&self) -> Option<String> {
        self.phone().linked.then(|| self.corpus.own_jid.clone())
    }
}
