//! The client's events as store batches: what the engine writes, and must have
//! written, before it acknowledges anything to WhatsApp.
//!
//! Live messages, receipts, contact names, push names, and the archive, pin,
//! mute and read state that app-state sync reports all map to items here.
//! History-sync blobs are decoded by [`items_from_history`]; decoding a large
//! chunk (5 to 20 MB inflated) is CPU work, so callers run it on a blocking
//! thread (`tokio::task::spawn_blocking`), never on the async threads.

use wa_store::{ChatUpdate, ContactUpdate, Item, MessageKey, MessageStatus};
use whatsapp_rust::Jid;
use whatsapp_rust::wacore::types::events::{Event, InboundMessage, LazyHistorySync};
use whatsapp_rust::wacore::types::presence::ReceiptType;

use crate::history::{items_from_conversation, items_from_push_names};
use crate::ingest::{Envelope, items_from_message, present, same_person};

/// A JID without its device part: the person or chat, not one of their phones.
fn user(jid: &Jid) -> String {
    jid.to_non_ad_string()
}

/// Items for every event but history syncs (see [`items_from_history`]).
pub fn items_from_event(event: &Event, own_jid: &str) -> Vec<Item> {
    match event {
        Event::Messages(batch) => items_from_inbound(&batch.messages, own_jid),
        // The account's own LID, told once when the device is linked.
        Event::PairSuccess(paired) => same_person(&paired.lid, Some(&paired.id), 0).into_iter().collect(),
        Event::Receipt(receipt) => {
            // Receipts others send about our messages; "self" receipts (we read
            // or played on another device) are not about delivery.
            let status = match receipt.r#type {
                ReceiptType::Delivered => MessageStatus::Delivered,
                ReceiptType::Read => MessageStatus::Read,
                ReceiptType::Played => MessageStatus::Played,
                _ => return Vec::new(),
            };
            let chat_jid = user(&receipt.source.chat);
            receipt
                .message_ids
                .iter()
                .map(|id| Item::Receipt {
                    target: MessageKey {
                        chat_jid: chat_jid.clone(),
                        msg_id: id.clone(),
                        sender_jid: own_jid.to_owned(),
                    },
                    status,
                })
                .collect()
        }
        Event::ContactUpdate(update) => {
            let name = update.action.full_name.clone().or(update.action.first_name.clone());
            vec![Item::Contact(ContactUpdate {
                jid: user(&update.jid),
                at: update.timestamp.timestamp_millis(),
                saved_name: name.filter(|n| !n.is_empty()),
                lid: present(&update.action.lid_jid),
                ..ContactUpdate::default()
            })]
        }
        Event::PushNameUpdate(update) => vec![Item::Contact(ContactUpdate {
            jid: user(&update.jid),
            at: update.message.timestamp.timestamp_millis(),
            push_name: Some(update.new_push_name.clone()).filter(|n| !n.is_empty()),
            ..ContactUpdate::default()
        })],
        Event::ArchiveUpdate(update) => chat(&update.jid, update.timestamp.timestamp_millis(), |c| {
            c.archived = update.action.archived;
        }),
        Event::PinUpdate(update) => chat(&update.jid, update.timestamp.timestamp_millis(), |c| {
            c.pinned = update.action.pinned;
        }),
        Event::MuteUpdate(update) => chat(&update.jid, update.timestamp.timestamp_millis(), |c| {
            c.muted_until = update.action.muted.map(|muted| {
                // -1 means "always"; a positive end time is in milliseconds.
                muted.then(|| update.action.mute_end_timestamp.filter(|t| *t > 0).unwrap_or(i64::MAX))
            });
        }),
        Event::MarkChatAsReadUpdate(update) => chat(&update.jid, update.timestamp.timestamp_millis(), |c| {
            c.unread_count = update.action.read.filter(|read| *read).map(|_| 0);
        }),
        _ => Vec::new(),
    }
}

/// Decrypted inbound messages (a live batch, or the offline queue's) as items.
pub fn items_from_inbound(messages: &[InboundMessage], own_jid: &str) -> Vec<Item> {
    messages
        .iter()
        .flat_map(|inbound| {
            let info = &inbound.info;
            let ts = info.timestamp.timestamp_millis();
            // A message under a LID often carries the sender's (or, sent by us,
            // the recipient's) phone number beside it: who is who first.
            let source = &info.source;
            let mut items: Vec<Item> = same_person(&source.sender, source.sender_alt.as_ref(), ts)
                .into_iter()
                .chain(
                    (!source.is_group)
                        .then(|| same_person(&source.chat, source.recipient_alt.as_ref(), ts))
                        .flatten(),
                )
                .collect();
            let chat_jid = user(&info.source.chat);
            let sender_jid = if info.source.is_from_me {
                own_jid.to_owned()
            } else {
                user(&info.source.sender)
            };
            let env = Envelope {
                chat_jid: &chat_jid,
                msg_id: &info.id,
                sender_jid: &sender_jid,
                from_me: info.source.is_from_me,
                ts,
                push_name: Some(info.push_name.as_str()).filter(|n| !n.is_empty()),
                own_jid,
            };
            items.extend(items_from_message(&env, &inbound.message));
            items
        })
        .collect()
}

fn chat(jid: &Jid, at: i64, set: impl FnOnce(&mut ChatUpdate)) -> Vec<Item> {
    let mut update = ChatUpdate {
        jid: user(jid),
        at,
        ..ChatUpdate::default()
    };
    set(&mut update);
    vec![Item::Chat(update)]
}

/// Why a history-sync blob could not be read.
#[derive(Debug, thiserror::Error)]
#[error("A history-sync chunk from the phone could not be read (it is damaged or in an unknown format).")]
pub struct UnreadableHistory;

/// Decode a history-sync blob into items: push names, then each conversation.
/// CPU-bound: call it from a blocking thread.
pub fn items_from_history(history: &LazyHistorySync, own_jid: &str, now: i64) -> Result<Vec<Item>, UnreadableHistory> {
    let sync = history.get().ok_or(UnreadableHistory)?;
    // The phone's table of who is who comes first, so this chunk's messages
    // under a LID already land in the person's chat.
    let mut items: Vec<Item> = sync
        .phone_number_to_lid_mappings
        .iter()
        .filter_map(|m| {
            let pn: Jid = present(&m.pn_jid)?.parse().ok()?;
            let lid: Jid = present(&m.lid_jid)?.parse().ok()?;
            same_person(&lid, Some(&pn), now)
        })
        .collect();
    items.extend(items_from_push_names(&sync.pushnames, now));
    for conversation in &sync.conversations {
        items.extend(items_from_conversation(conversation, own_jid));
    }
    Ok(items)
}

#[cfg(test)]
mod tests;
