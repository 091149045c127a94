//! One person, two addresses (issue 21): whatever arrives under a LID or a
//! phone number, before or after WhatsApp says they are the same person, the
//! archive ends with one contact and one direct chat per person, each message
//! once.

use proptest::prelude::*;
use sqlx::Row;
use wa_store::{ChatFilter, Item, MessageFilter, MessageKey, MessageKind, NewMessage, SortOrder, Store};

/// Ana writes under her number and her LID; Ben has only a number; the
/// account ("me") has both too. A group holds everyone.
const ANA: [&str; 2] = ["111@s.whatsapp.net", "9111@lid"];
const BEN: [&str; 2] = ["444@s.whatsapp.net", "444@s.whatsapp.net"];
const ME: [&str; 2] = ["777@s.whatsapp.net", "9777@lid"];
const GROUP: &str = "222-333@g.us";
const WORDS: [&str; 5] = ["alpha", "beta", "gamma", "café", "你好"];

fn mappings() -> Vec<Item> {
    vec![
        Item::LidMapping {
            lid: ANA[1].into(),
            pn: ANA[0].into(),
            at: 5,
        },
        Item::LidMapping {
            lid: ME[1].into(),
            pn: ME[0].into(),
            at: 5,
        },
    ]
}

/// (person, address form): the address a delivery used.
fn who(person: usize, form: usize) -> &'static str {
    [ANA, BEN, ME][person][form]
}

/// The chat a message of `chat` is in: Ana's direct chat (under one of her
/// addresses) or the group.
fn chat(chat: usize, form: usize) -> &'static str {
    if chat == 0 { ANA[form] } else { GROUP }
}

fn key(c: usize, cform: usize, id: usize, sender: usize, sform: usize) -> MessageKey {
    MessageKey {
        chat_jid: chat(c, cform).into(),
        msg_id: format!("M{id}"),
        sender_jid: who(sender, sform).into(),
    }
}

/// The same message as WhatsApp would deliver it under either address.
#[derive(Debug, Clone)]
struct Said {
    chat: usize,
    id: usize,
    sender: usize,
    ts: i64,
    body: usize,
}

impl Said {
    /// In Ana's direct chat only Ana and the account write.
    fn sender(&self) -> usize {
        if self.chat == 0 && self.sender == 1 {
            0
        } else {
            self.sender
        }
    }

    fn item(&self, cform: usize, sform: usize) -> Item {
        let sender = self.sender();
        Item::Message(NewMessage {
            chat_jid: chat(self.chat, cform).into(),
            msg_id: format!("M{}", self.id),
            sender_jid: who(sender, sform).into(),
            from_me: sender == 2,
            ts: 1_000 + self.ts,
            kind: MessageKind::Text,
            text: Some(WORDS[self.body].into()),
            quoted: None,
            extra: None,
            media: None,
            push_name: None,
        })
    }
}

prop_compose! {
    fn said()(chat in 0..2usize, id in 0..8usize, sender in 0..3usize, ts in 0..6i64, body in 0..5usize) -> Said {
        Said { chat, id, sender, ts, body }
    }
}

prop_compose! {
    fn change()(kind in 0..3u8, c in 0..2usize, id in 0..8usize, sender in 0..3usize, reactor in 0..3usize,
                at in 0..4i64, body in 0..5usize, forms in any::<[bool; 3]>()) -> Item {
        let sender = if c == 0 && sender == 1 { 0 } else { sender };
        let f = |b: bool| usize::from(b);
        let target = key(c, f(forms[0]), id, sender, f(forms[1]));
        let at = 2_000 + at;
        match kind {
            0 => Item::Edit { target, change_id: format!("E{id}{at}{body}"), at, text: WORDS[body].into() },
            1 => Item::Revoke { target, change_id: format!("R{id}{at}"), at, by_jid: who(sender, f(forms[1])).into() },
            _ => Item::Reaction { target, reactor_jid: who(reactor, f(forms[2])).into(), emoji: WORDS[body].into(), at },
        }
    }
}

