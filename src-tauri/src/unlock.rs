//! Starting the app's core once the archive's key is known, and the locked
//! state before that when there is no keychain: the window shows its unlock
//! page (type a passphrase, or choose not to encrypt), the socket answers
//! assistants that the app is locked, and the `unlock` command runs the rest
//! of the start. Decisions: the passphrase is never stored (it is typed at
//! each start; a keychain is what remembers keys); "don't encrypt" is
//! remembered in the data folder (`wa_mcp::archive_key::choose_no_encryption`)
//! and offered only while the archive is not encrypted yet.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};
use tokio_util::sync::CancellationToken;
use wa_store::{ArchiveKey, Store, StoreError};

use crate::error::Error;
use crate::{AppState, commands, desktop, engine, updates};

/// What the start needs besides the key.
#[derive(Debug, Clone)]
pub struct Boot {
    /// The data folder (the keychain's and the opt-out's scope).
    pub base: PathBuf,
    /// This mode's folder (the demo's archive sits in `base/demo`).
    pub data_dir: PathBuf,
    pub demo: bool,
    pub headless: bool,
    /// `--remote ADDRESS:PORT`, if given.
    pub remote: Option<String>,
    /// The `whatsapp-mcp` helper that assistant configs launch.
    pub helper: PathBuf,
    /// Where assistants keep their configs (the system's; tests give a folder).
    pub clients: wa_clients::Env,
}

