//! Where the key of the encrypted archive comes from (see `wa_store::cipher`
//! for what it locks). Decisions:
//! 1. The OS keychain (Secret Service on Linux, Keychain on macOS, Credential
//!    Manager on Windows) keeps a random 256-bit key, created at the first
//!    start. Nothing to type, nothing to forget; the key never touches the disk
//!    in clear.
//! 2. Where there is no keychain (a server, a bare window manager), or the
//!    person turned it off (`WHATSAPP_MCP_KEYCHAIN=off`): a passphrase of the
//!    person's own, typed in the window at each start (the app's unlock page),
//!    or set in `WHATSAPP_MCP_PASSPHRASE` (headless).
//! 3. Or the explicit choice not to encrypt: the unlock page's "Don't
//!    encrypt" (remembered as the file `encryption-off` in the data folder),
//!    or `WHATSAPP_MCP_ENCRYPTION=off`. It applies to an archive that is not
//!    encrypted yet; an encrypted one is never decrypted behind the person's back.
//!
//! Headless without any of these the app does not start, and says the ways in
//! one message. An encrypted archive whose key the keychain no longer has is
//! never given a new key: that would make it unreadable for good.

use std::path::Path;

use wa_store::ArchiveKey;

/// The keychain entry: service and account name.
const SERVICE: &str = "WhatsApp MCP Desktop";
const ACCOUNT: &str = "message-archive-key";
/// In the data folder: the person chose not to encrypt (the unlock page).
pub const ENCRYPTION_OFF_FILE: &str = "encryption-off";

/// Where the archive's key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The OS keychain; `created` at this start.
    Keychain { created: bool },
    /// `WHATSAPP_MCP_PASSPHRASE`.
    Passphrase,
    /// A passphrase typed in the app's unlock page.
    Typed,
    /// Not encrypted, by choice (`WHATSAPP_MCP_ENCRYPTION=off`, or the unlock page).
    NotEncrypted,
}

impl KeySource {
    /// For the diagnostic report and the log.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Keychain { .. } => "encrypted, key in the system keychain",
            Self::Passphrase => "encrypted with your passphrase (WHATSAPP_MCP_PASSPHRASE)",
            Self::Typed => "encrypted with the passphrase typed at start",
            Self::NotEncrypted => "not encrypted (your choice)",
        }
    }
}

/// Why there is no key, in words for the person.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "Your messages are kept encrypted, and this computer has no keychain to hold the key ({detail}). \
         Either start a keychain (on Linux the Secret Service: GNOME Keyring or KWallet) and open the app \
         again; or open it with a window, which asks for a passphrase of your own; or set \
         WHATSAPP_MCP_PASSPHRASE to one; or set WHATSAPP_MCP_ENCRYPTION=off to keep the archive unencrypted."
    )]
    NoKeychain { detail: String },

    #[error(
        "Your message archive is encrypted, but the system keychain has no key for it (it may have been \
         reset, or this data folder comes from another computer). Nothing was changed. Restore the keychain \
         (or set WHATSAPP_MCP_PASSPHRASE if you locked it with a passphrase), or move the data folder \
         {data_dir} aside to start again."
    )]
    KeyMissing { data_dir: String },

    #[error("The system keychain's entry for the archive key is not a key ({0}). Nothing was changed.")]
    Damaged(String),

    #[error("Your message archive is already encrypted; it stays so. Type its passphrase to open it.")]
    AlreadyEncrypted,

    #[error("Your choice not to encrypt could not be saved in {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The archive's key for the data folder `data_dir` (whose `messages.db`,
