//! Commands the web view calls. Each is a few lines over the core crates.

use serde::Serialize;
use tauri::State;

use crate::AppState;
use crate::error::Error;

/// What the status page shows.
#[derive(Debug, Serialize)]
pub struct AppStatus {
    version: &'static str,
    data_dir: String,
    messages: i64,
    chats: i64,
    database_bytes: i64,
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> Result<AppStatus, Error> {
    let stats = state.store.statistics().await?;
    Ok(AppStatus {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: state.data_dir.display().to_string(),
        messages: stats.messages,
        chats: stats.chats,
        database_bytes: stats.database_bytes,
    })
}
