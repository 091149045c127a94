//! The engine on the simulated account: linking, history, faults, jobs, media
//! and sends, through the same code the app ships.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wa_corpus::{Config, Corpus};
use wa_store::{ChatKind, Item, JobState, MessageFilter, MessageKind, NewMessage, SortOrder, Store};
use whatsapp_rust::wacore::types::events::ConnectFailureReason;

use crate::engine::{Engine, EngineOptions};
use crate::error::EngineError;
use crate::send::Outgoing;
use crate::sim::account::{SimConfig, SimulatedAccount};
use crate::sim::media;
use crate::state::{EngineState, Problem};
use crate::sync::JobCommand;
use crate::sync::jobs::SyncRequest;

type Sim = Arc<SimulatedAccount>;

async fn wait_for<T: Clone>(rx: &mut tokio::sync::watch::Receiver<T>, what: &str, ok: impl Fn(&T) -> bool) -> T {
    let waited = tokio::time::timeout(Duration::from_mins(1), rx.wait_for(|v| ok(v))).await;
    match waited {
        Ok(Ok(value)) => value.clone(),
        _ => panic!("timed out waiting for {what}; now {:?}", std::any::type_name::<T>()),
    }
}

async fn wait_job(engine: &Engine, id: i64, what: &str, ok: impl Fn(&wa_store::SyncJob) -> bool) -> wa_store::SyncJob {
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        let job = engine.job(id).await.expect("job");
        if ok(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {job:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn fast_options(dir: &std::path::Path, linked: bool) -> EngineOptions {
    EngineOptions {
        linked,
        backoff_base: Duration::from_millis(20),
        phone_timeout: Duration::from_secs(1),
        seed: 7,
        ..EngineOptions::new(dir)
    }
}

async fn store_in(dir: &std::path::Path) -> Store {
    Store::open(dir.join("messages.db")).await.expect("store")
}

/// A linked, connected engine whose phone sent its whole corpus.
async fn synced(config: Config, sim: SimConfig) -> (tempfile::TempDir, Sim, Engine) {
    let corpus = Corpus::new(config);
    let expected = corpus.messages().count() as u64;
    let account = SimulatedAccount::linked(corpus, sim);
    let dir = tempfile::tempdir().expect("dir");
    let engine = Engine::start(
        account.clone(),
        store_in(dir.path()).await,
        fast_options(dir.path(), true),
    );
    // A linked account connects straight away; the phone's history push is
    // only sent after linking, so deliver the corpus as an on-demand-free push.
    let mut state = engine.state();
    wait_for(&mut state, "connected", |s| matches!(s, EngineState::Connected { .. })).await;
    account.push_history();
    let mut progress = engine.progress();
    wait_for(&mut progress, "the pushed history", |p| p.percent == Some(100)).await;
    if account.initial_window().is_none() {
        assert_eq!(
            engine.store().statistics().await.expect("stats").messages as u64,
            expected
        );
    }
    (dir, account, engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_by_qr_then_history_lands_then_live_messages_and_faults() {
    let corpus = Corpus::new(Config::small());
    let expected_messages = corpus.messages().count() as u64;
    let chats = corpus.chats.len();
    let account = SimulatedAccount::new(corpus, 4);
    let dir = tempfile::tempdir().expect("dir");
    let engine = Engine::start(
        account.clone(),
        store_in(dir.path()).await,
        fast_options(dir.path(), false),
    );
    let store = engine.store().clone();
    let mut state = engine.state();

    let showing = wait_for(&mut state, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await;
    let EngineState::ShowingQr { code, .. } = showing else {
        unreachable!()
    };
    assert!(!account.scan("2@someone-else's-code"), "a wrong code does not link");
    assert!(account.scan(&code), "the code on screen links");

    wait_for(&mut state, "connected", |s| matches!(s, EngineState::Connected { .. })).await;
    let mut progress = engine.progress();
    let done = wait_for(&mut progress, "the whole history", |p| p.messages == expected_messages).await;
    assert_eq!(done.percent, Some(100));
    assert_eq!(done.chats as usize, chats);
    let stats = store.statistics().await.expect("stats");
    assert_eq!(stats.messages as u64, expected_messages);
    assert_eq!(stats.chats as usize, chats);
    // Names came with the history: saved names from app state, push names from the sync.
    let named = store.search_contacts("", 500).await.expect("contacts");
    assert!(named.iter().filter(|c| c.saved_name.is_some()).count() > 10);
    assert!(store.integrity_check().await.expect("check").is_empty());

    // A live message reaches the store within a second.
    let chat = account.corpus().chats[0].jid.clone();
    let sender = account.corpus().chats[0]
        .members
        .first()
        .map_or_else(|| chat.clone(), |&m| account.corpus().contacts[m].jid.clone());
    let live = NewMessage {
        chat_jid: chat.clone(),
        msg_id: "LIVE-1".into(),
        sender_jid: if chat.ends_with("@g.us") { sender } else { chat.clone() },
        from_me: false,
        ts: 1_800_000_000_000,
        kind: MessageKind::Text,
        text: Some("are you coming tonight? 🎉".into()),
        quoted: None,
        extra: None,
        media: None,
        push_name: Some("Live".into()),
    };
    let sent_at = Instant::now();
    account.receive(&live);
    loop {
        if store.get_message(&live.key()).await.expect("read").is_some() {
            break;
        }
        assert!(
            sent_at.elapsed() < Duration::from_secs(1),
            "the live message took over a second"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Delivered again (a redelivery after a reconnect): still one copy.
    account.receive(&live);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store.statistics().await.expect("stats").messages as u64,
        expected_messages + 1
    );

    // The network drops: the engine says so, waits its backoff, and reconnects.
    account.drop_connection();
    let down = wait_for(&mut state, "reconnecting", |s| {
        matches!(s, EngineState::Reconnecting { .. })
    })
    .await;
    assert!(down.describe(0).contains("internet connection"), "{}", down.describe(0));
    wait_for(&mut state, "connected again", |s| {
        matches!(s, EngineState::Connected { .. })
    })
    .await;

    // Removed from the phone: the person is told, and every message is kept.
    account.log_out_from_phone();
    let out = wait_for(&mut state, "logged out", |s| matches!(s, EngineState::LoggedOut { .. })).await;
    assert!(out.needs_attention());
    assert!(out.describe(0).contains("messages are kept"));
    assert_eq!(
        store.statistics().await.expect("stats").messages as u64,
        expected_messages + 1
    );
    // Linking again continues into the same archive.
    engine.new_qr_codes().await.expect("new codes");
    let again = wait_for(&mut state, "a new QR code", |s| {
        matches!(s, EngineState::ShowingQr { .. })
    })
    .await;
    let EngineState::ShowingQr { code, .. } = again else {
        unreachable!()
    };
    assert!(account.scan(&code));
    wait_for(&mut state, "connected after re-linking", |s| {
        matches!(s, EngineState::Connected { .. })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.statistics().await.expect("stats").messages as u64,
        expected_messages + 1,
        "re-sent history is not duplicated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_codes_rotate_run_out_and_the_device_limit_is_explained() {
    let config = SimConfig {
        qr_codes: 3,
        first_qr_timeout: Duration::from_millis(300),
        ..SimConfig::default()
    };
    let account = SimulatedAccount::with_config(Corpus::new(Config::small()), config);
    let dir = tempfile::tempdir().expect("dir");
    let engine = Engine::start(
        account.clone(),
        store_in(dir.path()).await,
        fast_options(dir.path(), false),
    );
    let mut state = engine.state();

    // The codes rotate within one round...
    let first = wait_for(&mut state, "a code", |s| matches!(s, EngineState::ShowingQr { .. })).await;
    let second = wait_for(&mut state, "the next code", |s| {
        matches!(s, EngineState::ShowingQr { .. }) && *s != first
    })
    .await;
    let (EngineState::ShowingQr { round: r1, .. }, EngineState::ShowingQr { round: r2, code, .. }) = (&first, &second)
    else {
        unreachable!()
    };
    assert_eq!((r1, r2), (&1, &1), "a rotation is not a new round");
    // ...and the phone scanning a code it may not use (device list full) links nothing.
    account.set_device_list_full(true);
    assert!(!account.scan(code));
    let out = wait_for(&mut state, "codes ran out", |s| {
        matches!(s, EngineState::QrExhausted { .. })
    })
    .await;
    assert!(out.needs_attention());
    assert!(
        !out.describe(0).contains("Linked devices"),
        "first time: just offer new codes"
    );

    engine.new_qr_codes().await.expect("new codes");
    let round2 = wait_for(&mut state, "round 2", |s| {
        matches!(s, EngineState::ShowingQr { round: 2, .. })
    })
    .await;
    let EngineState::ShowingQr { code, .. } = round2 else {
        unreachable!()
    };
    assert!(!account.scan(&code));
    let out = wait_for(&mut state, "codes ran out again", |s| {
        matches!(s, EngineState::QrExhausted { rounds: 2 })
    })
    .await;
    assert!(
        out.describe(0).contains("Linked devices"),
        "twice without a link: the device-limit guide: {}",
        out.describe(0)
    );

    // The person removes an old device on the phone and shows a new code.
    account.set_device_list_full(false);
    engine.new_qr_codes().await.expect("new codes");
    let round3 = wait_for(&mut state, "round 3", |s| matches!(s, EngineState::ShowingQr { .. })).await;
    let EngineState::ShowingQr { code, .. } = round3 else {
        unreachable!()
    };
    assert!(account.scan(&code));
    wait_for(&mut state, "connected", |s| matches!(s, EngineState::Connected { .. })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_with_a_phone_number_code() {
    let corpus = Corpus::new(Config::small());
    let own_number = corpus.own_jid.trim_end_matches("@s.whatsapp.net").to_owned();
    let account = SimulatedAccount::with_config(corpus, SimConfig::default());
    let dir = tempfile::tempdir().expect("dir");
    let engine = Engine::start(
        account.clone(),
        store_in(dir.path()).await,
        fast_options(dir.path(), false),
    );
    let mut state = engine.state();
    wait_for(&mut state, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await;

    let short = engine.pair_with_phone("12345").await.expect_err("too short");
    assert!(matches!(short, EngineError::InvalidInput(_)));
    assert!(short.to_string().contains("country code"), "{short}");
    let wrong = engine
        .pair_with_phone("+1 555 000 0000")
        .await
        .expect_err("not this account");
    assert!(wrong.to_string().contains("no WhatsApp account"), "{wrong}");

    let formatted = format!("+{} {}", &own_number[..2], &own_number[2..]);
    let code = engine.pair_with_phone(&formatted).await.expect("a code");
    assert_eq!(code.len(), 9, "8 characters shown as XXXX-XXXX: {code}");
    let showing = wait_for(&mut state, "the code", |s| matches!(s, EngineState::ShowingCode { .. })).await;
    assert!(showing.describe(0).contains("Link with phone number instead"));
    assert!(!account.enter_code("WRONG-CODE"));
    // Asking again gives a new code (the old one stops working); WhatsApp then says "slow down".
    let second = engine.pair_with_phone(&formatted).await.expect("a second code");
    assert_ne!(second, code);
    assert!(!account.enter_code(&code), "the first code was replaced");
    let code = second;
    let throttled = engine.pair_with_phone(&formatted).await.expect_err("too many codes");
    assert!(throttled.to_string().contains("Wait a few minutes"), "{throttled}");
    assert!(account.enter_code(&code.to_lowercase().replace('-', "").to_uppercase()));
    wait_for(&mut state, "connected", |s| matches!(s, EngineState::Connected { .. })).await;
    assert_eq!(engine.own_jid().as_deref(), Some(account.corpus().own_jid.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_bans_takeovers_and_outdated_clients_end_in_the_right_state() {
    let (_dir, account, engine) = synced(Config::small(), SimConfig::default()).await;
    let before = engine.store().statistics().await.expect("stats");
    let mut state = engine.state();

    // 503 twice: reported as busy servers, retried with backoff, then connected.
    account.fail_next_connects([
        ConnectFailureReason::ServiceUnavailable,
        ConnectFailureReason::ServiceUnavailable,
    ]);
    account.drop_connection();
    let busy = wait_for(&mut state, "busy servers", |s| {
        matches!(
            s,
            EngineState::Reconnecting {
                problem: Problem::ServerBusy { code: 503 },
                ..
            }
        )
    })
    .await;
    assert!(busy.describe(0).contains("busy (error 503)"), "{}", busy.describe(0));
    wait_for(&mut state, "connected after 503s", |s| {
        matches!(s, EngineState::Connected { .. })
    })
    .await;

    // A temporary ban: no reconnect loop, the person is told how long.
    account.ban(Duration::from_hours(1));
    let banned = wait_for(&mut state, "banned", |s| {
        matches!(s, EngineState::TemporarilyBanned { .. })
    })
    .await;
    assert!(banned.needs_attention());
    assert!(banned.describe(now()).contains("1 h"), "{}", banned.describe(now()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        matches!(*state.borrow(), EngineState::TemporarilyBanned { .. }),
        "no retries during a ban"
    );
    engine.reconnect_now().await.expect("retry");
    wait_for(&mut state, "connected after the ban", |s| {
        matches!(s, EngineState::Connected { .. })
    })
    .await;

    // Another session takes over.
    account.replace();
    let replaced = wait_for(&mut state, "replaced", |s| *s == EngineState::Replaced).await;
    assert!(replaced.describe(0).contains("Another session"));
    engine.reconnect_now().await.expect("retry");
    wait_for(&mut state, "connected after the takeover", |s| {
        matches!(s, EngineState::Connected { .. })
    })
    .await;

    // WhatsApp stops accepting this version.
    account.set_outdated(true);
    account.drop_connection();
    let outdated = wait_for(&mut state, "outdated", |s| *s == EngineState::Outdated).await;
    assert!(outdated.describe(0).contains("Update WhatsApp MCP Desktop"));

    let after = engine.store().statistics().await.expect("stats");
    assert_eq!(after.messages, before.messages, "no fault lost or duplicated a message");
    assert!(engine.store().integrity_check().await.expect("check").is_empty());
}

fn now() -> i64 {
    crate::clock::now_ms()
}

/// Every message of the corpus, as the store should hold it.
fn expected_messages(corpus: &Corpus) -> Vec<NewMessage> {
    let mut all: Vec<NewMessage> = corpus
        .messages()
        .map(|mut m| {
            if let Some(info) = m.media.as_mut() {
                media::prepare(&m.msg_id, info);
            }
            m
        })
        .collect();
    all.sort_by(|a, b| (&a.chat_jid, &a.msg_id).cmp(&(&b.chat_jid, &b.msg_id)));
    all
}

async fn stored_messages(store: &Store) -> Vec<wa_store::Message> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_messages(
                &MessageFilter {
                    include_deleted: true,
                    ..MessageFilter::default()
                },
                SortOrder::Oldest,
                5_000,
                cursor.as_deref(),
            )
            .await
            .expect("page");
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    all.sort_by(|a, b| (&a.chat_jid, &a.msg_id).cmp(&(&b.chat_jid, &b.msg_id)));
    all
}

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

/// The chat with the most messages, and how many it has.
fn busiest_chat(corpus: &Corpus) -> (String, usize) {
    let busiest = (0..corpus.chats.len())
        .max_by_key(|&c| corpus.chats[c].messages)
        .expect("chats");
    let n = corpus
        .chat_items(busiest)
        .filter(|i| matches!(i, Item::Message(_)))
        .count();
    (corpus.chats[busiest].jid.clone(), n)
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
            jid: chat.clone(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_back_off_and_an_offline_phone_pauses_the_job_in_words() {
    let sim = SimConfig {
        initial_per_chat: Some(5),
        ..SimConfig::default()
    };
    let (_dir, account, engine) = synced(Config::small(), sim).await;
    let chat = account.corpus().chats[1].jid.clone();

    account.rate_limit_next_requests(3);
    let job = engine
        .start_sync(SyncRequest::Chat {
            jid: chat.clone(),
            count: 30,
        })
        .await
        .expect("job");
    let started = Instant::now();
    let done = wait_job(&engine, job.id, "the job", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert!(done.messages_done > 0);
    // Three refusals answered with 20, 40, 80 ms of backoff (±20%), never a tight loop.
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );

    account.set_phone_online(false);
    let job = engine
        .start_sync(SyncRequest::Chat {
            jid: account.corpus().chats[2].jid.clone(),
            count: 30,
        })
        .await
        .expect("job");
    let paused = wait_job(&engine, job.id, "paused", |j| j.state == JobState::Paused).await;
    let why = paused.last_error.expect("a reason");
    assert!(why.contains("phone did not answer"), "{why}");
    account.set_phone_online(true);
    engine.control_job(job.id, JobCommand::Resume).await.expect("resume");
    let done = wait_job(&engine, job.id, "resumed", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert!(done.messages_done > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_downloaded_checked_and_expired_files_are_asked_again() {
    let (dir, account, engine) = synced(Config::small(), SimConfig::default()).await;
    let store = engine.store().clone();
    let media_messages: Vec<NewMessage> = expected_messages(account.corpus())
        .into_iter()
        .filter(|m| m.media.is_some())
        .collect();
    let fresh = media_messages
        .iter()
        .find(|m| !media::starts_expired(&m.msg_id))
        .expect("a fresh file");
    let expired: Vec<&NewMessage> = media_messages
        .iter()
        .filter(|m| media::starts_expired(&m.msg_id))
        .take(2)
        .collect();
    assert_eq!(expired.len(), 2);

    let saved = engine.download_media(&fresh.key()).await.expect("download");
    assert!(!saved.reuploaded);
    let bytes = std::fs::read(&saved.path).expect("saved file");
    assert_eq!(bytes, media::file_for(&fresh.msg_id), "the exact file");
    assert!(saved.path.starts_with(dir.path().join("media")));
    let ext = saved.path.extension().and_then(|e| e.to_str()).expect("extension");
    assert!(
        ["jpg", "mp4", "ogg", "mp3", "webp", "pdf", "docx", "xlsx", "zip", "txt"].contains(&ext),
        "{ext}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved.path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only this user reads downloaded media");
    }

    // Expired on the server: the phone uploads it again and the download succeeds.
    let again = engine.download_media(&expired[0].key()).await.expect("re-uploaded");
    assert!(again.reuploaded);
    assert_eq!(
        std::fs::read(&again.path).expect("file"),
        media::file_for(&expired[0].msg_id)
    );
    let record = store.media(&expired[0].key()).await.expect("record").expect("media");
    assert!(
        record
            .info
            .direct_path
            .as_deref()
            .is_some_and(|p| p.contains("reupload"))
    );
    // Asked again: served from disk.
    let cached = engine.download_media(&expired[0].key()).await.expect("cached");
    assert_eq!(cached.path, again.path);

    // Expired and the phone offline: a sentence that says what to do, recorded.
    account.set_phone_online(false);
    let offline = engine
        .download_media(&expired[1].key())
        .await
        .expect_err("phone offline");
    assert!(matches!(offline, EngineError::PhoneOffline));
    assert!(offline.to_string().contains("Open WhatsApp on your phone"), "{offline}");
    let record = store.media(&expired[1].key()).await.expect("record").expect("media");
    assert!(record.last_error.is_some_and(|e| e.contains("phone")));

    // A text message has nothing to download.
    let text = expected_messages(account.corpus())
        .into_iter()
        .find(|m| m.kind == MessageKind::Text)
        .expect("a text");
    assert!(matches!(
        engine.download_media(&text.key()).await,
        Err(EngineError::NoMedia)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_reach_the_phone_and_the_archive() {
    let (dir, account, engine) = synced(Config::small(), SimConfig::default()).await;
    let store = engine.store().clone();
    let corpus = account.corpus();
    let direct = corpus
        .chats
        .iter()
        .find(|c| c.kind == ChatKind::Direct)
        .expect("a direct chat")
        .jid
        .clone();
    let target = expected_messages(corpus)
        .into_iter()
        .find(|m| m.chat_jid == direct && m.kind == MessageKind::Text)
        .expect("a message to answer");

    let text = engine
        .send(Outgoing::Text {
            chat_jid: direct.clone(),
            text: "On my way 🚲".into(),
            reply_to: None,
            mentions: Vec::new(),
        })
        .await
        .expect("text");
    let reply = engine
        .send(Outgoing::Text {
            chat_jid: direct.clone(),
            text: "Yes, this one".into(),
            reply_to: Some(target.key()),
            mentions: vec![direct.clone()],
        })
        .await
        .expect("reply");
    engine
        .send(Outgoing::Reaction {
            target: target.key(),
            emoji: "👍".into(),
        })
        .await
        .expect("reaction");
    let photo_path = dir.path().join("holiday photo.png");
    std::fs::write(&photo_path, b"\x89PNG\r\n\x1a\nnot really a png, but bytes").expect("write");
    let photo = engine
        .send(Outgoing::File {
            chat_jid: direct.clone(),
            path: photo_path,
            caption: Some("the beach".into()),
            reply_to: None,
        })
        .await
        .expect("photo");
    let voice_path = dir.path().join("note.ogg");
    let mut voice = b"OggS\0\x02".to_vec();
    voice.extend_from_slice(&[0; 20]);
    voice.extend_from_slice(b"OpusHead\x01\x01");
    voice.extend_from_slice(&[7; 200]);
    std::fs::write(&voice_path, &voice).expect("write");
    engine
        .send(Outgoing::VoiceNote {
            chat_jid: direct.clone(),
            path: voice_path,
            reply_to: None,
        })
        .await
        .expect("voice");
    let not_voice = dir.path().join("song.mp3");
    std::fs::write(&not_voice, b"ID3 not opus").expect("write");
    let refused = engine
        .send(Outgoing::VoiceNote {
            chat_jid: direct.clone(),
            path: not_voice,
            reply_to: None,
        })
        .await
        .expect_err("not Ogg/Opus");
    assert!(refused.to_string().contains("Ogg/Opus"), "{refused}");
    let bad_chat = engine
        .send(Outgoing::Text {
            chat_jid: "not a jid".into(),
            text: "hi".into(),
            reply_to: None,
            mentions: Vec::new(),
        })
        .await
        .expect_err("bad address");
    assert!(bad_chat.to_string().contains("not a chat address"), "{bad_chat}");

    // What the phone received.
    let sent = account.sent();
    assert_eq!(sent.len(), 5, "refused sends never left");
    assert_eq!(sent[0].message.conversation.as_deref(), Some("On my way 🚲"));
    let quoted = sent[1].message.extended_text_message.as_option().expect("a reply");
    let user = direct.split('@').next().expect("user");
    assert_eq!(
        quoted.text.clone(),
        Some(format!("Yes, this one @{user}")),
        "the mention is written into the text"
    );
    let ctx = quoted.context_info.as_option().expect("context");
    assert_eq!(ctx.stanza_id.as_deref(), Some(target.msg_id.as_str()));
    assert_eq!(
        ctx.mentioned_jid,
        vec![direct.clone()],
        "and listed, so WhatsApp links it"
    );
    let reaction = sent[2].message.reaction_message.as_option().expect("a reaction");
    assert_eq!(reaction.text.as_deref(), Some("👍"));
    let image = sent[3].message.image_message.as_option().expect("an image");
    assert_eq!(image.caption.as_deref(), Some("the beach"));
    assert_eq!(image.mimetype.as_deref(), Some("image/png"));
    let uploaded = account
        .file(image.direct_path.as_deref().expect("path"))
        .expect("uploaded");
    assert!(uploaded.starts_with(b"\x89PNG"));
    let audio = sent[4].message.audio_message.as_option().expect("a voice note");
    assert_eq!(audio.ptt, Some(true));

    // And the archive has them, as sent by us.
    let stored = store.get_message(&text.key).await.expect("read").expect("stored");
    assert!(stored.from_me);
    assert_eq!(stored.text.as_deref(), Some("On my way 🚲"));
    let stored_reply = store.get_message(&reply.key).await.expect("read").expect("stored");
    assert_eq!(stored_reply.quoted.map(|q| q.msg_id), Some(target.msg_id.clone()));
    let reactions = store.reactions(&target.key()).await.expect("reactions");
    assert!(
        reactions
            .iter()
            .any(|r| r.emoji == "👍" && r.reactor_jid == corpus.own_jid)
    );
    let stored_photo = store.get_message(&photo.key).await.expect("read").expect("stored");
    assert_eq!(stored_photo.kind, MessageKind::Image);
    // A sent file downloads back intact.
    let back = engine.download_media(&photo.key).await.expect("download");
    assert_eq!(std::fs::read(back.path).expect("file"), uploaded);
}

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
    let marked = engine.mark_read(&group).await.expect("mark read");
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
            jid: community.jid.clone(),
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
            jid: direct.jid.clone(),
            fetch_first: None,
        })
        .await
        .expect_err("not a community");
    assert!(wrong.to_string().contains("not a community"), "{wrong}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_links_itself() {
    let config = SimConfig {
        auto_scan: Some(Duration::from_millis(50)),
        ..SimConfig::default()
    };
    let account = SimulatedAccount::with_config(Corpus::new(Config::small()), config);
    let dir = tempfile::tempdir().expect("dir");
    let engine = Engine::start(account, store_in(dir.path()).await, fast_options(dir.path(), false));
    assert!(engine.is_demo());
    let mut state = engine.state();
    wait_for(&mut state, "connected", |s| matches!(s, EngineState::Connected { .. })).await;
    let mut progress = engine.progress();
    wait_for(&mut progress, "history", |p| p.percent == Some(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_communities_and_members_are_stored_after_connecting() {
    let (_dir, account, engine) = synced(Config::small(), SimConfig::default()).await;
    let store = engine.store().clone();
    let metadata = account.corpus().metadata_items();
    let mut checked = 0;
    for item in &metadata {
        let Item::Members { group_jid, members } = item else {
            continue;
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut stored = loop {
            let now = store.group_members(group_jid).await.expect("members");
            if !now.is_empty() || Instant::now() > deadline {
                break now;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut expected = members.clone();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        let mut got: Vec<(String, wa_store::MemberRole)> = stored.drain(..).map(|(c, r)| (c.jid, r)).collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, expected, "members of {group_jid}");
        checked += 1;
    }
    assert!(checked >= 3, "the corpus has groups: {checked}");
    let community = account
        .corpus()
        .chats
        .iter()
        .find(|c| c.kind == ChatKind::Community)
        .expect("a community");
    let sub = account
        .corpus()
        .chats
        .iter()
        .find(|c| c.parent.as_deref() == Some(community.jid.as_str()))
        .expect("a sub-group");
    let stored_sub = store.get_chat(&sub.jid).await.expect("chat").expect("stored");
    assert_eq!(stored_sub.parent_jid.as_deref(), Some(community.jid.as_str()));
    let stored_community = store.get_chat(&community.jid).await.expect("chat").expect("stored");
    assert_eq!(stored_community.kind, ChatKind::Community);
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
            jid: chat,
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
            "engine::tests::a_sync_killed_with_sigkill_resumes_from_its_checkpoint",
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
            jid: community.jid.clone(),
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
