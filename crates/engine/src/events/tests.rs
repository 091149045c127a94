//! Client events, built with the client crate's own types, as store items.

use std::io::Write;
use std::sync::Arc;

use whatsapp_rust::Jid;
use whatsapp_rust::buffa::{Message as _, MessageField};
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::chrono::{TimeZone, Utc};
use whatsapp_rust::wacore::types::events::{
    ArchiveUpdate, BatchOrigin, Event, InboundMessage, LazyHistorySync, MessageBatch, MuteUpdate, PushNameUpdate,
    Receipt,
};
use whatsapp_rust::wacore::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::wacore::types::presence::ReceiptType;
use whatsapp_rust::waproto::whatsapp as wa;

use super::{items_from_event, items_from_history};
use crate::test_support::{ANA, GROUP, ME};
use wa_store::{Item, MessageStatus};

fn jid(text: &str) -> Jid {
    text.parse().expect("jid")
}

fn source(chat: &str, sender: &str, from_me: bool) -> MessageSource {
    MessageSource {
        chat: jid(chat),
        sender: jid(sender),
        is_from_me: from_me,
        is_group: chat.ends_with("@g.us"),
        ..Default::default()
    }
}

fn live(id: &str, source: MessageSource, body: &str) -> Event {
    let info = MessageInfo {
        source,
        id: id.into(),
        push_name: "Ana".into(),
        timestamp: Utc.timestamp_millis_opt(1_700_000_000_000).single().expect("time"),
        ..Default::default()
    };
    let message = wa::Message {
        conversation: Some(body.into()),
        ..Default::default()
    };
    let inbound = InboundMessage::builder()
        .message(Arc::new(message))
        .info(Arc::new(info))
        .build();
    Event::Messages(
        MessageBatch::builder()
            .messages(Arc::from(vec![inbound]))
            .origin(BatchOrigin::Live)
            .hook_committed(false)
            .build(),
    )
}

#[test]
fn live_messages_use_users_not_devices() {
    // Ana writes from her second phone (device 5); we write from another of our devices.
    let theirs = items_from_event(
        &live("L1", source(GROUP, "34600111222:5@s.whatsapp.net", false), "hola"),
        ME,
    );
    match theirs.as_slice() {
        [Item::Message(m)] => {
            assert_eq!((m.chat_jid.as_str(), m.sender_jid.as_str()), (GROUP, ANA));
            assert_eq!(
                (m.ts, m.push_name.as_deref(), m.text.as_deref()),
                (1_700_000_000_000, Some("Ana"), Some("hola"))
            );
        }
        other => panic!("{other:?}"),
    }
    let ours = items_from_event(
        &live("L2", source(GROUP, "447700900000:12@s.whatsapp.net", true), "on my way"),
        ME,
    );
    assert!(matches!(ours.as_slice(), [Item::Message(m)] if m.sender_jid == ME && m.from_me));
}

#[test]
fn receipts_raise_the_status_of_our_messages() {
    let at = Utc.timestamp_millis_opt(1_700_000_000_000).single().expect("time");
    let read = Event::Receipt(
        Receipt::builder()
            .source(source(ANA, ANA, false))
            .message_ids(vec!["S1".into(), "S2".into()])
            .timestamp(at)
            .r#type(ReceiptType::Read)
            .offline(false)
            .build(),
    );
    let items = items_from_event(&read, ME);
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| matches!(i, Item::Receipt { target, status: MessageStatus::Read }
        if target.sender_jid == ME && target.chat_jid == ANA))
    );
    let read_self = Event::Receipt(
        Receipt::builder()
            .source(source(ANA, ME, true))
            .message_ids(vec!["X".into()])
            .timestamp(at)
            .r#type(ReceiptType::ReadSelf)
            .offline(false)
            .build(),
    );
    assert!(
        items_from_event(&read_self, ME).is_empty(),
        "our own reading elsewhere is not a delivery status"
    );
}

#[test]
fn app_state_updates_become_chat_and_contact_updates() {
    let at = Utc.timestamp_millis_opt(1_700_000_000_000).single().expect("time");
    let archive = Event::ArchiveUpdate(
        ArchiveUpdate::builder()
            .jid(jid(GROUP))
            .timestamp(at)
            .action(Box::new(wa::sync_action_value::ArchiveChatAction {
                archived: Some(true),
                ..Default::default()
            }))
            .from_full_sync(false)
            .build(),
    );
    assert!(matches!(items_from_event(&archive, ME).as_slice(),
        [Item::Chat(c)] if c.jid == GROUP && c.archived == Some(true) && c.at == 1_700_000_000_000));

    let mute = Event::MuteUpdate(
        MuteUpdate::builder()
            .jid(jid(GROUP))
            .timestamp(at)
            .action(Box::new(wa::sync_action_value::MuteAction {
                muted: Some(true),
                mute_end_timestamp: Some(1_800_000_000_000),
                ..Default::default()
            }))
            .from_full_sync(false)
            .build(),
    );
    assert!(
        matches!(items_from_event(&mute, ME).as_slice(), [Item::Chat(c)] if c.muted_until == Some(Some(1_800_000_000_000)))
    );

    let info = MessageInfo {
        timestamp: at,
        ..Default::default()
    };
    let renamed = Event::PushNameUpdate(
        PushNameUpdate::builder()
            .jid(jid(ANA))
            .message(Box::new(info))
            .old_push_name("Ana".into())
            .new_push_name("Ana ☀️".into())
            .build(),
    );
    assert!(
        matches!(items_from_event(&renamed, ME).as_slice(), [Item::Contact(c)] if c.push_name.as_deref() == Some("Ana ☀️"))
    );
}

