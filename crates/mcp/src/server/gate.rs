//! The send-safety gate: the one path from a tool to anything other people
//! see (a message, a file, a voice note, a reaction, a deletion, a read
//! receipt), and to what an assistant does on this computer for them (a
//! download, a history fetch from the phone, a resumed job, a local delete).
//!
//! **Invariant: the gate is the only holder of the [`Engine`].** Tools that
//! only look get an [`EngineView`], which has no method that sends, reacts,
//! deletes or marks read. Tools that act call [`Gate::act`]: it checks the
//! chat scope and the send policy, asks the person when the policy says so,
//! takes one send from the rate limit, and only then runs the tool's closure
//! with a [`Permit`]. Acts that stay on this computer ([`Reach::ThisComputer`])
//! pass the same scope, policy, approval and audit, and take nothing from the
//! send rate limit. The engine's acting methods are reachable only through a
//! `Permit`, which nothing outside this file can build and which each of them
//! consumes (one permit, one act). Every act, allowed, refused or failed, is
//! written to the audit log with the client's name, the tool, the recipient
//! and a hash of the content. An acting engine method that is not on `Permit`
//! cannot be called from the tools at all.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, watch};
use wa_engine::{Engine, EngineError, EngineEvent, JobCommand, Outgoing, SavedMedia, Sent, SyncProgress, SyncRequest};
use wa_store::{Decision, Jid, MessageKey, Store, StoreError, SyncJob};

use super::err;
use crate::Asker;
use crate::policy::{Approval, ApprovalRequest, Approver, Policy, RateLimiter, SendPolicy};

/// The longest text an act may carry (WhatsApp's own limit for a message).
const MAX_TEXT_CHARS: usize = 65_536;

/// Policy, approval, rate limit and audit, in front of the engine.
pub(super) struct Gate {
    store: Store,
    data_dir: PathBuf,
    /// The engine, or why act tools cannot run (the helper's read-only fallback).
    engine: Result<Engine, String>,
    approver: Arc<dyn Approver>,
    limiter: Mutex<RateLimiter>,
}

/// Leave to do one act, handed by [`Gate::act`] to the tool's closure once
/// the act is allowed or approved. Each method uses it up.
pub(super) struct Permit {
    engine: Engine,
    store: Store,
}

impl Permit {
    pub(super) async fn send(self, outgoing: Outgoing) -> Result<Sent, EngineError> {
        self.engine.send(outgoing).await
    }

    /// Delete one of the account's own messages for everyone.
    pub(super) async fn revoke(self, key: &MessageKey) -> Result<Sent, EngineError> {
        self.engine.revoke(key).await
    }

    /// Drop this computer's copy of a message (WhatsApp and the phone keep theirs).
    pub(super) async fn drop_local_copy(self, key: &MessageKey) -> Result<bool, StoreError> {
        self.store.drop_message(key).await
    }

    /// Mark a chat read: its senders see blue ticks.
    pub(super) async fn mark_read(self, chat: &Jid) -> Result<u32, EngineError> {
        self.engine.mark_read(chat).await
    }

    /// Resume a paused job (it fetches from the phone, or marks chats read).
    pub(super) async fn resume_job(self, id: i64) -> Result<SyncJob, EngineError> {
        self.engine.control_job(id, JobCommand::Resume).await
    }

    /// Fetch up to `count` older messages of one chat from the phone.
    pub(super) async fn fetch_chat_history(self, jid: Jid, count: u32) -> Result<SyncJob, EngineError> {
        self.engine.start_sync(SyncRequest::Chat { jid, count }).await
    }

    /// Fetch everything the phone will give, for every chat.
    pub(super) async fn fetch_all_history(self) -> Result<SyncJob, EngineError> {
        self.engine.start_sync(SyncRequest::Everything).await
    }

    /// Save a message's media to this computer (asking the phone to upload it
    /// again if it expired on WhatsApp's servers).
    pub(super) async fn download_media(self, key: &MessageKey) -> Result<SavedMedia, EngineError> {
        self.engine.download_media(key).await
    }

    /// Start the background job that marks every group of a community read.
    pub(super) async fn mark_community_read(self, jid: Jid, fetch_first: Option<u32>) -> Result<SyncJob, EngineError> {
        self.engine
            .start_sync(SyncRequest::MarkCommunityRead { jid, fetch_first })
            .await
    }
}

/// The engine as tools that only look see it: state, progress, jobs, and
/// pausing or cancelling a job; nothing that others see, nothing that fetches
/// or saves.
#[derive(Clone, Copy)]
pub(super) struct EngineView<'a>(&'a Engine);

