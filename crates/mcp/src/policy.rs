//! What assistants may see and do, enforced here in the core (not only in the UI).
//!
//! - **Chat scope** (`mcp.chats`): the chats assistants can see and touch at
//!   all: `*` (everything, the default), `groups`, `direct`, or JIDs. Reads
//!   are filtered; acts elsewhere are refused with a sentence naming the setting.
//! - **Send policy** (`mcp.send_policy`): `ask` (default: each send or
//!   mark-read waits for the person to approve it in the app; no answer in time
//!   is a no), `allowlist` (recipients in `mcp.recipients` go through, others
//!   ask), `read_only` (act tools refuse), `open`.
//! - **Files** (`mcp.outbox`): `send_file` and `send_audio_message` read only
//!   from these folders (default: `<data dir>/outbox`), so an injected prompt
//!   cannot mail out `~/.ssh` or any other local file.
//! - **Rate** (`mcp.sends_per_minute`, default 10) in every mode.
//!
//! Every decision is written to the audit log by the server.
//!
//! The keys are named here only: [`Policy::load`] reads them all at once and
//! [`Policy::update`] changes them in one write transaction (the app's Safety
//! page and the wizard change the policy this way).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wa_store::{ChatScope, Jid, Settings, Store, StoreError};

pub const SEND_POLICY: &str = "mcp.send_policy";
pub const RECIPIENTS: &str = "mcp.recipients";
pub const CHATS: &str = "mcp.chats";
pub const OUTBOX: &str = "mcp.outbox";
pub const SENDS_PER_MINUTE: &str = "mcp.sends_per_minute";
pub const APPROVAL_TIMEOUT_SECS: &str = "mcp.approval_timeout_secs";

/// The fewest and most sends a minute anyone can set.
pub const SENDS_PER_MINUTE_RANGE: std::ops::RangeInclusive<u32> = 1..=120;
/// The longest wait for the person's answer: under the 60 s after which
/// assistants such as Claude Desktop give up on a call.
const APPROVAL_TIMEOUT_MAX_SECS: u64 = 50;

/// How sends and read receipts by assistants are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SendPolicy {
    #[default]
    Ask,
    Allowlist,
    ReadOnly,
    Open,
}

/// The settings in force for one call.
#[derive(Debug, Clone)]
pub struct Policy {
    pub send: SendPolicy,
    /// The allowlist, checked addresses (a phone number typed on the Safety
    /// page is its `…@s.whatsapp.net` here, so it matches the chat).
    pub recipients: Vec<Jid>,
    pub chats: Vec<String>,
    pub outbox: Vec<PathBuf>,
    pub sends_per_minute: u32,
    pub approval_timeout: Duration,
}

impl Policy {
    /// The settings as stored, with defaults for what is unset.
    pub async fn load(store: &Store, data_dir: &Path) -> Result<Self, StoreError> {
        // One read per tool call, not one per setting.
        Self::read(&store.settings("mcp.").await?, data_dir)
    }

    fn read(s: &Settings, data_dir: &Path) -> Result<Self, StoreError> {
        let typed: Vec<String> = s.get(RECIPIENTS)?.unwrap_or_default();
        // A line an older version kept unchecked can match no chat: leave it
        // out (and say so in the log) rather than fail every tool call.
        let recipients = typed
            .iter()
            .filter_map(|line| {
                Jid::from_input(line)
                    .inspect_err(|e| tracing::warn!("an allowed recipient is left out: {e}"))
                    .ok()
            })
            .collect();
        Ok(Self {
            send: s.get(SEND_POLICY)?.unwrap_or_default(),
            recipients,
            chats: s.get(CHATS)?.unwrap_or_else(|| vec!["*".to_owned()]),
            outbox: s
                .get::<Vec<PathBuf>>(OUTBOX)?
                .unwrap_or_else(|| vec![data_dir.join("outbox")]),
            sends_per_minute: s.get(SENDS_PER_MINUTE)?.unwrap_or(10),
            approval_timeout: Duration::from_secs(
                s.get(APPROVAL_TIMEOUT_SECS)?
                    .unwrap_or(45)
                    .min(APPROVAL_TIMEOUT_MAX_SECS),
            ),
        })
    }

    /// Change the policy: `change` sees it as stored now and edits it, and it
    /// is written back, in one write transaction (all or none; a change made
    /// meanwhile is seen, never undone). Returns the policy as written.
    pub async fn update(store: &Store, data_dir: &Path, change: impl FnOnce(&mut Self)) -> Result<Self, StoreError> {
        let mut written = None;
        store
            .update_settings("mcp.", |s| {
                let mut policy = Self::read(s, data_dir)?;
                change(&mut policy);
                let values = policy.values(data_dir)?;
                written = Some(policy);
                Ok(values)
            })
            .await?;
        match written {
            Some(policy) => Ok(policy),
            None => Self::load(store, data_dir).await,
        }
    }