fn history_blob(sync: &wa::HistorySync) -> LazyHistorySync {
    let raw = sync.encode_to_vec();
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&raw).expect("compress");
    let compressed = zlib.finish().expect("compress");
    LazyHistorySync::new(
        Bytes::from(compressed),
        raw.len(),
        sync.sync_type as i32,
        Some(1),
        Some(100),
    )
}

#[tokio::test]
async fn a_compressed_history_chunk_is_decoded_and_stored() {
    let message = wa::WebMessageInfo {
        key: MessageField::some(wa::MessageKey {
            remote_jid: Some(ANA.into()),
            from_me: Some(false),
            id: Some("HX1".into()),
            participant: None,
        }),
        message: MessageField::some(wa::Message {
            conversation: Some("old news".into()),
            ..Default::default()
        }),
        message_timestamp: Some(1_690_000_000),
        ..Default::default()
    };
    let sync = wa::HistorySync {
        sync_type: wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP,
        conversations: vec![wa::Conversation {
            id: ANA.into(),
            name: Some("Ana García".into()),
            messages: vec![wa::HistorySyncMsg {
                message: MessageField::some(message),
                ..Default::default()
            }],
            ..Default::default()
        }],
        pushnames: vec![wa::Pushname {
            id: Some(ANA.into()),
            pushname: Some("Ana".into()),
        }],
        ..Default::default()
    };
    let items = items_from_history(&history_blob(&sync), ME, 5).expect("decode");
    assert!(matches!(&items[0], Item::Contact(c) if c.push_name.as_deref() == Some("Ana")));

    let dir = tempfile::tempdir().expect("dir");
    let store = wa_store::Store::open(dir.path().join("messages.db"))
        .await
        .expect("store");
    assert_eq!(store.apply(&items).await.expect("apply").inserted, 1);
    let found = store
        .search(&wa_store::SearchQuery {
            text: "news".into(),
            ..Default::default()
        })
        .await
        .expect("search");
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].message.sender_name.as_deref(), Some("Ana"));

    let damaged = LazyHistorySync::new(Bytes::from_static(b"not zlib at all"), 100, 0, None, None);
    let err = items_from_history(&damaged, ME, 5).expect_err("damaged");
    assert!(err.to_string().contains("could not be read"));
}

/// Ana's LID (issue 21): WhatsApp's private id for her, beside her number.
const ANA_LID: &str = "100000000000077@lid";

#[tokio::test]
async fn who_is_who_comes_from_message_addresses_and_the_history_table_and_lands_in_one_chat() {
    // Live: Ana writes from her LID, her number beside it (sender_alt).
    let mut from_lid = source(ANA_LID, "100000000000077:3@lid", false);
    from_lid.sender_alt = Some(jid("34600111222:3@s.whatsapp.net"));
    let live_items = items_from_event(&live("LID1", from_lid, "from my LID"), ME);
    match live_items.as_slice() {
        [Item::LidMapping { lid, pn, .. }, Item::Message(m)] => {
            assert_eq!((lid.as_str(), pn.as_str()), (ANA_LID, ANA), "users, not devices");
            assert_eq!(m.chat_jid, ANA_LID, "the store, not the mapping, decides the chat");
        }
        other => panic!("{other:?}"),
    }
    // We write to her LID from the phone: the recipient's number beside it.
    let mut ours = source(ANA_LID, ME, true);
    ours.recipient_alt = Some(jid(ANA));
    assert!(matches!(
        items_from_event(&live("LID2", ours, "mine"), ME).first(),
        Some(Item::LidMapping { lid, pn, .. }) if lid == ANA_LID && pn == ANA
    ));
    // Two numbers or two LIDs are not a mapping; neither is a group.
    let mut odd = source(GROUP, ANA, false);
    odd.sender_alt = Some(jid("34600999999@s.whatsapp.net"));
    assert!(matches!(
        items_from_event(&live("G1", odd, "hi"), ME).as_slice(),
        [Item::Message(_)]
    ));

    // History: the phone's table, and a conversation naming its other address.
    let sync = wa::HistorySync {
        sync_type: wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP,
        phone_number_to_lid_mappings: vec![wa::PhoneNumberToLIDMapping {
            pn_jid: Some(ANA.into()),
            lid_jid: Some(ANA_LID.into()),
        }],
        conversations: vec![wa::Conversation {
            id: "100000000000088@lid".into(),
            pn_jid: Some("34600888888@s.whatsapp.net".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let history = items_from_history(&history_blob(&sync), ME, 5).expect("decode");
    assert!(matches!(&history[0], Item::LidMapping { lid, pn, at: 5 } if lid == ANA_LID && pn == ANA));
    assert!(history.iter().any(
        |i| matches!(i, Item::LidMapping { lid, pn, .. } if lid == "100000000000088@lid" && pn == "34600888888@s.whatsapp.net")
    ));

    // Stored: one chat under her number, whichever came first.
    let dir = tempfile::tempdir().expect("dir");
    let store = wa_store::Store::open(dir.path().join("messages.db"))
        .await
        .expect("store");
    store
        .apply(&live_items[1..])
        .await
        .expect("the message before its mapping");
    store.apply(&history).await.expect("history");
    let chats = store
        .list_chats(&wa_store::ChatFilter::default())
        .await
        .expect("chats")
        .items;
    assert!(chats.iter().any(|c| c.jid == ANA), "{chats:?}");
    assert!(chats.iter().all(|c| c.jid != ANA_LID), "{chats:?}");
}
