//! Integrity check, online backup, and recovery of a damaged file.
//!
//! Recovery (documented in docs/ARCHITECTURE.md, "When the database is damaged"):
//! the damaged file is moved aside (never deleted), a fresh database is created
//! in its place, and every row that SQLite can still read is copied across,
//! table by table. Ranges of rows that fail to read are split in halves until
//! the unreadable rows are isolated and skipped. Chats or contacts lost while
//! their messages survived come back as placeholders that the next sync names.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sqlx::Connection;

use crate::{Result, Store, StoreError};

/// What recovering a damaged database saved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverReport {
    /// Where the damaged file was moved to.
    pub damaged_copy: Option<PathBuf>,
    /// Rows copied per table.
    pub tables: Vec<(String, u64)>,
    /// Tables that could not be read at all.
    pub unreadable_tables: Vec<String>,
    /// Row ranges skipped because they could not be read.
    pub skipped_ranges: u64,
    /// Chats and contacts recreated as placeholders for surviving messages.
    pub placeholders: u64,
}

impl RecoverReport {
    /// Messages saved.
    pub fn messages(&self) -> u64 {
        self.tables.iter().find(|(t, _)| t == "messages").map_or(0, |(_, n)| *n)
    }
}

/// Tables in an order that keeps references pointing backwards.
const TABLES: &[(&str, bool)] = &[
    ("chats", true),
    ("contacts", true),
    ("messages", true),
    ("media", true),
    ("message_changes", false),
    ("reactions", false),
    ("poll_votes", false),
    ("group_members", false),
    ("sync_checkpoints", true),
    ("sync_jobs", true),
    ("audit_log", true),
    ("settings", false),
];

