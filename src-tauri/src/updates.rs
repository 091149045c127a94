//! Signed updates, through `tauri-plugin-updater`.
//!
//! The app checks once a little after start (unless the person turned it off)
//! and whenever they ask (About page, tray menu). It never installs on its own:
//! an offer is shown, and only "Install and restart" downloads, verifies and
//! installs. Every package is checked against the public key in
//! `tauri.conf.json` *and* against the version it was signed for
//! (`requireSignedVersion`), so a damaged file, a file signed with another key,
//! or a manifest that pairs a new version number with an old package is
//! refused, and the running version is left exactly as it was.
//!
//! Updates replace the program only: the data folder (messages, the linked
//! WhatsApp session, settings) is never touched, so the app comes back linked.
//!
//! How releases are signed and `latest.json` is written: `installers/updates/`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_updater::{Update, UpdaterExt};

/// How long after start the first check waits (the app has better things to do first).
const FIRST_CHECK_DELAY: Duration = Duration::from_secs(20);

/// Where updates come from. By default: the endpoints and key of the app's
/// configuration, installing over the running program. Tests point it at a
/// local server and a scratch copy of the program.
#[derive(Debug, Default, Clone)]
pub struct UpdateSource {
    pub endpoints: Option<Vec<url::Url>>,
    pub executable: Option<PathBuf>,
}

impl UpdateSource {
    /// The configuration's source. Debug builds also honour
    /// `WHATSAPP_MCP_UPDATE_URL` (a manifest URL), so the window's tests can
    /// offer an update from a local server; release builds ignore it.
    pub fn from_env() -> Self {
        let mut source = Self::default();
        if cfg!(debug_assertions)
            && let Ok(url) = std::env::var("WHATSAPP_MCP_UPDATE_URL")
        {
            match url.parse() {
                Ok(url) => source.endpoints = Some(vec![url]),
                Err(e) => tracing::warn!(error = %e, "WHATSAPP_MCP_UPDATE_URL is not a URL"),
            }
        }
        source
    }
}

/// The update state the commands share: where updates come from and the one
/// on offer (checked, not yet installed).
#[derive(Default)]
pub struct Updates {
    source: UpdateSource,
    offered: tokio::sync::Mutex<Option<Update>>,
}

impl Updates {
    pub fn new(source: UpdateSource) -> Self {
        Self {
            source,
            offered: tokio::sync::Mutex::new(None),
        }
    }
}

/// What the window shows about an available update.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UpdateOffer {
    pub version: String,
    pub current: String,
    pub notes: Option<String>,
    pub date: Option<String>,
}

/// Download progress, as `update-progress` events.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateProgress {
    pub received: u64,
    pub total: Option<u64>,
}

/// Why an update was not offered or not installed, in words. In every case
/// the running version is untouched and keeps working.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("The update server could not be reached ({0}). This version keeps working; try again later.")]
    Unreachable(String),
    #[error(
        "The update server did not offer a release (it may be down or moving). This version keeps working; try again later."
    )]
    NoRelease,
    #[error(
        "The update server's answer could not be read ({0}), so nothing was installed. This version keeps working."
    )]
    BadManifest(String),
    #[error("The update server has no version for this kind of computer yet. This version keeps working.")]
    NotForThisSystem,
    #[error(
        "The update was refused: its signature does not match WhatsApp MCP Desktop's key, so the file is damaged, \
         incomplete or not from us. Nothing was changed; this version keeps working."
    )]
    BadSignature,
    #[error(
        "The update was refused: the server announced version {announced}, but the file is signed for version \
         {signed}. Nothing was changed; this version keeps working."
    )]
    WrongVersion { signed: String, announced: String },
    #[error(
        "The update was refused: the downloaded file is not an installer for this computer. Nothing was changed; \
         this version keeps working."
    )]
    NotAnInstaller,
    #[error(
        "The update could not be installed ({0}). This version keeps working; you can also install the new \
         version by hand from the download page."
    )]
    InstallFailed(String),
    #[error("There is no update to install: check for updates first.")]
    NothingOffered,
    #[error(
        "This copy was built from source, so it updates from source too: `git pull`, then `./dev app`. \
         Installed copies update themselves."
    )]
    BuiltFromSource,
}

/// The window gets the sentence, not a debug dump.
impl serde::Serialize for UpdateError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl From<tauri_plugin_updater::Error> for UpdateError {
    fn from(e: tauri_plugin_updater::Error) -> Self {
        use tauri_plugin_updater::Error as E;
        match e {
            E::Reqwest(e) => UpdateError::Unreachable(e.to_string()),
            E::Network(e) => UpdateError::Unreachable(e),
            E::ReleaseNotFound => UpdateError::NoRelease,
            E::Serialization(e) => UpdateError::BadManifest(e.to_string()),
            E::Semver(e) => UpdateError::BadManifest(e.to_string()),
            E::TargetNotFound(_) | E::TargetsNotFound(_) | E::UnsupportedOs | E::UnsupportedArch => {
                UpdateError::NotForThisSystem
            }
            E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) | E::MissingSignedVersion => UpdateError::BadSignature,
            E::SignedVersionMismatch { signed, announced } => UpdateError::WrongVersion { signed, announced },
            E::InvalidUpdaterFormat | E::BinaryNotFoundInArchive => UpdateError::NotAnInstaller,
            other => UpdateError::InstallFailed(other.to_string()),
        }
    }
}

