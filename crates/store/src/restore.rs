//! Restoring a backup the person chose (Diagnostics > Backups).
//!
//! The archive is in use while the app runs, so a restore happens in two
//! steps, each safe to interrupt:
//! 1. [`stage_restore`] (app running): the chosen backup is checked (it opens
//!    with the archive's key and passes `quick_check`) and copied to
//!    `<archive>.restore` (written under a temporary name, synced, renamed).
//!    A backup that does not pass is refused and nothing changes.
//! 2. [`apply_staged_restore`] (next start, before the archive is opened): the
//!    current archive is kept aside as `<name>.before-restore-<ms>` (never
//!    deleted) and the staged copy takes its place; both are renames.
//!
//! Messages newer than the backup come back as the phone syncs them.

use std::path::{Path, PathBuf};

use crate::{ArchiveKey, Result, Store, StoreError};

/// A backup in the backups folder, as Diagnostics lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupInfo {
    pub path: PathBuf,
    /// When it was made, seconds since 1970 (from its name).
    pub made_at_secs: u64,
    /// `daily` (the rolling copies and "Back up now") or `before-upgrade`.
    pub kind: &'static str,
    pub bytes: u64,
    /// Messages in it; `None` when it cannot be opened (damaged, or another key).
    pub messages: Option<i64>,
}

/// The backups in `dir`, newest first, each opened (read-only, with `key`) to
/// count its messages.
pub async fn list_backups(dir: &Path, key: &ArchiveKey) -> Vec<BackupInfo> {
    let mut found = Vec::new();
    for (secs, path, rolling) in crate::maintenance::backups_in(dir).into_iter().rev() {
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        let messages = match Store::open_read_only_with(&path, key).await {
            Ok(store) => {
                let n = store.statistics().await.ok().map(|s| s.messages);
                store.close().await;
                n
            }
            Err(_) => None,
        };
        found.push(BackupInfo {
            path,
            made_at_secs: secs,
            kind: if rolling { "daily" } else { "before-upgrade" },
            bytes,
            messages,
        });
    }
    found
}

/// Whether `path` is one of the backups in `dir` (by name; nothing is opened).
pub fn is_listed(dir: &Path, path: &Path) -> bool {
    crate::maintenance::backups_in(dir)
        .iter()
        .any(|(_, listed, _)| listed == path)
}

/// Where a restore waits for the next start.
pub fn staged_path(archive: &Path) -> PathBuf {
    PathBuf::from(format!("{}.restore", archive.display()))
}

/// Step 1: check `backup` and stage it to replace `archive` at the next start.
/// Returns the number of messages it holds.
pub async fn stage_restore(archive: &Path, backup: &Path, key: &ArchiveKey) -> Result<i64> {
    let unusable = |detail: String| {
        StoreError::InvalidInput(format!(
            "The backup {} cannot be restored: {detail} Your archive was not changed; choose another backup.",
            backup.display()
        ))
    };
    let store = Store::open_read_only_with(backup, key)
        .await
        .map_err(|e| unusable(format!("it does not open ({e}).")))?;
    let checked = store.quick_check().await;
    let messages = store.statistics().await.map(|s| s.messages);
    store.close().await;
    match checked {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => return Err(unusable(format!("it is damaged ({}).", problems.join("; ")))),
        Err(e) => return Err(unusable(format!("it could not be checked ({e})."))),
    }
    let messages = messages.map_err(|e| unusable(format!("it could not be read ({e}).")))?;
    let staged = staged_path(archive);
    let partial = PathBuf::from(format!("{}.partial", staged.display()));
    let io = |source| StoreError::Io {
        path: staged.clone(),
        source,
    };
    let _ = std::fs::remove_file(&partial);
    let copied = std::fs::copy(backup, &partial).and_then(|_| {
        crate::files::make_private(&partial)?;
        crate::files::sync_file(&partial)
    });
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(if e.raw_os_error() == Some(28) {
            StoreError::DiskFull { path: staged }
        } else {
            io(e)
        });
    }
    std::fs::rename(&partial, &staged).map_err(io)?;
    tracing::info!(backup = %backup.display(), messages, "a backup is staged to be restored at the next start");
    Ok(messages)
}

/// Step 2, at start before the archive is opened: put a staged backup in
/// place. Returns where the replaced archive was kept, when there was one.
pub fn apply_staged_restore(archive: &Path) -> Result<Option<PathBuf>> {
    let staged = staged_path(archive);
    if !staged.exists() {
        return Ok(None);
    }
    let aside = archive.with_extension(format!("before-restore-{}", crate::now_ms()));
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|source| StoreError::Io {
            path: from.to_path_buf(),
            source,
        })
    };
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", archive.display()));
        if from.exists() {
            rename(&from, &PathBuf::from(format!("{}{suffix}", aside.display())))?;
        }
    }
    rename(&staged, archive)?;
    tracing::warn!(kept = %aside.display(), "a chosen backup replaced the archive");
    Ok(Some(aside))
}