/// Everything a reader could observe, keyed by WhatsApp identities.
async fn dump(store: &Store) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(store.path())
            .read_only(true),
    )
    .await
    .expect("open for dump");
    let queries = [
        "SELECT c.jid, m.msg_id, s.jid, m.from_me, m.ts, m.text, m.original_text, m.edited_at, m.deleted_at, d.jid
         FROM messages m JOIN chats c ON c.id = m.chat_id JOIN contacts s ON s.id = m.sender_id
         LEFT JOIN contacts d ON d.id = m.deleted_by_id",
        "SELECT c.jid, x.msg_id, s.jid, x.change_id, x.kind, x.at, x.text, b.jid FROM message_changes x
         JOIN chats c ON c.id = x.chat_id JOIN contacts s ON s.id = x.sender_id LEFT JOIN contacts b ON b.id = x.by_id",
        "SELECT c.jid, r.msg_id, s.jid, k.jid, r.emoji, r.ts FROM reactions r JOIN chats c ON c.id = r.chat_id
         JOIN contacts s ON s.id = r.msg_sender_id JOIN contacts k ON k.id = r.reactor_id",
        "SELECT 'chat', jid, last_message_ts FROM chats",
        "SELECT 'contact', jid, lid FROM contacts",
        "SELECT 'map', lid, pn FROM lid_map",
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

async fn deliver(store: &Store, items: &[Item], sizes: &[usize]) {
    let mut rest = items;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().expect("cycle")).min(rest.len());
        store.apply(&rest[..n]).await.expect("batch");
        rest = &rest[n..];
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The clean archive: the mappings first, then each message under the
    /// phone number. The messy one: each message one to three times under
    /// either address, changes under either address, the mappings anywhere,
    /// in batches of any size.
    #[test]
    fn any_order_of_messages_and_mappings_gives_the_same_archive(
        said in prop::collection::vec(said(), 1..12),
        changes in prop::collection::vec(change(), 0..10),
        seed in any::<u64>(),
        sizes in prop::collection::vec(1..5usize, 1..20),
    ) {
        let mut seen = std::collections::HashSet::new();
        let said: Vec<Said> = said.into_iter().filter(|s| seen.insert((s.chat, s.id, s.sender()))).collect();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let mut clean_items = mappings();
            clean_items.extend(said.iter().map(|s| s.item(0, 0)));
            clean_items.extend(changes.iter().cloned());
            let (_a, clean) = crate::fresh_store().await;
            clean.apply(&clean_items).await.expect("clean delivery");
            let expected = dump(&clean).await;

            let mut rng = fastrand::Rng::with_seed(seed);
            let mut messy_items = mappings();
            for s in &said {
                for _ in 0..rng.usize(1..=3) {
                    messy_items.push(s.item(rng.usize(0..2), rng.usize(0..2)));
                }
            }
            messy_items.extend(changes.iter().cloned());
            rng.shuffle(&mut messy_items);
            let (_b, messy) = crate::fresh_store().await;
            deliver(&messy, &messy_items, &sizes).await;
            let got = dump(&messy).await;
            prop_assert_eq!(&got, &expected);
            prop_assert!(messy.integrity_check().await.expect("check").is_empty());
            Ok(())
        })?;
    }
}

fn text(chat: &str, id: &str, sender: &str, ts: i64, body: &str) -> Item {
    Item::Message(NewMessage {
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
    })
}

