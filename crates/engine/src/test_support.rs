//! Fixtures shared by the engine's tests: JIDs and message keys for the
//! mappers, and an engine on the simulated account for the scenario tests
//! (each module's `tests`, through the same code the app ships).

use std::sync::Arc;
use std::time::{Duration, Instant};

use wa_corpus::{Config, Corpus};
use wa_store::{Item, MessageFilter, NewMessage, SortOrder, Store};
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::engine::{Engine, EngineOptions};
use crate::sim::account::{SimConfig, SimulatedAccount};
use crate::sim::media;
use crate::state::EngineState;

/// This account.
pub const ME: &str = "447700900000@s.whatsapp.net";
/// Someone who writes to us.
pub const ANA: &str = "34600111222@s.whatsapp.net";
/// A group we are in.
pub const GROUP: &str = "120363000000000001@g.us";

/// The key of a message in [`GROUP`].
pub fn key(id: &str, from_me: bool, participant: Option<&str>) -> MessageField<wa::MessageKey> {
    MessageField::some(wa::MessageKey {
        remote_jid: Some(GROUP.into()),
        from_me: Some(from_me),
        id: Some(id.into()),
        participant: participant.map(Into::into),
    })
}

pub type Sim = Arc<SimulatedAccount>;

pub async fn wait_for<T: Clone>(rx: &mut tokio::sync::watch::Receiver<T>, what: &str, ok: impl Fn(&T) -> bool) -> T {
    let waited = tokio::time::timeout(Duration::from_mins(1), rx.wait_for(|v| ok(v))).await;
    match waited {
        Ok(Ok(value)) => value.clone(),
        _ => panic!("timed out waiting for {what}; now {:?}", std::any::type_name::<T>()),
    }
}

pub async fn wait_job(
    engine: &Engine,
    id: i64,
    what: &str,
    ok: impl Fn(&wa_store::SyncJob) -> bool,
) -> wa_store::SyncJob {
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

pub fn fast_options(dir: &std::path::Path, linked: bool) -> EngineOptions {
    EngineOptions {
        linked,
        backoff_base: Duration::from_millis(20),
        phone_timeout: Duration::from_secs(1),
        seed: 7,
        ..EngineOptions::new(dir)
    }
}

pub async fn store_in(dir: &std::path::Path) -> Store {
    Store::open(dir.join("messages.db")).await.expect("store")
}

/// A linked, connected engine whose phone sent its whole corpus.
pub async fn synced(config: Config, sim: SimConfig) -> (tempfile::TempDir, Sim, Engine) {
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

pub fn now() -> i64 {
    crate::clock::now_ms()
}

/// Every message of the corpus, as the store should hold it.
pub fn expected_messages(corpus: &Corpus) -> Vec<NewMessage> {
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

pub async fn stored_messages(store: &Store) -> Vec<wa_store::Message> {
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

/// The chat with the most messages, and how many it has.
pub fn busiest_chat(corpus: &Corpus) -> (String, usize) {
    let busiest = (0..corpus.chats.len())
        .max_by_key(|&c| corpus.chats[c].messages)
        .expect("chats");
    let n = corpus
        .chat_items(busiest)
        .filter(|i| matches!(i, Item::Message(_)))
        .count();
    (corpus.chats[busiest].jid.clone(), n)
}
