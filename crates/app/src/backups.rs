//! Copies of the archive: the daily rolling copy, "Back up now", and putting
//! a chosen backup back (staged now, swapped in at the next start; see
//! `wa_store::restore`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use wa_store::Store;
use wa_store::restore::BackupInfo;

use crate::error::AppError;
use crate::services::Services;

/// Rolling backups kept.
const KEEP: usize = 7;
/// One rolling backup a day.
const EVERY: Duration = Duration::from_hours(24);

/// Rolling backups of the archive: one a day, the newest [`KEEP`] kept, in
/// `<data>/backups` (next to the copies made before upgrades and by "Back up
/// now"). Checked at start and every 6 hours, so a computer that sleeps a lot
/// still gets its daily copy. Runs until the app stops.
pub async fn keep_daily(store: Store, dir: PathBuf) {
    // Let the start (linking, the first sync) go first.
    tokio::time::sleep(Duration::from_secs(20)).await;
    loop {
        let now = u64::try_from(wa_store::now_ms() / 1000).unwrap_or(0);
        match store.rolling_backup(&dir, KEEP, EVERY, now).await {
            Ok(Some(path)) => tracing::info!(backup = %path.display(), "daily backup of the archive written"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the daily backup could not be written"),
        }
        tokio::time::sleep(Duration::from_hours(6)).await;
    }
}

impl Services {
    /// A backup now, in the backups folder; the sentence says where.
    pub async fn backup_now(&self) -> Result<String, AppError> {
        let dir = self.layout().backups();
        std::fs::create_dir_all(&dir)?;
        let dest = dir.join(format!("messages-{}.db", wa_store::now_ms() / 1000));
        self.store.backup(&dest).await?;
        Ok(format!("Backed up to {}.", dest.display()))
    }

    /// The backups Diagnostics offers to restore, newest first, with what each holds.
    pub async fn list_backups(&self) -> Vec<BackupInfo> {
        wa_store::restore::list_backups(&self.layout().backups(), self.store.key()).await
    }

    /// Stage `chosen` to replace the archive at the next start (the caller
    /// restarts the app). Only a file the backups folder lists is accepted,
    /// whatever path the page sends. The sentence says what happens next.
    pub async fn stage_restore(&self, chosen: &Path) -> Result<String, AppError> {
        let layout = self.layout();
        if !wa_store::restore::is_listed(&layout.backups(), chosen) {
            return Err(AppError::Said(
                "That backup is no longer in the backups folder; open Diagnostics again to see the list.".into(),
            ));
        }
        let messages = wa_store::restore::stage_restore(&layout.archive(), chosen, self.store.key()).await?;
        Ok(format!(
            "The backup with {messages} messages will replace your archive: the app restarts now."
        ))
    }
}