/// A started core: the commands' state, and what the desktop says about the start.
pub struct Started {
    pub state: AppState,
    /// A title and a sentence when the archive was repaired or a backup restored.
    pub recovered: Option<(&'static str, String)>,
    pub stop_remote: CancellationToken,
}

/// Open the archive with `key`: a backup chosen in Diagnostics takes its place
/// first (the replaced one is kept), and a damaged one is set aside and
/// rebuilt (saved rows, else the newest sound backup, else a new one).
pub async fn open_archive(
    boot: &Boot,
    key: &ArchiveKey,
) -> Result<(Store, Option<(&'static str, String)>), StoreError> {
    let archive = boot.data_dir.join("messages.db");
    let restored = wa_store::restore::apply_staged_restore(&archive)?;
    let (store, recovery) = Store::open_or_recover(&archive, &boot.data_dir.join("backups"), key).await?;
    let recovered = recovery
        .map(|r| ("Your message archive was repaired", r.sentence()))
        .or_else(|| {
            restored.map(|aside| {
                (
                    "Your backup was restored",
                    format!(
                        "Your message archive was replaced by the backup you chose; messages newer than it will \
                         sync again from your phone (the archive it replaced is kept at {}).",
                        aside.display()
                    ),
                )
            })
        });
    if let Some((_, text)) = &recovered {
        tracing::warn!("{text}");
    }
    Ok((store, recovered))
}

/// On an open archive: backups, the engine, the assistants' socket and
/// remote use (when asked for).
#[cfg(unix)]
pub async fn start_services(
    boot: &Boot,
    store: Store,
    recovered: Option<(&'static str, String)>,
    listener: tokio::net::UnixListener,
) -> anyhow::Result<Started> {
    tokio::spawn(crate::keep_backups(store.clone(), boot.data_dir.join("backups")));
    let (engine, demo_phone) = engine::start(&boot.data_dir, store.clone(), boot.demo).await?;
    // With a window, "ask before sending" asks the person there; headless, nobody can answer.
    let approvals = Arc::new(wa_mcp::Approvals::new());
    approvals.set_can_ask(!boot.headless);
    let approver: Arc<dyn wa_mcp::Approver> = if boot.headless {
        Arc::new(wa_mcp::NobodyToAsk)
    } else {
        approvals.clone()
    };
    let core = wa_mcp::Core::new(store.clone(), engine.clone(), boot.data_dir.clone(), approver);
    // Assistants that point at an old copy of the app (moved or updated) follow it.
    for (client, outcome) in wa_clients::refresh_stale(&boot.clients, &boot.helper) {
        match outcome {
            Ok(_) => tracing::info!(client = client.name(), "assistant re-connected to this copy of the app"),
            Err(e) => tracing::warn!(client = client.name(), error = %e, "assistant could not be re-connected"),
        }
    }
    tokio::spawn(wa_mcp::socket::serve(listener, Arc::clone(&core)));
    let stop_remote = CancellationToken::new();
    crate::start_remote(boot, &store, core, stop_remote.clone()).await?;
    Ok(Started {
        state: AppState {
            store,
            engine,
            data_dir: boot.data_dir.clone(),
            demo: demo_phone,
            approvals,
            helper: boot.helper.clone(),
        },
        recovered,
        stop_remote,
    })
}

/// Give a started core to the window: events, approvals, the update check,
/// the start's notification, and the commands' state.
pub fn attach<R: Runtime>(app: &AppHandle<R>, started: Started) {
    let Started {
        state,
        recovered,
        stop_remote,
    } = started;
    commands::forward_engine_events(app, &state);
    commands::forward_approvals(app, &state.approvals);
    updates::check_after_start(app, state.store.clone());
    if let Some((title, text)) = &recovered {
        desktop::notify(app, title, text);
    }
    app.manage(state);
    app.manage(RemoteStop(stop_remote));
}

/// Stops remote use when the app exits.
pub struct RemoteStop(pub CancellationToken);

/// The app waits for its passphrase (or the choice not to encrypt).
pub struct Lock {
    waiting: tokio::sync::Mutex<Option<Waiting>>,
}

struct Waiting {
    boot: Boot,
    /// Why the keychain could not give the key (for the page's small print).
    why: String,
    /// The locked answerer holds the socket; it gives it back when told.
    give_back: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<tokio::net::UnixListener>,
}

/// What the unlock page shows.
#[derive(Debug, Clone, Serialize)]
pub struct LockInfo {
    /// The archive is encrypted already: type its passphrase. Otherwise the
    /// person chooses one (typed twice) or not to encrypt.
    pub encrypted: bool,
    /// Why the keychain is not used, in the person's words where possible.
    pub why: String,
}

/// Assistants that connect while the app is locked are told so.
const LOCKED_FOR_ASSISTANTS: &str = "WhatsApp MCP Desktop is locked: open its window on this computer and type \
     your passphrase, then try again.";

impl Lock {
    /// Locked: `listener` answers assistants that the app is locked until
    /// the person unlocks it in the window. Must be called inside Tokio.
    #[cfg(unix)]
    pub fn waiting(boot: Boot, listener: tokio::net::UnixListener, why: String) -> Self {
        let (give_back, stop) = tokio::sync::oneshot::channel();
        let serving = tokio::spawn(wa_mcp::socket::serve_locked(
            listener,
            LOCKED_FOR_ASSISTANTS.to_owned(),
            stop,
        ));
        Self {
            waiting: tokio::sync::Mutex::new(Some(Waiting {
                boot,
                why,
                give_back,
                serving,
            })),
        }
    }
}

/// `null` when the app is running; what the unlock page needs otherwise.
#[tauri::command]
pub async fn lock_state<R: Runtime>(app: AppHandle<R>) -> Result<Option<LockInfo>, Error> {
    let Some(lock) = app.try_state::<Lock>() else {
        return Ok(None);
    };
    let waiting = lock.waiting.lock().await;
    Ok(waiting.as_ref().map(|w| LockInfo {
        encrypted: wa_mcp::archive_key::archive_is_encrypted(&w.boot.base),
        why: w.why.clone(),
    }))
}

/// The shortest passphrase accepted for a new archive.
const MIN_PASSPHRASE: usize = 8;

/// Unlock with `passphrase`, or (`encrypt` false, only for an archive not
/// encrypted yet) keep the archive unencrypted from now on; then start.
#[tauri::command]
pub async fn unlock<R: Runtime>(app: AppHandle<R>, passphrase: Option<String>, encrypt: bool) -> Result<(), Error> {
    let Some(lock) = app.try_state::<Lock>() else {
        return Ok(());
    };
    let mut guard = lock.waiting.lock().await;
    let Some(waiting) = guard.as_ref() else {
        // Unlocked already (a second click).
        return Ok(());
    };
    let boot = waiting.boot.clone();
    let encrypted = wa_mcp::archive_key::archive_is_encrypted(&boot.base);
    let key = if encrypt {
        let passphrase = zeroize::Zeroizing::new(passphrase.unwrap_or_default());
        if !encrypted && passphrase.chars().count() < MIN_PASSPHRASE {
            return Err(Error::Said(format!(
                "Choose a passphrase of at least {MIN_PASSPHRASE} characters."
            )));
        }
        if passphrase.is_empty() {
            return Err(Error::Said("Type your passphrase.".into()));
        }
        ArchiveKey::Passphrase(passphrase)
    } else {
        wa_mcp::archive_key::choose_no_encryption(&boot.base).map_err(|e| Error::Said(e.to_string()))?;
        ArchiveKey::None
    };
    let (store, recovered) = open_archive(&boot, &key).await.map_err(|e| match e {
        StoreError::Locked { .. } => Error::Said(
            "That passphrase does not open your message archive. Type the one you chose when you first \
             started the app (capitals count)."
                .into(),
        ),
        other => Error::Store(other),
    })?;
    let Some(waiting) = guard.take() else {
        return Ok(());
    };
    let _ = waiting.give_back.send(());
    let listener = waiting.serving.await.map_err(|e| {
        Error::Said(format!(
            "The app's socket was lost while unlocking ({e}). Restart the app."
        ))
    })?;
    let source = if encrypt {
        wa_mcp::archive_key::KeySource::Typed
    } else {
        wa_mcp::archive_key::KeySource::NotEncrypted
    };
    tracing::info!(encryption = source.describe(), "archive unlocked");
    let started = start_services(&boot, store, recovered, listener)
        .await
        .map_err(|e| Error::Said(format!("{e:#}")))?;
    attach(&app, started);
    Ok(())
}
