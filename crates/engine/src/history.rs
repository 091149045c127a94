//! History sync: a conversation from the phone as store items.
//!
//! The phone sends history as `HistorySync` blobs of conversations, each with its
//! metadata (name, unread count, archive, pin, mute, community) and messages
//! (`WebMessageInfo`: key, content, time, push name, delivery status, reactions).
//! Contents go through the same mapping as live messages
//! ([`crate::ingest::items_from_message`]), so both paths store the same rows.

use wa::web_message_info::Status;
use wa_store::{ChatKind, ChatUpdate, ContactUpdate, Item, MessageKey, MessageKind, MessageStatus, NewMessage};
use whatsapp_rust::waproto::whatsapp as wa;

use crate::ingest::{Envelope, items_from_message, present, present_str};

/// Chat metadata first, then every message with its reactions and status.
pub fn items_from_conversation(conversation: &wa::Conversation, own_jid: &str) -> Vec<Item> {
    let chat_jid = conversation.id.as_str();
    let mut items = Vec::new();
    // A conversation may name the person's other address.
    let parse = |jid: &Option<String>| present(jid).and_then(|j| j.parse::<whatsapp_rust::Jid>().ok());
    if let (Some(id), Some(alt)) = (
        chat_jid.parse::<whatsapp_rust::Jid>().ok(),
        parse(&conversation.pn_jid).or_else(|| parse(&conversation.lid_jid)),
    ) {
        items.extend(crate::ingest::same_person(&id, Some(&alt), 0));
    }
    items.push(Item::Chat(chat_update(conversation)));
    for entry in &conversation.messages {
        if let Some(info) = entry.message.as_option() {
            items.extend(items_from_web_message(info, chat_jid, own_jid));
        }
    }
    items
}

/// Names people gave themselves, as the history sync lists them.
pub fn items_from_push_names(names: &[wa::Pushname], at: i64) -> Vec<Item> {
    names
        .iter()
        .filter_map(|p| {
            let jid = present(&p.id)?;
            let name = present(&p.pushname)?;
            Some(Item::Contact(ContactUpdate {
                jid,
                at,
                push_name: Some(name),
                ..ContactUpdate::default()
            }))
        })
        .collect()
}

fn chat_kind(conversation: &wa::Conversation) -> ChatKind {
    if conversation.is_parent_group.unwrap_or(false) {
        ChatKind::Community
    } else {
        ChatKind::from_jid(&conversation.id)
    }
}

/// Seconds or milliseconds since the epoch (WhatsApp uses both) as milliseconds.
fn to_ms(value: u64) -> i64 {
    let value = i64::try_from(value).unwrap_or(i64::MAX);
    if value < 100_000_000_000 {
        value.saturating_mul(1000)
    } else {
        value
    }
}

fn chat_update(c: &wa::Conversation) -> ChatUpdate {
    ChatUpdate {
        jid: c.id.clone(),
        at: c.conversation_timestamp.or(c.last_msg_timestamp).map_or(0, to_ms),
        kind: Some(chat_kind(c)),
        name: c.name.clone().or(c.display_name.clone()).filter(|n| !n.is_empty()),
        description: present(&c.description),
        parent_jid: present(&c.parent_group_id),
        archived: c.archived,
        pinned: c.pinned.map(|p| p > 0),
        muted_until: c.mute_end_time.map(|t| (t > 0).then(|| to_ms(t))),
        unread_count: c.unread_count,
    }
}

/// One message of the history, with what the phone knows about it.
pub fn items_from_web_message(info: &wa::WebMessageInfo, chat_jid: &str, own_jid: &str) -> Vec<Item> {
    let Some(key) = info.key.as_option() else {
        return Vec::new();
    };
    let Some(msg_id) = present_str(&key.id) else {
        return Vec::new();
    };
    let chat_jid = present_str(&key.remote_jid).unwrap_or(chat_jid);
    let from_me = key.from_me.unwrap_or(false);
    let sender_jid = if from_me {
        own_jid
    } else {
        key.participant
            .as_deref()
            .or(info.participant.as_deref())
            .filter(|p| !p.is_empty())
            .unwrap_or(chat_jid)
    };
    let env = Envelope {
        chat_jid,
        msg_id,
        sender_jid,
        from_me,
        ts: info.message_timestamp.map_or(0, to_ms),
        push_name: info.push_name.as_deref(),
        own_jid,
    };
    let mut items = match info.message.as_option() {
        Some(message) => items_from_message(&env, message),
        None => system_message(&env, info).into_iter().collect(),
    };
    let target = MessageKey {
        chat_jid: chat_jid.to_owned(),
        msg_id: msg_id.to_owned(),
        sender_jid: sender_jid.to_owned(),
    };
    for reaction in &info.reactions {
        let reactor = reaction.key.as_option().map_or(sender_jid, |k| {
            if k.from_me.unwrap_or(false) {
                own_jid
            } else {
                present_str(&k.participant).unwrap_or(chat_jid)
            }
        });
        items.push(Item::Reaction {
            target: target.clone(),
            reactor_jid: reactor.to_owned(),
            emoji: reaction.text.clone().unwrap_or_default(),
            at: reaction.sender_timestamp_ms.unwrap_or(env.ts),
        });
    }
    // The delivery state of our own messages, as the phone last saw it.
    if let Some(status) = info.status.and_then(status)
        && from_me
        && items.iter().any(|i| matches!(i, Item::Message(_)))
    {
        items.push(Item::Receipt { target, status });
    }
    items
}

fn status(status: Status) -> Option<MessageStatus> {
    match status {
        Status::SERVER_ACK => Some(MessageStatus::Sent),
        Status::DELIVERY_ACK => Some(MessageStatus::Delivered),
        Status::READ => Some(MessageStatus::Read),
        Status::PLAYED => Some(MessageStatus::Played),
        _ => None,
    }
}

/// A message without content but with a stub type: a group event ("Ana added
/// Luis", "changed the subject", "messages are end-to-end encrypted").
fn system_message(env: &Envelope<'_>, info: &wa::WebMessageInfo) -> Option<Item> {
    let stub = info.message_stub_type?;
    Some(Item::Message(NewMessage {
        chat_jid: env.chat_jid.to_owned(),
        msg_id: env.msg_id.to_owned(),
        sender_jid: env.sender_jid.to_owned(),
        from_me: env.from_me,
        ts: env.ts,
        kind: MessageKind::System,
        text: None,
        quoted: None,
        extra: Some(serde_json::json!({
            "stub": format!("{stub:?}"),
            "parameters": info.message_stub_parameters,
        })),
        media: None,
        push_name: env.push_name.map(str::to_owned),
    }))
}

#[cfg(test)]
mod tests;
