use std::path::PathBuf;

/// What can go wrong with the message store, in terms a person can act on.
///
/// The `Display` text of each variant is a sentence meant for people: the app
/// and the MCP tools show it as it is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "The file {path} is not a WhatsApp MCP database (it may be damaged or another kind of file). \
         The app sets a damaged archive aside at its start and restores or rebuilds it; if this is not \
         the app's archive, move it out of the data folder."
    )]
    NotADatabase { path: PathBuf },

    #[error(
        "The database {path} is damaged ({detail}). Start the app again: it keeps the damaged file aside, \
         saves what can be saved and syncs the rest from your phone."
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "The database {path} was written by a newer version of WhatsApp MCP Desktop (schema {found}, \
         this version knows up to {known}). Update the app; your data was not changed."
    )]
    NewerSchema { path: PathBuf, found: i64, known: i64 },

    #[error(
        "Before upgrading the archive to this version, a copy could not be made at {path} ({detail}). \
         Nothing was changed; free some disk space (or fix the folder's permissions) and start the app again."
    )]
    BackupFailed { path: PathBuf, detail: String },

    #[error("The disk holding {path} is full. Free some space and try again; nothing that was already saved is lost.")]
    DiskFull { path: PathBuf },

    #[error(
        "The database {path} cannot be written (the file or its folder is read-only). \
         Check its permissions, or move the data folder somewhere writable."
    )]
    ReadOnly { path: PathBuf },

    #[error(
        "The message archive {path} could not be unlocked: {reason} Nothing in it was changed. \
         If the key is gone, choose a backup in Diagnostics, or move the data folder aside to start again."
    )]
    Locked { path: PathBuf, reason: String },

    #[error("The database {path} cannot be opened: {detail}")]
    CannotOpen { path: PathBuf, detail: String },

    #[error("The database is busy in another program for too long; try again in a moment.")]
    Busy,

    #[error("{0}")]
    InvalidInput(String),

    #[error("{what} was not found.")]
    NotFound { what: String },

    #[error(
        "The file {path} is not a database from lharries/whatsapp-mcp ({reason}). \
         Choose the file whatsapp-bridge/store/messages.db of that project."
    )]
    NotLharriesDatabase { path: PathBuf, reason: String },

    #[error("Could not read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("Database error: {0}")]
    Sql(#[source] sqlx::Error),

    #[error("Could not update the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// SQLite primary result codes we turn into specific errors.
const SQLITE_BUSY: i32 = 5;
const SQLITE_READONLY: i32 = 8;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_NOTADB: i32 = 26;

impl StoreError {
    /// Classify an sqlx error on the database at `path`.
    pub(crate) fn from_sqlx(err: sqlx::Error, path: &std::path::Path) -> Self {
        let path = path.to_path_buf();
        let Some(code) = sqlite_code(&err) else {
            return Self::Sql(err);
        };
        match code & 0xff {
            SQLITE_BUSY => Self::Busy,
            SQLITE_READONLY => Self::ReadOnly { path },
            SQLITE_CORRUPT => Self::Corrupt {
                path,
                detail: err.to_string(),
            },
            SQLITE_FULL => Self::DiskFull { path },
            SQLITE_NOTADB => Self::NotADatabase { path },
            SQLITE_CANTOPEN => Self::CannotOpen {
                path,
                detail: err.to_string(),
            },
            _ => Self::Sql(err),
        }
    }
}

/// The extended SQLite result code behind an sqlx error, if there is one.
pub(crate) fn sqlite_code(err: &sqlx::Error) -> Option<i32> {
    match err {
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse().ok()),
        _ => None,
    }
}
