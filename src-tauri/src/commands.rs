//! Commands the web view calls, and the events pushed to it. Each is a few
//! lines over the core crates (engine, store, mcp, clients).
// Tauri's command macro hands `State` over by value.
#![allow(clippy::needless_pass_by_value)]

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Runtime, State};
use wa_engine::{EngineEvent, EngineState, JobCommand, SyncProgress, SyncRequest};
use wa_mcp::policy::{self, SendPolicy};
use wa_store::{AuditEntry, Page, SyncJob};

use crate::AppState;
use crate::error::Error;

/// The setting that says the wizard was finished.
pub const SETUP_DONE: &str = "app.setup_done";
/// Autostart at login, as the person chose it (the wizard turns it on).
pub const AUTOSTART: &str = "app.autostart";

/// What every page shows, in one call.
#[derive(Debug, Serialize)]
pub struct AppStatus {
    version: &'static str,
    data_dir: String,
    demo: bool,
    setup_done: bool,
    state: EngineState,
    /// The state in words: what is happening and what to do.
    state_text: String,
    needs_attention: bool,
    /// What mends the connection now (`relink`, `reconnect`), if anything.
    fix: Option<&'static str>,
    /// The QR code to scan, drawn as SVG (while one is shown).
    qr_svg: Option<String>,
    account: Option<String>,
    progress: SyncProgress,
    jobs: Vec<SyncJob>,
    messages: i64,
    chats: i64,
    newest_message: Option<i64>,
    database_bytes: i64,
    pending_approvals: usize,
    send_policy: SendPolicy,
    /// The demo phone's number (to try linking by phone number in demo mode).
    demo_number: Option<String>,
}

/// What mends the connection in this state, as the window offers it: `relink`
/// (a new QR code: only linking again helps) or `reconnect` (try now).
pub fn connection_fix(state: &EngineState) -> Option<&'static str> {
    match state {
        EngineState::Unlinked | EngineState::LoggedOut { .. } | EngineState::QrExhausted { .. } => Some("relink"),
        EngineState::Reconnecting { .. } => Some("reconnect"),
        other if other.needs_attention() => Some("reconnect"),
        _ => None,
    }
}