    /// The settings to write. The rate is kept within [`SENDS_PER_MINUTE_RANGE`];
    /// the outbox is written only when it is not the default, so a moved data
    /// folder brings its own outbox along.
    fn values(&self, data_dir: &Path) -> Result<Vec<(&'static str, serde_json::Value)>, StoreError> {
        let json = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| StoreError::InvalidInput(e.to_string()));
        let rate = self
            .sends_per_minute
            .clamp(*SENDS_PER_MINUTE_RANGE.start(), *SENDS_PER_MINUTE_RANGE.end());
        let mut values = vec![
            (SEND_POLICY, json(serde_json::to_value(self.send))?),
            (RECIPIENTS, json(serde_json::to_value(&self.recipients))?),
            (CHATS, json(serde_json::to_value(&self.chats))?),
            (SENDS_PER_MINUTE, json(serde_json::to_value(rate))?),
            (
                APPROVAL_TIMEOUT_SECS,
                json(serde_json::to_value(self.approval_timeout.as_secs()))?,
            ),
        ];
        if self.outbox != [data_dir.join("outbox")] {
            values.push((OUTBOX, json(serde_json::to_value(&self.outbox))?));
        }
        Ok(values)
    }

    /// The chats assistants may see, as the store applies it inside its queries.
    pub fn scope(&self) -> ChatScope {
        ChatScope::from_rules(&self.chats)
    }

    /// Whether assistants may see and touch `chat_jid` (the same rules as [`Policy::scope`]).
    pub fn allows_chat(&self, chat_jid: &str) -> bool {
        self.scope().allows(chat_jid)
    }

    /// The sentence for a chat outside the scope.
    pub fn chat_refusal(chat_jid: &str) -> String {
        format!(
            "The chat {chat_jid} is not shared with assistants. The person can add it under Settings > \
             Assistants > Chats assistants can see (setting {CHATS})."
        )
    }

    /// `path` if it lies inside an allowed folder (after resolving links), else a refusal.
    pub fn check_file(&self, path: &Path) -> Result<PathBuf, String> {
        let real =
            std::fs::canonicalize(path).map_err(|e| format!("The file {} cannot be read: {e}.", path.display()))?;
        let inside = self
            .outbox
            .iter()
            .filter_map(|dir| std::fs::canonicalize(dir).ok())
            .any(|dir| real.starts_with(&dir));
        if inside {
            Ok(real)
        } else {
            let folders: Vec<String> = self.outbox.iter().map(|d| d.display().to_string()).collect();
            Err(format!(
                "Assistants may only send files from {}. Put the file there first (setting {OUTBOX}).",
                folders.join(", ")
            ))
        }
    }
}

/// What an assistant asks to do, as the person sees it in the approval dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRequest {
    pub client: String,
    pub tool: String,
    pub recipient: String,
    /// The recipient's name in the archive (a person's or a group's), if any.
    pub recipient_name: Option<String>,
    /// The full content: message text, file name, emoji, "mark as read".
    pub content: String,
    /// What the act concerns, which is not sent: the message replied to,
    /// reacted to or deleted (third-party text).
    pub context: Option<String>,
    /// A small picture of an image to send: a PNG data URL made from the
    /// bytes that will be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// The act stays on this computer (a download, a history fetch from the
    /// phone, a local delete): nothing reaches other people.
    pub local: bool,
}

/// The person's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Approved,
    Denied,
    /// No answer before the timeout.
    NoAnswer,
    /// Not asked: this assistant already has as many requests waiting as the
    /// person is shown at once (a flood is refused, not queued).
    Busy,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Asks the person (the app's approval dialog; tests script it).
pub trait Approver: Send + Sync + 'static {
    /// Ask, and wait at most `timeout` for an answer.
    fn approve(&self, request: ApprovalRequest, timeout: Duration) -> BoxFuture<'_, Approval>;
    /// Whether anyone can answer (a window can show the dialog).
    fn can_ask(&self) -> bool {
        true
    }
}

/// No one to ask (headless): "ask" sends are refused, saying how to allow them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NobodyToAsk;

impl Approver for NobodyToAsk {
    fn approve(&self, _request: ApprovalRequest, _timeout: Duration) -> BoxFuture<'_, Approval> {
        Box::pin(async { Approval::NoAnswer })
    }
    fn can_ask(&self) -> bool {
        false
    }
}

