//! The tray icon and its menu. On Linux a click on the icon itself is not
//! delivered, so everything is in the menu, "Open" first.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

pub const TRAY_ID: &str = "main";

/// The status line's menu item, kept to update its text.
pub struct StatusLine(MenuItem<tauri::Wry>);

pub fn create(app: &AppHandle, demo: bool) -> tauri::Result<()> {
    let first = if demo { "Demo: starting…" } else { "Starting…" };
    let status = MenuItem::with_id(app, "status", first, false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open WhatsApp MCP Desktop", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&open, &status, &separator, &quit])?;
    let icon = tauri::image::Image::from_bytes(include_bytes!("../../icons/tray.png"))?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon)
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
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    app.manage(StatusLine(status));
    app.manage(Demo(demo));
    Ok(())
}

struct Demo(bool);

/// Show the engine's state in words on the menu's status line (first sentence only).
pub fn set_status(app: &AppHandle, text: &str) {
    let Some(line) = app.try_state::<StatusLine>() else {
        return;
    };
    let demo = app.try_state::<Demo>().is_some_and(|d| d.0);
    let first = text.split_inclusive(". ").next().unwrap_or(text).trim_end();
    let shown = if demo {
        format!("Demo: {first}")
    } else {
        first.to_owned()
    };
    if let Err(e) = line.0.set_text(shown) {
        tracing::debug!(error = %e, "could not update the tray status");
    }
}

pub fn show_main_window(app: &AppHandle) {
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
