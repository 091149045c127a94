//! WhatsApp MCP Desktop: the tray app that owns the WhatsApp connection and the
//! message store. This crate is the only one that knows Tauri; it wires windows,
//! the tray and commands to the core crates and holds no logic of its own.
//!
//! A library with a one-line `main.rs`, so that `tests/` can drive the same
//! commands and plugins on Tauri's mock runtime.

pub mod commands;
pub mod desktop;
pub mod engine;
pub mod error;
pub mod unlock;
pub mod updates;

use std::sync::Arc;

use tauri::Manager;

/// State shared by commands: the engine, its store and where the data lives.
pub struct AppState {
    pub store: wa_store::Store,
    pub engine: wa_engine::Engine,
    pub data_dir: std::path::PathBuf,
    /// The simulated phone, in demo mode.
    pub demo: Option<Arc<wa_engine::sim::account::SimulatedAccount>>,
    /// Sends waiting for the person's approval.
    pub approvals: Arc<wa_mcp::Approvals>,
    /// The `whatsapp-mcp` helper that assistant configs launch (beside this program).
    pub helper: std::path::PathBuf,
}

/// The app's configuration (`tauri.conf.json`) and web assets, for any runtime
/// (the real one, or the mock one in tests).
pub fn context<R: tauri::Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Every command the window may call.
pub fn with_commands<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::app_status,
        commands::new_qr_codes,
        commands::pair_with_phone,
        commands::reconnect,
        commands::demo_phone,
        commands::start_sync,
        commands::fetch_older,
        commands::chat_reach,
        commands::control_sync,
        commands::assistants,
        commands::connect_assistants,
        commands::safety_settings,
        commands::set_safety_settings,
        commands::finish_setup,
        commands::reopen_wizard,
        commands::approvals,
        commands::answer_approval,
        commands::audit_log,
        commands::integrity_check,
        commands::backup_now,
        commands::list_backups,
        commands::restore_backup,
        commands::log_folder,
        commands::export_diagnostics,
        commands::diagnostic_checks,
        commands::fix_permissions,
        commands::open_folder,
        commands::restart_assistant,
        updates::check_for_update,
        updates::install_update,
        updates::restart_app,
        unlock::lock_state,
        unlock::unlock,
    ])
}

/// The helper installed beside the app.
pub fn helper_path() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.with_file_name(format!("whatsapp-mcp{}", std::env::consts::EXE_SUFFIX))
}

/// Another copy is running: with a desktop, bring its window forward (the
/// single-instance plugin tells it over D-Bus and ends this process); if it
/// runs without a window, say so.
fn focus_running_copy(error: &wa_mcp::socket::SocketError) -> anyhow::Result<()> {
    let message = error.to_string();
    tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|_, _, _| {}))
        .setup(move |_| {
            // Still here: the running copy has no window (it was started headless).
            eprintln!("{message} It runs without a window; quit it first to open this one.");
            std::process::exit(1);
        })
        .build(context())?;
    Ok(())
}

/// Command-line options.
#[derive(Debug, Default, Clone)]
struct Options {
    /// Run against the simulated account (no WhatsApp account needed).
    demo: bool,
    /// Engine, store and socket only: no window, no tray (servers, tests,
    /// desktops without a display).
    headless: bool,
    /// Start in the tray without showing the window (the helper starts the app so).
    hidden: bool,
    /// Also serve MCP over Streamable HTTP on this address (overrides the
    /// `mcp.remote.address` setting; see wa_mcp::remote).
    remote: Option<String>,
}

const USAGE: &str = "Options: --demo (try the app with a simulated account), --headless (no window or tray), \
                     --hidden (start in the tray), --remote ADDRESS:PORT (also serve assistants on other machines, \
                     with the token in the data folder), --version.";

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        // The helper passes the mode on through the environment.
        demo: std::env::var_os("WHATSAPP_MCP_DEMO").is_some_and(|v| v == "1"),
        ..Options::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--remote" => match args.next() {
                Some(address) => options.remote = Some(address),
                None => anyhow::bail!("--remote needs an address and port, for example --remote 127.0.0.1:8765."),
            },
            "--demo" => options.demo = true,
            "--headless" => options.headless = true,
            "--hidden" => options.hidden = true,
            "--version" => {
                println!("whatsapp-mcp-desktop {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => anyhow::bail!("Unknown option \"{other}\". {USAGE}"),
        }
    }
    Ok(options)
}

