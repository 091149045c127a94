use wa_store::{Item, MessageKey, MessageKind, MessageStatus, NewMessage};

use crate::fresh_store;

fn text(chat: &str, id: &str, sender: &str, ts: i64, body: &str) -> NewMessage {
    NewMessage {
        chat_jid: chat.into(),
        msg_id: id.into(),
        sender_jid: sender.into(),
        from_me: false,
        ts,
        kind: MessageKind::Text,
        text: Some(body.into()),
        quoted: None,
        extra: None,
        media: None,
        push_name: Some("Ana".into()),
    }
}

fn key(chat: &str, id: &str, sender: &str) -> MessageKey {
    MessageKey {
        chat_jid: chat.into(),
        msg_id: id.into(),
        sender_jid: sender.into(),
    }
}

const CHAT: &str = "34600000001@s.whatsapp.net";

#[tokio::test]
async fn redelivery_is_reported_and_never_duplicates() {
    let (_dir, store) = fresh_store().await;
    let batch = vec![
        text(CHAT, "A", CHAT, 1_000, "hola"),
        text(CHAT, "B", CHAT, 2_000, "qué tal"),
    ];
    let first = store.upsert_messages(&batch).await.expect("first");
    assert_eq!((first.inserted, first.already_present), (2, 0));
    let again = store.upsert_messages(&batch).await.expect("again");
    assert_eq!((again.inserted, again.already_present), (0, 2));
    // The same message twice inside one batch counts once.
    let twice = vec![text(CHAT, "C", CHAT, 3_000, "x"), text(CHAT, "C", CHAT, 3_000, "x")];
    let report = store.upsert_messages(&twice).await.expect("twice");
    assert_eq!((report.inserted, report.already_present), (1, 1));
    assert_eq!(store.statistics().await.expect("stats").messages, 3);
    let contact = store.get_contact(CHAT).await.expect("contact").expect("exists");
    assert_eq!(contact.push_name.as_deref(), Some("Ana"));
}

#[tokio::test]
async fn same_millisecond_messages_all_stored_in_order() {
    let (_dir, store) = fresh_store().await;
    let batch: Vec<NewMessage> = (0..300)
        .map(|i| text(CHAT, &format!("M{i}"), CHAT, 5_000, &format!("n{i}")))
        .collect();
    let report = store.upsert_messages(&batch).await.expect("insert");
    assert_eq!(report.inserted, 300);
    let later = text(CHAT, "LATER", CHAT, 5_001, "later");
    store.upsert_messages(&[later]).await.expect("later");
    let page = store
        .list_messages(
            &wa_store::MessageFilter::default(),
            wa_store::SortOrder::Newest,
            1,
            None,
        )
        .await
        .expect("list");
    assert_eq!(
        page.items[0].msg_id, "LATER",
        "newest first even after 300 same-ms messages"
    );
}

#[tokio::test]
async fn edit_before_message_applies_when_message_arrives() {
    let (_dir, store) = fresh_store().await;
    let edit = Item::Edit {
        target: key(CHAT, "E1", CHAT),
        change_id: "X1".into(),
        at: 9_000,
        text: "fixed text".into(),
    };
    let report = store.apply(std::slice::from_ref(&edit)).await.expect("edit first");
    assert_eq!(report.changes_applied, 1);
    store
        .upsert_messages(&[text(CHAT, "E1", CHAT, 8_000, "fixd text")])
        .await
        .expect("message");
    let m = store
        .get_message(&key(CHAT, "E1", CHAT))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(m.text.as_deref(), Some("fixed text"));
    assert_eq!(m.original_text.as_deref(), Some("fixd text"));
    assert_eq!(m.edited_at, Some(9_000));
    // An older copy of the message, or the same edit again, reverts nothing.
    store
        .upsert_messages(&[text(CHAT, "E1", CHAT, 8_000, "fixd text")])
        .await
        .expect("again");
    let report = store.apply(&[edit]).await.expect("edit again");
    assert_eq!(report.changes_ignored, 1);
    let m = store
        .get_message(&key(CHAT, "E1", CHAT))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(m.text.as_deref(), Some("fixed text"));
    // The search index follows the edit.
    let hits = store
        .search(&wa_store::SearchQuery {
            text: "fixed".into(),
            ..Default::default()
        })
        .await
        .expect("search");
    assert_eq!(hits.items.len(), 1);
    let old = store
        .search(&wa_store::SearchQuery {
            text: "fixd".into(),
            ..Default::default()
        })
        .await
        .expect("search");
    assert!(old.items.is_empty(), "the replaced text is no longer found");
}

