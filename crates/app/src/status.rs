//! What the window shows on every page, in one answer: the engine's
//! [`Status`] (the connection in words, sync progress and jobs, the archive's
//! counts: the same model `backend_status` gives assistants) and what only
//! the window shows (the QR code, the fix to offer, pending approvals).

use serde::Serialize;
use wa_engine::{ConnectionStatus, Counts, EngineState, Status, SyncProgress, Wording};
use wa_mcp::SendPolicy;
use wa_store::SyncJob;

use crate::error::AppError;
use crate::services::Services;
use crate::settings::AppSettings;

/// What every page shows, in one call.
#[derive(Debug, Serialize)]
pub struct AppStatus {
    #[serde(flatten)]
    status: Status,
    version: &'static str,
    data_dir: String,
    setup_done: bool,
    /// What mends the connection now (`relink`, `reconnect`), if anything.
    fix: Option<&'static str>,
    /// The QR code to scan, drawn as SVG (while one is shown).
    qr_svg: Option<String>,
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

impl Services {
    /// Everything the window shows, now.
    pub async fn status(&self) -> Result<AppStatus, AppError> {
        let mut status = self.engine.status(Wording::Timeless).await?;
        // The window's demo controls work through the demo phone, which only
        // the app holds: demo mode is having it.
        status.demo = self.demo.is_some();
        let policy = wa_mcp::Policy::load(&self.store, &self.data_dir).await?;
        let setup_done = AppSettings::load(&self.store).await?.setup_done;
        Ok(AppStatus {
            fix: connection_fix(&status.connection.state),
            qr_svg: qr_of(&status.connection.state),
            status,
            version: env!("CARGO_PKG_VERSION"),
            data_dir: self.data_dir.display().to_string(),
            setup_done,
            pending_approvals: self.approvals.pending().len(),
            send_policy: policy.send,
            demo_number: self.demo.as_deref().map(crate::demo::number),
        })
    }
}

/// The QR code of a state that shows one.
fn qr_of(state: &EngineState) -> Option<String> {
    match state {
        EngineState::ShowingQr { code, .. } => qr_svg(code),
        _ => None,
    }
}

/// What changed, pushed to the window as it happens (the `status` event): the
/// window keeps the [`AppStatus`] it asked for once and applies these to it,
/// instead of asking for the whole status again. Fields of a part that did not
/// change are absent; `fix`, `qr_svg`, `account` and `newest_message` are
/// `null` when there is none. `job` is one job that changed (the window drops
/// it from its list once it ended).
#[derive(Debug, Default, Serialize)]
pub struct StatusPatch {
    #[serde(flatten)]
    connection: Option<ConnectionPatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<SyncProgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<SyncJob>,
    #[serde(flatten)]
    counts: Option<Counts>,
}

/// The connection changed: the state, its words, the fix and the QR code.
#[derive(Debug, Serialize)]
struct ConnectionPatch {
    #[serde(flatten)]
    connection: ConnectionStatus,
    fix: Option<&'static str>,
    qr_svg: Option<String>,
}

impl Services {
    /// What `event` changed in the window's status. The QR code is drawn here,
    /// once per code; the archive's counts are read after messages were stored.
    pub async fn patch_for(&self, event: &wa_engine::EngineEvent) -> StatusPatch {
        use wa_engine::EngineEvent;
        match event {
            EngineEvent::State { state, .. } => StatusPatch {
                connection: Some(ConnectionPatch {
                    qr_svg: qr_of(state),
                    fix: connection_fix(state),
                    connection: self.engine.connection(state, Wording::Timeless),
                }),
                ..StatusPatch::default()
            },
            EngineEvent::Progress(progress) => StatusPatch {
                progress: Some(progress.clone()),
                ..StatusPatch::default()
            },
            EngineEvent::Job(job) => StatusPatch {
                job: Some(job.clone()),
                ..StatusPatch::default()
            },
            EngineEvent::Stored { .. } => match Counts::read(&self.store).await {
                Ok(counts) => StatusPatch {
                    counts: Some(counts),
                    ..StatusPatch::default()
                },
                Err(e) => {
                    tracing::warn!(error = %e, "the archive's counts could not be read");
                    StatusPatch::default()
                }
            },
        }
    }
}