/// Remote use (off unless `--remote` or the setting asks for it). A failure is
/// fatal when the person asked on the command line, and a warning otherwise
/// (the local socket still serves this computer's assistants).
pub(crate) async fn start_remote(
    boot: &unlock::Boot,
    store: &wa_store::Store,
    core: Arc<wa_mcp::Core>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    use wa_mcp::remote;
    let data_dir = &boot.data_dir;
    let started = async {
        let Some(config) = remote::RemoteConfig::load(store, data_dir, boot.remote.as_deref()).await? else {
            return Ok::<_, remote::RemoteError>(());
        };
        let listener = remote::bind(&config).await?;
        tracing::info!(
            url = %config.url(),
            token_file = %data_dir.join(remote::TOKEN_FILE).display(),
            "remote use is on"
        );
        tokio::spawn(async move {
            if let Err(e) = remote::serve(listener, config, core, stop).await {
                tracing::warn!(error = %e, "remote MCP stopped");
            }
        });
        Ok(())
    };
    match started.await {
        Ok(()) => Ok(()),
        Err(e) if boot.remote.is_some() => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "remote use is off for this run");
            Ok(())
        }
    }
}

/// Rolling backups of the archive: one a day, the newest 7 kept, in
/// `<data>/backups` (next to the copies made before upgrades and by "Back up
/// now"). Checked at start and every 6 hours, so a computer that sleeps a lot
/// still gets its daily copy.
pub(crate) async fn keep_backups(store: wa_store::Store, dir: std::path::PathBuf) {
    const KEEP: usize = 7;
    const EVERY: std::time::Duration = std::time::Duration::from_hours(24);
    // Let the start (linking, the first sync) go first.
    tokio::time::sleep(std::time::Duration::from_secs(20)).await;
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match store.rolling_backup(&dir, KEEP, EVERY, now).await {
            Ok(Some(path)) => tracing::info!(backup = %path.display(), "daily backup of the archive written"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the daily backup could not be written"),
        }
        tokio::time::sleep(std::time::Duration::from_hours(6)).await;
    }
}

/// Wait for Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Logs go to stderr and to `<logs folder>/app.log` (what Diagnostics opens
/// and the diagnostic report quotes), with phone numbers and chat IDs masked
/// on the way out. Only our own `tracing` events are recorded: the WhatsApp
/// client's crates log through `log`, which is not collected, since their
/// Signal code writes identifiers and key material at WARN.
fn init_logging() {
    install_logging(wa_mcp::paths::open_log("app.log"), "info");
}

/// The app's logging, installed for the whole process: stderr and `file`
/// (the data folder's `app.log`), both through the redacting writer, at
/// `level` unless `WHATSAPP_MCP_LOG` says otherwise. The WhatsApp client's own
/// `log` records are not collected. Public so that the test of what reaches the
/// log in a real-client session uses exactly these layers.
pub fn install_logging(file: Option<std::fs::File>, level: &str) {
    use tracing_subscriber::prelude::*;
    use wa_mcp::diagnostics::{LogTime, Redacting};
    let filter = tracing_subscriber::EnvFilter::try_from_env("WHATSAPP_MCP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let stderr = tracing_subscriber::fmt::layer()
        .with_timer(LogTime)
        .with_writer(|| Redacting(std::io::stderr()));
    let file = file.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_timer(LogTime)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(Redacting(file)))
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .init();
}

