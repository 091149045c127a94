//! The chat scope is applied inside the SQL: pages are full, cursors lead to the
//! rest, and every listing returns exactly what a brute-force filter of all rows
//! by the `mcp.chats` rules returns.

use std::collections::HashSet;

use wa_store::{
    ChatFilter, ChatKind, ChatScope, ChatUpdate, Item, MessageFilter, MessageKind, NewMessage, SearchQuery, SortOrder,
    Store,
};

use crate::fresh_store;

const ME: &str = "4479999@s.whatsapp.net";
/// Writes in every group, and has a direct chat of its own.
const REGULAR: &str = "4470001@s.whatsapp.net";
const T0: i64 = 1_700_000_000_000;

/// The rules as the assistants' policy reads them (`Policy::allows_chat` in
/// wa-mcp), written out again here as the reference.
fn policy_allows(rules: &[String], chat_jid: &str) -> bool {
    let kind = ChatKind::from_jid(chat_jid);
    rules.iter().any(|rule| match rule.as_str() {
        "*" => true,
        "groups" => matches!(kind, ChatKind::Group | ChatKind::Community),
        "direct" => kind == ChatKind::Direct,
        jid => jid == chat_jid,
    })
}

/// A stored message as the oracle sees it.
#[derive(Debug, Clone)]
struct Row {
    chat: String,
    msg_id: String,
    sender: String,
    from_me: bool,
    ts: i64,
    beta: bool,
}

/// 71 groups (the first three with ten old messages each, the others one),
/// then 35 direct chats, a channel and a broadcast list whose messages are
/// all newer than any group's. Some groups are stored as direct (no metadata
/// yet): the scope goes by the JID, as the single-chat check does.
struct Archive {
    rows: Vec<Row>,
    groups: Vec<String>,
    chats: Vec<String>,
}

fn archive() -> (Archive, Vec<Item>) {
    let mut groups: Vec<String> = (0..70).map(|i| format!("12036300000{i:05}@g.us")).collect();
    groups.push("we*ird[1]_%@g.us".into());
    let mut direct: Vec<String> = (0..30).map(|i| format!("3460000{i:04}@s.whatsapp.net")).collect();
    direct.extend([
        REGULAR.into(),
        "55@G.US".into(),
        "123@lid".into(),
        "a_b%@s.whatsapp.net".into(),
        "x@broadcastx".into(),
    ]);
    let others = ["777@newsletter".to_owned(), "status@broadcast".to_owned()];

    let mut items = Vec::new();
    for (i, jid) in groups.iter().enumerate() {
        let kind = match i % 4 {
            0 => Some(ChatKind::Community),
            1 => None,
            _ => Some(ChatKind::Group),
        };
        items.push(Item::Chat(ChatUpdate {
            jid: jid.clone(),
            at: 1,
            kind,
            name: Some(format!("Group {i}")),
            ..Default::default()
        }));
    }
    let mut rows = Vec::new();
    let mut ts = T0;
    let mut add = |chat: &str, sender: &str, rows: &mut Vec<Row>| {
        ts += 1_000;
        let n = rows.len();
        rows.push(Row {
            chat: chat.to_owned(),
            msg_id: format!("M{n}"),
            sender: sender.to_owned(),
            from_me: sender == ME,
            ts,
            beta: n.is_multiple_of(3),
        });
    };
    for (i, jid) in groups.iter().enumerate() {
        for k in 0..if i < 3 { 10 } else { 1 } {
            let sender = [REGULAR, "4470002@s.whatsapp.net", ME][k % 3];
            add(jid, sender, &mut rows);
        }
    }
    for round in 0..5 {
        for jid in direct.iter().chain(&others) {
            if round < 2 || jid.ends_with("@s.whatsapp.net") {
                add(jid, if round % 2 == 0 { jid } else { ME }, &mut rows);
            }
        }
    }
    items.extend(rows.iter().map(|r| {
        Item::Message(NewMessage {
            chat_jid: r.chat.clone(),
            msg_id: r.msg_id.clone(),
            sender_jid: r.sender.clone(),
            from_me: r.from_me,
            ts: r.ts,
            kind: MessageKind::Text,
            text: Some(if r.beta { "alpha beta" } else { "alpha gamma" }.into()),
            quoted: None,
            extra: None,
            media: None,
            push_name: None,
        })
    }));
    let chats = groups.iter().chain(&direct).chain(&others).cloned().collect();
    (Archive { rows, groups, chats }, items)
}

