//! WhatsApp's messages (the `waproto` protobufs) as store items.
//!
//! One function, [`items_from_message`], used for live messages and history sync
//! alike: it unwraps the envelopes WhatsApp nests content in (ephemeral,
//! view-once, document-with-caption, device-sent, edited), then maps the content
//! to a stored message, or to a change of an earlier message (edit, revoke,
//! reaction). Protocol traffic (key shares, history-sync notifications, ...) is
//! not message content and maps to nothing.

use wa::message::protocol_message::Type as ProtocolType;
use wa_store::{Item, MediaInfo, MessageKey, MessageKind, NewMessage};
use whatsapp_rust::waproto::whatsapp as wa;

/// Who sent a message, where and when: what WhatsApp's message info says.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    pub chat_jid: &'a str,
    pub msg_id: &'a str,
    pub sender_jid: &'a str,
    pub from_me: bool,
    /// Milliseconds since the epoch, UTC.
    pub ts: i64,
    pub push_name: Option<&'a str>,
    /// This account's JID: the sender of messages a key marks `from_me`.
    pub own_jid: &'a str,
}

/// WhatsApp says `a` and `b` are one person: a LID and a phone number, either
/// way round (the store keeps the person under the number from then on).
pub(crate) fn same_person(a: &whatsapp_rust::Jid, b: Option<&whatsapp_rust::Jid>, at: i64) -> Option<Item> {
    let b = b?;
    let (lid, pn) = match (a.is_lid(), b.is_lid()) {
        (true, false) if b.is_pn() => (a, b),
        (false, true) if a.is_pn() => (b, a),
        _ => return None,
    };
    Some(Item::LidMapping {
        lid: lid.to_non_ad_string(),
        pn: pn.to_non_ad_string(),
        at,
    })
}

