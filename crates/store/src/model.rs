//! The store's vocabulary: what goes in and what comes out.
//!
//! Stored JIDs are strings as WhatsApp gave them; filters take a checked [`Jid`].
//! Times are milliseconds since the Unix epoch, UTC.

use serde::{Deserialize, Serialize};

use crate::jid::Jid;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// Parse a value read from the database, where anything else is an error.
            #[allow(dead_code)]
            pub(crate) fn from_stored(text: &str) -> crate::Result<Self> {
                Self::parse(text).ok_or_else(|| {
                    crate::StoreError::InvalidInput(format!(
                        concat!("Unknown ", stringify!($name), " {:?} in the database."),
                        text
                    ))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use string_enum;

string_enum!(
    /// What kind of conversation a chat is.
    ChatKind {
        Direct => "direct",
        Group => "group",
        Community => "community",
        Broadcast => "broadcast",
        Newsletter => "newsletter",
    }
);

impl ChatKind {
    /// The kind WhatsApp's JID convention implies: `@g.us` groups, `@newsletter`
    /// channels, `@broadcast` lists, anything else a direct chat. (A community's
    /// parent group is also `@g.us`: only metadata can tell it.) This table is
    /// how a stored JID, kept as WhatsApp gave it, gets its kind: importers,
    /// the engine, [`crate::jid::is_group`] and the chat scope (in Rust and in
    /// SQL, see `scope.rs`) share it. Addresses people type are checked by
    /// [`crate::Jid`] instead.
    pub fn from_jid(jid: &str) -> Self {
        JID_ENDINGS
            .iter()
            .find(|(ending, _)| jid.ends_with(ending))
            .map_or(Self::Direct, |&(_, kind)| kind)
    }
}

/// The JID endings that name a kind; a JID with none of them is a direct chat.
pub(crate) const JID_ENDINGS: [(&str, ChatKind); 3] = [
    ("@g.us", ChatKind::Group),
    ("@newsletter", ChatKind::Newsletter),
    ("@broadcast", ChatKind::Broadcast),
];

string_enum!(
    /// What a stored message is. Reactions, edits and revokes are not messages
    /// of their own: they change the message they point at.
    MessageKind {
        Text => "text",
        Image => "image",
        Video => "video",
        Audio => "audio",
        Voice => "voice",
        Document => "document",
        Sticker => "sticker",
        Location => "location",
        Contact => "contact",
        Poll => "poll",
        System => "system",
        Unknown => "unknown",
    }
);

impl MessageKind {
    /// Whether messages of this kind carry a downloadable file.
    pub fn has_media(self) -> bool {
        matches!(
            self,
            Self::Image | Self::Video | Self::Audio | Self::Voice | Self::Document | Self::Sticker
        )
    }
}

string_enum!(
    /// Role of a member in a group.
    MemberRole {
        Member => "member",
        Admin => "admin",
        SuperAdmin => "superadmin",
    }
);

/// Delivery state of a message; a later state never goes back to an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Unknown = 0,
    Sent = 1,
    Delivered = 2,
    Read = 3,
    Played = 4,
}

impl MessageStatus {
    pub(crate) fn from_i64(value: i64) -> Self {
        match value {
            1 => Self::Sent,
            2 => Self::Delivered,
            3 => Self::Read,
            4 => Self::Played,
            _ => Self::Unknown,
        }
    }
}

/// Points at a message by WhatsApp's own key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageKey {
    pub chat_jid: String,
    pub msg_id: String,
    pub sender_jid: String,
}

/// The downloadable part of a media message, as WhatsApp describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub mime: Option<String>,
    pub file_name: Option<String>,
    pub direct_path: Option<String>,
    pub url: Option<String>,
    pub media_key: Option<Vec<u8>>,
    pub media_key_ts: Option<i64>,
    pub file_sha256: Option<Vec<u8>>,
    pub file_enc_sha256: Option<Vec<u8>>,
    pub file_length: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_secs: Option<i64>,
}

/// A message as the engine hands it to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    pub chat_jid: String,
    pub msg_id: String,
    pub sender_jid: String,
    pub from_me: bool,
    pub ts: i64,
    pub kind: MessageKind,
    /// Body of a text message, caption of a media message.
    pub text: Option<String>,
    /// The message this one replies to.
    pub quoted: Option<MessageKey>,
    /// Kind-specific details (location, contact card, poll options, system event) as JSON.
    pub extra: Option<serde_json::Value>,
    pub media: Option<MediaInfo>,
    /// Sender's self-chosen name, as carried by the message.
    pub push_name: Option<String>,
}

impl NewMessage {
    pub fn key(&self) -> MessageKey {
        MessageKey {
            chat_jid: self.chat_jid.clone(),
            msg_id: self.msg_id.clone(),
            sender_jid: self.sender_jid.clone(),
        }
    }
}