#[tokio::test]
async fn newest_edit_wins_whatever_the_order() {
    let (_dir, store) = fresh_store().await;
    store
        .upsert_messages(&[text(CHAT, "E2", CHAT, 1_000, "v0")])
        .await
        .expect("message");
    let edit = |id: &str, at: i64, body: &str| Item::Edit {
        target: key(CHAT, "E2", CHAT),
        change_id: id.into(),
        at,
        text: body.into(),
    };
    store.apply(&[edit("c2", 3_000, "v2")]).await.expect("v2");
    store.apply(&[edit("c1", 2_000, "v1")]).await.expect("v1");
    let m = store
        .get_message(&key(CHAT, "E2", CHAT))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(m.text.as_deref(), Some("v2"));
    assert_eq!(m.original_text.as_deref(), Some("v0"));
}

#[tokio::test]
async fn revoke_keeps_the_message_marked_deleted() {
    let (_dir, store) = fresh_store().await;
    store
        .upsert_messages(&[text(CHAT, "R1", CHAT, 1_000, "secret plan")])
        .await
        .expect("message");
    store
        .apply(&[Item::Revoke {
            target: key(CHAT, "R1", CHAT),
            change_id: "RV".into(),
            at: 2_000,
            by_jid: CHAT.into(),
        }])
        .await
        .expect("revoke");
    let m = store
        .get_message(&key(CHAT, "R1", CHAT))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(m.deleted_at, Some(2_000));
    assert_eq!(m.text.as_deref(), Some("secret plan"));
    let hidden = store
        .search(&wa_store::SearchQuery {
            text: "secret".into(),
            ..Default::default()
        })
        .await
        .expect("search");
    assert!(hidden.items.is_empty(), "deleted messages are left out by default");
    let shown = store
        .search(&wa_store::SearchQuery {
            text: "secret".into(),
            filter: wa_store::MessageFilter {
                include_deleted: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .expect("search");
    assert_eq!(shown.items.len(), 1);
}

#[tokio::test]
async fn reactions_receipts_and_votes_keep_the_newest() {
    let (_dir, store) = fresh_store().await;
    let k = key(CHAT, "X", CHAT);
    store
        .upsert_messages(&[text(CHAT, "X", CHAT, 1_000, "poll?")])
        .await
        .expect("m");
    let react = |emoji: &str, at| Item::Reaction {
        target: k.clone(),
        reactor_jid: "me@s.whatsapp.net".into(),
        emoji: emoji.into(),
        at,
    };
    store
        .apply(&[react("👍", 2_000), react("❤️", 1_500)])
        .await
        .expect("reactions");
    let reactions = store.reactions(&k).await.expect("reactions");
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].emoji, "👍");
    store.apply(&[react("", 3_000)]).await.expect("removed");
    assert!(store.reactions(&k).await.expect("reactions").is_empty());

    let receipt = |status| Item::Receipt {
        target: k.clone(),
        status,
    };
    store
        .apply(&[receipt(MessageStatus::Read), receipt(MessageStatus::Delivered)])
        .await
        .expect("receipts");
    let m = store.get_message(&k).await.expect("get").expect("exists");
    assert_eq!(m.status, MessageStatus::Read, "a receipt never goes back");
    // A receipt for a message of a chat we do not have adds nothing.
    let chats = store.statistics().await.expect("stats").chats;
    let stray = MessageKey {
        chat_jid: "947700900000@lid".into(),
        msg_id: "NEVER-SEEN".into(),
        sender_jid: "me@s.whatsapp.net".into(),
    };
    store
        .apply(&[Item::Receipt {
            target: stray,
            status: MessageStatus::Delivered,
        }])
        .await
        .expect("receipt");
    assert_eq!(store.statistics().await.expect("stats").chats, chats, "no empty chat");

    let vote = |options: &[&str], at| Item::PollVote {
        target: k.clone(),
        voter_jid: "v@s.whatsapp.net".into(),
        options: options.iter().map(|s| (*s).to_owned()).collect(),
        at,
    };
    store
        .apply(&[vote(&["Yes"], 2_000), vote(&["No"], 1_000)])
        .await
        .expect("votes");
    let votes = store.poll_votes(&k).await.expect("votes");
    assert_eq!(votes, vec![("v@s.whatsapp.net".to_owned(), vec!["Yes".to_owned()])]);
}

#[tokio::test]
async fn a_failed_batch_stores_nothing() {
    let (_dir, store) = fresh_store().await;
    let mut bad = text(CHAT, "", CHAT, 1_000, "no id");
    bad.msg_id.clear();
    let good = text(CHAT, "G", CHAT, 1_000, "fine");
    let err = store.apply(&[Item::Message(good), Item::Message(bad)]).await;
    assert!(err.is_err());
    assert_eq!(store.statistics().await.expect("stats").messages, 0);
    assert!(
        store.get_chat(CHAT).await.expect("chat").is_none(),
        "the chat row was rolled back too"
    );
    // The id cache did not keep the rolled-back chat: a later batch still works.
    store
        .upsert_messages(&[text(CHAT, "G", CHAT, 1_000, "fine")])
        .await
        .expect("retry");
    assert!(store.get_chat(CHAT).await.expect("chat").is_some());
}

/// Checking after every batch (as the engine's kill-and-resume test does): FTS5
/// merges segments as chunks land, and the check must judge the file, not a
/// long-lived connection's cached view of it. `PRAGMA integrity_check` also runs
/// FTS5's own check, and on a pooled connection that had read the index before
/// it reported "corruption found reading blob" on a sound file.
#[tokio::test]
async fn an_integrity_check_after_every_batch_judges_the_file() {
    let corpus = wa_corpus::Corpus::new(wa_corpus::Config::small());
    let messages: Vec<wa_store::NewMessage> = corpus.messages().collect();
    let dir = tempfile::tempdir().expect("dir");
    let store = wa_store::Store::open(dir.path().join("m.db")).await.expect("open");
    for window in messages.chunks(400).collect::<Vec<_>>().windows(2) {
        // The next chunk, plus one message already stored: the fast path fails.
        let mut chunk: Vec<wa_store::Item> = window[1].iter().cloned().map(wa_store::Item::Message).collect();
        chunk.push(wa_store::Item::Message(window[0][0].clone()));
        if window[0].as_ptr() == messages.as_ptr() {
            let first: Vec<wa_store::Item> = window[0].iter().cloned().map(wa_store::Item::Message).collect();
            store.apply(&first).await.expect("first chunk");
        }
        store.apply(&chunk).await.expect("overlapping chunk");
        let problems = store.integrity_check().await.expect("check");
        assert!(problems.is_empty(), "{problems:?}");
        // The pooled readers, which read the index before this batch, find what it added.
        let added = window[1]
            .iter()
            .rev()
            .find(|m| {
                m.text
                    .as_deref()
                    .is_some_and(|t| t.split_whitespace().count() >= 3 && !t.contains('"'))
            })
            .expect("a message with words");
        let phrase: Vec<&str> = added
            .text
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect();
        let found = store
            .search(&wa_store::SearchQuery {
                text: format!("\"{}\"", phrase.join(" ")),
                filter: wa_store::MessageFilter {
                    chat_jid: Some(crate::jid(&added.chat_jid)),
                    ..wa_store::MessageFilter::default()
                },
                limit: 200,
                ..wa_store::SearchQuery::default()
            })
            .await
            .expect("search");
        assert!(
            found.items.iter().any(|h| h.message.msg_id == added.msg_id),
            "{phrase:?} not found right after its batch"
        );
    }
    assert_eq!(
        store.statistics().await.expect("stats").messages as usize,
        messages.len()
    );
}