/// Draw a pairing string as a QR code (SVG), large enough to scan from a screen.
pub fn qr_svg(code: &str) -> Option<String> {
    let qr = qrcode::QrCode::new(code.as_bytes()).ok()?;
    Some(
        qr.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(264, 264)
            .quiet_zone(true)
            .dark_color(qrcode::render::svg::Color("#111111"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> Result<AppStatus, Error> {
    let stats = state.store.statistics().await?;
    let engine_state = state.engine.state().borrow().clone();
    let qr = match &engine_state {
        EngineState::ShowingQr { code, .. } => qr_svg(code),
        _ => None,
    };
    let policy = policy::Policy::load(&state.store, &state.data_dir).await?;
    let setup_done = state.store.setting::<bool>(SETUP_DONE).await?.unwrap_or(false);
    let jobs = state.engine.open_jobs().await?;
    let progress = state.engine.progress().borrow().clone();
    let (state_text, needs_attention) = state.engine.describe(&engine_state);
    Ok(AppStatus {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: state.data_dir.display().to_string(),
        demo: state.demo.is_some(),
        setup_done,
        state_text,
        needs_attention,
        fix: connection_fix(&engine_state),
        state: engine_state,
        qr_svg: qr,
        account: state.engine.own_jid(),
        progress,
        jobs,
        messages: stats.messages,
        chats: stats.chats,
        newest_message: stats.newest_ts,
        database_bytes: stats.database_bytes,
        pending_approvals: state.approvals.pending().len(),
        send_policy: policy.send,
        demo_number: state
            .demo
            .as_ref()
            .map(|phone| format!("+{}", phone.corpus().own_jid.trim_end_matches("@s.whatsapp.net"))),
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

/// Try the connection again now (after "no network", a ban's end, ...).
#[tauri::command]
pub async fn reconnect(state: State<'_, AppState>) -> Result<(), Error> {
    Ok(state.engine.reconnect_now().await?)
}

/// What the demo's simulated phone does, at the person's (or a test's) request.
#[derive(Debug, Deserialize)]
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

#[tauri::command]
pub async fn demo_phone(state: State<'_, AppState>, action: DemoAction, code: Option<String>) -> Result<bool, Error> {
    let phone = state.demo.as_ref().ok_or(Error::NotDemo)?;
    let code = code.unwrap_or_default();
    Ok(match action {
        DemoAction::Scan => phone.scan(&code),
        DemoAction::EnterCode => phone.enter_code(&code),
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
    })
}

/// How much history to fetch after linking: what the phone sends by itself
/// (recent), or everything it offers (a background job).
#[tauri::command]
pub async fn start_sync(state: State<'_, AppState>, everything: bool) -> Result<Option<SyncJob>, Error> {
    if !everything {
        return Ok(None);
    }
    Ok(Some(state.engine.start_sync(SyncRequest::Everything).await?))
}

/// How far back each chat reaches (per-chat checkpoints), most recently synced first.
#[tauri::command]
pub async fn chat_reach(state: State<'_, AppState>) -> Result<Vec<wa_store::ChatReach>, Error> {
    Ok(state.store.chat_reach(100).await?)
}

/// Fetch older messages of one chat.
#[tauri::command]
pub async fn fetch_older(state: State<'_, AppState>, chat_jid: String, count: u32) -> Result<SyncJob, Error> {
    let request = SyncRequest::Chat {
        jid: chat_jid,
        count: count.clamp(1, 10_000),
    };
    Ok(state.engine.start_sync(request).await?)
}

#[tauri::command]
pub async fn control_sync(state: State<'_, AppState>, job_id: i64, command: JobCommand) -> Result<SyncJob, Error> {
    Ok(state.engine.control_job(job_id, command).await?)
}

/// Pause every open job, or resume every paused one (the tray's menu item).
pub async fn pause_or_resume_all(engine: &wa_engine::Engine) -> Result<(), Error> {
    let jobs = engine.open_jobs().await?;
    let pause = jobs.iter().any(|j| j.state != wa_store::JobState::Paused);
    for job in jobs {
        let command = if pause { JobCommand::Pause } else { JobCommand::Resume };
        if let Err(e) = engine.control_job(job.id, command).await {
            tracing::debug!(error = %e, job = job.id, "job not changed");
        }
    }
    Ok(())
}

/// Assistants found on this computer and how each stands.
#[tauri::command]
pub fn assistants(state: State<'_, AppState>) -> Vec<wa_clients::ClientState> {
    wa_clients::states(&wa_clients::Env::from_system(), &state.helper)
}

/// What connecting or disconnecting one client did, in words.
#[derive(Debug, Serialize)]
pub struct ClientOutcome {
    client: wa_clients::Client,
    ok: bool,
    message: String,
}

#[tauri::command]
pub fn connect_assistants(
    state: State<'_, AppState>,
    clients: Vec<wa_clients::Client>,
    connect: bool,
) -> Vec<ClientOutcome> {
    let env = wa_clients::Env::from_system();
    clients
        .into_iter()
        .map(|client| {
            let done = if connect {
                wa_clients::register(&env, client, &state.helper)
            } else {
                wa_clients::unregister(&env, client)
            };
            let name = client.name();
            match done {
                Ok(change) => {
                    let mut message = match (connect, change.changed) {
                        (true, _) => format!("{name} is connected. Restart {name} to finish."),
                        (false, true) => format!("{name} is disconnected."),
                        (false, false) => format!("{name} was not connected."),
                    };
                    if let Some(old) = change.replaced {
                        message = format!("{message} It used {old} before; those settings are kept in the backup.");
                    }
                    ClientOutcome {
                        client,
                        ok: true,
                        message,
                    }
                }
                Err(e) => ClientOutcome {
                    client,
                    ok: false,
                    message: e.to_string(),
                },
            }
        })
        .collect()
}

/// The settings the Safety page edits.
#[derive(Debug, Serialize, Deserialize)]
pub struct SafetySettings {
    send_policy: SendPolicy,
    recipients: Vec<String>,
    sends_per_minute: u32,
    autostart: bool,
    /// Check for updates a little after start (on unless turned off).
    #[serde(default = "yes")]
    check_updates: bool,
}

fn yes() -> bool {
    true
}

#[tauri::command]
pub async fn safety_settings(state: State<'_, AppState>) -> Result<SafetySettings, Error> {
    let policy = policy::Policy::load(&state.store, &state.data_dir).await?;
    Ok(SafetySettings {
        send_policy: policy.send,
        recipients: policy.recipients,
        sends_per_minute: policy.sends_per_minute,
        autostart: state.store.setting::<bool>(AUTOSTART).await?.unwrap_or(false),
        check_updates: state
            .store
            .setting::<bool>(crate::updates::CHECK_ON_START)
            .await?
            .unwrap_or(true),
    })
}

#[tauri::command]
pub async fn set_safety_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: SafetySettings,
) -> Result<(), Error> {
    let store = &state.store;
    store.set_setting(policy::SEND_POLICY, &settings.send_policy).await?;
    store.set_setting(policy::RECIPIENTS, &settings.recipients).await?;
    store
        .set_setting(policy::SENDS_PER_MINUTE, &settings.sends_per_minute.clamp(1, 120))
        .await?;
    store.set_setting(AUTOSTART, &settings.autostart).await?;
    store
        .set_setting(crate::updates::CHECK_ON_START, &settings.check_updates)
        .await?;
    crate::desktop::apply_autostart(&app, settings.autostart);
    Ok(())
}

/// The end of the wizard: the send-safety choice and autostart.
#[tauri::command]
pub async fn finish_setup<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    send_policy: SendPolicy,
    autostart: bool,
) -> Result<(), Error> {
    state.store.set_setting(policy::SEND_POLICY, &send_policy).await?;
    state.store.set_setting(AUTOSTART, &autostart).await?;
    state.store.set_setting(SETUP_DONE, &true).await?;
    crate::desktop::apply_autostart(&app, autostart);
    Ok(())
}

/// Open the wizard again (the main window's "Set up again").
#[tauri::command]
pub async fn reopen_wizard(state: State<'_, AppState>) -> Result<(), Error> {
    Ok(state.store.set_setting(SETUP_DONE, &false).await?)
}

#[tauri::command]
pub fn approvals(state: State<'_, AppState>) -> Vec<wa_mcp::PendingApproval> {
    state.approvals.pending()
}

#[tauri::command]
pub fn answer_approval(state: State<'_, AppState>, id: u64, approved: bool) -> Result<(), Error> {
    Ok(state.approvals.answer(id, approved)?)
}

#[tauri::command]
pub async fn audit_log(
    state: State<'_, AppState>,
    query: Option<String>,
    cursor: Option<String>,
) -> Result<Page<AuditEntry>, Error> {
    let query = query.filter(|q| !q.trim().is_empty());
    Ok(state.store.audit_log(query.as_deref(), 50, cursor.as_deref()).await?)
}

/// One diagnostic check, in words.
#[derive(Debug, Serialize)]
pub struct Check {
    ok: bool,
    text: String,
}

#[tauri::command]
pub async fn integrity_check(state: State<'_, AppState>) -> Result<Check, Error> {
    let problems = state.store.integrity_check().await?;
    Ok(if problems.is_empty() {
        Check {
            ok: true,
            text: "The archive passed its integrity check.".into(),
        }
    } else {
        Check {
            ok: false,
            text: format!("The archive is damaged: {}", problems.join("; ")),
        }
    })
}

#[tauri::command]
pub async fn backup_now(state: State<'_, AppState>) -> Result<Check, Error> {
    let dir = state.data_dir.join("backups");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io(e.to_string()))?;
    let name = format!("messages-{}.db", chrono_stamp());
    let dest = dir.join(name);
    state.store.backup(&dest).await?;
    Ok(Check {
        ok: true,
        text: format!("Backed up to {}.", dest.display()),
    })
}

/// The backups Diagnostics offers to restore, newest first, with what each holds.
#[tauri::command]
pub async fn list_backups(state: State<'_, AppState>) -> Result<Vec<wa_store::restore::BackupInfo>, Error> {
    Ok(wa_store::restore::list_backups(&state.data_dir.join("backups"), state.store.key()).await)
}

/// Replace the archive with one of its backups: checked and staged now, put in
/// place by the restart that follows (see `wa_store::restore`). Only a file
/// the backups folder lists is accepted, whatever path the page sends.
#[tauri::command]
pub async fn restore_backup<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    path: String,
) -> Result<Check, Error> {
    let chosen = std::path::PathBuf::from(path);
    if !wa_store::restore::is_listed(&state.data_dir.join("backups"), &chosen) {
        return Err(Error::Said(
            "That backup is no longer in the backups folder; open Diagnostics again to see the list.".into(),
        ));
    }
    let messages =
        wa_store::restore::stage_restore(&state.data_dir.join("messages.db"), &chosen, state.store.key()).await?;
    // Restart once the page has its answer; the exit closes the archive first.
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        handle.request_restart();
    });
    Ok(Check {
        ok: true,
        text: format!("The backup with {messages} messages will replace your archive: the app restarts now."),
    })
}

fn chrono_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    secs.to_string()
}