/// Something that happens to the message archive. A batch is a list of these;
/// applying the same items again, or in another order, gives the same result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// Batches are mostly messages: boxing them would add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum Item {
    Message(NewMessage),
    /// A new text for an earlier message; the newest edit wins.
    Edit {
        target: MessageKey,
        change_id: String,
        at: i64,
        text: String,
    },
    /// "Delete for everyone": the message is kept with `deleted_at` set.
    Revoke {
        target: MessageKey,
        change_id: String,
        at: i64,
        by_jid: String,
    },
    /// A reaction; an empty emoji removes the reactor's reaction.
    Reaction {
        target: MessageKey,
        reactor_jid: String,
        emoji: String,
        at: i64,
    },
    /// A delivery or read receipt.
    Receipt {
        target: MessageKey,
        status: MessageStatus,
    },
    /// A poll vote: the options the voter has selected now.
    PollVote {
        target: MessageKey,
        voter_jid: String,
        options: Vec<String>,
        at: i64,
    },
    /// Chat metadata (name, kind, archive, mute, pin, unread count, community).
    Chat(ChatUpdate),
    /// Contact names and numbers.
    Contact(ContactUpdate),
    /// The complete member list of a group, replacing the stored one.
    Members {
        group_jid: String,
        members: Vec<(String, MemberRole)>,
    },
    /// WhatsApp told which phone number a LID (`…@lid`) belongs to: from then
    /// on the person is one contact and one chat under `pn`, and whatever was
    /// stored under the LID is merged into it. A newer `at` wins.
    LidMapping {
        lid: String,
        pn: String,
        at: i64,
    },
}

/// What applying a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReport {
    /// Messages stored for the first time.
    pub inserted: u64,
    /// Messages that were already stored (a re-delivery).
    pub already_present: u64,
    /// Edits, revokes, reactions, receipts and votes that changed something.
    pub changes_applied: u64,
    /// Edits, revokes, reactions, receipts and votes already known or older than what is stored.
    pub changes_ignored: u64,
}

impl std::ops::AddAssign for BatchReport {
    fn add_assign(&mut self, rhs: Self) {
        self.inserted += rhs.inserted;
        self.already_present += rhs.already_present;
        self.changes_applied += rhs.changes_applied;
        self.changes_ignored += rhs.changes_ignored;
    }
}

/// Chat metadata. `None` fields leave what is stored; an update older than the
/// stored one (`at`) is ignored, so a stale copy never reverts a newer state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatUpdate {
    pub jid: String,
    pub at: i64,
    pub kind: Option<ChatKind>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub parent_jid: Option<String>,
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    /// `Some(None)` unmutes.
    pub muted_until: Option<Option<i64>>,
    pub unread_count: Option<u32>,
}

/// Contact names from their several sources. `None` fields leave what is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactUpdate {
    pub jid: String,
    pub at: i64,
    pub phone: Option<String>,
    pub saved_name: Option<String>,
    pub push_name: Option<String>,
    pub business_name: Option<String>,
    pub lid: Option<String>,
}

/// A chat as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSummary {
    pub jid: String,
    pub kind: ChatKind,
    pub name: Option<String>,
    pub parent_jid: Option<String>,
    pub archived: bool,
    pub pinned: bool,
    pub muted_until: Option<i64>,
    pub unread_count: u32,
    pub last_message_ts: Option<i64>,
    pub last_message_preview: Option<String>,
    pub last_message_from_me: Option<bool>,
    pub last_sender_name: Option<String>,
}

/// A contact with every name we know for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub jid: String,
    pub phone: Option<String>,
    pub saved_name: Option<String>,
    pub push_name: Option<String>,
    pub business_name: Option<String>,
    pub lid: Option<String>,
}

impl Contact {
    /// The best name to show: saved, then push name, then business name.
    pub fn display_name(&self) -> Option<&str> {
        self.saved_name
            .as_deref()
            .or(self.push_name.as_deref())
            .or(self.business_name.as_deref())
    }
}

/// A stored message as reads return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub chat_jid: String,
    pub msg_id: String,
    pub sender_jid: String,
    /// Saved name, push name or business name of the sender, when known.
    pub sender_name: Option<String>,
    pub sender_phone: Option<String>,
    pub from_me: bool,
    pub ts: i64,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub original_text: Option<String>,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub quoted: Option<MessageKey>,
    pub extra: Option<serde_json::Value>,
    pub status: MessageStatus,
    pub has_media: bool,
}

impl Message {
    pub fn key(&self) -> MessageKey {
        MessageKey {
            chat_jid: self.chat_jid.clone(),
            msg_id: self.msg_id.clone(),
            sender_jid: self.sender_jid.clone(),
        }
    }
}

/// A message's media record, with download state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRecord {
    pub info: MediaInfo,
    pub local_path: Option<String>,
    pub downloaded_at: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// A reaction on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub reactor_jid: String,
    pub emoji: String,
    pub ts: i64,
}

