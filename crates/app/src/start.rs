//! The start sequence both the window and `--headless` run: open (or
//! recover) the archive, start the engine, the daily backups, the assistants'
//! channel and remote use.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use wa_engine::sim::account::SimulatedAccount;
use wa_engine::{Engine, EngineOptions};
use wa_store::{ArchiveKey, Store, StoreError};

use crate::error::AppError;
use crate::paths::Layout;
use crate::services::Services;

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

/// A title and a sentence for the person when the archive was repaired or a backup restored.
pub type Recovered = Option<(&'static str, String)>;

/// A started core, and what the desktop says about the start.
pub struct Started {
    pub services: Services,
    pub recovered: Recovered,
    /// Stops remote use when the app exits.
    pub stop_remote: CancellationToken,
}

/// Open the archive with `key`: a backup chosen in Diagnostics takes its place
/// first (the replaced one is kept), and a damaged one is set aside and
/// rebuilt (saved rows, else the newest sound backup, else a new one).
pub async fn open_archive(boot: &Boot, key: &ArchiveKey) -> Result<(Store, Recovered), StoreError> {
    let layout = Layout::in_dir(&boot.data_dir);
    let archive = layout.archive();
    let restored = wa_store::restore::apply_staged_restore(&archive)?;
    let (store, recovery) = Store::open_or_recover(&archive, &layout.backups(), key).await?;
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

/// Start the engine for this run: the real account, or in demo mode the
/// simulated phone (which the demo's buttons drive). Must be called inside Tokio.
pub async fn start_engine(
    data_dir: &std::path::Path,
    store: Store,
    demo: bool,
) -> Result<(Engine, Option<Arc<SimulatedAccount>>), AppError> {
    let options = EngineOptions::new(data_dir);
    if demo {
        let (engine, phone) = crate::demo::start(store, options).await?;
        return Ok((engine, Some(phone)));
    }
    let mut options = options;
    let account = wa_engine::real::RealAccount::open(&Layout::in_dir(data_dir).session(), store.clone()).await?;
    options.linked = account.is_linked();
    Ok((Engine::start(account, store, options), None))
}

/// On an open archive: backups, the engine, the assistants' channel and
/// remote use (when asked for).
pub async fn start_services(
    boot: &Boot,
    store: Store,
    recovered: Recovered,
    listener: crate::channel::Listener,
) -> Result<Started, AppError> {
    tokio::spawn(crate::backups::keep_daily(
        store.clone(),
        Layout::in_dir(&boot.data_dir).backups(),
    ));
    let (engine, demo_phone) = start_engine(&boot.data_dir, store.clone(), boot.demo).await?;
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
    tokio::spawn(crate::channel::serve(listener, Arc::clone(&core)));
    let stop_remote = CancellationToken::new();
    start_remote(boot, &store, core, stop_remote.clone()).await?;
    Ok(Started {
        services: Services {
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

/// Remote use (off unless `--remote` or the setting asks for it). A failure is
/// fatal when the person asked on the command line, and a warning otherwise
/// (the local channel still serves this computer's assistants).
pub async fn start_remote(
    boot: &Boot,
    store: &Store,
    core: Arc<wa_mcp::Core>,
    stop: CancellationToken,
) -> Result<(), AppError> {
    use wa_mcp::remote;
    let data_dir = &boot.data_dir;
    let started = async {
        let Some(config) = remote::RemoteConfig::load(store, data_dir, boot.remote.as_deref()).await? else {
            return Ok::<_, remote::RemoteError>(());
        };
        let listener = remote::bind(&config).await?;
        tracing::info!(
            url = %config.url(),
            token_file = %data_dir.join(remote::TOKEN_FILE).display(),
            "remote use is on"
        );
        tokio::spawn(async move {
            if let Err(e) = remote::serve(listener, config, core, stop).await {
                tracing::warn!(error = %e, "remote MCP stopped");
            }
        });
        Ok(())
    };
    match started.await {
        Ok(()) => Ok(()),
        Err(e) if boot.remote.is_some() => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "remote use is off for this run");
            Ok(())
        }
    }
}
