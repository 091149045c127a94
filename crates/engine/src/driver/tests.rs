//! The engine on the simulated account: link by QR, then the whole history lands.

use std::time::Duration;

use crate::sim::account::SimulatedAccount;
use crate::state::EngineState;

use super::start;

async fn wait_for<T: Clone>(rx: &mut tokio::sync::watch::Receiver<T>, what: &str, ok: impl Fn(&T) -> bool) -> T {
    let waited = tokio::time::timeout(Duration::from_mins(1), rx.wait_for(|v| ok(v))).await;
    match waited {
        Ok(Ok(value)) => value.clone(),
        _ => panic!("timed out waiting for {what}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_by_qr_then_the_history_lands_exactly() {
    let corpus = wa_corpus::Corpus::new(wa_corpus::Config::small());
    let expected_messages = corpus.messages().count() as u64;
    let chats = corpus.chats.len();
    let account = SimulatedAccount::new(corpus, 4);
    let dir = tempfile::tempdir().expect("dir");
    let store = wa_store::Store::open(dir.path().join("messages.db"))
        .await
        .expect("store");
    let (mut watches, _task) = start(account.clone(), store.clone(), false);

    let showing = wait_for(&mut watches.state, "a QR code", |s| {
        matches!(s, EngineState::ShowingQr { .. })
    })
    .await;
    let EngineState::ShowingQr { code, .. } = showing else {
        unreachable!()
    };
    assert!(!account.scan("2@someone-else's-code"), "a wrong code does not link");
    assert!(account.scan(&code), "the code on screen links");

    wait_for(&mut watches.state, "connected", |s| {
        matches!(s, EngineState::Connected { .. })
    })
    .await;
    let done = wait_for(&mut watches.progress, "the whole history", |p| {
        p.messages == expected_messages
    })
    .await;
    assert_eq!(done.percent, Some(100));
    assert_eq!(done.chats as usize, chats);

    let stats = store.statistics().await.expect("stats");
    assert_eq!(stats.messages as u64, expected_messages);
    assert_eq!(stats.chats as usize, chats);
    // Names came with the history: saved names from app state, push names from the sync.
    let named = store.search_contacts("", 500).await.expect("contacts");
    assert!(named.iter().filter(|c| c.saved_name.is_some()).count() > 10);
    assert!(store.integrity_check().await.expect("check").is_empty());

    // The network drops: the engine says so, waits its backoff, and reconnects.
    account.drop_connection();
    let down = wait_for(&mut watches.state, "reconnecting", |s| {
        matches!(s, EngineState::Reconnecting { .. })
    })
    .await;
    assert!(down.describe(0).contains("internet connection"), "{}", down.describe(0));
    wait_for(&mut watches.state, "connected again", |s| {
        matches!(s, EngineState::Connected { .. })
    })
    .await;

    // Removed from the phone: the person is told, and every message is kept.
    account.log_out_from_phone();
    let out = wait_for(&mut watches.state, "logged out", |s| {
        matches!(s, EngineState::LoggedOut { .. })
    })
    .await;
    assert!(out.needs_attention());
    assert!(out.describe(0).contains("messages are kept"));
    assert_eq!(
        store.statistics().await.expect("stats").messages as u64,
        expected_messages
    );
}