/// and the demo's, it locks). `create`: make a key in the keychain when there
/// is none and no encrypted archive (the app; the helper only reads).
pub fn archive_key(data_dir: &Path, create: bool) -> Result<(ArchiveKey, KeySource), KeyError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let encrypted = archive_is_encrypted(data_dir);
    if env("WHATSAPP_MCP_ENCRYPTION").is_some_and(|v| v.eq_ignore_ascii_case("off"))
        || data_dir.join(ENCRYPTION_OFF_FILE).exists()
    {
        if !encrypted {
            return Ok((ArchiveKey::None, KeySource::NotEncrypted));
        }
        tracing::warn!("encryption is turned off, but the archive is already encrypted: it stays so");
    }
    if let Some(passphrase) = env("WHATSAPP_MCP_PASSPHRASE") {
        return Ok((
            ArchiveKey::Passphrase(zeroize::Zeroizing::new(passphrase)),
            KeySource::Passphrase,
        ));
    }
    if env("WHATSAPP_MCP_KEYCHAIN").is_some_and(|v| v.eq_ignore_ascii_case("off")) {
        return Err(KeyError::NoKeychain {
            detail: "the keychain is turned off with WHATSAPP_MCP_KEYCHAIN=off".into(),
        });
    }
    let entry = keyring::Entry::new(SERVICE, ACCOUNT).map_err(|e| KeyError::NoKeychain { detail: e.to_string() })?;
    match entry.get_password() {
        Ok(hex) => {
            let key = ArchiveKey::from_hex(&zeroize::Zeroizing::new(hex))
                .ok_or_else(|| KeyError::Damaged("not 64 hexadecimal digits".into()))?;
            Ok((key, KeySource::Keychain { created: false }))
        }
        Err(keyring::Error::NoEntry) if encrypted || !create => Err(KeyError::KeyMissing {
            data_dir: data_dir.display().to_string(),
        }),
        Err(keyring::Error::NoEntry) => {
            let bytes: zeroize::Zeroizing<[u8; 32]> = zeroize::Zeroizing::new(rand::random());
            let key = ArchiveKey::Raw(bytes);
            let hex = key.to_hex().ok_or_else(|| KeyError::Damaged("no raw key".into()))?;
            entry
                .set_password(&hex)
                .map_err(|e| KeyError::NoKeychain { detail: e.to_string() })?;
            // Read it back: a keychain that accepts a key and loses it would lock
            // the archive for good.
            match entry.get_password() {
                Ok(back) if back == *hex => {}
                other => {
                    return Err(KeyError::NoKeychain {
                        detail: format!("the key did not read back ({:?})", other.err()),
                    });
                }
            }
            tracing::info!("a new archive key was stored in the system keychain");
            Ok((key, KeySource::Keychain { created: true }))
        }
        Err(e) => Err(KeyError::NoKeychain { detail: e.to_string() }),
    }
}

/// The person chose, in the unlock page, to keep the archive unencrypted:
/// remembered in the data folder for the next starts (and the helper).
pub fn choose_no_encryption(data_dir: &Path) -> Result<(), KeyError> {
    if archive_is_encrypted(data_dir) {
        return Err(KeyError::AlreadyEncrypted);
    }
    let path = data_dir.join(ENCRYPTION_OFF_FILE);
    std::fs::write(
        &path,
        "The person chose not to encrypt the message archive. Delete this file to encrypt it at the next start.\n",
    )
    .map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Whether an archive in `data_dir` (the account's or the demo's) is already
/// encrypted: a non-empty file that is not plain SQLite.
pub fn archive_is_encrypted(data_dir: &Path) -> bool {
    crate::paths::Layout::archives(data_dir)
        .iter()
        .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0) && !wa_store::cipher::is_plain_sqlite(p))
}

/// Windows' Credential Manager, through the keyring crate as `archive_key`
/// uses it (under a test name, so a developer's real key is never touched).
#[cfg(all(test, windows))]
mod credential_manager {
    #[test]
    fn a_key_round_trips_through_credential_manager() {
        let service = format!("{} test {}", super::SERVICE, std::process::id());
        let entry = keyring::Entry::new(&service, super::ACCOUNT).expect("entry");
        let key = "ab".repeat(32);
        entry.set_password(&key).expect("stored");
        assert_eq!(entry.get_password().expect("read back"), key);
        entry.delete_credential().expect("deleted");
        assert!(matches!(entry.get_password(), Err(keyring::Error::NoEntry)));
    }
}
