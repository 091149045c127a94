//! The tools that send or change what others see: a message, a file or a
//! voice note, a reaction, a deletion. Each goes through the gate
//! (`gate::Gate::act`); marking read is in `read.rs`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wa_engine::Outgoing;

use super::gate::Shown;
use super::{WhatsAppMcp, err};
use crate::format::{iso, to_jid};

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct SendParams {
    /// A phone number with country code, or a chat JID.
    pub recipient: String,
    pub message: String,
    /// Reply to this message id (quoted) in the same chat.
    pub reply_to_message_id: Option<String>,
    /// People to @mention: phone numbers or JIDs ("@number" is added to the text if missing).
    pub mentions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct SendFileParams {
    /// A phone number with country code, or a chat JID.
    pub recipient: String,
    /// The file's path; it must be in an allowed folder (by default the app's outbox).
    pub media_path: String,
    pub caption: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct SendAudioParams {
    pub recipient: String,
    /// An Ogg/Opus file in an allowed folder.
    pub media_path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct ReactionParams {
    pub chat_jid: String,
    pub message_id: String,
    /// One emoji; empty removes your reaction.
    pub emoji: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct DeleteParams {
    pub chat_jid: String,
    pub message_id: String,
    /// true (default): delete one of your own messages for everyone. false: only
    /// drop this computer's copy (WhatsApp and your phone keep theirs).
    pub for_everyone: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SentOut {
    pub chat_jid: String,
    pub message_id: String,
    pub time: String,
    /// allowed (policy) or approved (by the person).
    pub decision: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DeletedOut {
    pub chat_jid: String,
    pub message_id: String,
    /// for_everyone or local_copy.
    pub deleted: String,
    pub decision: String,
}

impl WhatsAppMcp {
    async fn send_outgoing(
        &self,
        cx: &RequestContext<RoleServer>,
        tool: &str,
        chat: &str,
        shown: impl Into<Shown>,
        outgoing: Outgoing,
    ) -> Result<Json<SentOut>, String> {
        let (sent, decision) = self
            .gate()
            .act(cx, tool, chat, shown, |permit| async move {
                let sent = permit.send(outgoing).await.map_err(err)?;
                let detail = format!("sent {}", sent.key.msg_id);
                Ok((sent, detail))
            })
            .await?;
        Ok(Json(SentOut {
            chat_jid: sent.key.chat_jid,
            message_id: sent.key.msg_id,
            time: iso(sent.ts),
            decision: decision.as_str().to_owned(),
        }))
    }
}

/// A line saying which message an act concerns: "In reply to Anna (+44…)
/// (2026-03-01T18:30:00+01:00): “the text”" (third-party text, cut short).
pub(super) fn about(what: &str, m: &wa_store::Message) -> String {
    let out = crate::format::MessageOut::from(m);
    let text = out.text.as_deref().map_or_else(
        || format!("({})", out.kind),
        |t| {
            let cut: String = t.chars().take(300).collect();
            if cut.len() < t.len() {
                format!("“{cut}…”")
            } else {
                format!("“{cut}”")
            }
        },
    );
    format!("{what} {} ({}): {text}", out.sender_display, out.time)
}

#[tool_router(router = send_router, vis = "pub(super)")]
impl WhatsAppMcp {
    #[tool(
        description = "Send a WhatsApp text message (optionally as a reply) to a phone number or chat JID. Subject to the person's send policy: by default they approve each send in the app.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn send_message(
        &self,
        Parameters(p): Parameters<SendParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<SentOut>, String> {
        let chat = to_jid(&p.recipient)?;
        let replied = match &p.reply_to_message_id {
            Some(id) => Some(self.message(Some(&chat), id).await?),
            None => None,
        };
        let mentions = p
            .mentions
            .unwrap_or_default()
            .iter()
            .map(|m| to_jid(m))
            .collect::<Result<Vec<_>, _>>()?;
        // WhatsApp shows a mention inline as "@number": added here (as the
        // engine would) so that the text shown is the text sent.
        let mut text = p.message;
        for jid in &mentions {
            let person = jid.person();
            let tag = format!("@{}", person.user());
            if !text.contains(&tag) {
                text.push(' ');
                text.push_str(&tag);
            }
        }
        let mut context = Vec::new();
        if let Some(m) = &replied {
            context.push(about("In reply to", m));
        }
        if !mentions.is_empty() {
            let names: Vec<String> = mentions
                .iter()
                .map(|j| crate::format::display(None, None, j.as_str()))
                .collect();
            context.push(format!("Mentioning {}", names.join(", ")));
        }
        let shown = Shown {
            content: text.clone(),
            context: (!context.is_empty()).then(|| context.join("\n")),
            preview: None,
        };
        self.send_outgoing(
            &cx,
            "send_message",
            &chat,
            shown,
            Outgoing::Text {
                chat_jid: chat.clone(),
                text,
                reply_to: replied.map(|m| m.key()),
                mentions,
            },
        )
        .await
    }

    #[tool(
        description = "Send a file (photo, video, audio or document by its type) from an allowed folder (by default the app's outbox). Subject to the send policy.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn send_file(
        &self,
        Parameters(p): Parameters<SendFileParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<SentOut>, String> {
        let chat = to_jid(&p.recipient)?;
        // Copied now: the bytes sent are those described to the person.
        let staged = self
            .gate()
            .outbox_file(&cx.peer, "send_file", &chat, &p.media_path)
            .await?;
        let path = staged.path().to_owned();
        let shown = Shown {
            content: format!(
                "file {}{}",
                staged.described,
                p.caption.as_deref().map(|c| format!(" — {c}")).unwrap_or_default()
            ),
            context: None,
            preview: staged.preview.clone(),
        };
        self.send_outgoing(
            &cx,
            "send_file",
            &chat,
            shown,
            Outgoing::File {
                chat_jid: chat.clone(),
                path,
                caption: p.caption,
                reply_to: None,
            },
        )
        .await
    }

    #[tool(
        description = "Send an Ogg/Opus recording from an allowed folder as a voice note. Subject to the send policy.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn send_audio_message(
        &self,
        Parameters(p): Parameters<SendAudioParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<SentOut>, String> {
        let chat = to_jid(&p.recipient)?;
        let staged = self
            .gate()
            .outbox_file(&cx.peer, "send_audio_message", &chat, &p.media_path)
            .await?;
        let path = staged.path().to_owned();
        let content = format!("voice note {}", staged.described);
        self.send_outgoing(
            &cx,
            "send_audio_message",
            &chat,
            &content,
            Outgoing::VoiceNote {
                chat_jid: chat.clone(),
                path,
                reply_to: None,
            },
        )
        .await
    }

    #[tool(
        description = "React to a message with an emoji (empty removes your reaction). Subject to the send policy.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn send_reaction(
        &self,
        Parameters(p): Parameters<ReactionParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<SentOut>, String> {
        crate::visible::one_emoji(&p.emoji)?;
        let message = self.message(Some(&p.chat_jid), &p.message_id).await?;
        let shown = Shown {
            content: if p.emoji.is_empty() {
                "(remove your reaction)".to_owned()
            } else {
                p.emoji.clone()
            },
            context: Some(about("Reacting to", &message)),
            preview: None,
        };
        self.send_outgoing(
            &cx,
            "send_reaction",
            &p.chat_jid,
            shown,
            Outgoing::Reaction {
                target: message.key(),
                emoji: p.emoji,
            },
        )
        .await
    }

    #[tool(
        description = "Delete a message: one of your own for everyone (WhatsApp shows it as deleted; the archive keeps it marked), or only this computer's copy of any message. Subject to the send policy.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn delete_message(
        &self,
        Parameters(p): Parameters<DeleteParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<DeletedOut>, String> {
        let message = self.message(Some(&p.chat_jid), &p.message_id).await?;
        let everyone = p.for_everyone.unwrap_or(true);
        let content = format!(
            "delete {} {}",
            if everyone {
                "for everyone"
            } else {
                "this computer's copy of"
            },
            p.message_id
        );
        let key = message.key();
        let shown = Shown {
            content,
            context: Some(about("Deleting", &message)),
            preview: None,
        };
        let delete = |permit: super::gate::Permit| async move {
            if everyone {
                permit.revoke(&key).await.map_err(err)?;
            } else {
                permit.drop_local_copy(&key).await.map_err(err)?;
            }
            Ok(((), "deleted".to_owned()))
        };
        // Deleting for everyone reaches the chat; this computer's copy stays here.
        let gate = self.gate();
        let ((), decision) = if everyone {
            gate.act(&cx, "delete_message", &p.chat_jid, shown, delete).await?
        } else {
            gate.act_here(&cx, "delete_message", &p.chat_jid, shown, delete).await?
        };
        Ok(Json(DeletedOut {
            chat_jid: p.chat_jid,
            message_id: p.message_id,
            deleted: if everyone { "for_everyone" } else { "local_copy" }.to_owned(),
            decision: decision.as_str().to_owned(),
        }))
    }
}
