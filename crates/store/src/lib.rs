//! The message store of WhatsApp MCP Desktop: one SQLite file per linked account.
//!
//! It holds chats, contacts, messages (with edits, revokes, reactions, polls and
//! media metadata), full-text search, sync checkpoints and jobs, the audit log of
//! assistant actions and settings, behind a typed async API.
//!
//! Invariants:
//! - It knows nothing of WhatsApp's wire format or of Tauri. Addresses typed by people
//!   are checked once into a [`Jid`] (`jid`); stored ones are kept as WhatsApp gave them.
//! - A message's identity is WhatsApp's key (chat, message id, sender): every write
//!   is an idempotent upsert, so re-delivery in any order never duplicates or reverts.
//! - Message ids (`messages.id`) are time-ordered (`ts * 4096 + slot`), which is what
//!   makes "newest matches first" searches fast (see `search`).
//! - One writer connection, several readers (WAL). Files are the user's alone (0600 in 0700).

mod audit;
pub mod cipher;
mod error;
mod files;
mod ingest;
pub mod jid;
mod jobs;
mod lharries;
mod maintenance;
mod model;
mod open;
mod query;
mod recovery;
pub mod restore;
mod scope;
mod search;
pub use search::SearchQuery;
pub mod segment;
mod settings;

pub use audit::{AuditEntry, Decision};
pub use cipher::ArchiveKey;
pub use error::{Result, StoreError};
pub use jid::{Jid, JidError, JidKind};
pub use jobs::{ChatReach, Checkpoint, CheckpointState, JobKind, JobState, SyncJob};
pub use lharries::ImportReport;
pub use maintenance::RecoverReport;
pub use model::ChatScope;
pub use model::*;
pub use recovery::Recovery;
pub use settings::Settings;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sqlx::SqlitePool;

/// The schema migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A handle on one message database. Cheap to clone; all clones share the pools.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    key: ArchiveKey,
    /// Exactly one connection: SQLite allows one writer at a time anyway, and a
    /// single connection keeps transactions from waiting on each other's locks.
    writer: Option<SqlitePool>,
    reader: SqlitePool,
    /// JID -> row id of chats and contacts that are committed. Ids never change.
    ids: Mutex<IdCache>,
}

#[derive(Default)]
struct IdCache {
    chats: HashMap<String, i64>,
    contacts: HashMap<String, i64>,
    /// Push names known to be stored, so a sender's name is written once.
    push_names: HashMap<i64, String>,
    /// LID -> phone-number JID (the `lid_map` table), read at the first batch.
    lids: Option<HashMap<String, String>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("read_only", &self.inner.writer.is_none())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Open (creating if needed) the database at `path`, bringing its schema up to date.
    /// Not encrypted; see [`Store::open_with`].
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        open::open(path.as_ref(), open::Mode::ReadWrite, &ArchiveKey::None).await
    }

    /// Open (creating if needed) the database at `path` locked with `key`,
    /// bringing its schema up to date. A plain file from before encryption is
    /// encrypted first (see [`cipher`]).
    pub async fn open_with(path: impl AsRef<Path>, key: &ArchiveKey) -> Result<Self> {
        open::open(path.as_ref(), open::Mode::ReadWrite, key).await
    }

    /// Open an existing, unencrypted database for reading only (no migration, no writes).
    pub async fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        open::open(path.as_ref(), open::Mode::ReadOnly, &ArchiveKey::None).await
    }

    /// Open an existing database locked with `key` (or a plain one) for reading only.
    pub async fn open_read_only_with(path: impl AsRef<Path>, key: &ArchiveKey) -> Result<Self> {
        open::open(path.as_ref(), open::Mode::ReadOnly, key).await
    }

    /// Whether the file is encrypted (opened with a key).
    pub fn encrypted(&self) -> bool {
        self.inner.key.encrypts()
    }

    /// The key the archive is locked with: the engine locks WhatsApp's
    /// session file with the same one.
    pub fn key(&self) -> &ArchiveKey {
        &self.inner.key
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Close every connection, checkpointing the WAL into the main file.
    pub async fn close(&self) {
        // Readers first: only the last connection to close folds the WAL into the
        // file, and a read-only connection cannot.
        self.inner.reader.close().await;
        if let Some(writer) = &self.inner.writer {
            writer.close().await;
        }
    }

    pub(crate) fn writer(&self) -> Result<&SqlitePool> {
        self.inner.writer.as_ref().ok_or_else(|| StoreError::ReadOnly {
            path: self.inner.path.clone(),
        })
    }

    /// A new connection outside the pools, for checks that must see the file
    /// rather than a long-lived connection's caches. Close it after use.
    pub(crate) async fn fresh_connection(&self, writable: bool) -> Result<sqlx::SqliteConnection> {
        use sqlx::ConnectOptions;
        self.inner
            .key
            .apply(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&self.inner.path)
                    .read_only(!writable)
                    .busy_timeout(std::time::Duration::from_secs(10)),
            )
            .connect()
            .await
            .map_err(|e| self.err(e))
    }

    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.inner.reader
    }

    /// The committed id cache. A panic elsewhere cannot make it wrong (it only
    /// ever holds committed ids), so a poisoned lock is used as it is.
    pub(crate) fn id_cache(&self) -> std::sync::MutexGuard<'_, IdCache> {
        self.inner.ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Turn an sqlx error into a [`StoreError`] about this database.
    pub(crate) fn err(&self, err: sqlx::Error) -> StoreError {
        StoreError::from_sqlx(err, &self.inner.path)
    }

    /// Schema version of the database (the newest applied migration).
    pub async fn schema_version(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(self.reader())
            .await
            .map_err(|e| self.err(e))
    }
}

/// The newest schema version this build knows.
pub fn latest_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Milliseconds since the Unix epoch, now: the one wall clock of the programs
/// (the store is the lowest crate; the engine, the MCP layer and the app read
/// it from here, so "now" means the same everywhere and tests can find every
/// reader of the clock by this name).
/// 0 if the system clock is before 1970.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
