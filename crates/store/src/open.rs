//! Opening a database: permissions, sanity checks, pragmas, migrations.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::cipher::{self, ArchiveKey};
use crate::{IdCache, Inner, MIGRATOR, Result, Store, StoreError, latest_schema_version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    ReadWrite,
    ReadOnly,
}

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const READERS: u32 = 4;
/// "No space left on device" (Linux, macOS: 28).
const ENOSPC: i32 = 28;
/// "Read-only file system" (Linux, macOS: 30).
const EROFS: i32 = 30;

pub(crate) async fn open(path: &Path, mode: Mode, key: &ArchiveKey) -> Result<Store> {
    let path = absolute(path)?;
    if mode == Mode::ReadWrite {
        prepare_files(&path)?;
    } else if !path.exists() {
        return Err(StoreError::CannotOpen {
            path,
            detail: "the file does not exist".into(),
        });
    }
    let mut key = key.clone();
    // Nothing stored yet (not in the file, not in its write-ahead log): a
    // `.keyid` beside it is left from an archive deleted earlier, not this one's.
    let new_file = is_empty(&path) && is_empty(Path::new(&format!("{}-wal", path.display())));
    let recorded = if new_file {
        None
    } else {
        cipher::keyid_matches(&path, &key)
    };
    if !key.encrypts() {
        check_header(&path)?;
    } else if cipher::is_plain_sqlite(&path) {
        if mode == Mode::ReadWrite {
            // An archive from before encryption: encrypted now, once.
            cipher::encrypt_in_place(&path, &key).await?;
        } else {
            // Reading only, it is read as it is; the app encrypts it.
            key = ArchiveKey::None;
        }
    } else if recorded == Some(false) {
        return Err(StoreError::Locked {
            path,
            reason: LOCKED_OTHER_KEY.into(),
        });
    }
    let store = connect(path.clone(), mode, key.clone()).await.map_err(|e| match e {
        StoreError::NotADatabase { path } if matches!(key, ArchiveKey::Passphrase(_)) => StoreError::Locked {
            path,
            reason: LOCKED_PASSPHRASE.into(),
        },
        // The header said SQLite (or the key is the one that locked the file),
        // so "not a database" now means its inside is damaged.
        StoreError::NotADatabase { path } => StoreError::Corrupt {
            path,
            detail: "its internal structure is damaged".into(),
        },
        other => other,
    })?;
    if mode == Mode::ReadWrite && key.encrypts() && recorded.is_none() {
        cipher::write_keyid(&path, &key)?;
    }
    Ok(store)
}

/// Whether the file at `path` is absent or empty.
fn is_empty(path: &Path) -> bool {
    std::fs::metadata(path).map_or(true, |m| m.len() == 0)
}

const LOCKED_OTHER_KEY: &str = "it was locked with a key that this computer's keychain no longer holds \
     (the keychain was reset, or the data folder comes from another computer or user account).";
const LOCKED_PASSPHRASE: &str = "the passphrase is not the one it was locked with, or the file is damaged.";

async fn connect(path: std::path::PathBuf, mode: Mode, key: ArchiveKey) -> Result<Store> {
    let base = key.apply(
        SqliteConnectOptions::new()
            .filename(&path)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // sqlx's default is 100 statements; ingest builds a few more shapes.
            .statement_cache_capacity(256),
    );

    let writer = if mode == Mode::ReadWrite {
        let options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a power cut may lose the last transactions but
            // never corrupts the file; an application crash loses nothing.
            .synchronous(SqliteSynchronous::Normal)
            .pragma("temp_store", "memory")
            // Encrypted, every page read from disk is decrypted and checked:
            // a larger cache (filled only as an archive grows) keeps ingest
            // within 20% of a plain archive (docs/benchmarks.md).
            .pragma("cache_size", if key.encrypts() { "-128000" } else { "-32000" });
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(BUSY_TIMEOUT * 3)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::from_sqlx(e, &path))?;
        let found = check_not_newer(&pool, &path).await?;
        if let Some(older) = found.filter(|v| *v < latest_schema_version()) {
            backup_before_upgrade(&pool, &path, older).await?;
        }
        run_migrations(&pool, &path).await?;
        Some(pool)
    } else {
        None
    };

    let reader = SqlitePoolOptions::new()
        .max_connections(READERS)
        .connect_with(
            base.read_only(true)
                .pragma("cache_size", if key.encrypts() { "-32000" } else { "-16000" })
                .pragma("query_only", "1"),
        )
        .await
        .map_err(|e| StoreError::from_sqlx(e, &path))?;
    if writer.is_none() {
        check_not_newer(&reader, &path).await?;
    }

    tracing::debug!(path = %path.display(), ?mode, "store opened");
    let store = Store {
        inner: Arc::new(Inner {
            path,
            key,
            writer,
            reader,
            ids: Mutex::new(IdCache::default()),
        }),
    };
    if mode == Mode::ReadWrite {
        store.merge_split_people().await?;
    }
    Ok(store)
}