async fn stored_archive() -> (tempfile::TempDir, Store, Archive) {
    let (dir, store) = fresh_store().await;
    let (archive, items) = archive();
    crate::apply_all(&store, &items, 200).await;
    (dir, store, archive)
}

/// Every page of a message listing: (chat, msg_id) in the order given, and
/// whether each page but the last was full.
async fn message_pages(store: &Store, filter: &MessageFilter, order: SortOrder, limit: u32) -> Vec<(String, String)> {
    let (mut out, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let page = store
            .list_messages(filter, order, limit, cursor.as_deref())
            .await
            .expect("list_messages");
        out.extend(page.items.iter().map(|m| (m.chat_jid.clone(), m.msg_id.clone())));
        match page.next_cursor {
            Some(next) => {
                assert_eq!(
                    page.items.len(),
                    limit as usize,
                    "a page before the last is full: {filter:?}"
                );
                cursor = Some(next);
            }
            None => return out,
        }
    }
}

async fn search_pages(store: &Store, mut query: SearchQuery) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let page = store.search(&query).await.expect("search");
        out.extend(
            page.items
                .iter()
                .map(|h| (h.message.chat_jid.clone(), h.message.msg_id.clone())),
        );
        match page.next_cursor {
            Some(next) => {
                assert_eq!(
                    page.items.len(),
                    query.limit as usize,
                    "a page before the last is full: {query:?}"
                );
                query.cursor = Some(next);
            }
            None => return out,
        }
    }
}

async fn chat_pages(store: &Store, mut filter: ChatFilter) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let page = store.list_chats(&filter).await.expect("list_chats");
        out.extend(page.items.iter().map(|c| c.jid.clone()));
        match page.next_cursor {
            Some(next) => {
                assert_eq!(
                    page.items.len(),
                    filter.limit as usize,
                    "a page before the last is full"
                );
                filter.cursor = Some(next);
            }
            None => return out,
        }
    }
}

/// A narrower filter and the rows it keeps.
type Narrower = (MessageFilter, Box<dyn Fn(&Row) -> bool>);

/// The oracle: rows in scope, newest first.
fn expected_rows(archive: &Archive, rules: &[String], keep: impl Fn(&Row) -> bool) -> Vec<(String, String)> {
    let mut rows: Vec<&Row> = archive
        .rows
        .iter()
        .filter(|r| policy_allows(rules, &r.chat) && keep(r))
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.ts));
    rows.into_iter().map(|r| (r.chat.clone(), r.msg_id.clone())).collect()
}

/// Chats in scope, most recently active first.
fn expected_chats(archive: &Archive, rules: &[String], keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut chats: Vec<(i64, &String)> = archive
        .chats
        .iter()
        .filter(|jid| policy_allows(rules, jid) && keep(jid))
        .map(|jid| {
            let last = archive
                .rows
                .iter()
                .filter(|r| &r.chat == jid)
                .map(|r| r.ts)
                .max()
                .unwrap_or(0);
            (last, jid)
        })
        .collect();
    chats.sort_by_key(|&(last, _)| std::cmp::Reverse(last));
    chats.into_iter().map(|(_, jid)| jid.clone()).collect()
}

