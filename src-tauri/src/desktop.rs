//! The desktop around the window: the tray icon (its state drawn as a badge,
//! its menu), notifications, autostart at login, and opening a page.
//! On Linux a click on the tray icon itself is not delivered, so everything is
//! in the menu, "Open" first.

use std::sync::Mutex;

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_notification::NotificationExt as _;
use wa_app::Services;
use wa_app::types::{EngineEvent, EngineState, JobState, SyncJob};

pub const TRAY_ID: &str = "main";

/// What the tray icon shows; one PNG per state in `icons/`, generated from one
/// source by `cargo run -p wa-icons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayLook {
    Starting,
    Connected,
    Syncing,
    Paused,
    Attention,
}

impl TrayLook {
    fn png(self) -> &'static [u8] {
        match self {
            TrayLook::Starting => include_bytes!("../../icons/tray.png"),
            TrayLook::Connected => include_bytes!("../../icons/tray-connected.png"),
            TrayLook::Syncing => include_bytes!("../../icons/tray-syncing.png"),
            TrayLook::Paused => include_bytes!("../../icons/tray-paused.png"),
            TrayLook::Attention => include_bytes!("../../icons/tray-attention.png"),
        }
    }

    /// The look for an engine state, its open jobs and the history progress.
    pub fn of(state: &EngineState, jobs: &[SyncJob], percent: Option<u8>) -> Self {
        if state.needs_attention() {
            return TrayLook::Attention;
        }
        if !matches!(state, EngineState::Connected { .. }) {
            return TrayLook::Starting;
        }
        if jobs.iter().any(|j| j.state == JobState::Paused) {
            TrayLook::Paused
        } else if !jobs.is_empty() || percent.is_some_and(|p| p < 100) {
            TrayLook::Syncing
        } else {
            TrayLook::Connected
        }
    }
}

/// The tray's changing parts, kept to update them.
struct Tray<R: Runtime> {
    status: MenuItem<R>,
    pause: MenuItem<R>,
    demo: bool,
    look: Mutex<Option<TrayLook>>,
    /// Open sync jobs as last read; read again only when a job or the state changes.
    jobs: Mutex<Option<Vec<SyncJob>>>,
    /// A link is being finished (the next "connected" is worth a notification).
    linking: Mutex<bool>,
    /// The first full history was announced in this run.
    synced_seen: Mutex<bool>,
}

