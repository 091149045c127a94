//! Encryption at rest: the archive (and, through the engine, the WhatsApp
//! session) is a SQLCipher database. The whole file is encrypted page by page
//! (AES-256 with an HMAC per page); without the key it is noise.
//!
//! Where the key comes from is the app's business (the OS keychain, else a
//! passphrase, else the person's explicit choice not to encrypt); this module
//! only applies it. Decisions written down here:
//! - A keychain key is 32 random bytes given to SQLCipher as a raw key (no key
//!   derivation at every connection). A passphrase goes through SQLCipher's own
//!   PBKDF2-HMAC-SHA512 (256,000 rounds) with the salt in the file.
//! - An archive from before encryption (a plain SQLite file) is encrypted the
//!   first time it is opened with a key: exported into a new encrypted file
//!   beside it, which then replaces it. Backups in the backups folder are
//!   converted the same way, so no plain copy of the messages stays behind.
//! - With a raw key, `<archive>.keyid` (a one-way fingerprint of the key, 0600)
//!   records which key locked the file. It lets the app tell "the keychain no
//!   longer has this archive's key" (never repaired: nothing is touched) from
//!   "the file is damaged" (recovered). A wrong passphrase and a damaged first
//!   page look the same to SQLCipher, so with a passphrase neither is repaired
//!   automatically.

use std::path::{Path, PathBuf};

use sqlx::Connection;
use zeroize::Zeroizing;

use crate::{Result, StoreError};

/// How the archive file is locked.
#[derive(Clone, Default)]
pub enum ArchiveKey {
    /// Not encrypted: the person's explicit choice (and most tests).
    #[default]
    None,
    /// A random 256-bit key (from the OS keychain), used as it is.
    Raw(Zeroizing<[u8; 32]>),
    /// A passphrase the person chose; SQLCipher derives the key from it.
    Passphrase(Zeroizing<String>),
}

impl std::fmt::Debug for ArchiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "ArchiveKey::None",
            Self::Raw(_) => "ArchiveKey::Raw(..)",
            Self::Passphrase(_) => "ArchiveKey::Passphrase(..)",
        })
    }
}

const KEYID_DOMAIN: &[u8] = b"whatsapp-mcp-desktop archive key id v1";

impl ArchiveKey {
    /// A raw key from its 64 hexadecimal digits (how the keychain keeps it).
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut key = Zeroizing::new([0u8; 32]);
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
        }
        Some(Self::Raw(key))
    }

    /// The raw key's 64 hexadecimal digits; `None` for the other kinds.
    pub fn to_hex(&self) -> Option<Zeroizing<String>> {
        let Self::Raw(key) = self else { return None };
        let mut hex = Zeroizing::new(String::with_capacity(64));
        push_hex(&mut hex, key.as_slice());
        Some(hex)
    }

    /// Whether files opened with this key are encrypted.
    pub fn encrypts(&self) -> bool {
        !matches!(self, Self::None)
    }

    /// What follows `PRAGMA key = ` (and SQLCipher's `ATTACH ... KEY`): a raw
    /// key as `"x'<hex>'"`, a passphrase as a quoted string literal.
    pub fn pragma_value(&self) -> Option<Zeroizing<String>> {
        match self {
            Self::None => None,
            Self::Raw(_) => self
                .to_hex()
                .map(|hex| Zeroizing::new(format!("\"x'{}'\"", hex.as_str()))),
            Self::Passphrase(p) => Some(Zeroizing::new(format!("'{}'", p.replace('\'', "''")))),
        }
    }

    /// A one-way fingerprint of a raw key (16 bytes of SHA-256 over a domain
    /// string and the key, in hex): which key locked a file, without the key.
    /// `None` for a passphrase (a fast hash would make guessing it cheaper than
    /// SQLCipher's key derivation does) and for no key.
    pub fn fingerprint(&self) -> Option<String> {
        use sha2::Digest;
        let Self::Raw(key) = self else { return None };
        let mut hash = sha2::Sha256::new();
        hash.update(KEYID_DOMAIN);
        hash.update(key.as_slice());
        let mut hex = String::with_capacity(32);
        push_hex(&mut hex, &hash.finalize()[..16]);
        Some(hex)
    }

    /// The key as a value for `ATTACH ... KEY ?`: `x'<hex>'` for a raw key,
    /// the passphrase itself otherwise.
    pub(crate) fn attach_value(&self) -> Option<Zeroizing<String>> {
        match self {
            Self::None => None,
            Self::Raw(_) => self.to_hex().map(|hex| Zeroizing::new(format!("x'{}'", hex.as_str()))),
            Self::Passphrase(p) => Some(p.clone()),
        }
    }

    /// `options` with this key applied (sqlx sends `PRAGMA key` first on every
    /// new connection, as SQLCipher requires). sqlx logs each statement it
    /// runs, the start's `PRAGMA key = ...` with the rest (at DEBUG, and at
    /// WARN when the start waits over a second for a lock or a passphrase's
    /// key derivation), and logs go into the diagnostic report: a connection
    /// that carries the key logs no statements (tests/it/secrets.rs).
    pub(crate) fn apply(&self, options: sqlx::sqlite::SqliteConnectOptions) -> sqlx::sqlite::SqliteConnectOptions {
        use sqlx::ConnectOptions as _;
        match self.pragma_value() {
            Some(value) => options.pragma("key", value.to_string()).disable_statement_logging(),
            None => options,
        }
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    use std::fmt::Write;
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
}