impl EngineView<'_> {
    /// How things stand (the window's status model), worded as asked.
    pub(super) async fn status(self, wording: wa_engine::Wording) -> Result<wa_engine::Status, EngineError> {
        self.0.status(wording).await
    }

    pub(super) fn progress(self) -> watch::Receiver<SyncProgress> {
        self.0.progress()
    }

    pub(super) fn events(self) -> broadcast::Receiver<EngineEvent> {
        self.0.events()
    }

    pub(super) async fn job(self, id: i64) -> Result<SyncJob, EngineError> {
        self.0.job(id).await
    }

    /// Stop a job for now; resuming it is an act ([`Permit::resume_job`]).
    pub(super) async fn pause_job(self, id: i64) -> Result<SyncJob, EngineError> {
        self.0.control_job(id, JobCommand::Pause).await
    }

    /// Stop a job for good (what it fetched stays).
    pub(super) async fn cancel_job(self, id: i64) -> Result<SyncJob, EngineError> {
        self.0.control_job(id, JobCommand::Cancel).await
    }
}

/// Whom an act reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// Other people see it (a message, a reaction, a deletion for everyone,
    /// blue ticks): it takes a send from the rate limit.
    Others,
    /// It stays on this computer and the person's phone (a download, a
    /// history fetch, a local delete): asked and audited the same, not
    /// counted as a send.
    ThisComputer,
}

/// What an act is: the tool, the chat it concerns (and the chats `also`
/// touched, a community's groups), and whom it reaches.
struct Act<'a> {
    tool: &'a str,
    chat: &'a str,
    also: &'a [String],
    reach: Reach,
}

/// The asker as the dialog and the audit log name it: the name the client
/// gave itself, and what the system says (asker.rs).
fn client_name(peer: &Peer<RoleServer>, asker: &Asker) -> String {
    let declared = peer
        .peer_info()
        .map_or_else(|| "unknown assistant".to_owned(), |i| i.client_info.name.clone());
    asker.describe(&declared)
}

/// What the person is shown of an act: the exact content, and what it
/// concerns that is not sent (the message replied to, reacted to, deleted).
#[derive(Default)]
pub(super) struct Shown {
    pub(super) content: String,
    pub(super) context: Option<String>,
    /// A small picture of an image to send (a PNG data URL made from the
    /// bytes that will be sent).
    pub(super) preview: Option<String>,
}

impl From<&str> for Shown {
    fn from(content: &str) -> Self {
        Self {
            content: content.to_owned(),
            ..Self::default()
        }
    }
}

impl From<String> for Shown {
    fn from(content: String) -> Self {
        Self {
            content,
            ..Self::default()
        }
    }
}

impl From<&String> for Shown {
    fn from(content: &String) -> Self {
        Self::from(content.as_str())
    }
}

/// The gate for one session: it knows who asks.
pub(super) struct Asking<'a> {
    pub(super) gate: &'a Gate,
    pub(super) asker: &'a Asker,
}

impl Asking<'_> {
    pub(super) async fn act<T, Op, Fut>(
        &self,
        cx: &RequestContext<RoleServer>,
        tool: &str,
        chat: &str,
        shown: impl Into<Shown>,
        op: Op,
    ) -> Result<(T, Decision), String>
    where
        Op: FnOnce(Permit) -> Fut,
        Fut: Future<Output = Result<(T, String), String>>,
    {
        self.gate
            .act(self.asker, cx, tool, chat, &[], Reach::Others, shown.into(), op)
            .await
    }

    /// [`Asking::act`] for an act that stays on this computer (a download, a
    /// history fetch, a local delete): the same scope, policy, approval and
    /// audit; no send taken from the rate limit.
    pub(super) async fn act_here<T, Op, Fut>(
        &self,
        cx: &RequestContext<RoleServer>,
        tool: &str,
        chat: &str,
        shown: impl Into<Shown>,
        op: Op,
    ) -> Result<(T, Decision), String>
    where
        Op: FnOnce(Permit) -> Fut,
        Fut: Future<Output = Result<(T, String), String>>,
    {
        self.gate
            .act(self.asker, cx, tool, chat, &[], Reach::ThisComputer, shown.into(), op)
            .await
    }

    /// [`Asking::act`] for an act that also touches the chats `also` (the
    /// groups of a community): each must be in scope, and under the
    /// allowlist each must be listed or the person is asked.
    pub(super) async fn act_covering<T, Op, Fut>(
        &self,
        cx: &RequestContext<RoleServer>,
        tool: &str,
        chat: &str,
        also: &[String],
        shown: impl Into<Shown>,
        op: Op,
    ) -> Result<(T, Decision), String>
    where
        Op: FnOnce(Permit) -> Fut,
        Fut: Future<Output = Result<(T, String), String>>,
    {
        self.gate
            .act(self.asker, cx, tool, chat, also, Reach::Others, shown.into(), op)
            .await
    }

    /// A file an act may send (inside an allowed folder), copied now: what
    /// is sent is what was there when the request was made and what the
    /// dialog describes, whatever happens to the file while the person
    /// decides. A refusal is audited.
    pub(super) async fn outbox_file(
        &self,
        peer: &Peer<RoleServer>,
        tool: &str,
        chat: &str,
        path: &str,
    ) -> Result<Staged, String> {
        let staged = match self.gate.policy().await?.check_file(Path::new(path)) {
            Ok(real) => Staged::copy(&real, &self.gate.data_dir.join("staged")).await,
            Err(why) => Err(why),
        };
        if let Err(why) = &staged {
            let who = client_name(peer, self.asker);
            self.gate.audit(&who, tool, chat, path, Decision::Refused, why).await;
        }
        staged
    }
}

