//! Sending: text, replies, reactions, files and voice notes, and deleting our
//! own messages for everyone.
//!
//! Each send is built as a store message first (kind, text, quote, media
//! fields), turned into WhatsApp's message by the same `wire` code the tests
//! round-trip, sent through the port, then stored under the id WhatsApp gave
//! it, so the archive shows it at once. Who may send what (approval, allowlist,
//! read-only mode) and the audit log are the MCP layer's policy, above this.

use std::path::PathBuf;

use serde::Serialize;
use wa_store::{Item, Jid, MediaInfo, MessageKey, MessageKind, NewMessage};
use whatsapp_rust::waproto::whatsapp::Message;

use crate::clock::now_ms;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::ingest::{Envelope, items_from_message};
use crate::media::media_type;
use crate::wire::{change_message, content};

/// Something to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Text {
        chat_jid: Jid,
        text: String,
        reply_to: Option<MessageKey>,
        /// People to @mention (JIDs); "@<number>" is added to the text for any
        /// the text does not already name, as WhatsApp shows mentions inline.
        mentions: Vec<Jid>,
    },
    /// An empty emoji removes our reaction.
    Reaction { target: MessageKey, emoji: String },
    /// A photo, video or audio file is sent as such, anything else as a document.
    File {
        chat_jid: Jid,
        path: PathBuf,
        caption: Option<String>,
        reply_to: Option<MessageKey>,
    },
    /// An Ogg/Opus recording, shown as a voice note.
    VoiceNote {
        chat_jid: Jid,
        path: PathBuf,
        reply_to: Option<MessageKey>,
    },
}

impl Outgoing {
    pub fn chat_jid(&self) -> &str {
        match self {
            Self::Text { chat_jid, .. } | Self::File { chat_jid, .. } | Self::VoiceNote { chat_jid, .. } => chat_jid,
            Self::Reaction { target, .. } => &target.chat_jid,
        }
    }
}

/// What was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub key: MessageKey,
    pub ts: i64,
}

/// Longest text WhatsApp accepts in one message.
const MAX_TEXT: usize = 65_536;

/// Whether `data` is an Ogg stream carrying Opus audio (what WhatsApp plays as a voice note).
pub fn is_ogg_opus(data: &[u8]) -> bool {
    data.starts_with(b"OggS") && data.windows(8).take(128).any(|w| w == b"OpusHead")
}

/// Put `mentions` in the message's context (a plain text becomes an extended text).
fn with_mentions(message: &mut Message, mentions: Vec<String>) {
    use whatsapp_rust::buffa::MessageField;
    use whatsapp_rust::waproto::whatsapp as wa;
    if let Some(text) = message.conversation.take() {
        message.extended_text_message = MessageField::some(wa::message::ExtendedTextMessage {
            text: Some(text),
            ..Default::default()
        });
    }
    if let Some(ext) = message.extended_text_message.as_option_mut() {
        let mut context = ext.context_info.as_option().cloned().unwrap_or_default();
        context.mentioned_jid = mentions;
        ext.context_info = MessageField::some(context);
    }
}

impl Engine {
    /// Send a message; it is stored as sent once WhatsApp took it. Its
    /// addresses were checked where they came in (they are [`Jid`]s).
    pub async fn send(&self, outgoing: Outgoing) -> Result<Sent> {
        let own = self.own_jid().ok_or(EngineError::NotLinked)?;
        let ts = now_ms();
        let (chat_jid, message) = self.build(outgoing, &own, ts).await?;
        let msg_id = self.inner.port.send(&chat_jid, message.clone()).await?;
        let env = Envelope {
            chat_jid: &chat_jid,
            msg_id: &msg_id,
            sender_jid: &own,
            from_me: true,
            ts,
            push_name: None,
            own_jid: &own,
        };
        let items = items_from_message(&env, &message);
        if let Err(e) = self.inner.store.apply(&items).await {
            // Sent, but not archived here: say so in the log; the phone's history has it.
            tracing::warn!(error = %e, "a sent message could not be stored");
        }
        Ok(Sent {
            key: MessageKey {
                chat_jid,
                msg_id,
                sender_jid: own,
            },
            ts,
        })
    }

