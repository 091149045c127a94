//! Search returns exactly what a brute-force scan of the corpus returns.
//!
//! The oracle below is written from the documented semantics (docs/ARCHITECTURE.md,
//! "Search"), independently of SQLite: words are runs of letters, digits and
//! combining marks, case and Latin diacritics are folded, and every Chinese or
//! Japanese character and every emoji is a word of its own.

use std::collections::{HashMap, HashSet};

use unicode_normalization::UnicodeNormalization;
use wa_store::segment::is_split_char;
use wa_store::{ChatScope, Item, MessageFilter, MessageKey, SearchQuery, SortOrder, Store};

use crate::{apply_all, fresh_store, small_corpus};

fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957
        | 0x0962..=0x0963 | 0x0981..=0x0983 | 0x064B..=0x065F | 0x0670)
}

fn is_joiner(c: char) -> bool {
    matches!(c as u32, 0xFE0E | 0xFE0F | 0x200D | 0x1F3FB..=0x1F3FF | 0x20E3)
}

fn fold(word: &str) -> String {
    word.chars()
        .flat_map(|c| {
            let s: String = if (c as u32) < 0x0250 {
                c.to_string()
                    .nfd()
                    .filter(|d| !('\u{300}'..='\u{36f}').contains(d))
                    .collect()
            } else {
                c.to_string()
            };
            s.to_lowercase().chars().collect::<Vec<_>>()
        })
        .collect()
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if is_split_char(c) || is_joiner(c) || !(c.is_alphanumeric() || is_mark(c)) {
            if !current.is_empty() {
                out.push(fold(&std::mem::take(&mut current)));
            }
            if is_split_char(c) && !is_joiner(c) {
                out.push(c.to_string());
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        out.push(fold(&current));
    }
    out
}

fn contains_phrase(haystack: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && haystack.windows(phrase.len()).any(|w| w == phrase)
}

/// The archive as the oracle sees it: effective text and deletion per message.
struct Doc {
    key: MessageKey,
    ts: i64,
    from_me: bool,
    has_media: bool,
    deleted: bool,
    tokens: Vec<String>,
}

fn oracle_docs(items: &[Item]) -> Vec<Doc> {
    let mut edits: HashMap<MessageKey, (i64, String, String)> = HashMap::new();
    let mut revoked: HashSet<MessageKey> = HashSet::new();
    for item in items {
        match item {
            Item::Edit {
                target,
                change_id,
                at,
                text,
            } => {
                let newer = edits
                    .get(target)
                    .is_none_or(|(a, c, _)| (*at, change_id.as_str()) > (*a, c.as_str()));
                if newer {
                    edits.insert(target.clone(), (*at, change_id.clone(), text.clone()));
                }
            }
            Item::Revoke { target, .. } => {
                revoked.insert(target.clone());
            }
            _ => {}
        }
    }
    items
        .iter()
        .filter_map(|item| match item {
            Item::Message(m) => {
                let key = m.key();
                let text = edits
                    .get(&key)
                    .map_or(m.text.clone().unwrap_or_default(), |e| e.2.clone());
                Some(Doc {
                    ts: m.ts,
                    from_me: m.from_me,
                    has_media: m.kind.has_media(),
                    deleted: revoked.contains(&key),
                    tokens: tokens(&text),
                    key,
                })
            }
            _ => None,
        })
        .collect()
}

async fn all_pages(store: &Store, mut query: SearchQuery) -> Vec<(MessageKey, i64)> {
    let mut out = Vec::new();
    query.limit = 37;
    loop {
        let page = store.search(&query).await.expect("search");
        out.extend(page.items.into_iter().map(|h| (h.message.key(), h.message.ts)));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return out,
        }
    }
}

type Predicate = Box<dyn Fn(&Doc) -> bool>;

fn word(w: &str) -> Predicate {
    let phrase = tokens(w);
    Box::new(move |d| contains_phrase(&d.tokens, &phrase))
}

