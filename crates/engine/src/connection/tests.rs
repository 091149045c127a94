//! The connection on the simulated account: linking, history and live
//! messages landing, and every fault ending in the right state.

use std::time::{Duration, Instant};

use wa_corpus::{Config, Corpus};
use wa_store::{MessageKind, NewMessage};
use whatsapp_rust::wacore::types::events::ConnectFailureReason;

use crate::engine::Engine;
use crate::sim::account::{SimConfig, SimulatedAccount};
use crate::state::{EngineState, Problem};
use crate::test_support::{fast_options, now, store_in, synced, wait_for};

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