    /// The chat and WhatsApp's message for `outgoing` (files uploaded first).
    async fn build(&self, outgoing: Outgoing, own: &str, ts: i64) -> Result<(String, Message)> {
        let own = own.to_owned();
        Ok(match outgoing {
            Outgoing::Reaction { target, emoji } => {
                if self.inner.store.get_message(&target).await?.is_none() {
                    return Err(EngineError::NotFound {
                        what: format!("The message {}", target.msg_id),
                    });
                }
                let item = Item::Reaction {
                    target: target.clone(),
                    reactor_jid: own.clone(),
                    emoji,
                    at: ts,
                };
                let message = change_message(&item, &own)
                    .and_then(|info| info.message.into_option())
                    .unwrap_or_default();
                (target.chat_jid, message)
            }
            Outgoing::Text {
                chat_jid,
                mut text,
                reply_to,
                mentions,
            } => {
                if text.trim().is_empty() {
                    return Err(EngineError::InvalidInput("The message is empty.".into()));
                }
                if text.len() > MAX_TEXT {
                    return Err(EngineError::InvalidInput(format!(
                        "The message is {} characters long; WhatsApp accepts at most {MAX_TEXT}.",
                        text.chars().count()
                    )));
                }
                for jid in &mentions {
                    let user = jid.person();
                    let user = user.user();
                    if !text.contains(&format!("@{user}")) {
                        text.push_str(" @");
                        text.push_str(user);
                    }
                }
                let draft = Self::draft(&chat_jid, &own, ts, MessageKind::Text, Some(text), reply_to, None);
                let mut message = content(&draft, &own);
                if !mentions.is_empty() {
                    with_mentions(&mut message, mentions.into_iter().map(Jid::into_string).collect());
                }
                (chat_jid.into_string(), message)
            }
            Outgoing::File {
                chat_jid,
                path,
                caption,
                reply_to,
            } => {
                let data = self.read_file(&path).await?;
                let mime = mime_guess::from_path(&path)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_owned();
                let kind = match mime.split('/').next() {
                    Some("image") if mime != "image/svg+xml" => MessageKind::Image,
                    Some("video") => MessageKind::Video,
                    Some("audio") => MessageKind::Audio,
                    _ => MessageKind::Document,
                };
                let file_name = path.file_name().and_then(|n| n.to_str()).map(str::to_owned);
                let media = self.upload(data, kind, mime, file_name).await?;
                let draft = Self::draft(&chat_jid, &own, ts, kind, caption, reply_to, Some(media));
                (chat_jid.into_string(), content(&draft, &own))
            }
            Outgoing::VoiceNote {
                chat_jid,
                path,
                reply_to,
            } => {
                let data = self.read_file(&path).await?;
                if !is_ogg_opus(&data) {
                    return Err(EngineError::InvalidInput(format!(
                        "{} is not an Ogg/Opus recording, which WhatsApp needs for voice notes. Convert it \
                         (for example: ffmpeg -i input -c:a libopus output.ogg) or send it as a file.",
                        path.display()
                    )));
                }
                let media = self
                    .upload(data, MessageKind::Voice, "audio/ogg; codecs=opus".into(), None)
                    .await?;
                let draft = Self::draft(&chat_jid, &own, ts, MessageKind::Voice, None, reply_to, Some(media));
                (chat_jid.into_string(), content(&draft, &own))
            }
        })
    }

    /// Delete one of our own messages for everyone ("revoke"); the archive keeps
    /// it marked as deleted, like WhatsApp shows "You deleted this message".
    pub async fn revoke(&self, target: &MessageKey) -> Result<Sent> {
        let own = self.own_jid().ok_or(EngineError::NotLinked)?;
        let stored = self
            .inner
            .store
            .get_message(target)
            .await?
            .ok_or_else(|| EngineError::NotFound {
                what: format!("The message {}", target.msg_id),
            })?;
        if !stored.from_me {
            return Err(EngineError::InvalidInput(
                "Only your own messages can be deleted for everyone. To remove someone else's message from this \
                 computer only, delete the local copy instead."
                    .into(),
            ));
        }
        let ts = now_ms();
        let item = Item::Revoke {
            target: target.clone(),
            change_id: String::new(),
            at: ts,
            by_jid: own.clone(),
        };
        let message = change_message(&item, &own)
            .and_then(|info| info.message.into_option())
            .unwrap_or_default();
        let msg_id = self.inner.port.send(&target.chat_jid, message).await?;
        let item = Item::Revoke {
            target: target.clone(),
            change_id: msg_id.clone(),
            at: ts,
            by_jid: own.clone(),
        };
        self.inner.store.apply(&[item]).await?;
        Ok(Sent {
            key: MessageKey {
                chat_jid: target.chat_jid.clone(),
                msg_id,
                sender_jid: own,
            },
            ts,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn draft(
        chat_jid: &str,
        own: &str,
        ts: i64,
        kind: MessageKind,
        text: Option<String>,
        quoted: Option<MessageKey>,
        media: Option<MediaInfo>,
    ) -> NewMessage {
        NewMessage {
            chat_jid: chat_jid.to_owned(),
            msg_id: String::new(),
            sender_jid: own.to_owned(),
            from_me: true,
            ts,
            kind,
            text,
            quoted,
            extra: None,
            media,
            push_name: None,
        }
    }

    async fn read_file(&self, path: &std::path::Path) -> Result<Vec<u8>> {
        let meta = tokio::fs::metadata(path).await.map_err(|e| EngineError::File {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        if !meta.is_file() {
            return Err(EngineError::InvalidInput(format!("{} is not a file.", path.display())));
        }
        let limit = self.inner.options.max_media_bytes;
        if meta.len() > limit {
            return Err(EngineError::TooLarge {
                size_mb: meta.len().div_ceil(1024 * 1024),
                limit_mb: limit / (1024 * 1024),
            });
        }
        tokio::fs::read(path).await.map_err(|e| EngineError::File {
            path: path.to_owned(),
            detail: e.to_string(),
        })
    }

    async fn upload(
        &self,
        data: Vec<u8>,
        kind: MessageKind,
        mime: String,
        file_name: Option<String>,
    ) -> Result<MediaInfo> {
        let up = self.inner.port.upload(data, media_type(kind)).await?;
        Ok(MediaInfo {
            mime: Some(mime),
            file_name,
            direct_path: Some(up.direct_path),
            url: Some(up.url),
            media_key: Some(up.media_key),
            media_key_ts: Some(now_ms() / 1000),
            file_sha256: Some(up.file_sha256),
            file_enc_sha256: Some(up.file_enc_sha256),
            file_length: i64::try_from(up.file_length).ok(),
            ..MediaInfo::default()
        })
    }
}

#[cfg(test)]
mod tests;