#[tokio::test]
async fn search_matches_a_brute_force_scan() {
    let (corpus, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 500).await;
    let docs = oracle_docs(items);

    // Sampled words: frequent and rare ones of every language, emoji, CJK.
    let mut cases: Vec<(String, MessageFilter, Predicate)> = Vec::new();
    for lang in [
        wa_corpus::Lang::En,
        wa_corpus::Lang::Es,
        wa_corpus::Lang::Pt,
        wa_corpus::Lang::Hi,
        wa_corpus::Lang::Ar,
        wa_corpus::Lang::Zh,
    ] {
        let vocabulary = lang.vocabulary();
        for i in [0, 1, 3, 7, 15, 30, 50, vocabulary.len() - 1] {
            let w = vocabulary[i.min(vocabulary.len() - 1)];
            cases.push((w.to_owned(), MessageFilter::default(), word(w)));
        }
    }
    for e in ["🎉", "❤️", "👍", "🔥"] {
        cases.push((e.to_owned(), MessageFilter::default(), word(e)));
    }
    // Accent folding: "cancion" finds "canción", "CAFE" finds "café".
    cases.push(("cancion".into(), MessageFilter::default(), word("canción")));
    cases.push(("CAFE".into(), MessageFilter::default(), word("café")));
    // Phrases, prefixes, OR, NOT.
    cases.push(("\"see you\"".into(), MessageFilter::default(), word("see you")));
    cases.push(("\"você bem\"".into(), MessageFilter::default(), word("você bem")));
    let birth = tokens("birth")[0].clone();
    cases.push((
        "birth*".into(),
        MessageFilter::default(),
        Box::new(move |d| d.tokens.iter().any(|t| t.starts_with(&birth))),
    ));
    let (a, b) = (word("pizza"), word("tickets"));
    cases.push((
        "pizza OR tickets".into(),
        MessageFilter::default(),
        Box::new(move |d| a(d) || b(d)),
    ));
    let (a, b) = (word("the"), word("you"));
    cases.push((
        "the -you".into(),
        MessageFilter::default(),
        Box::new(move |d| a(d) && !b(d)),
    ));
    let (a, b) = (word("que"), word("no"));
    cases.push((
        "que no".into(),
        MessageFilter::default(),
        Box::new(move |d| a(d) && b(d)),
    ));
    // Filters.
    let busiest = corpus
        .chats
        .iter()
        .max_by_key(|c| c.messages)
        .expect("chats")
        .jid
        .clone();
    let chat = busiest.clone();
    let w = word("the");
    cases.push((
        "the".into(),
        MessageFilter {
            chat_jid: Some(crate::jid(&busiest)),
            ..Default::default()
        },
        Box::new(move |d| d.key.chat_jid == chat && w(d)),
    ));
    for (from_me, has_media) in [
        (Some(true), None),
        (Some(false), None),
        (None, Some(true)),
        (None, Some(false)),
    ] {
        let w = word("que");
        cases.push((
            "que".into(),
            MessageFilter {
                from_me,
                has_media,
                ..Default::default()
            },
            Box::new(move |d| {
                w(d) && from_me.is_none_or(|f| d.from_me == f) && has_media.is_none_or(|h| d.has_media == h)
            }),
        ));
    }
    let (after, before) = (1_720_000_000_000, 1_760_000_000_000);
    let w = word("you");
    cases.push((
        "you".into(),
        MessageFilter {
            after: Some(after),
            before: Some(before),
            ..Default::default()
        },
        Box::new(move |d| w(d) && d.ts >= after && d.ts < before),
    ));
    let sender = corpus.contacts[corpus.chats[busiest_index(corpus)].members[0]]
        .jid
        .clone();
    let s = sender.clone();
    let w = word("que");
    cases.push((
        "que".into(),
        MessageFilter {
            sender_jid: Some(crate::jid(&sender)),
            ..Default::default()
        },
        Box::new(move |d| d.key.sender_jid == s && w(d)),
    ));

    let mut non_empty = 0;
    for (text, filter, predicate) in &cases {
        let mut expected: Vec<MessageKey> = docs
            .iter()
            .filter(|d| !d.deleted && predicate(d))
            .map(|d| d.key.clone())
            .collect();
        let got = all_pages(
            &store,
            SearchQuery {
                text: text.clone(),
                filter: filter.clone(),
                ..Default::default()
            },
        )
        .await;
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "{text}: newest first");
        let mut got_keys: Vec<MessageKey> = got.into_iter().map(|(k, _)| k).collect();
        let key_order = |k: &MessageKey| (k.chat_jid.clone(), k.msg_id.clone(), k.sender_jid.clone());
        expected.sort_by_key(key_order);
        got_keys.sort_by_key(key_order);
        assert_eq!(got_keys.len(), expected.len(), "query {text:?} with {filter:?}: count");
        assert_eq!(got_keys, expected, "query {text:?} with {filter:?}");
        if !expected.is_empty() {
            non_empty += 1;
        }
    }
    assert!(
        non_empty >= cases.len() * 3 / 4,
        "most sampled queries find something ({non_empty}/{})",
        cases.len()
    );
}

