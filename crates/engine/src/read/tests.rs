//! Read receipts on the simulated account: per sender, and a community job
//! marks every group.

use wa_corpus::Config;
use wa_store::{ChatKind, JobState};

use crate::jobs::SyncRequest;
use crate::sim::account::SimConfig;
use crate::test_support::{synced, wait_job};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_read_sends_receipts_per_sender_and_a_community_job_marks_every_group() {
    let (_dir, account, engine) = synced(Config::small(), SimConfig::default()).await;
    let store = engine.store().clone();
    let corpus = account.corpus();
    let group = corpus
        .chats
        .iter()
        .find(|c| c.kind == ChatKind::Group && c.members.len() > 2)
        .expect("a group")
        .jid
        .clone();
    let marked = engine
        .mark_read(&group.parse().expect("a group address"))
        .await
        .expect("mark read");
    assert!(marked > 0);
    let receipts = account.read_receipts();
    assert!(!receipts.is_empty());
    for (chat, sender, ids) in &receipts {
        assert_eq!(chat, &group);
        assert!(sender.is_some(), "group receipts name the sender");
        assert!(!ids.is_empty());
    }
    assert_eq!(
        store
            .get_chat(&group)
            .await
            .expect("chat")
            .expect("exists")
            .unread_count,
        0
    );

    let community = corpus
        .chats
        .iter()
        .find(|c| c.kind == ChatKind::Community)
        .expect("a community");
    let groups = corpus
        .chats
        .iter()
        .filter(|c| c.parent.as_deref() == Some(community.jid.as_str()))
        .count();
    let before = account.read_receipts().len();
    let job = engine
        .start_sync(SyncRequest::MarkCommunityRead {
            jid: community.jid.parse().expect("a chat address"),
            fetch_first: None,
        })
        .await
        .expect("job");
    let done = wait_job(&engine, job.id, "the community", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert_eq!(
        done.chats_done as usize,
        groups + 1,
        "the community and each of its groups"
    );
    let chats_marked: std::collections::HashSet<String> = account.read_receipts()[before..]
        .iter()
        .map(|(c, _, _)| c.clone())
        .collect();
    assert!(chats_marked.len() >= groups.min(1), "{chats_marked:?}");

    // A direct chat is not a community.
    let direct = corpus
        .chats
        .iter()
        .find(|c| c.kind == ChatKind::Direct)
        .expect("direct");
    let wrong = engine
        .start_sync(SyncRequest::MarkCommunityRead {
            jid: direct.jid.parse().expect("a chat address"),
            fetch_first: None,
        })
        .await
        .expect_err("not a community");
    assert!(wrong.to_string().contains("not a community"), "{wrong}");
}
