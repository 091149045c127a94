//! Store items as WhatsApp carries them: `WebMessageInfo`s with their
//! content, and edits, revokes and reactions as protocol and reaction messages.
//!
//! The inverse of [`crate::ingest`] and [`crate::history`]: a corpus encoded here
//! and decoded there must come back unchanged (tested over a whole corpus).

use wa::message as m;
use wa_store::jid::is_group;
use wa_store::{Item, MediaInfo, MessageKey, MessageKind, NewMessage};
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

/// The key WhatsApp gives a message `id` sent by `sender` in `chat`.
pub fn key(chat: &str, id: &str, sender: &str, own_jid: &str) -> wa::MessageKey {
    let from_me = sender == own_jid;
    wa::MessageKey {
        remote_jid: Some(chat.to_owned()),
        from_me: Some(from_me),
        id: Some(id.to_owned()),
        participant: (is_group(chat) && !from_me).then(|| sender.to_owned()),
    }
}

/// The key of the message a change (edit, revoke, reaction) points at, as its
/// `author` writes it: from the author's point of view, like WhatsApp (`from_me`
/// means "sent by the author"; in a direct chat the author names the chat as
/// they see it, which is us when the author is the other person).
fn target(k: &MessageKey, author: &str, own_jid: &str) -> MessageField<wa::MessageKey> {
    let chat = if is_group(&k.chat_jid) || author == own_jid {
        k.chat_jid.as_str()
    } else {
        own_jid
    };
    let mut key = key(chat, &k.msg_id, &k.sender_jid, author);
    if !is_group(&k.chat_jid) {
        key.participant = None;
    }
    MessageField::some(key)
}

fn seconds(ms: i64) -> Option<u64> {
    u64::try_from(ms / 1000).ok()
}

/// A stored message as the phone's history sync carries it.
pub fn web_message(message: &NewMessage, own_jid: &str) -> wa::WebMessageInfo {
    wa::WebMessageInfo {
        key: MessageField::some(key(&message.chat_jid, &message.msg_id, &message.sender_jid, own_jid)),
        message: MessageField::some(content(message, own_jid)),
        message_timestamp: seconds(message.ts),
        push_name: message.push_name.clone(),
        ..Default::default()
    }
}