/// One page of a longer list; pass `next_cursor` back to get the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    /// The cursor that goes on right after each item (what [`Page::keep`] needs).
    #[serde(skip)]
    pub item_cursors: Vec<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            next_cursor: None,
            item_cursors: Vec::new(),
        }
    }
}

impl<T> Page<T> {
    /// The first `n` items (at least one, when there is one), and the cursor
    /// that goes on right after the last one kept: a result cut to fit a size
    /// loses nothing, the next page starts where this one stops.
    #[must_use]
    pub fn keep(mut self, n: usize) -> Self {
        let n = n.max(1);
        if n < self.items.len() {
            self.items.truncate(n);
            self.next_cursor = self.item_cursors.get(n - 1).cloned().or(self.next_cursor);
        }
        self.item_cursors.truncate(n);
        self
    }

    /// The same page with its items turned into something else (cursors kept).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            item_cursors: self.item_cursors,
        }
    }
}

/// Which chats `list_chats` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatFilter {
    /// Case-insensitive part of the chat's name or JID.
    pub name: Option<String>,
    pub kind: Option<ChatKind>,
    /// `None`: both; `Some(false)`: not archived; `Some(true)`: archived only.
    pub archived: Option<bool>,
    pub unread_only: bool,
    /// Sub-groups of this community.
    pub parent_jid: Option<Jid>,
    /// Only chats in this scope (default: all).
    #[serde(default)]
    pub scope: ChatScope,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Filters shared by `list_messages` and `search`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFilter {
    pub chat_jid: Option<Jid>,
    pub sender_jid: Option<Jid>,
    /// Inclusive lower bound (ms).
    pub after: Option<i64>,
    /// Exclusive upper bound (ms).
    pub before: Option<i64>,
    pub from_me: Option<bool>,
    pub has_media: Option<bool>,
    pub include_deleted: bool,
    /// Only messages of chats in this scope (default: all).
    #[serde(default)]
    pub scope: ChatScope,
}

/// Order of `list_messages` and `search` results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    Newest,
    Oldest,
    /// Best match first (search only; lists treat it as newest).
    Relevance,
}

/// A full-text search hit: the message and a snippet with the matches marked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub message: Message,
    /// The matching part of the text, matches between `HIGHLIGHT_START` and `HIGHLIGHT_END`.
    pub snippet: String,
}

/// Marks the start of a match in a snippet.
pub const HIGHLIGHT_START: &str = "«";
/// Marks the end of a match in a snippet.
pub const HIGHLIGHT_END: &str = "»";

/// Totals for `get_message_statistics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statistics {
    pub messages: i64,
    pub chats: i64,
    pub contacts: i64,
    pub media_messages: i64,
    pub deleted_messages: i64,
    pub oldest_ts: Option<i64>,
    pub newest_ts: Option<i64>,
    pub database_bytes: i64,
}

/// Message counts of one chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ChatStatistics {
    pub jid: String,
    pub name: Option<String>,
    pub messages: i64,
    pub from_me: i64,
    pub oldest_ts: Option<i64>,
    pub newest_ts: Option<i64>,
}

/// Kinds the `groups` rule takes in.
pub(crate) const GROUP_KINDS: [ChatKind; 2] = [ChatKind::Group, ChatKind::Community];

/// Which chats a listing may return.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatScope {
    /// Every chat: the default, which adds nothing to a query.
    #[default]
    All,
    /// The chats any of these rules match; with no rule, none.
    Rules {
        /// Groups and communities (JIDs ending in `@g.us`).
        groups: bool,
        /// Direct chats (JIDs of no other kind).
        direct: bool,
        /// These chats exactly.
        jids: Vec<String>,
    },
}

impl ChatScope {
    /// The scope of the `mcp.chats` rule words: `*` (everything), `groups`,
    /// `direct`, or a chat JID. No rules: no chat.
    pub fn from_rules<S: AsRef<str>>(rules: &[S]) -> Self {
        let (mut groups, mut direct, mut jids) = (false, false, Vec::new());
        for rule in rules {
            match rule.as_ref() {
                "*" => return Self::All,
                "groups" => groups = true,
                "direct" => direct = true,
                jid => jids.push(jid.to_owned()),
            }
        }
        jids.sort_unstable();
        jids.dedup();
        Self::Rules { groups, direct, jids }
    }

    /// Whether `chat_jid` is in scope: the same answer the listings give.
    pub fn allows(&self, chat_jid: &str) -> bool {
        match self {
            Self::All => true,
            Self::Rules { groups, direct, jids } => {
                let kind = ChatKind::from_jid(chat_jid);
                (*groups && GROUP_KINDS.contains(&kind))
                    || (*direct && kind == ChatKind::Direct)
                    || jids.iter().any(|jid| jid == chat_jid)
            }
        }
    }

    /// Whether this is the whole archive.
    pub fn is_all(&self) -> bool {
        *self == Self::All
    }
}
