//! WhatsApp MCP Desktop: the tray app that owns the WhatsApp connection and the
//! message store. This crate is the only one that knows Tauri; it wires windows,
//! the tray and commands to the core crates and holds no logic of its own.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod engine;
mod error;
mod paths;
mod tray;

use tauri::Manager;

/// State shared by commands: the engine, its store and where the data lives.
pub struct AppState {
    pub store: wa_store::Store,
    pub engine: wa_engine::Engine,
    pub data_dir: std::path::PathBuf,
    pub demo: bool,
}

/// Command-line options.
#[derive(Debug, Default)]
struct Options {
    /// Run against the simulated account (no WhatsApp account needed).
    demo: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options::default();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--demo" => options.demo = true,
            "--version" => {
                println!("whatsapp-mcp-desktop {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => anyhow::bail!(
                "Unknown option \"{other}\". Options: --demo (try the app with a simulated account), --version."
            ),
        }
    }
    Ok(options)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WHATSAPP_MCP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let options = options()?;
    let data_dir = engine::data_dir_for(&paths::data_dir()?, options.demo);
    let runtime = tokio::runtime::Runtime::new()?;
    let store = runtime.block_on(wa_store::Store::open(data_dir.join("messages.db")))?;
    let engine = runtime.block_on(engine::start(&data_dir, store.clone(), options.demo))?;
    tauri::async_runtime::set(runtime.handle().clone());
    tracing::info!(data_dir = %data_dir.display(), demo = options.demo, "starting");

    tauri::Builder::default()
        .manage(AppState {
            store,
            engine: engine.clone(),
            data_dir,
            demo: options.demo,
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::new_qr_codes,
            commands::pair_with_phone
        ])
        .setup(move |app| {
            tray::create(app.handle(), options.demo)?;
            commands::forward_engine_events(app.handle(), &engine);
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
        .build(tauri::generate_context!())?
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                let state = app.state::<AppState>();
                let (engine, store) = (state.engine.clone(), state.store.clone());
                tauri::async_runtime::block_on(async move {
                    engine.shutdown().await;
                    store.close().await;
                });
            }
        });
    Ok(())
}
