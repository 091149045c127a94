//! The unlock page's commands (see `wa_app::lock` for the locked start).

use tauri::{AppHandle, Manager, Runtime};
use wa_app::lock::{Lock, LockInfo};

use crate::error::Error;

/// `null` when the app is running; what the unlock page needs otherwise.
#[tauri::command]
pub async fn lock_state<R: Runtime>(app: AppHandle<R>) -> Result<Option<LockInfo>, Error> {
    let Some(lock) = app.try_state::<Lock>() else {
        return Ok(None);
    };
    Ok(lock.info().await)
}

/// Unlock with `passphrase`, or (`encrypt` false, only for an archive not
/// encrypted yet) keep the archive unencrypted from now on; then start.
#[tauri::command]
pub async fn unlock<R: Runtime>(app: AppHandle<R>, passphrase: Option<String>, encrypt: bool) -> Result<(), Error> {
    let Some(lock) = app.try_state::<Lock>() else {
        return Ok(());
    };
    if let Some(started) = lock.unlock(passphrase, encrypt).await? {
        crate::events::attach(&app, started);
    }
    Ok(())
}
