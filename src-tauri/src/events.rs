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

/// How often the archive's counts are read again while messages arrive.
const COUNTS_EVERY: Duration = Duration::from_millis(500);

/// Push what changed to the window (`status` events: the state with its QR
/// code, progress, jobs, and the archive's counts) and keep the tray's status
/// line and icon in step. Progress comes throttled by the engine (at most ten
/// a second) and passes as it comes; stored messages only change the counts,
/// which are read at most every [`COUNTS_EVERY`] (the last batch always
/// counted).
fn forward_engine_events<R: Runtime>(app: &AppHandle<R>, services: &Services) {
    let mut events = services.engine.events();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut counted = tokio::time::Instant::now() - COUNTS_EVERY;
        let mut uncounted: Option<EngineEvent> = None;
        loop {
            let next = if uncounted.is_some() {
                tokio::time::timeout(COUNTS_EVERY, events.recv()).await.ok()
            } else {
                Some(events.recv().await)
            };
            let event = match next {
                None => uncounted.take(),
                Some(Ok(event)) => Some(event),
                // A slow window missed some events: the next ones follow.
                Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
            };
            let Some(event) = event else { continue };
            if matches!(event, EngineEvent::Stored { .. }) {
                if counted.elapsed() < COUNTS_EVERY {
                    uncounted = Some(event);
                    continue;
                }
                counted = tokio::time::Instant::now();
                uncounted = None;
            }
            let Some(services) = app.try_state::<Services>() else {
                continue;
            };
            crate::desktop::on_engine_event(&app, &services, &event).await;
            let patch = services.patch_for(&event).await;
            if let Err(e) = app.emit("status", &patch) {
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
        // One notification for a burst, then a count (wa_app::notices).
        let mut notices = wa_app::notices::ApprovalNotices::default();
        while changes.changed().await.is_ok() {
            let pending = approvals.pending();
            if let Some(body) = notices.on_change(&pending, std::time::Instant::now()) {
                crate::desktop::notify_approval(&app, &body);
            }
            if let Err(e) = app.emit("approvals", &pending) {
                tracing::debug!(error = %e, "could not reach the window");
            }
        }
    });
}
