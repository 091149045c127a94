//! WhatsApp MCP Desktop: the tray app that owns the WhatsApp connection and the
//! message store. This crate is the only one that knows Tauri; it wires windows,
//! the tray and commands to the core crates and holds no logic of its own.
//!
//! A library with a one-line `main.rs`, so that `tests/` can drive the same
//! commands and plugins on Tauri's mock runtime.

pub mod commands;
pub mod desktop;
pub mod error;
pub mod events;
pub mod unlock;
pub mod updates;

use tauri::Manager;
use wa_app::channel::{self, ChannelError};
use wa_app::key::{self, KeyError};
use wa_app::lock::Lock;
use wa_app::paths::{self, Layout};
use wa_app::start::{self, Boot, Started};

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
fn focus_running_copy(error: &ChannelError) -> anyhow::Result<()> {
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
/// on the way out (see `wa_app::logging`).
fn init_logging() {
    wa_app::logging::install(paths::open_log("app.log"), "info", true);
}

/// The app: parse options, open the store, start the engine and the socket,
/// then the desktop (or wait for a signal when headless).
pub fn run() -> anyhow::Result<()> {
    init_logging();

    let options = options()?;
    let base = paths::data_dir()?;
    // The data folder holds everything (the demo's archive sits inside it): this user's alone.
    paths::ensure_private(&base)?;
    let data_dir = Layout::for_mode(&base, options.demo).dir().to_path_buf();
    let runtime = tokio::runtime::Runtime::new()?;
    // The socket first: if another copy of the app answers there, this one stops
    // before touching the database or WhatsApp.
    let socket_path = channel::default_path(&base);
    let listener = match runtime.block_on(channel::bind(&socket_path)) {
        Ok(listener) => listener,
        Err(e @ ChannelError::InUse { .. }) if !options.headless => {
            focus_running_copy(&e)?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let boot = Boot {
        base: base.clone(),
        data_dir,
        demo: options.demo,
        headless: options.headless,
        remote: options.remote.clone(),
        helper: helper_path(),
        clients: wa_app::types::AssistantsEnv::from_system(),
    };
    // The archive and the session are encrypted with a key from the system
    // keychain (see wa_app::key for the other ways and the choices).
    // With a window and no keychain, the window asks (wa_app::lock).
    let started = match key::archive_key(&base, true) {
        Ok((key, source)) => {
            tracing::info!(encryption = source.describe(), "archive key ready");
            let (store, recovered) = runtime
                .block_on(start::open_archive(&boot, &key))
                .inspect_err(|e| tracing::error!("{e}"))?;
            runtime.block_on(start::start_services(&boot, store, recovered, listener))?
        }
        Err(KeyError::NoKeychain { detail }) if !options.headless => {
            tracing::warn!(%detail, "no keychain for the archive's key: the window asks for a passphrase");
            let lock = runtime.block_on(async { Lock::waiting(boot.clone(), listener, detail) });
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
            started.services.shutdown().await;
        });
        remove_socket(&socket_path);
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
    core: Result<Started, Lock>,
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
                Ok(started) => events::attach(app.handle(), started),
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
                if let Some(stop) = app.try_state::<events::RemoteStop>() {
                    stop.0.cancel();
                }
                if let Some(services) = app.try_state::<wa_app::Services>() {
                    tauri::async_runtime::block_on(services.shutdown());
                }
                remove_socket(&socket_path);
            }
        });
    Ok(())
}

/// The socket file goes with the app (a stale one is replaced at the next start anyway).
fn remove_socket(path: &std::path::Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::debug!(error = %e, "the socket file stays until the next start");
    }
}