/// One of the doctor's checks as the Diagnostics page shows it, with the fix
/// the page offers (`reconnect`, `relink`, `permissions`, `assistants`).
#[derive(Debug, Serialize)]
pub struct DiagCheck {
    id: &'static str,
    ok: bool,
    text: String,
    fix: Option<&'static str>,
}

#[tauri::command]
pub async fn diagnostic_checks(state: State<'_, AppState>) -> Result<Vec<DiagCheck>, Error> {
    let mut checks = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state.data_dir).map_or(0, |m| m.permissions().mode() & 0o777);
        checks.push(DiagCheck {
            id: "data",
            ok: mode == 0o700,
            text: if mode == 0o700 {
                format!("Only you can open the data folder ({}).", state.data_dir.display())
            } else {
                format!("Other users can open the data folder (permissions {mode:o}).")
            },
            fix: (mode != 0o700).then_some("permissions"),
        });
    }
    let problems = state.store.integrity_check().await?;
    checks.push(DiagCheck {
        id: "archive",
        ok: problems.is_empty(),
        text: if problems.is_empty() {
            "The archive passed its integrity check.".to_owned()
        } else {
            format!("The archive is damaged: {}", problems.join("; "))
        },
        fix: None,
    });
    if let Some(problem) = state.engine.storage_problem() {
        checks.push(DiagCheck {
            id: "storage",
            ok: false,
            text: format!("{problem} New messages wait in memory and are saved as soon as there is room."),
            fix: None,
        });
    }
    let engine_state = state.engine.state().borrow().clone();
    checks.push(DiagCheck {
        id: "whatsapp",
        ok: !engine_state.needs_attention(),
        text: format!("WhatsApp: {}", engine_state.describe_now()),
        fix: connection_fix(&engine_state),
    });
    let clients = assistants(state.clone());
    let connected: Vec<&str> = clients
        .iter()
        .filter(|c| c.status == wa_clients::Status::Connected)
        .map(|c| c.name)
        .collect();
    let stale = clients.iter().any(|c| {
        matches!(
            c.status,
            wa_clients::Status::Stale { .. } | wa_clients::Status::Broken { .. }
        )
    });
    checks.push(DiagCheck {
        id: "assistants",
        ok: !connected.is_empty() && !stale,
        text: if connected.is_empty() {
            "No assistant is connected yet.".to_owned()
        } else {
            format!("Connected: {}.", connected.join(", "))
        },
        fix: (connected.is_empty() || stale).then_some("assistants"),
    });
    Ok(checks)
}