impl Store {
    /// SQLite's `quick_check` (structure and pages, without matching indexes to
    /// rows): what the app runs at every start. Empty when all is well.
    pub async fn quick_check(&self) -> Result<Vec<String>> {
        let mut conn = self.fresh_connection(false).await?;
        let found = sqlx::query_scalar::<_, String>("PRAGMA quick_check")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| self.err(e));
        let _ = sqlx::Connection::close(conn).await;
        let mut problems = match found {
            Ok(problems) => problems,
            Err(e @ (StoreError::Corrupt { .. } | StoreError::NotADatabase { .. })) => vec![e.to_string()],
            Err(e) => return Err(e),
        };
        problems.retain(|p| p != "ok");
        Ok(problems)
    }

    /// SQLite's own integrity check plus the search index's; empty when all is well.
    ///
    /// Both run on a connection of their own, opened for the check: SQLite's
    /// `PRAGMA integrity_check` also runs FTS5's check, which on a long-lived
    /// pooled connection can use that connection's cached view of the index
    /// from before FTS5 merged segments, and report "corruption found reading
    /// blob" on a sound file (searches revalidate that cache; this check does not).
    pub async fn integrity_check(&self) -> Result<Vec<String>> {
        let mut conn = self.fresh_connection(self.writer().is_ok()).await?;
        let mut problems: Vec<String> = match sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| self.err(e))
        {
            Ok(problems) => problems,
            // So damaged that the check itself cannot run: that is its finding.
            Err(e @ (StoreError::Corrupt { .. } | StoreError::NotADatabase { .. })) => vec![e.to_string()],
            Err(e) => {
                let _ = sqlx::Connection::close(conn).await;
                return Err(e);
            }
        };
        problems.retain(|p| p != "ok");
        // The external-content check (index against messages) is a write
        // command, so a read-only store skips it.
        if self.writer().is_ok()
            && let Err(e) = sqlx::query("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
                .execute(&mut conn)
                .await
        {
            problems.push(format!("search index: {e}"));
        }
        let _ = sqlx::Connection::close(conn).await;
        Ok(problems)
    }

    /// The rolling backups: when the newest `messages-<time>.db` in `dir` is
    /// older than `every` (or there is none), write a new one, then keep only
    /// the newest `keep`. `now` is seconds since 1970 (a parameter so tests can
    /// move the clock). Returns the new backup, if one was made. Copies made
    /// before an upgrade (`before-upgrade-*.db`) are not counted or removed.
    pub async fn rolling_backup(
        &self,
        dir: &Path,
        keep: usize,
        every: std::time::Duration,
        now: u64,
    ) -> Result<Option<std::path::PathBuf>> {
        crate::files::create_private_dir(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut taken = rolling_backups(dir);
        if taken
            .last()
            .is_some_and(|(at, _)| now.saturating_sub(*at) < every.as_secs())
        {
            return Ok(None);
        }
        let dest = dir.join(format!("messages-{now}.db"));
        self.backup(&dest).await?;
        taken.push((now, dest.clone()));
        let excess = taken.len().saturating_sub(keep.max(1));
        for (_, old) in taken.drain(..excess) {
            if let Err(e) = std::fs::remove_file(&old) {
                tracing::warn!(path = %old.display(), error = %e, "an old backup could not be removed");
            }
        }
        Ok(Some(dest))
    }

    /// Write a consistent copy of the database to `dest` while it stays in use.
    pub async fn backup(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(StoreError::InvalidInput(format!(
                "A backup cannot overwrite {}: choose a new file name.",
                dest.display()
            )));
        }
        // Its own connection: the readers are query-only and the writer must stay free.
        let mut conn = sqlx::SqliteConnection::connect_with(
            &self.key().apply(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(self.path())
                    .busy_timeout(std::time::Duration::from_secs(10)),
            ),
        )
        .await
        .map_err(|e| self.err(e))?;
        let result = copy_into(&mut conn, dest).await;
        conn.close().await.ok();
        result
    }

    /// Move the damaged database at `path` aside and rebuild `path` from what
    /// can still be read. Returns the new store and what was saved.
    pub async fn recover(path: &Path) -> Result<(Store, RecoverReport)> {
        Self::recover_with(path, &crate::ArchiveKey::None).await
    }

    /// [`Store::recover`] for an archive locked with `key` (the new one is too).
    pub async fn recover_with(path: &Path, key: &crate::ArchiveKey) -> Result<(Store, RecoverReport)> {
        let stamp = crate::now_ms();
        let aside = path.with_extension(format!("damaged-{stamp}"));
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", path.display()));
            if from.exists() {
                let to = PathBuf::from(format!("{}{suffix}", aside.display()));
                std::fs::rename(&from, &to).map_err(|source| StoreError::Io { path: from, source })?;
            }
        }
        let store = Store::open_with(path, key).await?;
        let (store, mut report) = match store.copy_from(&aside).await {
            Ok(report) => (store, report),
            // Not even readable as a database: nothing to save. A new pool, since
            // the failed attach may have left the writer mid-setup.
            Err(StoreError::NotADatabase { .. } | StoreError::Corrupt { .. }) => {
                store.close().await;
                let report = RecoverReport {
                    unreadable_tables: TABLES.iter().map(|(t, _)| (*t).to_owned()).collect(),
                    ..RecoverReport::default()
                };
                (Store::open_with(path, key).await?, report)
            }
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        };
        report.damaged_copy = Some(aside);
        tracing::warn!(
            messages = report.messages(),
            skipped = report.skipped_ranges,
            "recovered a damaged database"
        );
        Ok((store, report))
    }

    /// Copy every readable row of the database at `damaged` into this store.
    async fn copy_from(&self, damaged: &Path) -> Result<RecoverReport> {
        // The writer pool holds the only write connection: pause it by taking it.
        let mut conn = self.writer()?.acquire().await.map_err(|e| self.err(e))?;
        let damaged_text = damaged
            .to_str()
            .ok_or_else(|| StoreError::InvalidInput(format!("The path {} is not valid text.", damaged.display())))?;
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        attach_damaged(&mut conn, damaged_text, self.key())
            .await
            .map_err(|e| StoreError::from_sqlx(e, damaged))?;
        let mut report = RecoverReport::default();
        for &(table, has_rowid) in TABLES {
            match copy_table(&mut conn, table, has_rowid, (damaged_text, self.key())).await {
                Ok((rows, skipped)) => {
                    report.tables.push((table.to_owned(), rows));
                    report.skipped_ranges += skipped;
                }
                Err(e) => {
                    tracing::warn!(table, error = %e, "table unreadable during recovery");
                    report.unreadable_tables.push(table.to_owned());
                }
            }
        }
        report.placeholders = add_placeholders(&mut conn).await.map_err(|e| self.err(e))?;
        sqlx::query("DETACH DATABASE damaged")
            .execute(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        sqlx::query("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
            .execute(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        conn.ping().await.map_err(|e| self.err(e))?;
        *self.id_cache() = crate::IdCache::default();
        Ok(report)
    }
}

/// Columns both databases have for `table`.
async fn shared_columns(conn: &mut sqlx::SqliteConnection, table: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT m.name FROM pragma_table_info(?1, 'main') m
         JOIN pragma_table_info(?1, 'damaged') d ON d.name = m.name ORDER BY m.cid",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
}

/// Copy one table; returns (rows copied, ranges skipped).
async fn copy_table(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
    has_rowid: bool,
    damaged: (&str, &crate::ArchiveKey),
) -> Result<(u64, u64), sqlx::Error> {
    let columns = shared_columns(conn, table).await?.join(", ");
    if columns.is_empty() {
        return Ok((0, 0));
    }
    let insert = format!("INSERT OR IGNORE INTO main.{table} ({columns}) SELECT {columns} FROM damaged.{table}");
    if !has_rowid {
        let done = sqlx::query(sqlx::AssertSqlSafe(insert)).execute(&mut *conn).await?;
        return Ok((done.rows_affected(), 0));
    }
    let ranged = format!("{insert} WHERE rowid BETWEEN ? AND ?");
    let mut copied = 0;
    let mut skipped = 0;
    let mut pending = vec![(i64::MIN, i64::MAX)];
    // Bound the work when nearly everything fails to read.
    let mut failures_left = 20_000u32;
    while let Some((lo, hi)) = pending.pop() {
        if failures_left == 0 {
            skipped += pending.len() as u64 + 1;
            break;
        }
        match sqlx::query(sqlx::AssertSqlSafe(ranged.clone()))
            .bind(lo)
            .bind(hi)
            .execute(&mut *conn)
            .await
        {
            Ok(done) => copied += done.rows_affected(),
            Err(e) if lo < hi => {
                reattach_after(&e, conn, damaged).await?;
                failures_left -= 1;
                let mid = ((i128::from(lo) + i128::from(hi)) >> 1) as i64;
                pending.push((mid + 1, hi));
                pending.push((lo, mid));
            }
            Err(e) => {
                reattach_after(&e, conn, damaged).await?;
                failures_left -= 1;
                skipped += 1;
            }
        }
    }
    Ok((copied, skipped))
}

/// After a page fails its check in an encrypted file, SQLCipher keeps that
/// database in an error state: attach it afresh (same key) so that the next
/// range can be read. A plain file needs nothing.
async fn reattach_after(
    error: &sqlx::Error,
    conn: &mut sqlx::SqliteConnection,
    (damaged, key): (&str, &crate::ArchiveKey),
) -> Result<(), sqlx::Error> {
    if !key.encrypts() {
        return Ok(());
    }
    tracing::debug!(error = %error, "reattaching the damaged file after a failed read");
    sqlx::query("DETACH DATABASE damaged").execute(&mut *conn).await?;
    attach_damaged(conn, damaged, key).await
}

/// ATTACH the damaged file as `damaged`, with the archive's key (SQLCipher
/// does not reliably hand a raw key on to an attachment without one).
async fn attach_damaged(
    conn: &mut sqlx::SqliteConnection,
    damaged: &str,
    key: &crate::ArchiveKey,
) -> Result<(), sqlx::Error> {
    match key.attach_value() {
        Some(value) => {
            sqlx::query("ATTACH DATABASE ? AS damaged KEY ?")
                .bind(damaged)
                .bind(value.to_string())
                .execute(&mut *conn)
                .await?
        }
        None => {
            sqlx::query("ATTACH DATABASE ? AS damaged")
                .bind(damaged)
                .execute(&mut *conn)
                .await?
        }
    };
    Ok(())
}

/// Chats and contacts that messages point to but that were lost.
async fn add_placeholders(conn: &mut sqlx::SqliteConnection) -> Result<u64, sqlx::Error> {
    let chats = sqlx::query(
        "INSERT INTO chats (id, jid, name)
         SELECT DISTINCT chat_id, 'recovered-' || chat_id || '@unknown', 'Recovered chat ' || chat_id
         FROM messages WHERE chat_id NOT IN (SELECT id FROM chats)",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let contacts = sqlx::query(
        "INSERT INTO contacts (id, jid)
         SELECT DISTINCT sender_id, 'recovered-' || sender_id || '@unknown'
         FROM messages WHERE sender_id NOT IN (SELECT id FROM contacts)",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(chats + contacts)
}

/// The backups in `dir`, oldest first, with the time each was made: the
/// rolling copies (`messages-<secs>.db`, `rolling: true`) and those made before
/// upgrades (`before-upgrade-v<N>-<secs>.db`).
pub(crate) fn backups_in(dir: &Path) -> Vec<(u64, std::path::PathBuf, bool)> {
    let mut found: Vec<(u64, std::path::PathBuf, bool)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(std::result::Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let stem = name.strip_suffix(".db")?;
                    let (secs, rolling) = match stem.strip_prefix("messages-") {
                        Some(secs) => (secs, true),
                        None => (stem.strip_prefix("before-upgrade-v")?.split_once('-')?.1, false),
                    };
                    Some((secs.parse().ok()?, e.path(), rolling))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// `messages-<secs>.db` files in `dir`, oldest first.
fn rolling_backups(dir: &Path) -> Vec<(u64, std::path::PathBuf)> {
    backups_in(dir)
        .into_iter()
        .filter(|(_, _, rolling)| *rolling)
        .map(|(secs, path, _)| (secs, path))
        .collect()
}

/// A consistent copy of the database `conn` is on, written to `dest` as a
/// whole: `VACUUM INTO` a temporary name beside it, made this user's alone
/// (0600), then renamed. So `dest` never exists half-written or readable by
/// others, even for a moment, and a crash leaves only a `.partial` file.
pub(crate) async fn copy_into<'e, E: sqlx::SqliteExecutor<'e>>(conn: E, dest: &Path) -> Result<()> {
    let partial = PathBuf::from(format!("{}.partial", dest.display()));
    let io = |source: std::io::Error| StoreError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let partial_text = partial
        .to_str()
        .ok_or_else(|| StoreError::InvalidInput(format!("The backup path {} is not valid text.", dest.display())))?;
    let _ = std::fs::remove_file(&partial);
    if let Err(e) = sqlx::query("VACUUM INTO ?").bind(partial_text).execute(conn).await {
        let _ = std::fs::remove_file(&partial);
        return Err(StoreError::from_sqlx(e, dest));
    }
    crate::files::make_private(&partial).map_err(io)?;
    std::fs::rename(&partial, dest).map_err(io)
}