/// An edit, revoke or reaction as the message that carries it; `None` for other items.
pub fn change_message(item: &Item, own_jid: &str) -> Option<wa::WebMessageInfo> {
    let (chat, id, sender, ts, message) = match item {
        Item::Edit {
            target: t,
            change_id,
            at,
            text,
        } => (
            &t.chat_jid,
            change_id.clone(),
            t.sender_jid.clone(),
            *at,
            wa::Message {
                protocol_message: MessageField::some(m::ProtocolMessage {
                    key: target(t, &t.sender_jid, own_jid),
                    r#type: Some(m::protocol_message::Type::MESSAGE_EDIT),
                    edited_message: MessageField::some(wa::Message {
                        conversation: Some(text.clone()),
                        ..Default::default()
                    }),
                    timestamp_ms: Some(*at),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
        Item::Revoke {
            target: t,
            change_id,
            at,
            by_jid,
        } => (
            &t.chat_jid,
            change_id.clone(),
            by_jid.clone(),
            *at,
            wa::Message {
                protocol_message: MessageField::some(m::ProtocolMessage {
                    key: target(t, by_jid, own_jid),
                    r#type: Some(m::protocol_message::Type::REVOKE),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
        Item::Reaction {
            target: t,
            reactor_jid,
            emoji,
            at,
        } => (
            &t.chat_jid,
            format!("R{:X}{}", at, t.msg_id),
            reactor_jid.clone(),
            *at,
            wa::Message {
                reaction_message: MessageField::some(m::ReactionMessage {
                    key: target(t, reactor_jid, own_jid),
                    text: Some(emoji.clone()),
                    sender_timestamp_ms: Some(*at),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
        _ => return None,
    };
    Some(wa::WebMessageInfo {
        key: MessageField::some(key(chat, &id, &sender, own_jid)),
        message: MessageField::some(message),
        message_timestamp: seconds(ts),
        ..Default::default()
    })
}

fn context(message: &NewMessage, own_jid: &str) -> MessageField<wa::ContextInfo> {
    let Some(q) = &message.quoted else {
        return MessageField::default();
    };
    MessageField::some(wa::ContextInfo {
        stanza_id: Some(q.msg_id.clone()),
        participant: Some(if q.sender_jid == own_jid {
            own_jid.to_owned()
        } else {
            q.sender_jid.clone()
        }),
        ..Default::default()
    })
}

/// A media message with the download fields every kind shares, then its own.
macro_rules! media_fields {
    ($info:expr, $target:ty, |$t:ident| { $($extra:tt)* }) => {{
        let i: &MediaInfo = $info;
        <$target>::default_with(|$t: &mut $target| {
            $t.mimetype = i.mime.clone();
            $t.url = i.url.clone();
            $t.direct_path = i.direct_path.clone();
            $t.media_key = i.media_key.clone();
            $t.media_key_timestamp = i.media_key_ts;
            $t.file_sha256 = i.file_sha256.clone();
            $t.file_enc_sha256 = i.file_enc_sha256.clone();
            $t.file_length = i.file_length.and_then(|l| u64::try_from(l).ok());
            $($extra)*
        })
    }};
}

/// Build a default value and fill it in (the protobuf structs have many fields).
trait DefaultWith: Default {
    fn default_with(fill: impl FnOnce(&mut Self)) -> Self {
        let mut value = Self::default();
        fill(&mut value);
        value
    }
}
impl<T: Default> DefaultWith for T {}

fn dimension(value: Option<i64>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

/// The content of a message.
pub fn content(message: &NewMessage, own_jid: &str) -> wa::Message {
    let media = message.media.clone().unwrap_or_default();
    let text = message.text.clone();
    let ctx = context(message, own_jid);
    let mut out = wa::Message::default();
    match message.kind {
        MessageKind::Text if message.quoted.is_some() => {
            out.extended_text_message = MessageField::some(m::ExtendedTextMessage::default_with(|t| {
                t.text = text;
                t.context_info = ctx;
            }));
        }
        MessageKind::Text => out.conversation = text,
        MessageKind::Image => {
            out.image_message = MessageField::some(media_fields!(&media, m::ImageMessage, |t| {
                t.caption = text;
                t.width = dimension(media.width);
                t.height = dimension(media.height);
                t.context_info = ctx;
            }));
        }
        MessageKind::Video => {
            out.video_message = MessageField::some(media_fields!(&media, m::VideoMessage, |t| {
                t.caption = text;
                t.width = dimension(media.width);
                t.height = dimension(media.height);
                t.seconds = dimension(media.duration_secs);
                t.context_info = ctx;
            }));
        }
        MessageKind::Voice | MessageKind::Audio => {
            out.audio_message = MessageField::some(media_fields!(&media, m::AudioMessage, |t| {
                t.ptt = Some(message.kind == MessageKind::Voice);
                t.seconds = dimension(media.duration_secs);
                t.context_info = ctx;
            }));
        }
        MessageKind::Document => {
            out.document_message = MessageField::some(media_fields!(&media, m::DocumentMessage, |t| {
                t.caption = text;
                t.file_name.clone_from(&media.file_name);
                t.context_info = ctx;
            }));
        }
        MessageKind::Sticker => {
            out.sticker_message = MessageField::some(media_fields!(&media, m::StickerMessage, |t| {
                t.width = dimension(media.width);
                t.height = dimension(media.height);
                t.context_info = ctx;
            }));
        }
        MessageKind::Location => {
            let extra = message.extra.clone().unwrap_or_default();
            out.location_message = MessageField::some(m::LocationMessage::default_with(|l| {
                l.degrees_latitude = extra["latitude"].as_f64();
                l.degrees_longitude = extra["longitude"].as_f64();
                l.name = text;
                l.context_info = ctx;
            }));
        }
        MessageKind::Contact => {
            let extra = message.extra.clone().unwrap_or_default();
            let name = text.clone().unwrap_or_default();
            let phone = extra["phone"].as_str().unwrap_or_default().to_owned();
            out.contact_message = MessageField::some(m::ContactMessage::default_with(|c| {
                c.display_name = text;
                c.vcard = Some(format!(
                    "BEGIN:VCARD\nVERSION:3.0\nFN:{name}\nTEL;type=CELL;waid={phone}:+{phone}\nEND:VCARD"
                ));
                c.context_info = ctx;
            }));
        }
        MessageKind::Poll => {
            let extra = message.extra.clone().unwrap_or_default();
            let options = extra["options"].as_array().cloned().unwrap_or_default();
            out.poll_creation_message_v3 = MessageField::some(m::PollCreationMessage::default_with(|p| {
                p.name = text;
                p.options = options
                    .iter()
                    .filter_map(|o| o.as_str())
                    .map(|o| m::poll_creation_message::Option::default_with(|x| x.option_name = Some(o.to_owned())))
                    .collect();
                p.selectable_options_count = extra["selectable"].as_u64().and_then(|s| u32::try_from(s).ok());
                p.context_info = ctx;
            }));
        }
        MessageKind::System | MessageKind::Unknown => {}
    }
    out
}

#[cfg(test)]
mod tests;
