//! Demo mode: the simulated phone instead of a WhatsApp account.
//!
//! Demo mode (`--demo`) runs everything against the simulated account: a phone
//! with 200 chats and 50,000 generated messages that "scans" the QR code by
//! itself after a few seconds. It keeps its own archive in `<data dir>/demo`, so
//! trying the demo never mixes with a real account's messages.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use wa_engine::sim::account::{SimConfig, SimulatedAccount};
use wa_engine::{Engine, EngineOptions, EngineState};
use wa_store::{Store, StoreError};

/// The store setting that remembers the demo phone was linked.
const DEMO_LINKED: &str = "demo.linked";
/// How far the demo phone's history push got into the archive (its percent).
/// WhatsApp's servers deliver again the history this computer never stored;
/// the demo phone lives in this process, so the archive remembers for it.
const DEMO_PUSHED: &str = "demo.history_percent";

/// A demo setting from the environment (the tests' knobs), when set and valid.
fn demo_env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// The simulated phone as the demo shows it: realistic pace, and it scans the
/// code by itself after 8 s unless `WHATSAPP_MCP_DEMO_AUTOSCAN=0` (the wizard's
/// tests scan the code the page shows, through the "Scan with the demo phone" button).
/// `WHATSAPP_MCP_DEMO_QR_SECS` shortens the codes' lifetime (tests).
fn demo_account(linked: bool) -> Arc<SimulatedAccount> {
    let corpus = wa_corpus::Corpus::new(wa_corpus::Config::phone());
    let config = SimConfig {
        conversations_per_chunk: 10,
        initial_per_chat: Some(150),
        // The phone's pace (tests quicken it: WHATSAPP_MCP_DEMO_LATENCY_MS).
        latency: Duration::from_millis(demo_env("WHATSAPP_MCP_DEMO_LATENCY_MS").unwrap_or(300)),
        auto_scan: (std::env::var_os("WHATSAPP_MCP_DEMO_AUTOSCAN").is_none_or(|v| v != "0"))
            .then_some(Duration::from_secs(8)),
        // How long the first code lasts (later ones a third of it); tests shorten it
        // to reach "the codes ran out" quickly.
        first_qr_timeout: demo_env("WHATSAPP_MCP_DEMO_QR_SECS").map_or(Duration::from_mins(1), Duration::from_secs),
        ..SimConfig::default()
    };
    if linked {
        SimulatedAccount::linked(corpus, config)
    } else {
        SimulatedAccount::with_config(corpus, config)
    }
}

/// Start the engine on the demo phone, which remembers across restarts whether
/// it was linked and how far its history push got. Must be called inside Tokio.
pub async fn start(store: Store, mut options: EngineOptions) -> Result<(Engine, Arc<SimulatedAccount>), StoreError> {
    let linked = store.setting::<bool>(DEMO_LINKED).await?.unwrap_or(false);
    options.linked = linked;
    let phone = demo_account(linked);
    if linked {
        let pushed = store.setting::<u32>(DEMO_PUSHED).await?.unwrap_or(0);
        phone.resume_history_after(pushed);
    }
    // The fault campaign (tests/fault_campaign.py) runs the demo phone on a
    // bad network: drops, 503s and rate limits every few seconds.
    if let Some(every) = demo_env::<f64>("WHATSAPP_MCP_DEMO_FAULTS").filter(|s| *s > 0.0) {
        tracing::warn!(every_secs = every, "demo phone: faults injected (test mode)");
        phone.misbehave(Duration::from_secs_f64(every), std::process::id().into());
    }
    // The campaign's logout from the phone in the middle of a sync.
    if let Some(after) = demo_env::<f64>("WHATSAPP_MCP_DEMO_LOGOUT_AFTER").filter(|s| *s > 0.0) {
        tracing::warn!(after_secs = after, "demo phone: logs this computer out (test mode)");
        let phone = phone.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(after)).await;
            phone.log_out_from_phone();
        });
    }
    let engine = Engine::start(phone.clone(), store.clone(), options);
    remember_demo_link(&engine, store);
    tracing::info!("demo mode: simulated WhatsApp account");
    Ok((engine, phone))
}

/// What the demo's simulated phone does, at the person's (or a test's) request.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoAction {
    /// Scan this QR code.
    Scan,
    /// Type this pairing code.
    EnterCode,
    /// Act like a phone whose linked-device list is full (or not any more).
    DeviceListFull,
    DeviceListOk,
    /// Remove this computer from the phone's linked devices.
    LogOut,
}

/// Do `action` on the demo phone (`code`: the QR or pairing code it reads);
/// whether the phone accepted it.
pub fn act(phone: &Arc<SimulatedAccount>, action: DemoAction, code: &str) -> bool {
    match action {
        DemoAction::Scan => phone.scan(code),
        DemoAction::EnterCode => phone.enter_code(code),
        DemoAction::DeviceListFull => {
            phone.set_device_list_full(true);
            true
        }
        DemoAction::DeviceListOk => {
            phone.set_device_list_full(false);
            true
        }
        DemoAction::LogOut => {
            phone.log_out_from_phone();
            true
        }
    }
}

/// The demo phone's own number, as a person types it (to try linking by phone number).
pub fn number(phone: &SimulatedAccount) -> String {
    format!("+{}", phone.corpus().own_jid.trim_end_matches("@s.whatsapp.net"))
}

fn remember_demo_link(engine: &Engine, store: Store) {
    let mut state = engine.state();
    let mut progress = engine.progress();
    let pushed = store.clone();
    // Linked once connected; unlinked by a logout from the phone (the next
    // start shows a QR code again, and the next link pushes the history anew).
    tokio::spawn(async move {
        let mut linked = None;
        loop {
            let now = match &*state.borrow_and_update() {
                EngineState::Connected { .. } => Some(true),
                EngineState::LoggedOut { .. } => Some(false),
                _ => None,
            };
            if let Some(now) = now
                && Some(now) != linked
            {
                linked = Some(now);
                let mut saved = store.set_setting(DEMO_LINKED, &now).await;
                if !now && saved.is_ok() {
                    saved = store.set_setting(DEMO_PUSHED, &0u32).await;
                }
                if let Err(e) = saved {
                    tracing::warn!(error = %e, "could not remember the demo link");
                }
            }
            if state.changed().await.is_err() {
                break;
            }
        }
    });
    // The phone's progress is reported once a chunk is stored.
    tokio::spawn(async move {
        let mut last = None;
        while progress.changed().await.is_ok() {
            let percent = progress.borrow_and_update().percent;
            if let Some(p) = percent
                && percent != last
            {
                last = percent;
                if let Err(e) = pushed.set_setting(DEMO_PUSHED, &u32::from(p)).await {
                    tracing::warn!(error = %e, "could not remember the demo history's progress");
                }
            }
        }
    });
}
