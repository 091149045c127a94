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
//! `Permit`, which nothing outside the gate can build (`gate/permit.rs`) and which each of them
//! consumes (one permit, one act). Every act, allowed, refused or failed, is
//! written to the audit log with the client's name, the tool, the recipient
//! and a hash of the content. An acting engine method that is not on `Permit`
//! cannot be called from the tools at all.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use wa_engine::Engine;
use wa_store::{Decision, Store};

use super::err;
use crate::Asker;
use crate::policy::{Approval, ApprovalRequest, Approver, Policy, RateLimiter, SendPolicy};

mod permit;
mod staged;

pub(super) use permit::{EngineView, Permit};
pub(super) use staged::{Staged, size_words};

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

fn sha256(text: &str) -> String {
    staged::sha256_hex(text.as_bytes())
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
        self.engine.as_ref().map(EngineView::new).map_err(Clone::clone)
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
        let permit = Permit::new(engine, self.store.clone());
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