/// The largest file an assistant may send (WhatsApp's documents go further;
/// an assistant's file rarely should).
const MAX_STAGED_BYTES: u64 = 100 * 1024 * 1024;

/// A copy of a file to send, taken when the request was made, under the
/// data folder; removed when dropped (sent, refused or failed).
pub(super) struct Staged {
    folder: PathBuf,
    path: PathBuf,
    /// What the dialog says of it: name, type, size and hash.
    pub(super) described: String,
    /// A small picture of it, when it is an image (a PNG data URL).
    pub(super) preview: Option<String>,
}

impl Staged {
    /// Copy `real` (a path inside an allowed folder, links resolved) into a
    /// new folder under `staging`, refusing what is not a plain file of its
    /// own: a special file, or a file with other names (a hard link made in
    /// the outbox to a file elsewhere passes any folder check).
    async fn copy(real: &Path, staging: &Path) -> Result<Self, String> {
        let name = real
            .file_name()
            .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
        let cannot = |e: std::io::Error| format!("The file {} cannot be read: {e}.", real.display());
        let mut file = tokio::fs::File::open(real).await.map_err(cannot)?;
        let meta = file.metadata().await.map_err(cannot)?;
        let on_path = tokio::fs::symlink_metadata(real).await.map_err(cannot)?;
        if !meta.is_file() || !on_path.is_file() {
            return Err(format!("{} is not a plain file, so it cannot be sent.", real.display()));
        }
        let hard_link = || {
            format!(
                "{} has other names elsewhere on this computer (a hard link), so it cannot be sent from the \
                 outbox. Copy the file into the outbox instead.",
                real.display()
            )
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if meta.nlink() > 1 {
                return Err(hard_link());
            }
            if (meta.dev(), meta.ino()) != (on_path.dev(), on_path.ino()) {
                return Err(format!(
                    "{} changed while it was being read; try again.",
                    real.display()
                ));
            }
        }
        // Windows: the open file's link count (std has it only on nightly).
        // The path was resolved to a plain file above, so the handle is its.
        #[cfg(windows)]
        {
            let handle = file.try_clone().await.map_err(cannot)?.into_std().await;
            let info = winapi_util::file::information(&handle).map_err(cannot)?;
            if info.number_of_links() > 1 {
                return Err(hard_link());
            }
        }
        if meta.len() > MAX_STAGED_BYTES {
            return Err(format!(
                "{} is {} MB; assistants may send files up to {} MB.",
                real.display(),
                meta.len().div_ceil(1024 * 1024),
                MAX_STAGED_BYTES / (1024 * 1024)
            ));
        }
        let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        {
            use tokio::io::AsyncReadExt;
            (&mut file)
                .take(MAX_STAGED_BYTES + 1)
                .read_to_end(&mut data)
                .await
                .map_err(cannot)?;
        }
        let folder = staging.join(format!("{:016x}", rand::random::<u64>()));
        let path = folder.join(&name);
        let write = |e: std::io::Error| format!("The file could not be prepared for sending ({e}).");
        tokio::fs::create_dir_all(&folder).await.map_err(write)?;
        // The type the engine sends it as (by its name, as `wa_engine` does).
        let mime = mime_guess::from_path(&name)
            .first_or_octet_stream()
            .essence_str()
            .to_owned();
        let preview = if mime.starts_with("image/") {
            preview(data.clone()).await
        } else {
            None
        };
        let staged = Self {
            folder,
            path,
            described: format!(
                "{name} ({mime}, {}, sha256 {})",
                size_words(data.len() as u64),
                &sha256_bytes(&data)[..16]
            ),
            preview,
        };
        tokio::fs::write(&staged.path, &data).await.map_err(write)?;
        Ok(staged)
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.folder) {
            tracing::debug!(error = %e, "a staged file could not be removed");
        }
    }
}

