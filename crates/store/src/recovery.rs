//! Opening the archive at the app's start, mending it when it is damaged.
//!
//! A damaged file (not a database any more, a broken structure, or pages that
//! fail SQLite's `quick_check`) is set aside, never deleted. What it still
//! holds is saved into a new archive ([`Store::recover`], `.recover`-style);
//! when nothing can be saved from it, the newest sound backup is restored
//! instead; when there is none, a new archive is started. The person is told
//! what happened in one sentence, and history syncs again from the phone.

use std::path::{Path, PathBuf};

use crate::ArchiveKey;
use crate::{Result, Store, StoreError};

/// What was done about a damaged archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Messages were saved from the damaged file into a new archive.
    Salvaged { messages: u64, damaged_kept_at: PathBuf },
    /// Nothing could be saved from it: the backup made at `backup_secs` was restored.
    Restored {
        backup: PathBuf,
        backup_secs: u64,
        damaged_kept_at: PathBuf,
    },
    /// Nothing could be saved and no backup was sound: a new archive.
    Fresh { damaged_kept_at: PathBuf },
}

impl Recovery {
    /// One sentence for the person.
    pub fn sentence(&self) -> String {
        match self {
            Self::Salvaged {
                messages,
                damaged_kept_at,
            } => format!(
                "Your message archive was damaged: {messages} messages were saved into a new one, and anything \
                 missing will sync again from your phone (the damaged file is kept at {}).",
                damaged_kept_at.display()
            ),
            Self::Restored {
                backup,
                damaged_kept_at,
                ..
            } => format!(
                "Your message archive was damaged beyond repair, so the backup {} was restored; newer messages \
                 will sync again from your phone (the damaged file is kept at {}).",
                backup
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                damaged_kept_at.display()
            ),
            Self::Fresh { damaged_kept_at } => format!(
                "Your message archive was damaged beyond repair and no backup could be used, so a new one was \
                 started; your history will sync again from your phone (the damaged file is kept at {}).",
                damaged_kept_at.display()
            ),
        }
    }
}

fn is_damage(e: &StoreError) -> bool {
    matches!(e, StoreError::NotADatabase { .. } | StoreError::Corrupt { .. })
}

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

impl Store {
    /// The app's way to open its archive: [`Store::open`] plus SQLite's
    /// `quick_check`, and when the file is damaged, the recovery described in
    /// this module. Other errors (disk full, read-only, newer schema) are
    /// returned as they are: recovery cannot help with those.
    ///
    /// With a key, plain backups left from before encryption are encrypted too.
    pub async fn open_or_recover(path: &Path, backups: &Path, key: &ArchiveKey) -> Result<(Store, Option<Recovery>)> {
        let damage = match Store::open_with(path, key).await {
            Ok(store) => match store.quick_check().await {
                Ok(problems) if problems.is_empty() => {
                    encrypt_plain_backups(backups, key).await;
                    return Ok((store, None));
                }
                Ok(problems) => {
                    tracing::warn!(problems = problems.len(), "the archive failed its check at start");
                    store.close().await;
                    problems.join("; ")
                }
                Err(e) if is_damage(&e) => {
                    store.close().await;
                    e.to_string()
                }
                Err(e) => return Err(e),
            },
            Err(e) if is_damage(&e) => e.to_string(),
            Err(e) => return Err(e),
        };
        tracing::warn!(damage = %damage, "the archive is damaged: recovering");
        let (store, report) = Store::recover_with(path, key).await?;
        let damaged_kept_at = report.damaged_copy.clone().unwrap_or_default();
        if report.messages() > 0 {
            return Ok((
                store,
                Some(Recovery::Salvaged {
                    messages: report.messages(),
                    damaged_kept_at,
                }),
            ));
        }
        // Nothing saved: the newest backup that opens and checks clean.
        store.close().await;
        for (secs, backup, _) in crate::maintenance::backups_in(backups).into_iter().rev() {
            remove_database(path);
            if let Err(e) = std::fs::copy(&backup, path) {
                tracing::warn!(error = %e, backup = %backup.display(), "a backup could not be copied");
                continue;
            }
            let _ = crate::files::make_private(path);
            match Store::open_with(path, key).await {
                Ok(restored) => match restored.quick_check().await {
                    Ok(problems) if problems.is_empty() => {
                        return Ok((
                            restored,
                            Some(Recovery::Restored {
                                backup,
                                backup_secs: secs,
                                damaged_kept_at,
                            }),
                        ));
                    }
                    _ => restored.close().await,
                },
                Err(e) => tracing::warn!(error = %e, backup = %backup.display(), "a backup is not usable"),
            }
        }
        remove_database(path);
        let store = Store::open_with(path, key).await?;
        Ok((store, Some(Recovery::Fresh { damaged_kept_at })))
    }
}

/// Backups from before encryption, encrypted with `key` (a failure is logged
/// and tried again at the next start).
async fn encrypt_plain_backups(backups: &Path, key: &ArchiveKey) {
    if !key.encrypts() {
        return;
    }
    for (_, backup, _) in crate::maintenance::backups_in(backups) {
        if crate::cipher::is_plain_sqlite(&backup)
            && let Err(e) = crate::cipher::encrypt_in_place(&backup, key).await
        {
            tracing::warn!(error = %e, backup = %backup.display(), "a backup could not be encrypted");
        }
    }
}
