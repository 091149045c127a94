//! Lists, context, contacts, statistics, checkpoints, jobs, audit log, settings.

use std::collections::HashMap;

use wa_store::{
    ChatFilter, ChatKind, CheckpointState, Decision, Item, JobKind, JobState, MessageFilter, MessageKey, SortOrder,
};

use crate::{apply_all, fresh_store, small_corpus};

#[tokio::test]
async fn list_chats_orders_filters_and_pages() {
    let (corpus, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 400).await;

    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_chats(&ChatFilter {
                limit: 7,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .expect("list");
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(all.len(), corpus.chats.len());
    assert!(
        all.windows(2).all(|w| w[0].last_message_ts >= w[1].last_message_ts),
        "by last activity"
    );
    // Every chat's preview is its newest message.
    let mut newest: HashMap<&str, i64> = HashMap::new();
    for m in corpus.messages() {
        let e = newest
            .entry(
                corpus
                    .chats
                    .iter()
                    .find(|c| c.jid == m.chat_jid)
                    .map(|c| c.jid.as_str())
                    .expect("chat"),
            )
            .or_insert(0);
        *e = (*e).max(m.ts);
    }
    for chat in &all {
        assert_eq!(
            chat.last_message_ts,
            newest.get(chat.jid.as_str()).copied(),
            "{}",
            chat.jid
        );
    }
    let direct = all.iter().find(|c| c.kind == ChatKind::Direct).expect("a direct chat");
    assert!(direct.name.is_some(), "direct chats are named after the contact");

    let groups = store
        .list_chats(&ChatFilter {
            kind: Some(ChatKind::Group),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("groups");
    assert_eq!(
        groups.items.len(),
        corpus.chats.iter().filter(|c| c.kind == ChatKind::Group).count()
    );
    let community = corpus
        .chats
        .iter()
        .find(|c| c.kind == ChatKind::Community)
        .expect("community");
    let subs = store
        .list_chats(&ChatFilter {
            parent_jid: Some(crate::jid(&community.jid)),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("sub-groups");
    assert_eq!(
        subs.items.len(),
        corpus
            .chats
            .iter()
            .filter(|c| c.parent.as_deref() == Some(&community.jid))
            .count()
    );
    let name = groups.items[0].name.clone().expect("group name");
    let by_name = store
        .list_chats(&ChatFilter {
            name: Some(name[..4].to_lowercase()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("by name");
    assert!(by_name.items.iter().any(|c| c.jid == groups.items[0].jid));
}

#[tokio::test]
async fn list_messages_pages_match_the_corpus() {
    let (corpus, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 400).await;
    let chat = &corpus.chats.iter().max_by_key(|c| c.messages).expect("chat").jid;
    let mut expected: Vec<(i64, String)> = corpus
        .messages()
        .filter(|m| &m.chat_jid == chat)
        .map(|m| (m.ts, m.msg_id))
        .collect();
    expected.sort();
    let filter = MessageFilter {
        chat_jid: Some(crate::jid(chat)),
        include_deleted: true,
        ..Default::default()
    };
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_messages(&filter, SortOrder::Oldest, 33, cursor.as_deref())
            .await
            .expect("page");
        got.extend(page.items.into_iter().map(|m| (m.ts, m.msg_id)));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    got.sort();
    assert_eq!(got, expected);

    let media_only = store
        .list_messages(
            &MessageFilter {
                has_media: Some(true),
                ..filter.clone()
            },
            SortOrder::Newest,
            500,
            None,
        )
        .await
        .expect("media");
    assert!(media_only.items.iter().all(|m| m.has_media));
    let expected_media = corpus
        .messages()
        .filter(|m| &m.chat_jid == chat && m.kind.has_media())
        .count();
    assert_eq!(media_only.items.len(), expected_media.min(500));
}

#[tokio::test]
async fn context_returns_neighbours_in_order() {
    let (corpus, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 400).await;
    let chat = &corpus.chats.iter().max_by_key(|c| c.messages).expect("chat").jid;
    let page = store
        .list_messages(
            &MessageFilter {
                chat_jid: Some(crate::jid(chat)),
                ..Default::default()
            },
            SortOrder::Oldest,
            20,
            None,
        )
        .await
        .expect("list");
    let target = page.items[10].key();
    let context = store.message_context(&target, 3, 2).await.expect("context");
    let ids: Vec<&str> = context.iter().map(|m| m.msg_id.as_str()).collect();
    let expected: Vec<&str> = page.items[7..13].iter().map(|m| m.msg_id.as_str()).collect();
    // Deleted messages are part of the context too; compare with an unfiltered page.
    let full = store
        .list_messages(
            &MessageFilter {
                chat_jid: Some(crate::jid(chat)),
                include_deleted: true,
                ..Default::default()
            },
            SortOrder::Oldest,
            40,
            None,
        )
        .await
        .expect("list");
    let at = full
        .items
        .iter()
        .position(|m| m.key() == target)
        .expect("target listed");
    let expected_full: Vec<&str> = full.items[at - 3..=at + 2].iter().map(|m| m.msg_id.as_str()).collect();
    assert_eq!(ids, expected_full);
    assert!(expected.contains(&target.msg_id.as_str()));
    let missing = MessageKey {
        chat_jid: chat.clone(),
        msg_id: "nope".into(),
        sender_jid: "x".into(),
    };
    let err = store.message_context(&missing, 1, 1).await.expect_err("missing");
    assert!(err.to_string().contains("not found"), "{err}");
}

#[tokio::test]
async fn contacts_are_found_by_any_name_or_number() {
    let (corpus, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 400).await;
    let someone = corpus
        .contacts
        .iter()
        .find(|c| c.saved_name.is_some())
        .expect("saved contact");
    let saved = someone.saved_name.as_deref().expect("name");
    let found = store.search_contacts(&saved[..3], 50).await.expect("by name");
    assert!(found.iter().any(|c| c.jid == someone.jid), "{saved}");
    let phone = someone.phone.as_deref().expect("phone");
    let by_phone = store.get_contact(phone).await.expect("by phone").expect("found");
    assert_eq!(by_phone.jid, someone.jid);
    let by_lid = store
        .get_contact(someone.lid.as_deref().expect("lid"))
        .await
        .expect("lid")
        .expect("found");
    assert_eq!(by_lid.display_name(), Some(saved));
    assert!(
        store.search_contacts("%", 10).await.expect("literal %").is_empty(),
        "% is not a wildcard"
    );

    let group = corpus.chats.iter().find(|c| c.kind == ChatKind::Group).expect("group");
    let members = store.group_members(&group.jid).await.expect("members");
    assert_eq!(members.len(), group.members.len() + 1, "members and me");
}

#[tokio::test]
async fn statistics_count_what_is_stored() {
    let (corpus, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 400).await;
    let stats = store.statistics().await.expect("stats");
    let messages: Vec<_> = corpus.messages().collect();
    assert_eq!(stats.messages as usize, messages.len());
    assert_eq!(stats.chats as usize, corpus.chats.len());
    assert_eq!(
        stats.media_messages as usize,
        messages.iter().filter(|m| m.kind.has_media()).count()
    );
    assert_eq!(stats.oldest_ts, messages.iter().map(|m| m.ts).min());
    assert_eq!(stats.newest_ts, messages.iter().map(|m| m.ts).max());
    let revoked: std::collections::HashSet<_> = items
        .iter()
        .filter_map(|i| match i {
            Item::Revoke { target, .. } => Some(target.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(stats.deleted_messages as usize, revoked.len());
    assert!(stats.database_bytes > 0);
    let per_chat = store.chat_statistics(5).await.expect("per chat");
    let busiest = corpus.chats.iter().max_by_key(|c| c.messages).expect("chat");
    assert_eq!(per_chat[0].jid, busiest.jid);
    assert_eq!(per_chat[0].messages as usize, busiest.messages);
}

#[tokio::test]
async fn chat_reach_says_how_far_back_every_chat_goes() {
    let (corpus, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 400).await;
    let reach = store.chat_reach(1000).await.expect("reach");
    assert_eq!(reach.len(), corpus.chats.len(), "every chat, checkpoint or not");
    let messages: Vec<_> = corpus.messages().collect();
    for r in &reach {
        let oldest = messages.iter().filter(|m| m.chat_jid == r.chat_jid).map(|m| m.ts).min();
        assert_eq!(r.oldest_ts, oldest, "{}", r.chat_jid);
        assert_eq!(r.state, wa_store::CheckpointState::Idle);
    }
    // Most recently active first.
    let newest: Vec<Option<i64>> = reach.iter().map(|r| r.newest_ts).collect();
    assert!(newest.windows(2).all(|w| w[0] >= w[1]), "{newest:?}");
    // A chat with a checkpoint shows its state.
    let chat = &reach[3].chat_jid;
    store.refresh_checkpoint(chat).await.expect("checkpoint");
    store
        .set_checkpoint_state(chat, wa_store::CheckpointState::Complete, None)
        .await
        .expect("state");
    let again = store.chat_reach(1000).await.expect("reach");
    let row = again.iter().find(|r| &r.chat_jid == chat).expect("row");
    assert_eq!(row.state, wa_store::CheckpointState::Complete);
    assert_eq!(row.oldest_ts, reach[3].oldest_ts);
    assert_eq!(store.chat_reach(5).await.expect("limit").len(), 5);
}

#[tokio::test]
async fn checkpoints_jobs_audit_and_settings_persist() {
    let (corpus, items) = small_corpus();
    let (dir, store) = fresh_store().await;
    apply_all(&store, items, 400).await;
    let chat = &corpus.chats.iter().max_by_key(|c| c.messages).expect("chat").jid;
    let checkpoint = store.refresh_checkpoint(chat).await.expect("checkpoint");
    let oldest = corpus
        .messages()
        .filter(|m| &m.chat_jid == chat)
        .min_by_key(|m| m.ts)
        .expect("oldest");
    assert_eq!(
        checkpoint.oldest.as_ref().map(|k| k.msg_id.as_str()),
        Some(oldest.msg_id.as_str())
    );
    assert_eq!(checkpoint.oldest_ts, Some(oldest.ts));
    store
        .set_checkpoint_state(chat, CheckpointState::Failed, Some("phone offline"))
        .await
        .expect("state");

    let job = store
        .create_job(JobKind::Chat, Some(chat), Some(500))
        .await
        .expect("job");
    assert_eq!(job.state, JobState::Queued);
    store
        .update_job(job.id, JobState::Running, (120, 1, Some(1)), None)
        .await
        .expect("progress");
    let done = store.create_job(JobKind::Full, None, None).await.expect("job");
    store
        .update_job(done.id, JobState::Done, (10, 2, Some(2)), None)
        .await
        .expect("done");
    assert!(
        store
            .update_job(9999, JobState::Done, (0, 0, None), None)
            .await
            .is_err()
    );

    store
        .audit(
            "Claude Desktop",
            "send_message",
            Some(chat),
            Some("abc123"),
            Decision::Denied,
            Some("user said no"),
        )
        .await
        .expect("audit");
    store
        .audit("Cursor", "mark_as_read", Some(chat), None, Decision::Allowed, None)
        .await
        .expect("audit");
    store.set_setting("send_policy", "ask").await.expect("setting");
    let path = store.path().to_path_buf();
    store.close().await;

    // Everything is still there after a restart.
    let store = wa_store::Store::open(&path).await.expect("reopen");
    let checkpoint = store.checkpoint(chat).await.expect("get").expect("exists");
    assert_eq!(checkpoint.state, CheckpointState::Failed);
    assert_eq!(checkpoint.last_error.as_deref(), Some("phone offline"));
    let open = store.open_jobs().await.expect("open jobs");
    assert_eq!(open.len(), 1, "only the unfinished job resumes");
    assert_eq!((open[0].messages_done, open[0].state), (120, JobState::Running));
    let finished = store.job(done.id).await.expect("job").expect("exists");
    assert!(finished.finished_at.is_some());
    let log = store.audit_log(None, 10, None).await.expect("log");
    assert_eq!(log.items.len(), 2);
    assert_eq!(log.items[0].client, "Cursor", "newest first");
    let denied = store.audit_log(Some("user said"), 10, None).await.expect("search log");
    assert_eq!(denied.items.len(), 1);
    assert_eq!(denied.items[0].decision, Decision::Denied);
    assert_eq!(
        store.setting::<String>("send_policy").await.expect("get").as_deref(),
        Some("ask")
    );
    assert_eq!(store.setting::<String>("missing").await.expect("get"), None);
    // A group of settings in one read: only keys under the prefix.
    store.set_setting("mcp.send_policy", "open").await.expect("setting");
    store.set_setting("mcp.sends_per_minute", &4).await.expect("setting");
    store.set_setting("mcpx", &1).await.expect("setting");
    let group = store.settings("mcp.").await.expect("settings");
    assert_eq!(
        group.get::<String>("mcp.send_policy").expect("get").as_deref(),
        Some("open")
    );
    assert_eq!(group.get::<u32>("mcp.sends_per_minute").expect("get"), Some(4));
    assert_eq!(group.get::<u32>("mcpx").expect("get"), None, "outside the prefix");
    assert_eq!(group.get::<String>("send_policy").expect("get"), None);
    drop(dir);
}

/// A page cut to fit (the MCP layer keeps results under a size) goes on right
/// after its last item kept: walking cut pages gives every item once, in order,
/// for the keyset-paged lists (messages, search) and the offset-paged ones (chats).
#[tokio::test]
async fn a_page_cut_short_goes_on_after_its_last_item() {
    let (_dir, store) = fresh_store().await;
    let (_, items) = small_corpus();
    apply_all(&store, items, 400).await;
    let full: Vec<_> = {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list_messages(&MessageFilter::default(), SortOrder::Newest, 100, cursor.as_deref())
                .await
                .expect("list");
            all.extend(page.items.into_iter().map(|m| m.msg_id));
            cursor = page.next_cursor;
            if cursor.is_none() || all.len() >= 500 {
                break all;
            }
        }
    };
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    for cut in [3usize, 1, 7, 20, 5, 11].iter().cycle().take(40) {
        let page = store
            .list_messages(&MessageFilter::default(), SortOrder::Newest, 20, cursor.as_deref())
            .await
            .expect("list")
            .keep(*cut);
        assert_eq!(page.items.len(), (*cut).min(20));
        walked.extend(page.items.iter().map(|m| m.msg_id.clone()));
        cursor = page.next_cursor;
    }
    assert_eq!(walked, full[..walked.len()].to_vec(), "every message once, in order");

    let chats = |limit, cursor: Option<String>| ChatFilter {
        limit,
        cursor,
        ..Default::default()
    };
    let all_chats: Vec<String> = store
        .list_chats(&chats(100, None))
        .await
        .expect("chats")
        .items
        .into_iter()
        .map(|c| c.jid)
        .collect();
    let mut walked = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_chats(&chats(6, cursor.clone()))
            .await
            .expect("chats")
            .keep(4);
        walked.extend(page.items.into_iter().map(|c| c.jid));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(walked, all_chats, "every chat once, in order, four at a time");
}
