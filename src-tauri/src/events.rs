//! What the core pushes to the window and the tray: engine events (state,
//! progress, jobs) and approval requests; and handing a started core to the
//! running app.

use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager, Runtime};
use wa_app::Services;
use wa_app::start::Started;
use wa_app::types::EngineEvent;

/// Give a started core to the window: events, approvals, the update check,
/// the start's notification, and the commands' state.
pub fn attach<R: Runtime>(app: &AppHandle<R>, started: Started) {
    let Started {
        services,
        recovered,
        stop_remote,
    } = started;
    forward_engine_events(app, &services);
    forward_approvals(app, &services);
    if let Some((title, text)) = &recovered {
        crate::desktop::notify(app, title, text);
    }
    app.manage(services);
    app.manage(RemoteStop(stop_remote));
    crate::updates::check_after_start(app);
}

/// Stops remote use when the app exits.
pub struct RemoteStop(pub wa_app::types::CancellationToken);

/// Push the engine's events to the window (`engine` events, at most 10 a
/// second: progress is coalesced, state and job changes always go through),
/// and keep the tray's status line and icon in step.
fn forward_engine_events<R: Runtime>(app: &AppHandle<R>, services: &Services) {
    let mut events = services.engine.events();
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
            if let Some(services) = app.try_state::<Services>() {
                crate::desktop::on_engine_event(&app, &services, &event).await;
            }
            if let Err(e) = app.emit("engine", &event) {
                tracing::debug!(error = %e, "could not reach the window");
            }
        }
    });
}

/// Tell the window (and the person) when approvals arrive or leave.
fn forward_approvals<R: Runtime>(app: &AppHandle<R>, services: &Services) {
    let approvals = services.approvals.clone();
    let mut changes = approvals.changes();
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