/// Scoped searches return what the same brute-force scan returns for the chats
/// the rules allow (random rules over the corpus's groups, communities and
/// direct chats).
#[tokio::test]
async fn scoped_search_matches_a_brute_force_scan() {
    let (corpus, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 500).await;
    let docs = oracle_docs(items);
    let mut rng = fastrand::Rng::with_seed(0x0005_C09E);
    for case in 0..24 {
        let mut rules: Vec<String> = Vec::new();
        for word in ["groups", "direct"] {
            if rng.bool() {
                rules.push(word.into());
            }
        }
        for _ in 0..rng.usize(0..4) {
            rules.push(corpus.chats[rng.usize(0..corpus.chats.len())].jid.clone());
        }
        let scope = ChatScope::from_rules(&rules);
        let text = ["que", "the", "you", "🎉", "dinner"][case % 5];
        let w = word(text);
        let mut expected: Vec<MessageKey> = docs
            .iter()
            .filter(|d| !d.deleted && w(d) && scope.allows(&d.key.chat_jid))
            .map(|d| d.key.clone())
            .collect();
        let got = all_pages(
            &store,
            SearchQuery {
                text: text.into(),
                filter: MessageFilter {
                    scope: scope.clone(),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await;
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "{text}: newest first");
        let mut got: Vec<MessageKey> = got.into_iter().map(|(k, _)| k).collect();
        let key_order = |k: &MessageKey| (k.chat_jid.clone(), k.msg_id.clone(), k.sender_jid.clone());
        expected.sort_by_key(key_order);
        got.sort_by_key(key_order);
        assert_eq!(got, expected, "case {case}: {text:?} in {rules:?}");
    }
}

fn busiest_index(corpus: &wa_corpus::Corpus) -> usize {
    (0..corpus.chats.len())
        .max_by_key(|&i| corpus.chats[i].messages)
        .expect("chats")
}

#[tokio::test]
async fn oldest_first_and_relevance_orders() {
    let (_corpus, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 1000).await;
    let newest = all_pages(
        &store,
        SearchQuery {
            text: "que".into(),
            ..Default::default()
        },
    )
    .await;
    let oldest = all_pages(
        &store,
        SearchQuery {
            text: "que".into(),
            order: SortOrder::Oldest,
            ..Default::default()
        },
    )
    .await;
    let mut reversed = oldest.clone();
    reversed.reverse();
    assert_eq!(newest, reversed);
    let relevance = all_pages(
        &store,
        SearchQuery {
            text: "que".into(),
            order: SortOrder::Relevance,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        relevance.len(),
        newest.len(),
        "relevance pages cover every match exactly once"
    );
    let unique: HashSet<_> = relevance.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(unique.len(), relevance.len());
}

#[tokio::test]
async fn snippets_mark_matches_and_hide_separators() {
    let (_dir, store) = fresh_store().await;
    store
        .upsert_messages(&[wa_store::NewMessage {
            chat_jid: "c@s.whatsapp.net".into(),
            msg_id: "1".into(),
            sender_jid: "c@s.whatsapp.net".into(),
            from_me: false,
            ts: 1,
            kind: wa_store::MessageKind::Text,
            text: Some("明天你好吗 see you at the Café 🎉".into()),
            quoted: None,
            extra: None,
            media: None,
            push_name: None,
        }])
        .await
        .expect("insert");
    for (query, marked) in [("你好", "«你好»"), ("cafe", "«Café»"), ("🎉", "«🎉»")] {
        let page = store
            .search(&SearchQuery {
                text: query.into(),
                ..Default::default()
            })
            .await
            .expect("search");
        assert_eq!(page.items.len(), 1, "{query}");
        let snippet = &page.items[0].snippet;
        assert!(!snippet.contains(wa_store::segment::SEPARATOR), "{snippet:?}");
        assert!(snippet.replace("»«", "").contains(marked), "{query}: {snippet}");
    }
}

#[tokio::test]
async fn newest_first_search_walks_the_index_without_sorting() {
    let (_dir, store) = fresh_store().await;
    store
        .apply(&[Item::Chat(wa_store::ChatUpdate {
            jid: "447700900999@s.whatsapp.net".into(),
            ..Default::default()
        })])
        .await
        .expect("chat");
    for (query, filter) in [
        ("the", MessageFilter::default()),
        (
            "the",
            MessageFilter {
                chat_jid: Some(crate::jid("447700900999@s.whatsapp.net")),
                from_me: Some(false),
                ..Default::default()
            },
        ),
        (
            "the",
            MessageFilter {
                after: Some(5),
                before: Some(10),
                ..Default::default()
            },
        ),
    ] {
        let plan = store
            .search_plan(&SearchQuery {
                text: query.into(),
                filter,
                ..Default::default()
            })
            .await
            .expect("plan");
        let plan = plan.join("\n");
        assert!(plan.contains("VIRTUAL TABLE INDEX"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "no sort step: {plan}");
    }
}

#[tokio::test]
async fn bad_queries_get_clear_errors_not_sql_errors() {
    let (_dir, store) = fresh_store().await;
    for query in ["", "   ", "-alone", "NOT", "\"", "(((", "*"] {
        let err = store
            .search(&SearchQuery {
                text: query.into(),
                ..Default::default()
            })
            .await
            .expect_err(query);
        assert!(matches!(err, wa_store::StoreError::InvalidInput(_)), "{query}: {err}");
    }
    // Odd but valid input is searched literally.
    for query in ["body:secret", "tags : c1", "a\"b", "NEAR(a b)", "a AND", "x OR"] {
        store
            .search(&SearchQuery {
                text: query.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
    }
    let err = store
        .search(&SearchQuery {
            text: "x".into(),
            cursor: Some("garbage".into()),
            ..Default::default()
        })
        .await
        .expect_err("bad cursor");
    assert!(err.to_string().contains("cursor"));
}
