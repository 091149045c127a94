//! Sync jobs on the simulated account: everything lands exactly once, pause,
//! resume and cancel, a restart or a SIGKILL resumes from the checkpoints, and a
//! community job covers its chats.

use std::time::Duration;

use wa_corpus::{Config, Corpus};
use wa_store::{ChatKind, Item, JobState};

use crate::engine::{Engine, EngineOptions};
use crate::jobs::SyncRequest;
use crate::sim::account::{SimConfig, SimulatedAccount};
use crate::state::EngineState;
use crate::sync::JobCommand;
use crate::test_support::{
    busiest_chat, expected_messages, fast_options, store_in, stored_messages, synced, wait_for, wait_job,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_the_phone_gives_lands_exactly_and_a_second_run_asks_nothing() {
    // The phone sends the newest 20 messages of each chat; the rest on request.
    let sim = SimConfig {
        initial_per_chat: Some(20),
        ..SimConfig::default()
    };
    let (_dir, account, engine) = synced(Config::phone(), sim).await;
    let store = engine.store().clone();
    let corpus_total = account.corpus().messages().count();
    let pushed = store.statistics().await.expect("stats").messages as usize;
    assert!(pushed < corpus_total / 5, "only recent history was pushed: {pushed}");

    let job = engine.start_sync(SyncRequest::Everything).await.expect("job");
    let done = wait_job(&engine, job.id, "the full sync", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert_eq!(done.chats_done, done.chats_total.expect("total"));
    assert_eq!(done.messages_done as usize, corpus_total - pushed);

    // Counts and contents equal to the corpus.
    let expected = expected_messages(account.corpus());
    let stored = stored_messages(&store).await;
    assert_eq!(
        store.statistics().await.expect("stats").messages as usize,
        expected.len()
    );
    assert_eq!(stored.len(), expected.len());
    for (s, e) in stored.iter().zip(&expected) {
        assert_eq!(
            (&s.chat_jid, &s.msg_id, &s.sender_jid),
            (&e.chat_jid, &e.msg_id, &e.sender_jid)
        );
        assert_eq!((s.ts, s.kind, s.from_me), (e.ts, e.kind, e.from_me), "{}", e.msg_id);
        assert_eq!(
            s.original_text.as_ref().or(s.text.as_ref()),
            e.text.as_ref(),
            "{}",
            e.msg_id
        );
        assert_eq!(s.quoted, e.quoted, "{}", e.msg_id);
        assert_eq!(s.has_media, e.media.is_some(), "{}", e.msg_id);
    }
    assert!(store.integrity_check().await.expect("check").is_empty());

    // Every chat is complete: a second "everything" asks the phone nothing.
    let asked = account.history_requests();
    let again = engine.start_sync(SyncRequest::Everything).await.expect("job");
    let again = wait_job(&engine, again.id, "the second sync", |j| j.state.is_finished()).await;
    assert_eq!((again.state, again.messages_done), (JobState::Done, 0));
    assert_eq!(account.history_requests(), asked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_started_while_the_first_history_lands_and_the_connection_drops_gets_everything() {
    // As in the wizard: the person chooses "everything" right after linking,
    // while the phone's first history is landing, and the network drops
    // in the middle of that push (the phone goes on at the next connection).
    let sim = SimConfig {
        conversations_per_chunk: 4,
        initial_per_chat: Some(20),
        latency: Duration::from_millis(40),
        ..SimConfig::default()
    };
    let account = SimulatedAccount::with_config(Corpus::new(Config::phone()), sim);
    let dir = tempfile::tempdir().expect("dir");
    let options = EngineOptions {
        history_batch: 400,
        ..fast_options(dir.path(), false)
    };
    let engine = Engine::start(account.clone(), store_in(dir.path()).await, options);
    let store = engine.store().clone();
    let mut state = engine.state();
    let showing = wait_for(&mut state, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await;
    let EngineState::ShowingQr { code, .. } = showing else {
        unreachable!()
    };
    assert!(account.scan(&code));
    wait_for(&mut state, "connected", |s| matches!(s, EngineState::Connected { .. })).await;
    let job = engine.start_sync(SyncRequest::Everything).await.expect("job");
    let mut progress = engine.progress();
    let cut = wait_for(&mut progress, "a part of the push", |p| {
        p.percent.is_some_and(|p| p >= 20)
    })
    .await;
    account.drop_connection();
    assert!(cut.percent < Some(100), "cut mid-push: {cut:?}");

    let done = wait_job(&engine, job.id, "the full sync", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert_eq!(
        engine.progress().borrow().percent,
        Some(100),
        "the push went on after the drop"
    );
    let expected = expected_messages(account.corpus());
    let stored = stored_messages(&store).await;
    let stored: Vec<(&str, &str)> = stored
        .iter()
        .map(|m| (m.chat_jid.as_str(), m.msg_id.as_str()))
        .collect();
    let expected: Vec<(&str, &str)> = expected
        .iter()
        .map(|m| (m.chat_jid.as_str(), m.msg_id.as_str()))
        .collect();
    assert_eq!(stored.len(), expected.len(), "every message of every chat, once");
    assert_eq!(stored, expected);
    assert_eq!(
        store.statistics().await.expect("stats").chats as usize,
        account.corpus().chats.len()
    );

    // Nothing was marked complete early: a second "everything" asks nothing.
    let asked = account.history_requests();
    let again = engine.start_sync(SyncRequest::Everything).await.expect("job");
    let again = wait_job(&engine, again.id, "the second sync", |j| j.state.is_finished()).await;
    assert_eq!((again.state, again.messages_done), (JobState::Done, 0));
    assert_eq!(account.history_requests(), asked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_cancel_and_a_restart_resume_from_the_checkpoint() {
    let sim = SimConfig {
        initial_per_chat: Some(5),
        latency: Duration::from_millis(15),
        ..SimConfig::default()
    };
    let (dir, account, engine) = synced(Config::small(), sim.clone()).await;
    let store = engine.store().clone();
    let (chat, total) = busiest_chat(account.corpus());
    assert!(total > 100, "a chat long enough to pause: {total}");
    let options = EngineOptions {
        history_batch: 5,
        ..fast_options(dir.path(), true)
    };
    engine.shutdown().await;
    drop(engine);
    let engine = Engine::start(account.clone(), store.clone(), options.clone());
    let mut state = engine.state();
    wait_for(&mut state, "connected", |s| matches!(s, EngineState::Connected { .. })).await;

    let job = engine
        .start_sync(SyncRequest::Chat {
            jid: chat.parse().expect("a chat address"),
            count: 10_000,
        })
        .await
        .expect("job");
    wait_job(&engine, job.id, "some progress", |j| j.messages_done >= 10).await;
    let paused = engine.control_job(job.id, JobCommand::Pause).await.expect("pause");
    assert_eq!(paused.state, JobState::Paused);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let held = engine.job(job.id).await.expect("job").messages_done;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        engine.job(job.id).await.expect("job").messages_done,
        held,
        "a paused job fetches nothing"
    );
    let resumed = engine.control_job(job.id, JobCommand::Resume).await.expect("resume");
    assert_eq!(resumed.state, JobState::Running);
    wait_job(&engine, job.id, "more progress", |j| j.messages_done >= held + 10).await;

    // The app stops mid-sync (quit or crash): the job stays open in the store...
    engine.shutdown().await;
    drop(engine);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let open = store.open_jobs().await.expect("open");
    assert!(
        open.iter().any(|j| j.id == job.id && j.state == JobState::Running),
        "{open:?}"
    );
    let at_stop = store.checkpoint(&chat).await.expect("checkpoint").expect("exists");
    let asked_before = account.history_requests();

    // ...and the next start resumes it from the checkpoint, asking only for what is missing.
    let engine = Engine::start(account.clone(), store.clone(), options);
    let done = wait_job(&engine, job.id, "the resumed job", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    let in_chat = stored_messages(&store)
        .await
        .into_iter()
        .filter(|m| m.chat_jid == chat)
        .count();
    assert_eq!(in_chat, total, "the whole chat, once");
    let problems = store.integrity_check().await.expect("check");
    assert!(problems.is_empty(), "after a graceful restart: {problems:?}");
    let missing_at_stop = total as i64 - at_stop.messages_synced;
    let asked_after = i64::from(account.history_requests() - asked_before);
    assert!(
        asked_after <= missing_at_stop / 5 + 2,
        "resumed from the checkpoint: {asked_after} requests for {missing_at_stop} messages"
    );

    // Cancel: final, and says so when asked to resume.
    let other = engine.start_sync(SyncRequest::Everything).await.expect("job");
    let cancelled = engine.control_job(other.id, JobCommand::Cancel).await.expect("cancel");
    assert!(
        matches!(cancelled.state, JobState::Cancelled | JobState::Done),
        "{cancelled:?}"
    );
    if cancelled.state == JobState::Cancelled {
        let refused = engine
            .control_job(other.id, JobCommand::Resume)
            .await
            .expect_err("final");
        assert!(refused.to_string().contains("cannot be resumed"), "{refused}");
    }
}

const KILL_CHILD_DIR: &str = "WA_ENGINE_KILL_CHILD_DIR";

fn kill_sim() -> SimConfig {
    SimConfig {
        initial_per_chat: Some(5),
        latency: Duration::from_millis(10),
        ..SimConfig::default()
    }
}

fn kill_options(dir: &std::path::Path) -> EngineOptions {
    EngineOptions {
        history_batch: 5,
        ..fast_options(dir, true)
    }
}

/// The child process: sync the busiest chat a window at a time until killed.
async fn kill_child(dir: &std::path::Path) {
    let account = SimulatedAccount::linked(Corpus::new(Config::small()), kill_sim());
    let store = store_in(dir).await;
    let engine = Engine::start(account.clone(), store, kill_options(dir));
    let mut state = engine.state();
    wait_for(&mut state, "connected", |s| matches!(s, EngineState::Connected { .. })).await;
    account.push_history();
    let mut progress = engine.progress();
    wait_for(&mut progress, "the push", |p| p.percent == Some(100)).await;
    let (chat, _) = busiest_chat(account.corpus());
    let job = engine
        .start_sync(SyncRequest::Chat {
            jid: chat.parse().expect("a chat address"),
            count: 100_000,
        })
        .await
        .expect("job");
    println!("JOB {}", job.id);
    loop {
        let now = engine.job(job.id).await.expect("job");
        println!("PROGRESS {}", now.messages_done);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_with_sigkill_resumes_from_its_checkpoint() {
    use std::io::{BufRead, BufReader};
    if let Some(dir) = std::env::var_os(KILL_CHILD_DIR) {
        kill_child(std::path::Path::new(&dir)).await;
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "jobs::tests::a_sync_killed_with_sigkill_resumes_from_its_checkpoint",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL_CHILD_DIR, dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("stdout");
    let (job, done_at_kill) = tokio::task::spawn_blocking(move || {
        let mut job = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints "test <name> ... " on the same line as the first output.
            if let Some((_, id)) = line.split_once("JOB ") {
                job = id.parse::<i64>().ok();
            }
            if let Some(n) = line.strip_prefix("PROGRESS ").and_then(|n| n.parse::<i64>().ok())
                && n >= 40
            {
                return (job, n);
            }
        }
        (job, 0)
    })
    .await
    .expect("reader");
    // SIGKILL in the middle of the sync: no shutdown, no flush.
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let job = job.expect("the child started a job");
    assert!(done_at_kill >= 40, "the child made progress before the kill");

    let store = store_in(dir.path()).await;
    assert!(
        store.integrity_check().await.expect("check").is_empty(),
        "sound after the kill"
    );
    let open = store.open_jobs().await.expect("open jobs");
    assert!(
        open.iter().any(|j| j.id == job),
        "the killed job is still open: {open:?}"
    );

    let account = SimulatedAccount::linked(Corpus::new(Config::small()), kill_sim());
    let (chat, total) = busiest_chat(account.corpus());
    let stored_at_restart = store
        .checkpoint(&chat)
        .await
        .expect("checkpoint")
        .map_or(0, |c| c.messages_synced);
    let engine = Engine::start(account.clone(), store.clone(), kill_options(dir.path()));
    let done = wait_job(&engine, job, "the resumed job", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    let in_chat = stored_messages(&store)
        .await
        .into_iter()
        .filter(|m| m.chat_jid == chat)
        .count();
    assert_eq!(in_chat, total, "the whole chat, each message once");
    let missing = i64::try_from(total).expect("count") - stored_at_restart;
    assert!(
        i64::from(account.history_requests()) <= missing / 5 + 2,
        "resumed from the checkpoint: {} requests for {missing} missing messages",
        account.history_requests()
    );
    let problems = store.integrity_check().await.expect("check");
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_community_job_fetches_older_messages_of_each_of_its_chats() {
    let sim = SimConfig {
        initial_per_chat: Some(5),
        ..SimConfig::default()
    };
    let (_dir, account, engine) = synced(Config::small(), sim).await;
    let store = engine.store().clone();
    let corpus = account.corpus();
    let community = corpus
        .chats
        .iter()
        .find(|c| c.kind == ChatKind::Community && corpus.chats.iter().any(|g| g.parent.as_ref() == Some(&c.jid)))
        .expect("a community with groups");
    let members: Vec<String> = std::iter::once(community.jid.clone())
        .chain(
            corpus
                .chats
                .iter()
                .filter(|c| c.parent.as_deref() == Some(community.jid.as_str()))
                .map(|c| c.jid.clone()),
        )
        .collect();
    let count = |jid: String| {
        let store = store.clone();
        async move {
            store
                .checkpoint(&jid)
                .await
                .expect("checkpoint")
                .map_or(0, |c| c.messages_synced)
        }
    };
    let mut before = Vec::new();
    for jid in &members {
        store.refresh_checkpoint(jid).await.ok();
        before.push(count(jid.clone()).await);
    }
    let job = engine
        .start_sync(SyncRequest::Community {
            jid: community.jid.parse().expect("a chat address"),
            per_chat: Some(10),
        })
        .await
        .expect("job");
    let done = wait_job(&engine, job.id, "the community job", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert_eq!(done.chats_total, Some(members.len() as i64));
    let outside = corpus
        .chats
        .iter()
        .find(|c| c.kind == ChatKind::Direct)
        .expect("a direct chat");
    for (jid, was) in members.iter().zip(before) {
        let plan = corpus.chats.iter().position(|c| &c.jid == jid).expect("in corpus");
        let total = corpus
            .chat_items(plan)
            .filter(|i| matches!(i, Item::Message(_)))
            .count() as i64;
        let now = count(jid.clone()).await;
        assert_eq!(now, (was + 10).min(total), "{jid}: {was} -> {now} of {total}");
    }
    let untouched = count(outside.jid.clone()).await;
    assert!(
        untouched <= 5,
        "chats outside the community are not fetched: {untouched}"
    );
}
