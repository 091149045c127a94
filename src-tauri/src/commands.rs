//! Commands the web view calls: each adapts one `wa_app::Services` method
//! (or a desktop action) to IPC, in a few lines.
// Tauri's command macro hands `State` over by value.
#![allow(clippy::needless_pass_by_value)]

use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Runtime, State};
use wa_app::Services;
use wa_app::assistants::ClientOutcome;
use wa_app::checks;
use wa_app::demo::DemoAction;
use wa_app::settings::SafetySettings;
use wa_app::status::AppStatus;
use wa_app::types::{
    AuditEntry, BackupInfo, ChatReach, Client, ClientState, JobCommand, Page, PendingApproval, SendPolicy, SyncJob,
};

use crate::error::Error;

#[tauri::command]
pub async fn app_status(state: State<'_, Services>) -> Result<AppStatus, Error> {
    Ok(state.status().await?)
}

/// Show fresh QR codes (after they ran out, or to start linking again).
#[tauri::command]
pub async fn new_qr_codes(state: State<'_, Services>) -> Result<(), Error> {
    Ok(state.new_qr_codes().await?)
}

/// Link with a phone number: the code to type on the phone.
#[tauri::command]
pub async fn pair_with_phone(state: State<'_, Services>, phone: String) -> Result<String, Error> {
    Ok(state.pair_with_phone(&phone).await?)
}

/// Try the connection again now (after "no network", a ban's end, ...).
#[tauri::command]
pub async fn reconnect(state: State<'_, Services>) -> Result<(), Error> {
    Ok(state.reconnect().await?)
}

/// What the demo's simulated phone does (the demo's buttons, and the tests).
#[tauri::command]
pub async fn demo_phone(state: State<'_, Services>, action: DemoAction, code: Option<String>) -> Result<bool, Error> {
    Ok(state.demo_phone(action, code.as_deref().unwrap_or_default())?)
}

/// After linking: only what the phone sends by itself, or everything (a job).
#[tauri::command]
pub async fn start_sync(state: State<'_, Services>, everything: bool) -> Result<Option<SyncJob>, Error> {
    Ok(state.start_sync(everything).await?)
}

/// How far back each chat reaches, most recently synced first.
#[tauri::command]
pub async fn chat_reach(state: State<'_, Services>) -> Result<Vec<ChatReach>, Error> {
    Ok(state.chat_reach().await?)
}

/// Fetch older messages of one chat.
#[tauri::command]
pub async fn fetch_older(state: State<'_, Services>, chat_jid: String, count: u32) -> Result<SyncJob, Error> {
    Ok(state.fetch_older(&chat_jid, count).await?)
}

#[tauri::command]
pub async fn control_sync(state: State<'_, Services>, job_id: i64, command: JobCommand) -> Result<SyncJob, Error> {
    Ok(state.control_sync(job_id, command).await?)
}

/// Assistants found on this computer and how each stands.
#[tauri::command]
pub fn assistants(state: State<'_, Services>) -> Vec<ClientState> {
    state.assistants()
}

#[tauri::command]
pub fn connect_assistants(state: State<'_, Services>, clients: Vec<Client>, connect: bool) -> Vec<ClientOutcome> {
    state.connect_assistants(clients, connect)
}

#[tauri::command]
pub async fn safety_settings(state: State<'_, Services>) -> Result<SafetySettings, Error> {
    Ok(state.safety_settings().await?)
}

#[tauri::command]
pub async fn set_safety_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Services>,
    settings: SafetySettings,
) -> Result<(), Error> {
    state.set_safety_settings(&settings).await?;
    crate::desktop::apply_autostart(&app, settings.autostart);
    Ok(())
}

/// The end of the wizard: the send-safety choice and autostart.
#[tauri::command]
pub async fn finish_setup<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Services>,
    send_policy: SendPolicy,
    autostart: bool,
) -> Result<(), Error> {
    state.finish_setup(send_policy, autostart).await?;
    crate::desktop::apply_autostart(&app, autostart);
    Ok(())
}