/// The largest picture the dialog shows of an image to send, in pixels a side.
const PREVIEW_SIDE: u32 = 320;

/// A small PNG of the image `data`, as a data URL for the dialog; `None` when
/// it does not decode as an image (within sane limits on size).
async fn preview(data: Vec<u8>) -> Option<String> {
    use base64::Engine as _;
    let made = tokio::task::spawn_blocking(move || {
        let mut reader = image::ImageReader::new(std::io::Cursor::new(data))
            .with_guessed_format()
            .ok()?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(16_384);
        limits.max_image_height = Some(16_384);
        limits.max_alloc = Some(512 * 1024 * 1024);
        reader.limits(limits);
        let picture = reader.decode().ok()?.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE);
        let mut png = Vec::new();
        picture
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .ok()?;
        Some(format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        ))
    })
    .await;
    match made {
        Ok(preview) => preview,
        Err(e) => {
            tracing::debug!(error = %e, "no preview of an image to send");
            None
        }
    }
}

pub(super) fn size_words(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

fn sha256_bytes(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            use std::fmt::Write;
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            use std::fmt::Write;
            let _ = write!(out, "{b:02x}");
            out
        })
}

impl Gate {
    /// `engine` is `Err(reason)` when act tools cannot run, with the sentence that says why.
    pub(super) fn new(
        store: Store,
        data_dir: PathBuf,
        engine: Result<Engine, String>,
        approver: Arc<dyn Approver>,
    ) -> Self {
        Self {
            store,
            data_dir,
            engine,
            approver,
            limiter: Mutex::new(RateLimiter::default()),
        }
    }

    pub(super) async fn policy(&self) -> Result<Policy, String> {
        Policy::load(&self.store, &self.data_dir).await.map_err(err)
    }

