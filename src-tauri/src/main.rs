//! WhatsApp MCP Desktop: the tray app that owns the WhatsApp connection and the
//! message store. This crate is the only one that knows Tauri; it wires windows,
//! the tray and commands to the core crates and holds no logic of its own.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod error;
mod paths;
mod tray;

use tauri::Manager;

/// State shared by commands: the open store and where the data lives.
pub struct AppState {
    pub store: wa_store::Store,
    pub data_dir: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WHATSAPP_MCP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let data_dir = paths::data_dir()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let store = runtime.block_on(wa_store::Store::open(data_dir.join("messages.db")))?;
    tauri::async_runtime::set(runtime.handle().clone());
    tracing::info!(data_dir = %data_dir.display(), "starting");

    tauri::Builder::default()
        .manage(AppState { store, data_dir })
        .invoke_handler(tauri::generate_handler![commands::app_status])
        .setup(|app| {
            tray::create(app.handle())?;
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
                let store = app.state::<AppState>().store.clone();
                tauri::async_runtime::block_on(store.close());
            }
        });
    Ok(())
}