/// Make the data folder this user's alone again (the Diagnostics fix).
#[tauri::command]
pub fn fix_permissions(state: State<'_, AppState>) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&state.data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::Said(format!("The data folder's permissions could not be changed: {e}")))?;
    }
    Ok(())
}

/// Write the redacted diagnostic report and say where it is.
#[tauri::command]
pub async fn export_diagnostics(state: State<'_, AppState>) -> Result<Check, Error> {
    let log_dir = wa_mcp::paths::log_dir().map_err(|e| Error::Io(e.to_string()))?;
    let context = wa_mcp::diagnostics::Context {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        state: state.engine.state().borrow().describe_now(),
        demo: state.demo.is_some(),
        assistants: assistants(state.clone()).into_iter().map(|c| c.description).collect(),
    };
    let path = wa_mcp::diagnostics::write_report(&state.store, &state.data_dir, &log_dir, &context)
        .await
        .map_err(|e| Error::Io(e.to_string()))?;
    Ok(Check {
        ok: true,
        text: format!(
            "The report is in {}. Phone numbers are masked and no message text is in it; read it before you send it.",
            path.display()
        ),
    })
}

/// Open a folder in the system's file manager.
#[tauri::command]
pub fn open_folder(state: State<'_, AppState>, which: String) -> Result<(), Error> {
    let folder = match which.as_str() {
        "logs" => wa_mcp::paths::log_dir().map_err(|e| Error::Io(e.to_string()))?,
        "diagnostics" => state.data_dir.join("diagnostics"),
        _ => state.data_dir.clone(),
    };
    std::fs::create_dir_all(&folder).map_err(|e| Error::Io(e.to_string()))?;
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(&folder)
        .spawn()
        .map(drop)
        .map_err(|e| Error::Said(format!("{opener} could not open {}: {e}", folder.display())))
}