/// Open the wizard again (the main window's "Set up again").
#[tauri::command]
pub async fn reopen_wizard(state: State<'_, Services>) -> Result<(), Error> {
    Ok(state.reopen_wizard().await?)
}

#[tauri::command]
pub fn approvals(state: State<'_, Services>) -> Vec<PendingApproval> {
    state.approvals()
}

#[tauri::command]
pub fn answer_approval(state: State<'_, Services>, id: u64, approved: bool) -> Result<(), Error> {
    Ok(state.answer_approval(id, approved)?)
}

#[tauri::command]
pub async fn audit_log(
    state: State<'_, Services>,
    query: Option<String>,
    cursor: Option<String>,
) -> Result<Page<AuditEntry>, Error> {
    Ok(state.audit_log(query, cursor).await?)
}

/// What a Diagnostics button did, in words.
#[derive(Debug, Serialize)]
pub struct Said {
    ok: bool,
    text: String,
}

impl Said {
    fn done(text: String) -> Self {
        Self { ok: true, text }
    }
}

#[tauri::command]
pub async fn integrity_check(state: State<'_, Services>) -> Result<checks::Check, Error> {
    Ok(checks::integrity(&state.store).await)
}

#[tauri::command]
pub async fn backup_now(state: State<'_, Services>) -> Result<Said, Error> {
    Ok(Said::done(state.backup_now().await?))
}

/// The backups Diagnostics offers to restore, newest first, with what each holds.
#[tauri::command]
pub async fn list_backups(state: State<'_, Services>) -> Result<Vec<BackupInfo>, Error> {
    Ok(state.list_backups().await)
}

/// Replace the archive with one of its backups: checked and staged now, put in
/// place by the restart that follows (the exit closes the archive first).
#[tauri::command]
pub async fn restore_backup<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Services>,
    path: String,
) -> Result<Said, Error> {
    let said = state.stage_restore(std::path::Path::new(&path)).await?;
    // Restart once the page has its answer.
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        handle.request_restart();
    });
    Ok(Said::done(said))
}

/// The doctor's checks, as the Diagnostics page lists them.
#[tauri::command]
pub async fn diagnostic_checks(state: State<'_, Services>) -> Result<Vec<checks::Check>, Error> {
    Ok(state.diagnostic_checks().await)
}

/// Make the data folder this user's alone again (the Diagnostics fix).
#[tauri::command]
pub fn fix_permissions(state: State<'_, Services>) -> Result<(), Error> {
    Ok(checks::fix_permissions(&state.data_dir)?)
}

/// Write the redacted diagnostic report and say where it is.
#[tauri::command]
pub async fn export_diagnostics(state: State<'_, Services>) -> Result<Said, Error> {
    Ok(Said::done(state.export_report().await?))
}

/// Open a folder (`logs`, `diagnostics`, else the data folder) in the system's file manager.
#[tauri::command]
pub fn open_folder(state: State<'_, Services>, which: String) -> Result<(), Error> {
    let folder = match which.as_str() {
        "logs" => wa_app::paths::log_dir().map_err(|e| Error::Said(e.to_string()))?,
        "diagnostics" => state.layout().diagnostics(),
        _ => state.data_dir.clone(),
    };
    std::fs::create_dir_all(&folder).map_err(|e| Error::Said(format!("{} cannot be made: {e}", folder.display())))?;
    crate::desktop::open_in_file_manager(&folder)
}

/// Quit and reopen an assistant so it reads its new settings (where the system allows it).
#[tauri::command]
pub async fn restart_assistant(client: Client) -> Result<(), Error> {
    tauri::async_runtime::spawn_blocking(move || wa_app::assistants::restart(client))
        .await
        .map_err(|e| Error::Said(e.to_string()))?
        .map_err(Error::Said)
}

#[tauri::command]
pub fn log_folder() -> Result<String, Error> {
    Ok(wa_app::paths::log_dir()
        .map_err(|e| Error::Said(e.to_string()))?
        .display()
        .to_string())
}