/// `<archive>.keyid`: which raw key locked the archive.
pub(crate) fn keyid_path(archive: &Path) -> PathBuf {
    PathBuf::from(format!("{}.keyid", archive.display()))
}

/// What `<archive>.keyid` says about `key`: `Some(false)` when it names
/// another key, `None` when there is nothing to compare.
pub(crate) fn keyid_matches(archive: &Path, key: &ArchiveKey) -> Option<bool> {
    let recorded = std::fs::read_to_string(keyid_path(archive)).ok()?;
    Some(key.fingerprint()? == recorded.trim())
}

/// Record which raw key locks `archive` (nothing for other kinds).
pub(crate) fn write_keyid(archive: &Path, key: &ArchiveKey) -> Result<()> {
    let Some(fingerprint) = key.fingerprint() else {
        return Ok(());
    };
    let path = keyid_path(archive);
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io)?;
    std::io::Write::write_all(&mut file, format!("{fingerprint}\n").as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Whether the file at `path` is a plain (unencrypted) SQLite database.
pub fn is_plain_sqlite(path: &Path) -> bool {
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

/// Encrypt the plain SQLite file at `path` in place with `key`: every table,
/// index, trigger and the search index are exported into `<path>.encrypting`
/// (SQLCipher's `sqlcipher_export`), which is synced and then renamed over the
/// original. A crash before the rename leaves the original as it was (and the
/// partial file is removed at the next try); after it, the encrypted file.
/// The `-wal` and `-shm` files are folded in and removed first.
pub async fn encrypt_in_place(path: &Path, key: &ArchiveKey) -> Result<()> {
    let Some(value) = key.attach_value() else {
        return Ok(());
    };
    let err = |e| StoreError::from_sqlx(e, path);
    let partial = PathBuf::from(format!("{}.encrypting", path.display()));
    let _ = std::fs::remove_file(&partial);
    let partial_text = partial
        .to_str()
        .ok_or_else(|| StoreError::InvalidInput(format!("The path {} is not valid text.", path.display())))?;
    let mut conn = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            // So that ATTACH may create the encrypted file.
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::from_secs(10)),
    )
    .await
    .map_err(err)?;
    // The user version travels with the file's header, not its tables.
    let user_version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut conn)
        .await
        .map_err(err)?;
    let export = async {
        sqlx::query("ATTACH DATABASE ? AS encrypted KEY ?")
            .bind(partial_text)
            .bind(value.to_string())
            .execute(&mut conn)
            .await?;
        sqlx::query("SELECT sqlcipher_export('encrypted')")
            .execute(&mut conn)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA encrypted.user_version = {user_version}"
        )))
        .execute(&mut conn)
        .await?;
        sqlx::query("DETACH DATABASE encrypted").execute(&mut conn).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
        Ok::<_, sqlx::Error>(())
    }
    .await;
    let _ = conn.close().await;
    if let Err(e) = export {
        let _ = std::fs::remove_file(&partial);
        return Err(err(e));
    }
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    crate::files::make_private(&partial).map_err(io)?;
    crate::files::sync_file(&partial).map_err(io)?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::rename(&partial, path).map_err(io)?;
    tracing::info!(path = %path.display(), "a plain archive file was encrypted");
    Ok(())
}