/// Sends in the last minute, to cap them.
#[derive(Debug, Default)]
pub struct RateLimiter {
    recent: VecDeque<Instant>,
}

impl RateLimiter {
    /// Take a slot if fewer than `per_minute` were taken in the last minute.
    pub fn take(&mut self, per_minute: u32, now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_mins(1))
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= per_minute as usize {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(chats: &[&str]) -> Policy {
        Policy {
            send: SendPolicy::Ask,
            recipients: Vec::new(),
            chats: chats.iter().map(|c| (*c).to_owned()).collect(),
            outbox: Vec::new(),
            sends_per_minute: 2,
            approval_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn chat_scope_wildcards_and_jids() {
        let all = policy(&["*"]);
        assert!(all.allows_chat("1@g.us") && all.allows_chat("2@s.whatsapp.net"));
        let groups = policy(&["groups"]);
        assert!(groups.allows_chat("1@g.us"));
        assert!(!groups.allows_chat("2@s.whatsapp.net"));
        let one = policy(&["direct", "9@g.us"]);
        assert!(one.allows_chat("2@s.whatsapp.net") && one.allows_chat("9@g.us"));
        assert!(!one.allows_chat("1@g.us"));
        assert!(Policy::chat_refusal("1@g.us").contains(CHATS));
    }

    #[test]
    fn files_only_from_the_outbox() {
        let dir = tempfile::tempdir().expect("dir");
        let outbox = dir.path().join("outbox");
        std::fs::create_dir(&outbox).expect("outbox");
        std::fs::write(outbox.join("ok.txt"), b"x").expect("file");
        std::fs::write(dir.path().join("secret.txt"), b"x").expect("file");
        let mut p = policy(&["*"]);
        p.outbox = vec![outbox.clone()];
        assert!(p.check_file(&outbox.join("ok.txt")).is_ok());
        let refused = p.check_file(&dir.path().join("secret.txt")).expect_err("outside");
        assert!(refused.contains("only send files from"), "{refused}");
        // A path that climbs out of the outbox is judged where it really points.
        let climbing = outbox.join("..").join("secret.txt");
        assert!(p.check_file(&climbing).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.txt"), outbox.join("link.txt")).expect("link");
            assert!(
                p.check_file(&outbox.join("link.txt")).is_err(),
                "a link out of the outbox is refused"
            );
        }
    }

    #[tokio::test]
    async fn one_update_and_one_load_keep_every_setting_and_read_typed_numbers_as_addresses() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path().join("m.db")).await.expect("store");
        let defaults = Policy::load(&store, dir.path()).await.expect("load");
        assert_eq!((defaults.send, defaults.sends_per_minute), (SendPolicy::Ask, 10));
        assert_eq!(defaults.outbox, vec![dir.path().join("outbox")]);

        let changed = Policy::update(&store, dir.path(), |p| {
            p.send = SendPolicy::Allowlist;
            p.recipients = vec![Jid::from_input("+44 7700 900123").expect("number")];
            p.chats = vec!["groups".into(), "34600111222@s.whatsapp.net".into()];
            p.sends_per_minute = 500;
        })
        .await
        .expect("update");
        let back = Policy::load(&store, dir.path()).await.expect("load");
        assert_eq!(back.send, SendPolicy::Allowlist);
        assert_eq!(back.recipients, changed.recipients);
        assert_eq!(back.chats, changed.chats);
        assert_eq!(
            back.sends_per_minute,
            *SENDS_PER_MINUTE_RANGE.end(),
            "kept within the range"
        );
        assert_eq!(back.outbox, defaults.outbox);
        assert!(
            store.setting::<Vec<PathBuf>>(OUTBOX).await.expect("read").is_none(),
            "the default is not written"
        );

        // What an older window saved as typed: the number matches its chat; a broken line is left out.
        store
            .set_setting(RECIPIENTS, &["+34 600 111 222", "@s.whatsapp.net"])
            .await
            .expect("set");
        let old = Policy::load(&store, dir.path()).await.expect("load");
        assert_eq!(
            old.recipients,
            vec![Jid::parse("34600111222@s.whatsapp.net").expect("jid")]
        );
    }

    #[test]
    fn the_rate_limit_counts_a_minute() {
        let mut r = RateLimiter::default();
        let t0 = Instant::now();
        assert!(r.take(2, t0));
        assert!(r.take(2, t0 + Duration::from_secs(1)));
        assert!(!r.take(2, t0 + Duration::from_secs(2)));
        assert!(r.take(2, t0 + Duration::from_secs(61)));
    }
}