fn updater<R: Runtime>(
    app: &AppHandle<R>,
    source: &UpdateSource,
) -> Result<tauri_plugin_updater::Updater, UpdateError> {
    let mut builder = app.updater_builder().timeout(Duration::from_secs(30));
    if let Some(endpoints) = &source.endpoints {
        builder = builder.endpoints(endpoints.clone())?;
    }
    if let Some(executable) = &source.executable {
        builder = builder.executable_path(executable);
    }
    Ok(builder.build()?)
}

/// Ask the update server; remember what it offers.
pub async fn check<R: Runtime>(app: &AppHandle<R>, updates: &Updates) -> Result<Option<UpdateOffer>, UpdateError> {
    // A build from a clone is not an installed bundle: installing a release over
    // it would replace the developer's binary with a package. (Tests and the
    // window's e2e name their own source, so they get past this.)
    let own_source = updates.source.endpoints.is_some() || updates.source.executable.is_some();
    if !own_source && tauri::utils::platform::bundle_type().is_none() {
        return Err(UpdateError::BuiltFromSource);
    }
    let found = updater(app, &updates.source)?.check().await?;
    let offer = found.as_ref().map(|update| UpdateOffer {
        version: update.version.clone(),
        current: update.current_version.clone(),
        notes: update.body.clone(),
        date: update.date.map(|d| d.to_string()),
    });
    *updates.offered.lock().await = found;
    Ok(offer)
}

/// Download, verify and install the offered update. The program on disk is
/// replaced only after the whole file arrived and its signature and version
/// checked out; the new version runs after a restart.
pub async fn install<R: Runtime>(app: &AppHandle<R>, updates: &Updates) -> Result<String, UpdateError> {
    let mut offered = updates.offered.lock().await;
    let update = offered.as_ref().ok_or(UpdateError::NothingOffered)?;
    let mut received = 0u64;
    let mut last_sent: Option<std::time::Instant> = None;
    let bytes = update
        .download(
            |chunk, total| {
                received += chunk as u64;
                // At most 10 events a second, like every progress the window shows.
                if last_sent.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) || total == Some(received) {
                    last_sent = Some(std::time::Instant::now());
                    if let Err(e) = app.emit("update-progress", UpdateProgress { received, total }) {
                        tracing::debug!(error = %e, "could not reach the window");
                    }
                }
            },
            || {},
        )
        .await?;
    update.install(bytes)?;
    let version = update.version.clone();
    tracing::info!(version, "update installed; it runs after a restart");
    *offered = None;
    Ok(version)
}

#[tauri::command]
pub async fn check_for_update<R: Runtime>(
    app: AppHandle<R>,
    updates: State<'_, Updates>,
) -> Result<Option<UpdateOffer>, UpdateError> {
    check(&app, &updates).await
}

#[tauri::command]
pub async fn install_update<R: Runtime>(app: AppHandle<R>, updates: State<'_, Updates>) -> Result<String, UpdateError> {
    install(&app, &updates).await
}

/// Start the installed (new) version.
#[tauri::command]
// Tauri's command macro hands the handle over by value.
#[allow(clippy::needless_pass_by_value)]
pub fn restart_app<R: Runtime>(app: AppHandle<R>) {
    app.restart();
}

/// Check once, a little after start, unless the person turned it off: an offer
/// becomes a notification and an `update-available` event; a failure (no
/// network, say) is only logged, since nobody asked.
pub fn check_after_start<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(FIRST_CHECK_DELAY).await;
        let Some(services) = app.try_state::<wa_app::Services>() else {
            return;
        };
        if matches!(services.app_settings().await, Ok(s) if !s.check_updates) {
            return;
        }
        let Some(updates) = app.try_state::<Updates>() else {
            return;
        };
        match check(&app, &updates).await {
            Ok(Some(offer)) => {
                crate::desktop::notify(
                    &app,
                    &format!("WhatsApp MCP Desktop {} is available", offer.version),
                    "Open About to install it. Your messages and the link to WhatsApp are kept.",
                );
                if let Err(e) = app.emit("update-available", &offer) {
                    tracing::debug!(error = %e, "could not reach the window");
                }
            }
            Ok(None) => tracing::info!("no update available"),
            Err(UpdateError::BuiltFromSource) => tracing::debug!("built from source: no update check"),
            Err(e) => tracing::info!(error = %e, "update check at start failed"),
        }
    });
}