    /// The engine for tools that only look, or why there is none.
    pub(super) fn engine(&self) -> Result<EngineView<'_>, String> {
        self.engine.as_ref().map(EngineView).map_err(Clone::clone)
    }

    /// Policy, approval and rate limit for an act: the permit and the decision
    /// to record, or the decision and the sentence that refuses it.
    async fn authorize(
        &self,
        who: &str,
        cx: &RequestContext<RoleServer>,
        act: &Act<'_>,
        shown: &Shown,
    ) -> Result<(Permit, Decision), (Decision, String)> {
        let Act { chat, also, reach, .. } = *act;
        let content = shown.content.as_str();
        // What the person would approve must be what leaves (visible.rs), and
        // fit what WhatsApp carries before anyone is shown it.
        if let Some(hidden) = crate::visible::hidden(content) {
            return Err((Decision::Refused, crate::visible::refusal("text", &hidden)));
        }
        let length = content.chars().count();
        if length > MAX_TEXT_CHARS {
            return Err((
                Decision::Refused,
                format!(
                    "WhatsApp carries at most {MAX_TEXT_CHARS} characters in one message and this one has {length}, \
                     so it was not shown to the person or sent. Send it in parts."
                ),
            ));
        }
        let engine = self
            .engine
            .as_ref()
            .map_err(|why| (Decision::Refused, why.clone()))?
            .clone();
        let policy = self.policy().await.map_err(|why| (Decision::Failed, why))?;
        // Every chat the act touches (a community's groups too) must be in scope.
        let touched = || std::iter::once(chat).chain(also.iter().map(String::as_str));
        if let Some(outside) = touched().find(|c| !policy.allows_chat(c)) {
            return Err((Decision::Refused, Policy::chat_refusal(outside)));
        }
        let needs_asking = match policy.send {
            SendPolicy::ReadOnly => {
                return Err((
                    Decision::Refused,
                    "Assistants are in read-only mode: they can read and search what is on this computer, \
                     but not send, mark read, delete, download or fetch anything. The person can change this \
                     under Settings > Assistants > Sending."
                        .to_owned(),
                ));
            }
            SendPolicy::Open => false,
            SendPolicy::Allowlist => !touched().all(|c| policy.recipients.iter().any(|r| r == c)),
            SendPolicy::Ask => true,
        };
        let decision = if needs_asking {
            self.ask(who, cx, act, shown, &policy).await?
        } else {
            Decision::Allowed
        };
        let allowed = reach == Reach::ThisComputer
            || self
                .limiter
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(policy.sends_per_minute, std::time::Instant::now());
        if !allowed {
            return Err((
                Decision::Refused,
                format!(
                    "Assistants may send at most {} messages a minute; wait a minute and try again.",
                    policy.sends_per_minute
                ),
            ));
        }
        let permit = Permit {
            engine,
            store: self.store.clone(),
        };
        Ok((permit, decision))
    }

    /// The person's answer to an act the policy asks them about.
    async fn ask(
        &self,
        who: &str,
        cx: &RequestContext<RoleServer>,
        act: &Act<'_>,
        shown: &Shown,
        policy: &Policy,
    ) -> Result<Decision, (Decision, String)> {
        let Act { tool, chat, reach, .. } = *act;
        if !self.approver.can_ask() {
            return Err((
                Decision::Refused,
                "This needs the person's approval in WhatsApp MCP Desktop, and the app has no window open \
                 to ask. Open the app, or allow this chat under Settings > Assistants > Sending."
                    .to_owned(),
            ));
        }
        // The name the archive has for the recipient, beside the number.
        let recipient_name = match self.store.get_chat(chat).await {
            Ok(found) => found.and_then(|c| c.name),
            Err(e) => {
                tracing::debug!(error = %e, "no name for an approval's recipient");
                None
            }
        };
        let request = ApprovalRequest {
            client: who.to_owned(),
            tool: tool.to_owned(),
            recipient: chat.to_owned(),
            recipient_name,
            content: shown.content.clone(),
            context: shown.context.clone(),
            preview: shown.preview.clone(),
            local: reach == Reach::ThisComputer,
        };
        // An assistant that cancels its call withdraws the question: the
        // dialog closes and nothing is sent later.
        let answer = tokio::select! {
            answer = self.approver.approve(request, policy.approval_timeout) => answer,
            () = cx.ct.cancelled() => {
                return Err((
                    Decision::Refused,
                    "The assistant withdrew this request before the person answered, so it was not done."
                        .to_owned(),
                ));
            }
        };
        match answer {
            Approval::Approved => Ok(Decision::Approved),
            Approval::Denied => Err((Decision::Denied, "The person declined this in the app.".to_owned())),
            Approval::NoAnswer => Err((
                Decision::Denied,
                "Nobody approved this in the app in time, so it was not done.".to_owned(),
            )),
            Approval::Busy => Err((
                Decision::Refused,
                format!(
                    "The person already has {} requests from this assistant waiting in the app, so this one \
                     was not shown. Wait for their answers before asking again.",
                    crate::approvals::MAX_WAITING_PER_CLIENT
                ),
            )),
        }
    }

    /// One line in the audit log (a failure to write it is logged, not fatal).
    async fn audit(&self, who: &str, tool: &str, chat: &str, content: &str, decision: Decision, detail: &str) {
        if let Err(e) = self
            .store
            .audit(who, tool, Some(chat), Some(&sha256(content)), decision, Some(detail))
            .await
        {
            tracing::warn!(error = %e, "could not write the audit log");
        }
    }

    /// An act: authorize it, run `op` with the permit, and audit the outcome
    /// whichever it is. `op` returns its value and the audit log's detail.
    #[allow(clippy::too_many_arguments)]
    async fn act<T, Op, Fut>(
        &self,
        asker: &Asker,
        cx: &RequestContext<RoleServer>,
        tool: &str,
        chat: &str,
        also: &[String],
        reach: Reach,
        shown: Shown,
        op: Op,
    ) -> Result<(T, Decision), String>
    where
        Op: FnOnce(Permit) -> Fut,
        Fut: Future<Output = Result<(T, String), String>>,
    {
        let who = client_name(&cx.peer, asker);
        let content = shown.content.as_str();
        let act = Act {
            tool,
            chat,
            also,
            reach,
        };
        let (permit, decision) = match self.authorize(&who, cx, &act, &shown).await {
            Ok(granted) => granted,
            Err((decision, why)) => {
                self.audit(&who, tool, chat, content, decision, &why).await;
                return Err(why);
            }
        };
        match op(permit).await {
            Ok((value, detail)) => {
                self.audit(&who, tool, chat, content, decision, &detail).await;
                Ok((value, decision))
            }
            Err(why) => {
                self.audit(&who, tool, chat, content, Decision::Failed, &why).await;
                Err(why)
            }
        }
    }
}
