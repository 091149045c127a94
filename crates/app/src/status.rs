//! What the window shows on every page, in one answer: the connection in
//! words, the QR code, sync progress and jobs, the archive's counts.

use serde::Serialize;
use wa_engine::{EngineState, SyncProgress};
use wa_mcp::SendPolicy;
use wa_store::SyncJob;

use crate::error::AppError;
use crate::services::Services;
use crate::settings;

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

impl Services {
    /// Everything the window shows, now.
    pub async fn status(&self) -> Result<AppStatus, AppError> {
        let stats = self.store.statistics().await?;
        let engine_state = self.engine.state().borrow().clone();
        let qr = match &engine_state {
            EngineState::ShowingQr { code, .. } => qr_svg(code),
            _ => None,
        };
        let policy = wa_mcp::Policy::load(&self.store, &self.data_dir).await?;
        let setup_done = settings::setup_done(&self.store).await?;
        let jobs = self.engine.open_jobs().await?;
        let progress = self.engine.progress().borrow().clone();
        let (state_text, needs_attention) = self.engine.summary(&engine_state);
        Ok(AppStatus {
            version: env!("CARGO_PKG_VERSION"),
            data_dir: self.data_dir.display().to_string(),
            demo: self.demo.is_some(),
            setup_done,
            state_text,
            needs_attention,
            fix: connection_fix(&engine_state),
            state: engine_state,
            qr_svg: qr,
            account: self.engine.own_jid(),
            progress,
            jobs,
            messages: stats.messages,
            chats: stats.chats,
            newest_message: stats.newest_ts,
            database_bytes: stats.database_bytes,
            pending_approvals: self.approvals.pending().len(),
            send_policy: policy.send,
            demo_number: self.demo.as_deref().map(crate::demo::number),
        })
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
    counts: Option<CountsPatch>,
}

/// The connection changed: the state, its words, the fix and the QR code.
#[derive(Debug, Serialize)]
struct ConnectionPatch {
    state: EngineState,
    state_text: String,
    needs_attention: bool,
    fix: Option<&'static str>,
    qr_svg: Option<String>,
    account: Option<String>,
}

/// Messages were stored: the archive's counts.
#[derive(Debug, Serialize)]
struct CountsPatch {
    messages: i64,
    chats: i64,
    newest_message: Option<i64>,
    database_bytes: i64,
}

impl Services {
    /// What `event` changed in the window's status. The QR code is drawn here,
    /// once per code; the archive's counts are read after messages were stored.
    pub async fn patch_for(&self, event: &wa_engine::EngineEvent) -> StatusPatch {
        use wa_engine::EngineEvent;
        match event {
            EngineEvent::State { state, .. } => {
                let (state_text, needs_attention) = self.engine.summary(state);
                StatusPatch {
                    connection: Some(ConnectionPatch {
                        qr_svg: match state {
                            EngineState::ShowingQr { code, .. } => qr_svg(code),
                            _ => None,
                        },
                        fix: connection_fix(state),
                        state_text,
                        needs_attention,
                        account: self.engine.own_jid(),
                        state: state.clone(),
                    }),
                    ..StatusPatch::default()
                }
            }
            EngineEvent::Progress(progress) => StatusPatch {
                progress: Some(progress.clone()),
                ..StatusPatch::default()
            },
            EngineEvent::Job(job) => StatusPatch {
                job: Some(job.clone()),
                ..StatusPatch::default()
            },
            EngineEvent::Stored { .. } => match self.store.statistics().await {
                Ok(stats) => StatusPatch {
                    counts: Some(CountsPatch {
                        messages: stats.messages,
                        chats: stats.chats,
                        newest_message: stats.newest_ts,
                        database_bytes: stats.database_bytes,
                    }),
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
