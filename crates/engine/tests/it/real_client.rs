//! Linking, login and faults through the real client.

use std::sync::Once;
use std::time::Duration;

use tempfile::TempDir;
use wa_engine::real::{Endpoints, RealAccount};
use wa_engine::{Engine, EngineOptions, EngineState};
use wa_localserver::{LocalServer, Seen};
use wa_store::Store;

const PHONE: &str = "15550001234";
const WAIT: Duration = Duration::from_secs(30);

/// The client's own `log` records, shown when a test fails (`RUST_LOG=debug` for more).
fn logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        struct Stderr;
        impl log::Log for Stderr {
            fn enabled(&self, m: &log::Metadata<'_>) -> bool {
                m.level() <= log::max_level()
            }
            fn log(&self, r: &log::Record<'_>) {
                eprintln!("{} {}: {}", r.level(), r.target(), r.args());
            }
            fn flush(&self) {}
        }
        let level = match std::env::var("RUST_LOG").as_deref() {
            Ok("debug") => log::LevelFilter::Debug,
            Ok("trace") => log::LevelFilter::Trace,
            _ => log::LevelFilter::Info,
        };
        let _ = log::set_logger(&Stderr);
        log::set_max_level(level);
    });
}

struct App {
    _dir: TempDir,
    data: std::path::PathBuf,
    engine: Engine,
}

async fn open_app(server: &LocalServer, dir: TempDir) -> App {
    logs();
    let data = dir.path().to_path_buf();
    let store = Store::open(&data.join("messages.db")).await.expect("store");
    let account = RealAccount::open_at(
        &data.join("whatsapp-session.db"),
        store.clone(),
        Endpoints {
            chat_url: Some(server.chat_url()),
            https_to: Some(server.http_base()),
        },
    )
    .await
    .expect("client");
    let mut options = EngineOptions::new(&data);
    options.linked = account.is_linked();
    let engine = Engine::start(account, store, options);
    App { _dir: dir, data, engine }
}

async fn wait_state(engine: &Engine, what: &str, want: impl Fn(&EngineState) -> bool) -> EngineState {
    let mut state = engine.state();
    let reached = match tokio::time::timeout(WAIT, state.wait_for(|s| want(s))).await {
        Ok(Ok(s)) => Some(s.clone()),
        _ => None,
    };
    reached.unwrap_or_else(|| panic!("engine never reached {what}; it is {:?}", *state.borrow()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_by_qr_code_and_logs_in() {
    let server = LocalServer::start(PHONE).await.expect("server");
    let app = open_app(&server, tempfile::tempdir().expect("dir")).await;
    let shown = wait_state(&app.engine, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await;
    let EngineState::ShowingQr { code, .. } = shown else { unreachable!() };
    let device = server.scan_qr(&code).expect("the phone reads the code");
    wait_state(&app.engine, "connected", |s| matches!(s, EngineState::Connected { .. })).await;
    let seen = server.seen();
    assert!(seen.contains(&Seen::Linked { device }), "{seen:?}");
    assert!(seen.contains(&Seen::LoggedIn { device }), "{seen:?}");
    assert_eq!(app.engine.own_jid().as_deref(), Some(format!("{PHONE}@s.whatsapp.net").as_str()));
    let unhandled: Vec<_> = seen.iter().filter(|s| matches!(s, Seen::UnhandledIq { .. })).collect();
    eprintln!("unhandled: {unhandled:?}");
    let _ = app.data;
}