/// Quit and reopen an assistant so it reads its new settings (where the system allows it).
#[tauri::command]
pub async fn restart_assistant(client: wa_clients::Client) -> Result<(), Error> {
    tauri::async_runtime::spawn_blocking(move || wa_clients::restart(client))
        .await
        .map_err(|e| Error::Said(e.to_string()))?
        .map_err(Error::Said)
}

#[tauri::command]
pub fn log_folder() -> Result<String, Error> {
    Ok(wa_mcp::paths::log_dir()
        .map_err(|e| Error::Io(e.to_string()))?
        .display()
        .to_string())
}

/// Push the engine's events to the window (`engine` events, at most 10 a
/// second: progress is coalesced, state and job changes always go through),
/// and keep the tray's status line and icon in step.
pub fn forward_engine_events<R: Runtime>(app: &AppHandle<R>, state: &AppState) {
    let mut events = state.engine.events();
    let engine = state.engine.clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut last_progress = tokio::time::Instant::now() - Duration::from_secs(1);
        let mut held: Option<EngineEvent> = None;
        loop {
            let next = if held.is_some() {
                tokio::time::timeout(Duration::from_millis(100), events.recv())
                    .await
                    .ok()
            } else {
                Some(events.recv().await)
            };
            let event = match next {
                None => held.take(),
                Some(Ok(event)) => Some(event),
                // A slow window missed some progress events: the next ones follow.
                Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
            };
            let Some(event) = event else { continue };
            if matches!(event, EngineEvent::Progress(_) | EngineEvent::Stored { .. })
                && last_progress.elapsed() < Duration::from_millis(100)
            {
                held = Some(event);
                continue;
            }
            if matches!(event, EngineEvent::Progress(_) | EngineEvent::Stored { .. }) {
                last_progress = tokio::time::Instant::now();
                held = None;
            }
            crate::desktop::on_engine_event(&app, &engine, &event).await;
            if let Err(e) = app.emit("engine", &event) {
                tracing::debug!(error = %e, "could not reach the window");
            }
        }
    });
}

/// Tell the window (and the person) when approvals arrive or leave.
pub fn forward_approvals<R: Runtime>(app: &AppHandle<R>, approvals: &Arc<wa_mcp::Approvals>) {
    let mut changes = approvals.changes();
    let approvals = approvals.clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut shown = 0;
        while changes.changed().await.is_ok() {
            let pending = approvals.pending();
            if pending.len() > shown
                && let Some(newest) = pending.last()
            {
                crate::desktop::notify_approval(&app, newest);
            }
            shown = pending.len();
            if let Err(e) = app.emit("approvals", &pending) {
                tracing::debug!(error = %e, "could not reach the window");
            }
        }
    });
}