/// WhatsApp leaves optional texts empty rather than absent: both mean "none".
/// Takes `&Option<String>` because every caller holds a protobuf field of that type.
#[allow(clippy::ref_option)]
pub(crate) fn present(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

/// [`present`], borrowed.
#[allow(clippy::ref_option)]
pub(crate) fn present_str(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// Envelopes deeper than this are not unwrapped (a malformed message cannot loop us).
const MAX_DEPTH: usize = 8;

/// The store items one WhatsApp message stands for (usually one).
pub fn items_from_message(env: &Envelope<'_>, message: &wa::Message) -> Vec<Item> {
    let message = unwrap(message);
    if let Some(protocol) = message.protocol_message.as_option() {
        return protocol_items(env, protocol);
    }
    if let Some(reaction) = message.reaction_message.as_option() {
        let Some(target) = reaction.key.as_option().and_then(|k| target_key(env, k)) else {
            return Vec::new();
        };
        return vec![Item::Reaction {
            target,
            reactor_jid: env.sender_jid.to_owned(),
            emoji: reaction.text.clone().unwrap_or_default(),
            at: reaction.sender_timestamp_ms.unwrap_or(env.ts),
        }];
    }
    if is_protocol_only(message) {
        return Vec::new();
    }
    vec![Item::Message(new_message(env, message))]
}

/// The content inside WhatsApp's wrappers.
fn unwrap(message: &wa::Message) -> &wa::Message {
    let mut current = message;
    for _ in 0..MAX_DEPTH {
        let inner = [
            &current.ephemeral_message,
            &current.view_once_message,
            &current.view_once_message_v2,
            &current.view_once_message_v2_extension,
            &current.document_with_caption_message,
            &current.edited_message,
            &current.group_mentioned_message,
            &current.bot_invoke_message,
            &current.lottie_sticker_message,
        ]
        .into_iter()
        .find_map(|wrapper| wrapper.as_option().and_then(|w| w.message.as_option()))
        .or_else(|| {
            current
                .device_sent_message
                .as_option()
                .and_then(|d| d.message.as_option())
        });
        match inner {
            Some(inner) => current = inner,
            None => break,
        }
    }
    current
}

/// Messages that carry no content of their own (only keys or protocol data).
fn is_protocol_only(message: &wa::Message) -> bool {
    message.sender_key_distribution_message.is_set()
        && message.conversation.is_none()
        && kind_and_text(message).0 == MessageKind::Unknown
}

fn protocol_items(env: &Envelope<'_>, protocol: &wa::message::ProtocolMessage) -> Vec<Item> {
    let Some(target) = protocol.key.as_option().and_then(|k| target_key(env, k)) else {
        return Vec::new();
    };
    match protocol.r#type {
        Some(ProtocolType::REVOKE) => vec![Item::Revoke {
            target,
            change_id: env.msg_id.to_owned(),
            at: env.ts,
            by_jid: env.sender_jid.to_owned(),
        }],
        Some(ProtocolType::MESSAGE_EDIT) => {
            let text = protocol
                .edited_message
                .as_option()
                .map(|m| kind_and_text(unwrap(m)).1.unwrap_or_default())
                .unwrap_or_default();
            vec![Item::Edit {
                target,
                change_id: env.msg_id.to_owned(),
                at: protocol.timestamp_ms.unwrap_or(env.ts),
                text,
            }]
        }
        _ => Vec::new(),
    }
}

/// The message a key in an edit, revoke or reaction points at. WhatsApp writes
/// such keys from the point of view of whoever sent the change: `from_me` means
/// "sent by the author of this change" (us only when the change is ours), and
/// in a direct chat the other person names the chat as they see it, which is
/// our own JID. So: in a direct chat the chat is always this envelope's chat; a
/// target not `from_me` was sent by the participant (groups), else by the other
/// side of the direct chat.
fn target_key(env: &Envelope<'_>, key: &wa::MessageKey) -> Option<MessageKey> {
    let msg_id = present(&key.id)?;
    let group = wa_store::jid::is_group(env.chat_jid);
    let chat_jid = if group {
        present(&key.remote_jid).unwrap_or_else(|| env.chat_jid.to_owned())
    } else {
        env.chat_jid.to_owned()
    };
    let sender_jid = if key.from_me.unwrap_or(false) {
        env.sender_jid.to_owned()
    } else if let Some(participant) = present(&key.participant) {
        participant
    } else if env.from_me {
        chat_jid.clone()
    } else {
        env.own_jid.to_owned()
    };
    Some(MessageKey {
        chat_jid,
        msg_id,
        sender_jid,
    })
}

fn new_message(env: &Envelope<'_>, message: &wa::Message) -> NewMessage {
    let (kind, text) = kind_and_text(message);
    NewMessage {
        chat_jid: env.chat_jid.to_owned(),
        msg_id: env.msg_id.to_owned(),
        sender_jid: env.sender_jid.to_owned(),
        from_me: env.from_me,
        ts: env.ts,
        kind,
        text,
        quoted: context_info(message).and_then(|c| quoted_key(env, c)),
        extra: extra(message),
        media: media(message),
        push_name: env.push_name.map(str::to_owned),
    }
}

/// What kind of message this is and its text (body or caption).
fn kind_and_text(m: &wa::Message) -> (MessageKind, Option<String>) {
    if let Some(text) = m.conversation.clone() {
        return (MessageKind::Text, Some(text));
    }
    if let Some(t) = m.extended_text_message.as_option() {
        return (MessageKind::Text, t.text.clone());
    }
    if let Some(i) = m.image_message.as_option() {
        return (MessageKind::Image, i.caption.clone());
    }
    if let Some(v) = m.video_message.as_option().or(m.ptv_message.as_option()) {
        return (MessageKind::Video, v.caption.clone());
    }
    if let Some(a) = m.audio_message.as_option() {
        let kind = if a.ptt.unwrap_or(false) {
            MessageKind::Voice
        } else {
            MessageKind::Audio
        };
        return (kind, None);
    }
    if let Some(d) = m.document_message.as_option() {
        return (MessageKind::Document, d.caption.clone().or(d.title.clone()));
    }
    if m.sticker_message.is_set() {
        return (MessageKind::Sticker, None);
    }
    if let Some(l) = m.location_message.as_option() {
        let text = [l.name.clone(), l.address.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        return (MessageKind::Location, Some(text).filter(|t| !t.is_empty()));
    }
    if let Some(l) = m.live_location_message.as_option() {
        return (MessageKind::Location, l.caption.clone());
    }
    if let Some(c) = m.contact_message.as_option() {
        return (MessageKind::Contact, c.display_name.clone());
    }
    if let Some(c) = m.contacts_array_message.as_option() {
        return (MessageKind::Contact, c.display_name.clone());
    }
    if let Some(p) = poll(m) {
        return (MessageKind::Poll, p.name.clone());
    }
    (MessageKind::Unknown, None)
}

fn poll(m: &wa::Message) -> Option<&wa::message::PollCreationMessage> {
    m.poll_creation_message
        .as_option()
        .or(m.poll_creation_message_v2.as_option())
        .or(m.poll_creation_message_v3.as_option())
}

fn context_info(m: &wa::Message) -> Option<&wa::ContextInfo> {
    m.extended_text_message
        .as_option()
        .and_then(|x| x.context_info.as_option())
        .or_else(|| m.image_message.as_option().and_then(|x| x.context_info.as_option()))
        .or_else(|| m.video_message.as_option().and_then(|x| x.context_info.as_option()))
        .or_else(|| m.audio_message.as_option().and_then(|x| x.context_info.as_option()))
        .or_else(|| m.document_message.as_option().and_then(|x| x.context_info.as_option()))
        .or_else(|| m.sticker_message.as_option().and_then(|x| x.context_info.as_option()))
        .or_else(|| m.location_message.as_option().and_then(|x| x.context_info.as_option()))
        .or_else(|| m.contact_message.as_option().and_then(|x| x.context_info.as_option()))
}

/// The message this one quotes: its id is the context's stanza id, its sender
/// the context's participant.
fn quoted_key(env: &Envelope<'_>, context: &wa::ContextInfo) -> Option<MessageKey> {
    let msg_id = present(&context.stanza_id)?;
    let sender_jid = present(&context.participant).unwrap_or_else(|| env.chat_jid.to_owned());
    Some(MessageKey {
        chat_jid: present(&context.remote_jid).unwrap_or_else(|| env.chat_jid.to_owned()),
        msg_id,
        sender_jid,
    })
}

/// Kind-specific details kept as JSON: coordinates, contact cards, poll options, mentions.
fn extra(m: &wa::Message) -> Option<serde_json::Value> {
    if let Some(l) = m.location_message.as_option() {
        return Some(serde_json::json!({
            "latitude": l.degrees_latitude, "longitude": l.degrees_longitude,
            "name": l.name, "address": l.address, "url": l.url,
        }));
    }
    if let Some(l) = m.live_location_message.as_option() {
        return Some(serde_json::json!({
            "latitude": l.degrees_latitude, "longitude": l.degrees_longitude, "live": true,
        }));
    }
    if let Some(c) = m.contact_message.as_option() {
        return Some(serde_json::json!({ "display_name": c.display_name, "vcard": c.vcard }));
    }
    if let Some(c) = m.contacts_array_message.as_option() {
        let cards: Vec<_> = c
            .contacts
            .iter()
            .map(|x| serde_json::json!({ "display_name": x.display_name, "vcard": x.vcard }))
            .collect();
        return Some(serde_json::json!({ "display_name": c.display_name, "contacts": cards }));
    }
    if let Some(p) = poll(m) {
        let options: Vec<_> = p.options.iter().filter_map(|o| o.option_name.clone()).collect();
        return Some(serde_json::json!({
            "options": options, "selectable": p.selectable_options_count.unwrap_or(0),
        }));
    }
    let mentions = context_info(m).map(|c| c.mentioned_jid.clone()).unwrap_or_default();
    (!mentions.is_empty()).then(|| serde_json::json!({ "mentions": mentions }))
}

/// The fields every downloadable WhatsApp media message has.
macro_rules! media_info {
    ($m:expr, $name:expr, $width:expr, $height:expr, $seconds:expr) => {
        MediaInfo {
            mime: $m.mimetype.clone(),
            file_name: $name,
            direct_path: $m.direct_path.clone(),
            url: $m.url.clone(),
            media_key: $m.media_key.clone(),
            media_key_ts: $m.media_key_timestamp,
            file_sha256: $m.file_sha256.clone(),
            file_enc_sha256: $m.file_enc_sha256.clone(),
            file_length: $m.file_length.and_then(|l| i64::try_from(l).ok()),
            width: $width,
            height: $height,
            duration_secs: $seconds,
        }
    };
}

fn media(m: &wa::Message) -> Option<MediaInfo> {
    if let Some(i) = m.image_message.as_option() {
        return Some(media_info!(
            i,
            None,
            i.width.map(i64::from),
            i.height.map(i64::from),
            None
        ));
    }
    if let Some(v) = m.video_message.as_option().or(m.ptv_message.as_option()) {
        let secs = v.seconds.map(i64::from);
        return Some(media_info!(
            v,
            None,
            v.width.map(i64::from),
            v.height.map(i64::from),
            secs
        ));
    }
    if let Some(a) = m.audio_message.as_option() {
        return Some(media_info!(a, None, None, None, a.seconds.map(i64::from)));
    }
    if let Some(d) = m.document_message.as_option() {
        return Some(media_info!(d, d.file_name.clone(), None, None, None));
    }
    if let Some(s) = m.sticker_message.as_option() {
        return Some(media_info!(
            s,
            None,
            s.width.map(i64::from),
            s.height.map(i64::from),
            None
        ));
    }
    None
}

#[cfg(test)]
mod tests;
