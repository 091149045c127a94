//! The locked start, when there is no keychain: the window shows its unlock
//! page (type a passphrase, or choose not to encrypt), the channel answers
//! assistants that the app is locked, and [`Lock::unlock`] runs the rest of
//! the start. Decisions: the passphrase is never stored (it is typed at each
//! start; a keychain is what remembers keys); "don't encrypt" is remembered
//! in the data folder ([`crate::key::choose_no_encryption`]) and offered only
//! while the archive is not encrypted yet.

use serde::Serialize;
use wa_store::{ArchiveKey, StoreError};

use crate::channel::Listener;
use crate::error::AppError;
use crate::key::{self, KeySource};
use crate::start::{Boot, Started};

/// The app waits for its passphrase (or the choice not to encrypt).
pub struct Lock {
    waiting: tokio::sync::Mutex<Option<Waiting>>,
}

struct Waiting {
    boot: Boot,
    /// Why the keychain could not give the key (for the page's small print).
    why: String,
    /// The locked answerer holds the channel; it gives it back when told.
    give_back: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Listener>,
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

/// The shortest passphrase accepted for a new archive.
pub const MIN_PASSPHRASE: usize = 8;

impl Lock {
    /// Locked: `listener` answers assistants that the app is locked until
    /// the person unlocks it in the window. Must be called inside Tokio.
    pub fn waiting(boot: Boot, listener: Listener, why: String) -> Self {
        let (give_back, stop) = tokio::sync::oneshot::channel();
        let serving = tokio::spawn(crate::channel::serve_locked(
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

    /// `None` once unlocked; what the unlock page needs otherwise.
    pub async fn info(&self) -> Option<LockInfo> {
        let waiting = self.waiting.lock().await;
        waiting.as_ref().map(|w| LockInfo {
            encrypted: key::archive_is_encrypted(&w.boot.base),
            why: w.why.clone(),
        })
    }

    /// Unlock with `passphrase`, or (`encrypt` false, only for an archive not
    /// encrypted yet) keep the archive unencrypted from now on; then start.
    /// `Ok(None)`: unlocked already (a second click). A wrong passphrase
    /// changes nothing and says so.
    pub async fn unlock(&self, passphrase: Option<String>, encrypt: bool) -> Result<Option<Started>, AppError> {
        let mut guard = self.waiting.lock().await;
        let Some(waiting) = guard.as_ref() else {
            return Ok(None);
        };
        let boot = waiting.boot.clone();
        let encrypted = key::archive_is_encrypted(&boot.base);
        let key = if encrypt {
            let passphrase = zeroize::Zeroizing::new(passphrase.unwrap_or_default());
            if !encrypted && passphrase.chars().count() < MIN_PASSPHRASE {
                return Err(AppError::Said(format!(
                    "Choose a passphrase of at least {MIN_PASSPHRASE} characters."
                )));
            }
            if passphrase.is_empty() {
                return Err(AppError::Said("Type your passphrase.".into()));
            }
            ArchiveKey::Passphrase(passphrase)
        } else {
            key::choose_no_encryption(&boot.base)?;
            ArchiveKey::None
        };
        let (store, recovered) = crate::start::open_archive(&boot, &key).await.map_err(|e| match e {
            StoreError::Locked { .. } => AppError::Said(
                "That passphrase does not open your message archive. Type the one you chose when you first \
                 started the app (capitals count)."
                    .into(),
            ),
            other => AppError::Store(other),
        })?;
        let Some(waiting) = guard.take() else {
            return Ok(None);
        };
        if waiting.give_back.send(()).is_err() {
            tracing::debug!("the locked answerer had stopped already");
        }
        let listener = waiting.serving.await.map_err(|e| {
            AppError::Said(format!(
                "The app's socket was lost while unlocking ({e}). Restart the app."
            ))
        })?;
        let source = if encrypt {
            KeySource::Typed
        } else {
            KeySource::NotEncrypted
        };
        tracing::info!(encryption = source.describe(), "archive unlocked");
        let started = crate::start::start_services(&boot, store, recovered, listener).await?;
        Ok(Some(started))
    }
}