fn rule_words(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[tokio::test]
async fn a_scoped_first_page_is_full_and_its_cursor_leads_to_the_rest() {
    let (_dir, store, archive) = stored_archive().await;
    // Three chats (listed by id) and all 71 groups (checked row by row): either
    // way the newest 150 messages and 35 most active chats are out of scope.
    let three = archive.groups[..3].to_vec();
    for rules in [three, rule_words(&["groups"])] {
        let scope = ChatScope::from_rules(&rules);
        let filter = MessageFilter {
            scope: scope.clone(),
            ..Default::default()
        };
        let expected = expected_rows(&archive, &rules, |_| true);
        assert!(expected.len() >= 30, "{rules:?}");

        let first = store
            .list_messages(&filter, SortOrder::Newest, 20, None)
            .await
            .expect("first page");
        assert_eq!(first.items.len(), 20, "{rules:?}: the first page is full");
        assert!(first.items.iter().all(|m| policy_allows(&rules, &m.chat_jid)));
        assert!(first.next_cursor.is_some());
        let all = message_pages(&store, &filter, SortOrder::Newest, 20).await;
        assert_eq!(all, expected, "{rules:?}: every message in scope once, newest first");

        let query = SearchQuery {
            text: "alpha".into(),
            filter: filter.clone(),
            limit: 20,
            ..Default::default()
        };
        let first = store.search(&query).await.expect("search");
        assert_eq!(first.items.len(), 20, "{rules:?}: the first search page is full");
        assert!(first.next_cursor.is_some());
        assert_eq!(search_pages(&store, query).await, expected, "{rules:?}: search");

        let chats = chat_pages(
            &store,
            ChatFilter {
                scope,
                limit: 20,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(chats, expected_chats(&archive, &rules, |_| true), "{rules:?}: chats");
    }
    // The 71 groups: the first page of chats holds 20 of them.
    let page = store
        .list_chats(&ChatFilter {
            scope: ChatScope::from_rules(&["groups"]),
            limit: 20,
            ..Default::default()
        })
        .await
        .expect("chats");
    assert_eq!(page.items.len(), 20);
    assert!(page.items.iter().all(|c| c.jid.ends_with("@g.us")));
}

#[tokio::test]
async fn scoped_listings_match_a_brute_force_filter() {
    let (_dir, store, archive) = stored_archive().await;
    let mut rng = fastrand::Rng::with_seed(0x0005_C0FE);
    for case in 0..40 {
        let mut rules = Vec::new();
        if rng.u8(0..4) == 0 {
            rules.push("groups".to_owned());
        }
        if rng.u8(0..4) == 0 {
            rules.push("direct".to_owned());
        }
        for _ in 0..rng.usize(0..6) {
            rules.push(archive.chats[rng.usize(0..archive.chats.len())].clone());
        }
        if rng.u8(0..8) == 0 {
            rules.push("0000@g.us".into()); // not in the archive
        }
        if rng.u8(0..15) == 0 {
            rules.push("*".into());
        }
        rng.shuffle(&mut rules);
        let scope = ChatScope::from_rules(&rules);
        for jid in &archive.chats {
            assert_eq!(
                scope.allows(jid),
                policy_allows(&rules, jid),
                "case {case}: {rules:?} on {jid}"
            );
        }
        let limit = rng.u32(1..12);
        let ctx = format!("case {case}: {rules:?}, pages of {limit}");
        let filter = MessageFilter {
            scope: scope.clone(),
            ..Default::default()
        };

        let newest = expected_rows(&archive, &rules, |_| true);
        assert_eq!(
            message_pages(&store, &filter, SortOrder::Newest, limit).await,
            newest,
            "{ctx}"
        );
        let mut oldest = newest.clone();
        oldest.reverse();
        assert_eq!(
            message_pages(&store, &filter, SortOrder::Oldest, limit).await,
            oldest,
            "{ctx}: oldest first"
        );

        // With other filters: from me, from one sender, in one chat, a time range.
        // A filter names a chat by a checked address; the archive's odd stored
        // JIDs (there to test escaping) are reached through the scope instead.
        let addressable: Vec<&String> = archive
            .chats
            .iter()
            .filter(|c| c.parse::<wa_store::Jid>().is_ok())
            .collect();
        let chat = addressable[rng.usize(0..addressable.len())].clone();
        let (after, before) = (T0 + 20_000, T0 + 150_000);
        let narrower: [Narrower; 4] = [
            (
                MessageFilter {
                    from_me: Some(true),
                    ..filter.clone()
                },
                Box::new(|r| r.from_me),
            ),
            (
                MessageFilter {
                    sender_jid: Some(crate::jid(REGULAR)),
                    ..filter.clone()
                },
                Box::new(|r| r.sender == REGULAR),
            ),
            (
                MessageFilter {
                    chat_jid: Some(crate::jid(&chat)),
                    ..filter.clone()
                },
                Box::new(move |r| r.chat == chat),
            ),
            (
                MessageFilter {
                    after: Some(after),
                    before: Some(before),
                    ..filter.clone()
                },
                Box::new(move |r| r.ts >= after && r.ts < before),
            ),
        ];
        for (narrow, keep) in &narrower {
            let expected = expected_rows(&archive, &rules, keep);
            let got = message_pages(&store, narrow, SortOrder::Newest, limit).await;
            assert_eq!(got, expected, "{ctx}: list_messages with {narrow:?}");
            let found = search_pages(
                &store,
                SearchQuery {
                    text: "beta".into(),
                    filter: narrow.clone(),
                    limit,
                    ..Default::default()
                },
            )
            .await;
            let beta = expected_rows(&archive, &rules, |r| r.beta && keep(r));
            assert_eq!(found, beta, "{ctx}: search with {narrow:?}");
        }

        let beta = expected_rows(&archive, &rules, |r| r.beta);
        let query = SearchQuery {
            text: "beta".into(),
            filter: filter.clone(),
            limit,
            ..Default::default()
        };
        let mut reversed = beta.clone();
        reversed.reverse();
        let oldest = search_pages(
            &store,
            SearchQuery {
                order: SortOrder::Oldest,
                ..query.clone()
            },
        )
        .await;
        assert_eq!(oldest, reversed, "{ctx}: search, oldest first");
        let by_rank = search_pages(
            &store,
            SearchQuery {
                order: SortOrder::Relevance,
                ..query.clone()
            },
        )
        .await;
        assert_eq!(by_rank.len(), beta.len(), "{ctx}: relevance, each match once");
        let by_rank: HashSet<_> = by_rank.into_iter().collect();
        assert_eq!(
            by_rank,
            beta.iter().cloned().collect::<HashSet<_>>(),
            "{ctx}: relevance"
        );

        let chats = chat_pages(
            &store,
            ChatFilter {
                scope: scope.clone(),
                limit,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(chats, expected_chats(&archive, &rules, |_| true), "{ctx}: list_chats");

        let shared = store
            .contact_chats_in_scope(REGULAR, 500, &scope)
            .await
            .expect("contact chats");
        let shared: Vec<String> = shared.into_iter().map(|c| c.jid).collect();
        let wrote_in = |jid: &str| jid == REGULAR || archive.rows.iter().any(|r| r.chat == jid && r.sender == REGULAR);
        assert_eq!(
            shared,
            expected_chats(&archive, &rules, wrote_in),
            "{ctx}: contact_chats"
        );

        let busiest = store
            .chat_statistics_in_scope(500, &scope)
            .await
            .expect("chat statistics");
        let busiest: HashSet<String> = busiest.into_iter().map(|c| c.jid).collect();
        let expected: HashSet<String> = expected_chats(&archive, &rules, |_| true).into_iter().collect();
        assert_eq!(busiest, expected, "{ctx}: chat_statistics");
    }
}

#[tokio::test]
async fn groups_direct_and_jid_rules_and_their_union() {
    let (_dir, store, archive) = stored_archive().await;
    let all = |rules: &[&str]| {
        let rules = rule_words(rules);
        let store = store.clone();
        async move {
            let filter = MessageFilter {
                scope: ChatScope::from_rules(&rules),
                ..Default::default()
            };
            let rows = message_pages(&store, &filter, SortOrder::Newest, 500).await;
            rows.into_iter().map(|(chat, _)| chat).collect::<HashSet<String>>()
        }
    };
    let groups = all(&["groups"]).await;
    assert_eq!(
        groups,
        archive.groups.iter().cloned().collect(),
        "groups: every @g.us chat"
    );
    let direct = all(&["direct"]).await;
    for jid in [REGULAR, "55@G.US", "123@lid", "a_b%@s.whatsapp.net", "x@broadcastx"] {
        assert!(direct.contains(jid), "{jid} is a direct chat");
    }
    assert!(!direct.contains("777@newsletter") && !direct.contains("status@broadcast"));
    assert!(direct.is_disjoint(&groups));
    let channel = all(&["777@newsletter"]).await;
    assert_eq!(channel, HashSet::from(["777@newsletter".to_owned()]));
    let union = all(&["direct", "groups", "777@newsletter"]).await;
    let expected: HashSet<String> = groups.union(&direct).chain(&channel).cloned().collect();
    assert_eq!(union, expected);
    assert!(
        !union.contains("status@broadcast"),
        "a broadcast list is neither a group nor a direct chat"
    );
    assert_eq!(all(&["*"]).await.len(), archive.chats.len());
    // A weird JID is matched as itself, not as a pattern.
    assert_eq!(
        all(&["we*ird[1]_%@g.us"]).await,
        HashSet::from(["we*ird[1]_%@g.us".to_owned()])
    );
    assert!(all(&["we*@g.us", "%", "_"]).await.is_empty());
}

#[tokio::test]
async fn no_rules_show_nothing() {
    let (_dir, store, archive) = stored_archive().await;
    let none = ChatScope::from_rules::<&str>(&[]);
    assert!(archive.chats.iter().all(|jid| !none.allows(jid)));
    let chats = store
        .list_chats(&ChatFilter {
            scope: none.clone(),
            ..Default::default()
        })
        .await
        .expect("chats");
    assert!(chats.items.is_empty() && chats.next_cursor.is_none());
    for chat_jid in [None, Some(crate::jid(&archive.groups[0]))] {
        let filter = MessageFilter {
            chat_jid,
            scope: none.clone(),
            ..Default::default()
        };
        let page = store
            .list_messages(&filter, SortOrder::Newest, 20, None)
            .await
            .expect("messages");
        assert!(page.items.is_empty() && page.next_cursor.is_none());
        let found = store
            .search(&SearchQuery {
                text: "alpha".into(),
                filter,
                ..Default::default()
            })
            .await
            .expect("search");
        assert!(found.items.is_empty() && found.next_cursor.is_none());
    }
    let shared = store
        .contact_chats_in_scope(REGULAR, 100, &none)
        .await
        .expect("contact chats");
    assert!(shared.is_empty());
    assert!(
        store
            .chat_statistics_in_scope(100, &none)
            .await
            .expect("statistics")
            .is_empty()
    );
    // A chat outside the scope is not listed even when named.
    let filter = MessageFilter {
        chat_jid: Some(crate::jid(&archive.groups[0])),
        scope: ChatScope::from_rules(&["direct"]),
        ..Default::default()
    };
    let page = store
        .list_messages(&filter, SortOrder::Newest, 20, None)
        .await
        .expect("messages");
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn scoped_searches_walk_the_index_without_sorting() {
    let (_dir, store, archive) = stored_archive().await;
    let plan = |scope: ChatScope| {
        let store = store.clone();
        async move {
            store
                .search_plan(&SearchQuery {
                    text: "alpha".into(),
                    filter: MessageFilter {
                        scope,
                        ..Default::default()
                    },
                    ..Default::default()
                })
                .await
                .expect("plan")
                .join("\n")
        }
    };
    let unscoped = plan(ChatScope::All).await;
    for scope in [
        ChatScope::from_rules(&archive.groups[..3]),
        ChatScope::from_rules(&["groups"]),
    ] {
        let scoped = plan(scope.clone()).await;
        assert!(scoped.contains("VIRTUAL TABLE INDEX"), "{scope:?}: {scoped}");
        assert!(!scoped.contains("TEMP B-TREE"), "{scope:?}, no sort step: {scoped}");
    }
    assert!(
        !unscoped.contains("json_each") && !unscoped.contains("TEMP B-TREE"),
        "{unscoped}"
    );
}