pub fn create<R: Runtime>(app: &AppHandle<R>, demo: bool) -> tauri::Result<()> {
    let first = if demo { "Demo: starting…" } else { "Starting…" };
    let status = MenuItem::with_id(app, "status", first, false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open WhatsApp MCP Desktop", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause sync", false, None::<&str>)?;
    let assistants = MenuItem::with_id(app, "assistants", "Connect assistants…", true, None::<&str>)?;
    let settings = MenuItem::with_id(app, "settings", "Settings", true, None::<&str>)?;
    let updates = MenuItem::with_id(app, "updates", "Check for updates…", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let separator2 = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(
        app,
        &[
            &open,
            &status,
            &separator,
            &pause,
            &assistants,
            &settings,
            &updates,
            &separator2,
            &quit,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(tauri::image::Image::from_bytes(TrayLook::Starting.png())?)
        .tooltip(if demo {
            "WhatsApp MCP Desktop (Demo)"
        } else {
            "WhatsApp MCP Desktop"
        })
        .title("WhatsApp MCP")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_main_window(app),
            "assistants" => open_page(app, "assistants"),
            "settings" => open_page(app, "safety"),
            // The About page checks at once when opened this way.
            "updates" => open_page(app, "about:check"),
            "pause" => {
                // Nothing runs yet while the app waits for its passphrase.
                let Some(state) = app.try_state::<Services>() else {
                    show_main_window(app);
                    return;
                };
                let engine = state.engine.clone();
                tauri::async_runtime::spawn(async move {
                    if let Err(e) = wa_app::services::pause_or_resume_all(&engine).await {
                        tracing::warn!(error = %e, "could not pause or resume");
                    }
                });
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    app.manage(Tray {
        status,
        pause,
        demo,
        look: Mutex::new(None),
        jobs: Mutex::new(None),
        linking: Mutex::new(false),
        synced_seen: Mutex::new(false),
    });
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The tray while the app waits for its passphrase (no keychain).
pub fn show_locked<R: Runtime>(app: &AppHandle<R>) {
    if let Some(tray) = app.try_state::<Tray<R>>()
        && let Err(e) = tray.status.set_text("Locked: type your passphrase in the window")
    {
        tracing::debug!(error = %e, "could not update the tray status");
    }
}

/// Keep the tray (status line, icon, pause item) in step with the engine, and
/// send the notifications a person wants: linked, first sync done, logged out.
pub async fn on_engine_event<R: Runtime>(app: &AppHandle<R>, services: &Services, event: &EngineEvent) {
    let Some(tray) = app.try_state::<Tray<R>>() else {
        return;
    };
    let state = services.engine_state();
    let percent = services.history_percent();
    if let EngineEvent::State { text, state } = event {
        let first = text.split_inclusive(". ").next().unwrap_or(text).trim_end();
        let shown = if tray.demo {
            format!("Demo: {first}")
        } else {
            first.to_owned()
        };
        if let Err(e) = tray.status.set_text(shown) {
            tracing::debug!(error = %e, "could not update the tray status");
        }
        match state {
            // Announced after a fresh link only, not on every reconnect.
            EngineState::Linking => *lock(&tray.linking) = true,
            EngineState::Connected { .. } if std::mem::replace(&mut *lock(&tray.linking), false) => {
                notify(app, "WhatsApp is linked", "Your history is arriving now.");
            }
            EngineState::LoggedOut { .. } => notify(
                app,
                "WhatsApp logged this computer out",
                "Your messages are kept. Open the app to link again.",
            ),
            _ => {}
        }
    }
    // The lock is let go before the archive is asked.
    let first_time = percent == Some(100) && !std::mem::replace(&mut *lock(&tray.synced_seen), true);
    if first_time && services.first_history_ready().await {
        notify(
            app,
            "Your WhatsApp history is ready",
            "Assistants can now search and read it.",
        );
    }
    // Progress arrives up to 10 times a second: the store is asked for jobs
    // only when a job or the connection changed.
    let cached = if matches!(event, EngineEvent::Job(_) | EngineEvent::State { .. }) {
        None
    } else {
        lock(&tray.jobs).clone()
    };
    let jobs = if let Some(jobs) = cached {
        jobs
    } else {
        let jobs = services.open_jobs().await;
        *lock(&tray.jobs) = Some(jobs.clone());
        jobs
    };
    let look = TrayLook::of(&state, &jobs, percent);
    let paused = jobs.iter().any(|j| j.state == JobState::Paused);
    if let Err(e) = tray.pause.set_enabled(!jobs.is_empty()) {
        tracing::debug!(error = %e, "could not update the tray's pause item");
    }
    if let Err(e) = tray.pause.set_text(if paused { "Resume sync" } else { "Pause sync" }) {
        tracing::debug!(error = %e, "could not update the tray's pause item");
    }
    let mut current = lock(&tray.look);
    if *current != Some(look) {
        *current = Some(look);
        let icon = tauri::image::Image::from_bytes(look.png());
        if let (Some(tray_icon), Ok(icon)) = (app.tray_by_id(TRAY_ID), icon)
            && let Err(e) = tray_icon.set_icon(Some(icon))
        {
            tracing::debug!(error = %e, "could not change the tray icon");
        }
    }
}

/// A desktop notification (a missing notification service is not an error).
pub fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::debug!(error = %e, "no notification shown");
    }
}

/// "An assistant wants to send": the person answers in the window.
pub fn notify_approval<R: Runtime>(app: &AppHandle<R>, body: &str) {
    notify(app, "An assistant is waiting for your approval", body);
}

/// Start (or stop starting) at login, in the tray.
/// (Without the autostart plugin, as in the commands' tests, there is nothing to change.)
pub fn apply_autostart<R: Runtime>(app: &AppHandle<R>, on: bool) {
    let Some(launcher) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() else {
        tracing::debug!("autostart is not available here");
        return;
    };
    let done = if on { launcher.enable() } else { launcher.disable() };
    if let Err(e) = done {
        tracing::warn!(error = %e, on, "could not change starting at login");
    }
}

pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let shown = window
            .show()
            .and_then(|()| window.unminimize())
            .and_then(|()| window.set_focus());
        if let Err(e) = shown {
            tracing::warn!(error = %e, "could not show the window");
        }
    }
}

/// Show the window on one of its pages.
pub fn open_page<R: Runtime>(app: &AppHandle<R>, page: &str) {
    show_main_window(app);
    if let Err(e) = app.emit("navigate", page) {
        tracing::debug!(error = %e, "could not reach the window");
    }
}

/// Open `folder` in the system's file manager.
pub fn open_in_file_manager(folder: &std::path::Path) -> Result<(), crate::error::Error> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(folder)
        .spawn()
        .map(drop)
        .map_err(|e| crate::error::Error::Said(format!("{opener} could not open {}: {e}", folder.display())))
}
