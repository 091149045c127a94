//! Any sequence of batches, re-delivered in any order any number of times,
//! gives the same archive as one clean delivery.
//!
//! Covered: messages (with media and quotes), edits, revokes, reactions and poll
//! votes, including changes that arrive before their message. Not covered on
//! purpose: receipts for a message not stored yet are dropped (the next receipt
//! or sync brings the status), and chat/contact metadata is last-writer-wins by
//! its `at` time.

use proptest::prelude::*;
use sqlx::Row;
use wa_store::{Item, MediaInfo, MessageKey, MessageKind, NewMessage, Store};

const CHATS: [&str; 2] = ["111@s.whatsapp.net", "222-333@g.us"];
const SENDERS: [&str; 3] = ["111@s.whatsapp.net", "444@s.whatsapp.net", "me@s.whatsapp.net"];
const WORDS: [&str; 6] = ["alpha", "beta", "gamma", "café", "你好", "🎉"];

fn key(chat: usize, id: usize, sender: usize) -> MessageKey {
    MessageKey {
        chat_jid: CHATS[chat].into(),
        msg_id: format!("M{id}"),
        sender_jid: SENDERS[sender].into(),
    }
}

fn words(picks: &[usize]) -> String {
    picks
        .iter()
        .map(|&i| WORDS[i % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

prop_compose! {
    fn message()(chat in 0..2usize, id in 0..12usize, sender in 0..3usize, ts in 0..6i64,
                 body in prop::collection::vec(0..6usize, 1..4), media in any::<bool>(), quote in prop::option::of(0..12usize))
        -> NewMessage {
        NewMessage {
            chat_jid: CHATS[chat].into(),
            msg_id: format!("M{id}"),
            sender_jid: SENDERS[sender].into(),
            from_me: sender == 2,
            // Few distinct times: same-millisecond messages are the rule here.
            ts: 1_000 + ts,
            kind: if media { MessageKind::Image } else { MessageKind::Text },
            text: Some(words(&body)),
            quoted: quote.map(|q| key(chat, q, 0)),
            extra: None,
            media: media.then(|| MediaInfo { mime: Some("image/jpeg".into()), file_length: Some(10), ..MediaInfo::default() }),
            push_name: None,
        }
    }
}

prop_compose! {
    fn change()(kind in 0..4u8, chat in 0..2usize, id in 0..12usize, sender in 0..3usize, who in 0..3usize,
                at in 0..5i64, change in 0..4usize, body in prop::collection::vec(0..6usize, 1..3)) -> Item {
        let target = key(chat, id, sender);
        let at = 2_000 + at;
        match kind {
            0 => Item::Edit { target, change_id: format!("E{change}"), at, text: words(&body) },
            1 => Item::Revoke { target, change_id: format!("R{change}"), at, by_jid: SENDERS[sender].into() },
            2 => Item::Reaction { target, reactor_jid: SENDERS[who].into(), emoji: WORDS[body[0] % 6].into(), at },
            _ => Item::PollVote { target, voter_jid: SENDERS[who].into(), options: vec![words(&body)], at },
        }
    }
}

/// The distinct things that happened: each message key once, each change once.
fn universe() -> impl Strategy<Value = Vec<Item>> {
    (
        prop::collection::vec(message(), 1..14),
        prop::collection::vec(change(), 0..14),
    )
        .prop_map(|(messages, changes)| {
            let mut seen = std::collections::HashSet::new();
            let mut items: Vec<Item> = messages
                .into_iter()
                .filter(|m| seen.insert(m.key()))
                .map(Item::Message)
                .collect();
            // Two different edits with the same change id cannot exist: keep the first.
            let mut change_ids = std::collections::HashSet::new();
            for c in changes {
                let id = match &c {
                    Item::Edit { target, change_id, .. } | Item::Revoke { target, change_id, .. } => {
                        Some((target.clone(), change_id.clone()))
                    }
                    _ => None,
                };
                if id.is_none_or(|id| change_ids.insert(id)) {
                    items.push(c);
                }
            }
            items
        })
}

/// Everything a reader could observe, keyed by WhatsApp identities (never row ids).
async fn dump(store: &Store) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(store.path())
            .read_only(true),
    )
    .await
    .expect("open for dump");
    let queries = [
        "SELECT c.jid, m.msg_id, s.jid, m.from_me, m.ts, m.kind, m.text, m.search_text, m.original_text,
                m.edited_at, m.deleted_at, d.jid, m.quoted_msg_id, q.jid, m.extra, m.status,
                me.mime, me.file_length
         FROM messages m JOIN chats c ON c.id = m.chat_id JOIN contacts s ON s.id = m.sender_id
         LEFT JOIN contacts d ON d.id = m.deleted_by_id LEFT JOIN contacts q ON q.id = m.quoted_sender_id
         LEFT JOIN media me ON me.message_id = m.id",
        "SELECT c.jid, x.msg_id, s.jid, x.change_id, x.kind, x.at, x.text, b.jid FROM message_changes x
         JOIN chats c ON c.id = x.chat_id JOIN contacts s ON s.id = x.sender_id LEFT JOIN contacts b ON b.id = x.by_id",
        "SELECT c.jid, r.msg_id, s.jid, k.jid, r.emoji, r.ts FROM reactions r JOIN chats c ON c.id = r.chat_id
         JOIN contacts s ON s.id = r.msg_sender_id JOIN contacts k ON k.id = r.reactor_id",
        "SELECT c.jid, v.msg_id, s.jid, k.jid, v.options, v.ts FROM poll_votes v JOIN chats c ON c.id = v.chat_id
         JOIN contacts s ON s.id = v.msg_sender_id JOIN contacts k ON k.id = v.voter_id",
        "SELECT jid, last_message_ts FROM chats",
    ];
    let mut out = Vec::new();
    for sql in queries {
        for row in sqlx::query(sql).fetch_all(&pool).await.expect("dump query") {
            let cells: Vec<String> = (0..row.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .ok()
                        .flatten()
                        .or_else(|| row.try_get::<Option<i64>, _>(i).ok().flatten().map(|n| n.to_string()))
                        .unwrap_or_else(|| "∅".into())
                })
                .collect();
            out.push(cells.join("|"));
        }
    }
    // What full-text search finds for each word.
    for word in WORDS {
        let q = wa_store::segment::fts_query(word).expect("query");
        let mut found: Vec<String> = sqlx::query_scalar(
            "SELECT c.jid || '/' || m.msg_id || '/' || s.jid FROM messages_fts f JOIN messages m ON m.id = f.rowid
             JOIN chats c ON c.id = m.chat_id JOIN contacts s ON s.id = m.sender_id WHERE messages_fts MATCH ?",
        )
        .bind(format!("body : ({q})"))
        .fetch_all(&pool)
        .await
        .expect("fts");
        found.sort();
        out.push(format!("search {word}: {found:?}"));
    }
    pool.close().await;
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn any_delivery_order_gives_the_same_archive(
        items in universe(),
        order_seed in any::<u64>(),
        batch_sizes in prop::collection::vec(1..6usize, 1..30),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let (_a, clean) = crate::fresh_store().await;
            clean.apply(&items).await.expect("clean delivery");
            let expected = dump(&clean).await;

            // Each item delivered one to three times, in a shuffled order, in batches of varying size.
            let mut rng = fastrand::Rng::with_seed(order_seed);
            let mut delivery: Vec<Item> = items.iter().flat_map(|i| std::iter::repeat_n(i.clone(), rng.usize(1..=3))).collect();
            rng.shuffle(&mut delivery);
            let (_b, messy) = crate::fresh_store().await;
            let mut rest = delivery.as_slice();
            let mut sizes = batch_sizes.iter().cycle();
            while !rest.is_empty() {
                let n = (*sizes.next().expect("cycle")).min(rest.len());
                messy.apply(&rest[..n]).await.expect("messy batch");
                rest = &rest[n..];
            }
            let got = dump(&messy).await;
            prop_assert_eq!(&got, &expected);
            prop_assert!(messy.integrity_check().await.expect("check").is_empty());
            Ok(())
        })?;
    }
}