/// The app: parse options, open the store, start the engine and the socket,
/// then the desktop (or wait for a signal when headless).
pub fn run() -> anyhow::Result<()> {
    init_logging();

    let options = options()?;
    let base = wa_mcp::paths::data_dir()?;
    // The data folder holds everything (the demo's archive sits inside it): this user's alone.
    wa_mcp::paths::ensure_private(&base)?;
    let data_dir = engine::data_dir_for(&base, options.demo);
    let runtime = tokio::runtime::Runtime::new()?;
    // The socket first: if another copy of the app answers there, this one stops
    // before touching the database or WhatsApp.
    let socket_path = wa_mcp::socket::default_path(&base);
    let listener = match runtime.block_on(wa_mcp::socket::bind(&socket_path)) {
        Ok(listener) => listener,
        Err(e @ wa_mcp::socket::SocketError::InUse { .. }) if !options.headless => {
            focus_running_copy(&e)?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let boot = unlock::Boot {
        base: base.clone(),
        data_dir,
        demo: options.demo,
        headless: options.headless,
        remote: options.remote.clone(),
        helper: helper_path(),
        clients: wa_clients::Env::from_system(),
    };
    // The archive and the session are encrypted with a key from the system
    // keychain (see wa_mcp::archive_key for the other ways and the choices).
    // With a window and no keychain, the window asks (unlock.rs).
    let started = match wa_mcp::archive_key::archive_key(&base, true) {
        Ok((key, source)) => {
            tracing::info!(encryption = source.describe(), "archive key ready");
            let (store, recovered) = runtime
                .block_on(unlock::open_archive(&boot, &key))
                .inspect_err(|e| tracing::error!("{e}"))?;
            runtime.block_on(unlock::start_services(&boot, store, recovered, listener))?
        }
        Err(wa_mcp::archive_key::KeyError::NoKeychain { detail }) if !options.headless => {
            tracing::warn!(%detail, "no keychain for the archive's key: the window asks for a passphrase");
            let lock = runtime.block_on(async { unlock::Lock::waiting(boot.clone(), listener, detail) });
            return run_desktop(&runtime, &options, socket_path, Err(lock));
        }
        Err(e) => {
            tracing::error!("{e}");
            return Err(e.into());
        }
    };
    tracing::info!(data_dir = %boot.data_dir.display(), socket = %socket_path.display(), demo = options.demo, "starting");

    if options.headless {
        runtime.block_on(async {
            stop_signal().await;
            tracing::info!("stopping");
            started.stop_remote.cancel();
            started.state.engine.shutdown().await;
            started.state.store.close().await;
        });
        let _ = std::fs::remove_file(&socket_path);
        return Ok(());
    }
    run_desktop(&runtime, &options, socket_path, Ok(started))
}

/// The window and the tray, over a started core or (`Err`) the lock that
/// waits for the passphrase.
fn run_desktop(
    runtime: &tokio::runtime::Runtime,
    options: &Options,
    socket_path: std::path::PathBuf,
    core: Result<unlock::Started, unlock::Lock>,
) -> anyhow::Result<()> {
    tauri::async_runtime::set(runtime.handle().clone());
    // Locked, the window shows at once whatever the mode: it asks for the passphrase.
    let hidden = options.hidden && core.is_ok();
    let demo = options.demo;
    let builder =
        with_commands(tauri::Builder::default()).manage(updates::Updates::new(updates::UpdateSource::from_env()));
    builder
        // First: a second launch only brings this one's window forward.
        .plugin(tauri_plugin_single_instance::init(|app, _, _| {
            desktop::show_main_window(app);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .setup(move |app| {
            desktop::create(app.handle(), demo)?;
            match core {
                Ok(started) => unlock::attach(app.handle(), started),
                Err(lock) => {
                    app.manage(lock);
                    desktop::show_locked(app.handle());
                }
            }
            if hidden && let Some(window) = app.get_webview_window("main") {
                window.hide()?;
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps the app running in the tray.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                if let Err(e) = window.hide() {
                    tracing::warn!(error = %e, "could not hide the window");
                }
            }
        })
        .build(context())?
        .run(move |app, event| {
            if let tauri::RunEvent::Exit = event {
                if let Some(stop) = app.try_state::<unlock::RemoteStop>() {
                    stop.0.cancel();
                }
                if let Some(state) = app.try_state::<AppState>() {
                    let (engine, store) = (state.engine.clone(), state.store.clone());
                    tauri::async_runtime::block_on(async move {
                        engine.shutdown().await;
                        store.close().await;
                    });
                }
                let _ = std::fs::remove_file(&socket_path);
            }
        });
    Ok(())
}
