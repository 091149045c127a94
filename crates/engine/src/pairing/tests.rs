//! Linking on the simulated account: QR codes that rotate and run out, phone
//! codes, and the demo that links itself.

use std::time::Duration;

use wa_corpus::{Config, Corpus};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::sim::account::{SimConfig, SimulatedAccount};
use crate::state::EngineState;
use crate::test_support::{fast_options, store_in, wait_for};

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
