//! A history-sync conversation, built from real protobufs, stored and read back.

use wa::web_message_info::{Status, StubType};
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

use super::{items_from_conversation, items_from_push_names};
use wa_store::{ChatKind, Item, MessageFilter, MessageKey, MessageKind, MessageStatus, SortOrder};

use crate::test_support::{ANA, GROUP, ME, key};

fn entry(info: wa::WebMessageInfo) -> wa::HistorySyncMsg {
    wa::HistorySyncMsg {
        message: MessageField::some(info),
        ..Default::default()
    }
}

fn text(id: &str, from_me: bool, participant: Option<&str>, secs: u64, body: &str) -> wa::WebMessageInfo {
    wa::WebMessageInfo {
        key: key(id, from_me, participant),
        message: MessageField::some(wa::Message {
            conversation: Some(body.into()),
            ..Default::default()
        }),
        message_timestamp: Some(secs),
        push_name: participant.map(|_| "Ana".to_owned()),
        ..Default::default()
    }
}

fn conversation() -> wa::Conversation {
    let mut mine = text("H2", true, None, 1_700_000_060, "count me in");
    mine.status = Some(Status::READ);
    let mut liked = text("H1", false, Some(ANA), 1_700_000_000, "dinner on friday?");
    liked.reactions = vec![wa::Reaction {
        key: MessageField::some(wa::MessageKey {
            from_me: Some(true),
            ..Default::default()
        }),
        text: Some("👍".into()),
        sender_timestamp_ms: Some(1_700_000_030_000),
        ..Default::default()
    }];
    let added = wa::WebMessageInfo {
        key: key("H0", false, Some(ANA)),
        message_timestamp: Some(1_699_999_000),
        message_stub_type: Some(StubType::GROUP_PARTICIPANT_ADD),
        message_stub_parameters: vec![ME.into()],
        ..Default::default()
    };
    wa::Conversation {
        id: GROUP.into(),
        name: Some("Friday dinners".into()),
        unread_count: Some(3),
        archived: Some(false),
        pinned: Some(1_700_000_100),
        mute_end_time: Some(1_800_000_000),
        conversation_timestamp: Some(1_700_000_060),
        messages: vec![entry(mine), entry(liked), entry(added)],
        ..Default::default()
    }
}

#[test]
fn a_conversation_maps_to_chat_messages_reactions_and_status() {
    let items = items_from_conversation(&conversation(), ME);
    match &items[0] {
        Item::Chat(chat) => {
            assert_eq!(chat.kind, Some(ChatKind::Group));
            assert_eq!(chat.name.as_deref(), Some("Friday dinners"));
            assert_eq!(
                (chat.unread_count, chat.pinned, chat.archived),
                (Some(3), Some(true), Some(false))
            );
            assert_eq!(chat.muted_until, Some(Some(1_800_000_000_000)));
            assert_eq!(chat.at, 1_700_000_060_000);
        }
        other => panic!("{other:?}"),
    }
    let messages: Vec<_> = items
        .iter()
        .filter_map(|i| if let Item::Message(m) = i { Some(m) } else { None })
        .collect();
    assert_eq!(messages.len(), 3);
    assert_eq!((messages[0].sender_jid.as_str(), messages[0].from_me), (ME, true));
    assert_eq!(
        (messages[1].sender_jid.as_str(), messages[1].ts),
        (ANA, 1_700_000_000_000)
    );
    assert_eq!(messages[2].kind, MessageKind::System);
    assert!(
        items
            .iter()
            .any(|i| matches!(i, Item::Reaction { reactor_jid, emoji, .. } if reactor_jid == ME && emoji == "👍"))
    );
    assert!(
        items
            .iter()
            .any(|i| matches!(i, Item::Receipt { status: MessageStatus::Read, target } if target.msg_id == "H2"))
    );
}

#[tokio::test]
async fn a_synced_conversation_reads_back_from_the_store() {
    let dir = tempfile::tempdir().expect("dir");
    let store = wa_store::Store::open(dir.path().join("messages.db"))
        .await
        .expect("store");
    let items = items_from_conversation(&conversation(), ME);
    let first = store.apply(&items).await.expect("apply");
    assert_eq!(first.inserted, 3);
    // The phone sends overlapping chunks: the same conversation again adds nothing.
    let again = store.apply(&items).await.expect("apply again");
    assert_eq!((again.inserted, again.already_present), (0, 3));

    let chat = store.get_chat(GROUP).await.expect("chat").expect("stored");
    assert_eq!(
        (chat.name.as_deref(), chat.unread_count, chat.pinned),
        (Some("Friday dinners"), 3, true)
    );
    assert_eq!(chat.last_message_preview.as_deref(), Some("count me in"));
    let page = store
        .list_messages(
            &MessageFilter {
                chat_jid: Some(GROUP.parse().expect("a group address")),
                ..Default::default()
            },
            SortOrder::Oldest,
            10,
            None,
        )
        .await
        .expect("list");
    let ids: Vec<&str> = page.items.iter().map(|m| m.msg_id.as_str()).collect();
    assert_eq!(ids, ["H0", "H1", "H2"], "in time order");
    assert_eq!(page.items[2].status, MessageStatus::Read);
    let liked = MessageKey {
        chat_jid: GROUP.into(),
        msg_id: "H1".into(),
        sender_jid: ANA.into(),
    };
    assert_eq!(store.reactions(&liked).await.expect("reactions")[0].emoji, "👍");
    assert_eq!(page.items[1].sender_name.as_deref(), Some("Ana"));
}

#[test]
fn push_names_become_contact_updates() {
    let names = vec![
        wa::Pushname {
            id: Some(ANA.into()),
            pushname: Some("Ana ☀️".into()),
        },
        wa::Pushname {
            id: None,
            pushname: Some("nobody".into()),
        },
        wa::Pushname {
            id: Some("x@s.whatsapp.net".into()),
            pushname: Some(String::new()),
        },
    ];
    let items = items_from_push_names(&names, 5);
    assert_eq!(items.len(), 1, "entries without an id or a name are skipped");
    assert!(matches!(&items[0], Item::Contact(c) if c.jid == ANA && c.push_name.as_deref() == Some("Ana ☀️")));
}