#[tokio::test]
async fn a_mapping_after_messages_under_both_addresses_makes_one_chat_and_one_contact() {
    let (_dir, store) = crate::fresh_store().await;
    store
        .apply(&[
            text(ANA[1], "L1", ANA[1], 1_000, "written from her LID"),
            text(ANA[0], "P1", ANA[0], 2_000, "written from her number"),
            // The same message delivered under both addresses.
            text(ANA[1], "B1", ANA[1], 3_000, "delivered twice"),
            text(ANA[0], "B1", ANA[0], 3_000, "delivered twice"),
            Item::Reaction {
                target: MessageKey {
                    chat_jid: ANA[0].into(),
                    msg_id: "P1".into(),
                    sender_jid: ANA[0].into(),
                },
                reactor_jid: ANA[1].into(),
                emoji: "👍".into(),
                at: 2_500,
            },
        ])
        .await
        .expect("before the mapping");
    assert_eq!(
        store
            .list_chats(&ChatFilter::default())
            .await
            .expect("chats")
            .items
            .len(),
        2,
        "split before"
    );
    let report = store.apply(&mappings()[..1]).await.expect("the mapping");
    assert_eq!(report.changes_applied, 1);

    let chats = store.list_chats(&ChatFilter::default()).await.expect("chats").items;
    assert_eq!(
        chats.iter().map(|c| c.jid.as_str()).collect::<Vec<_>>(),
        [ANA[0]],
        "one chat, under the number"
    );
    assert_eq!(chats[0].last_message_ts, Some(3_000));
    let filter = MessageFilter {
        chat_jid: wa_store::Jid::parse(ANA[1]).ok(),
        ..MessageFilter::default()
    };
    let messages = store
        .list_messages(&filter, SortOrder::Oldest, 50, None)
        .await
        .expect("by LID");
    let ids: Vec<&str> = messages.items.iter().map(|m| m.msg_id.as_str()).collect();
    assert_eq!(ids, ["L1", "P1", "B1"], "each message once, asked for by her LID");
    assert!(
        messages.items.iter().all(|m| m.sender_jid == ANA[0]),
        "{:?}",
        messages.items
    );
    let reactions = store
        .reactions(&MessageKey {
            chat_jid: ANA[1].into(),
            msg_id: "P1".into(),
            sender_jid: ANA[1].into(),
        })
        .await
        .expect("reactions");
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].reactor_jid, ANA[0]);
    let ana = store.get_contact(ANA[1]).await.expect("contact").expect("found by LID");
    assert_eq!((ana.jid.as_str(), ana.lid.as_deref()), (ANA[0], Some(ANA[1])));
    assert_eq!(
        store.search_contacts("Ana", 10).await.expect("search").len(),
        1,
        "one contact"
    );

    // After the mapping, a message under the LID goes to the same chat.
    store
        .apply(&[text(ANA[1], "L2", ANA[1], 4_000, "later, from her LID")])
        .await
        .expect("after");
    let chats = store.list_chats(&ChatFilter::default()).await.expect("chats").items;
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0].last_message_ts, Some(4_000));
    // Again: nothing changes.
    store.apply(&mappings()[..1]).await.expect("again");
    assert_eq!(
        store
            .list_messages(&filter, SortOrder::Oldest, 50, None)
            .await
            .expect("list")
            .items
            .len(),
        4
    );
    assert!(store.integrity_check().await.expect("check").is_empty());
}

#[tokio::test]
async fn an_archive_split_by_an_older_version_is_merged_when_it_opens() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("messages.db");
    {
        let store = Store::open(&path).await.expect("open");
        store
            .apply(&[
                text(ANA[1], "L1", ANA[1], 1_000, "from her LID"),
                text(ANA[0], "P1", ANA[0], 2_000, "from her number"),
            ])
            .await
            .expect("split");
        store.close().await;
    }
    // What an older version left: the mapping only on the contact, no lid_map row.
    {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("raw");
        sqlx::query("UPDATE contacts SET lid = ? WHERE jid = ?")
            .bind(ANA[1])
            .bind(ANA[0])
            .execute(&pool)
            .await
            .expect("lid on the contact");
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 6")
            .execute(&pool)
            .await
            .expect("unmigrate");
        sqlx::query("DROP TABLE lid_map").execute(&pool).await.expect("drop");
        pool.close().await;
    }
    let store = Store::open(&path).await.expect("reopen");
    let chats = store.list_chats(&ChatFilter::default()).await.expect("chats").items;
    assert_eq!(chats.iter().map(|c| c.jid.as_str()).collect::<Vec<_>>(), [ANA[0]]);
    let filter = MessageFilter {
        chat_jid: wa_store::Jid::parse(ANA[0]).ok(),
        ..MessageFilter::default()
    };
    assert_eq!(
        store
            .list_messages(&filter, SortOrder::Oldest, 50, None)
            .await
            .expect("list")
            .items
            .len(),
        2
    );
    assert!(store.integrity_check().await.expect("check").is_empty());
}

#[tokio::test]
async fn a_mapping_that_is_not_a_lid_and_a_number_is_ignored_and_the_batch_kept() {
    let (_dir, store) = crate::fresh_store().await;
    let report = store
        .apply(&[
            text(ANA[1], "L1", ANA[1], 1_000, "hi"),
            Item::LidMapping {
                lid: ANA[0].into(),
                pn: ANA[1].into(),
                at: 1,
            },
            Item::LidMapping {
                lid: "not an address".into(),
                pn: ANA[0].into(),
                at: 1,
            },
        ])
        .await
        .expect("the batch is kept");
    assert_eq!((report.inserted, report.changes_ignored), (1, 2));
    assert_eq!(
        store.list_chats(&ChatFilter::default()).await.expect("chats").items[0].jid,
        ANA[1]
    );
    assert_eq!(store.canonical_jid(ANA[1]).await.expect("canonical"), ANA[1]);
}
