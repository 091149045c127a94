//! Commands the web view calls, and the engine's events pushed to it. Each is
//! a few lines over the core crates.

use serde::Serialize;
use tauri::{AppHandle, Emitter, State};
use wa_engine::{Engine, EngineEvent, EngineState, SyncProgress};

use crate::AppState;
use crate::error::Error;

/// What the status page shows.
#[derive(Debug, Serialize)]
pub struct AppStatus {
    version: &'static str,
    data_dir: String,
    demo: bool,
    state: EngineState,
    /// The state in words: what is happening and what to do.
    state_text: String,
    needs_attention: bool,
    progress: SyncProgress,
    messages: i64,
    chats: i64,
    database_bytes: i64,
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> Result<AppStatus, Error> {
    let stats = state.store.statistics().await?;
    let engine_state = state.engine.state().borrow().clone();
    Ok(AppStatus {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: state.data_dir.display().to_string(),
        demo: state.demo,
        state_text: engine_state.describe_now(),
        needs_attention: engine_state.needs_attention(),
        state: engine_state,
        progress: state.engine.progress().borrow().clone(),
        messages: stats.messages,
        chats: stats.chats,
        database_bytes: stats.database_bytes,
    })
}

/// Show fresh QR codes (after they ran out, or to start linking again).
#[tauri::command]
pub async fn new_qr_codes(state: State<'_, AppState>) -> Result<(), Error> {
    Ok(state.engine.new_qr_codes().await?)
}

/// Link with a phone number: the code to type on the phone.
#[tauri::command]
pub async fn pair_with_phone(state: State<'_, AppState>, phone: String) -> Result<String, Error> {
    Ok(state.engine.pair_with_phone(&phone).await?)
}

/// Push the engine's events to the window (`engine` events) and keep the
/// tray's status line in words.
pub fn forward_engine_events(app: &AppHandle, engine: &Engine) {
    let mut events = engine.events();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let EngineEvent::State { text, .. } = &event {
                        crate::tray::set_status(&app, text);
                    }
                    if let Err(e) = app.emit("engine", &event) {
                        tracing::debug!(error = %e, "could not reach the window");
                    }
                }
                // A slow window missed some progress events: the next ones follow.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}