fn absolute(path: &Path) -> Result<std::path::PathBuf> {
    std::path::absolute(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Make the folder (0700) and the file (0600) before SQLite does, so the data is
/// never readable by other users, even for a moment. SQLite gives the -wal and
/// -shm files the main file's permissions.
fn prepare_files(path: &Path) -> Result<()> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::create_dir_all(dir).map_err(io)?;
        restrict(dir, 0o700).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    if path.exists() {
        // A read-only file or file system: say so before SQLite says something vaguer.
        options.write(true);
    } else {
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    match options.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(EROFS) => {
            return Err(StoreError::ReadOnly {
                path: path.to_path_buf(),
            });
        }
        Err(e) if e.raw_os_error() == Some(ENOSPC) => {
            return Err(StoreError::DiskFull {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io(e)),
    }
    // Tighten a file an older version or another tool left readable.
    restrict(path, 0o600).map_err(io)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode)) {
            // A file we may read but not own (read-only copy): leave it as it is.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            other => other?,
        }
    }
    Ok(())
}

/// Windows: files take the access list of their folder, which the app makes
/// the user's alone when it creates the data folder (wa-app's `user_only`).
#[cfg(not(unix))]
#[allow(clippy::unnecessary_wraps)] // the Unix twin can fail; callers handle both alike
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Refuse a non-empty file that does not start with SQLite's header, before
/// SQLite gets to say something less clear about it.
fn check_header(path: &Path) -> Result<()> {
    let mut header = [0u8; 16];
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(StoreError::CannotOpen {
                path: path.to_path_buf(),
                detail: "permission denied: the file belongs to another user".into(),
            });
        }
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let read = file.read(&mut header).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if read == 0 {
        return Ok(());
    }
    if read < header.len() || &header != SQLITE_HEADER {
        return Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// A database touched by a newer app has migrations this build does not know.
/// Returns the schema version found (`None` for a new, empty database).
async fn check_not_newer(pool: &sqlx::SqlitePool, path: &Path) -> Result<Option<i64>> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| StoreError::from_sqlx(e, path))?;
    if !has_table {
        return Ok(None);
    }
    let found: i64 = sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await
        .map_err(|e| StoreError::from_sqlx(e, path))?;
    let known = latest_schema_version();
    if found > known {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    Ok(Some(found))
}

/// Before a schema upgrade: a copy of the archive as it was, in
/// `backups/before-upgrade-v<version>-<time>.db` beside it (0600). If the copy
/// cannot be made, nothing is upgraded: an archive is never changed without one.
async fn backup_before_upgrade(pool: &sqlx::SqlitePool, path: &Path, version: i64) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new(".")).join("backups");
    let secs = crate::now_ms() / 1000;
    let dest = dir.join(format!("before-upgrade-v{version}-{secs}.db"));
    let failed = |detail: String| StoreError::BackupFailed {
        path: dest.clone(),
        detail,
    };
    crate::files::create_private_dir(&dir).map_err(|e| failed(e.to_string()))?;
    crate::maintenance::copy_into(pool, &dest)
        .await
        .map_err(|e| failed(e.to_string()))?;
    tracing::info!(backup = %dest.display(), from = version, "archive backed up before its upgrade");
    Ok(())
}

async fn run_migrations(pool: &sqlx::SqlitePool, path: &Path) -> Result<()> {
    MIGRATOR.run(pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::Execute(inner) => StoreError::from_sqlx(inner, path),
        other => StoreError::Migrate(other),
    })
}
