//! Windows: a named pipe, `\\.\pipe\whatsapp-mcp-<the user's SID>`, whose
//! security descriptor grants the current user's SID alone (no one else,
//! not even administrators, can open it) and which refuses remote clients.
//! The app creates it as the pipe's first instance: while the app runs,
//! nobody else can create the name. Two copies starting in the same instant
//! first take an OS file lock (`<temp>\<pipe name>.lock`, released with the
//! process however it ends), as on Unix: the pipe's first-instance flag alone
//! is not honoured everywhere (Wine ignores it). The pipe vanishes with the
//! process, so a crash leaves nothing stale behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeClient, NamedPipeServer};

use super::ChannelError;

use crate::user_only::{self, UserOnly};

/// One accepted connection.
pub type ServerStream = NamedPipeServer;
/// The helper's and the doctor's end.
pub type ClientStream = NamedPipeClient;

/// The process at the other end of an accepted connection (the pipe's client).
pub fn peer_pid(stream: &ServerStream) -> Option<u32> {
    crate::user_only::pipe_client_pid(stream)
}

/// `ERROR_ACCESS_DENIED`: the name exists already (another copy holds it).
const ACCESS_DENIED: i32 = 5;
/// `ERROR_PIPE_BUSY`: every instance is taken for the moment.
const PIPE_BUSY: i32 = 231;
/// `ERROR_FILE_NOT_FOUND`: nobody serves the name.
const NOT_FOUND: i32 = 2;

/// The listening end: the instance waiting for the next client. A fresh one
/// is created before a connected one is handed out, so the name never lapses.
pub struct Listener {
    name: PathBuf,
    security: UserOnly,
    next: NamedPipeServer,
    /// Held while the listener lives: this copy is the one serving.
    _lock: std::fs::File,
}

impl Listener {
    /// The next connection.
    pub async fn accept(&mut self) -> std::io::Result<ServerStream> {
        self.next.connect().await?;
        let fresh = self.security.create(&self.name, false)?;
        Ok(std::mem::replace(&mut self.next, fresh))
    }

    /// Where it listens.
    pub fn address(&self) -> &Path {
        &self.name
    }
}

/// The pipe's name: `$WHATSAPP_MCP_SOCKET` (tests give each app its own),
/// else one per user, named by the user's SID.
pub fn default_path(_data_dir: &Path) -> PathBuf {
    if let Some(path) = super::from_env() {
        return path;
    }
    let user = user_only::current_user_sid().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the user's SID could not be read; the pipe is named by the user name");
        std::env::var("USERNAME").unwrap_or_default()
    });
    PathBuf::from(format!(r"\\.\pipe\whatsapp-mcp-{user}"))
}

/// Listen on the pipe `name`, as its first instance; a copy that finds the
/// name taken (another copy of the app runs) does not take over.
pub async fn bind(name: &Path) -> Result<Listener, ChannelError> {
    let io = |source| ChannelError::Io {
        path: name.to_owned(),
        source,
    };
    let security = UserOnly::current_user().map_err(io)?;
    let lock = lock_file(name).map_err(io)?;
    super::lock_patiently(name, &lock).await?;
    let next = match security.create(name, true) {
        Ok(server) => server,
        // The name is served already (a copy that holds no lock file).
        Err(e) if e.raw_os_error() == Some(ACCESS_DENIED) => {
            return Err(ChannelError::InUse { path: name.to_owned() });
        }
        Err(e) => return Err(io(e)),
    };
    Ok(Listener {
        name: name.to_owned(),
        security,
        next,
        _lock: lock,
    })
}

/// The lock file for the pipe `name`, in this user's temporary folder.
fn lock_file(name: &Path) -> std::io::Result<std::fs::File> {
    let plain: String = name
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect();
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(std::env::temp_dir().join(format!("{}.lock", plain.trim_matches('_'))))
}

/// Connect to the running app's pipe, waiting a little while every instance
/// is busy (another assistant connecting in the same instant). A pipe of that
/// name that does not belong to this user is refused: it is not the app.
pub async fn connect(name: &Path) -> std::io::Result<ClientStream> {
    use std::os::windows::io::AsRawHandle;
    let mut tries = 0;
    let client = loop {
        match ClientOptions::new().open(name) {
            Err(e) if e.raw_os_error() == Some(PIPE_BUSY) && tries < 40 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other?,
        }
    };
    if user_only::owned_by_current_user(client.as_raw_handle())? {
        Ok(client)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to another user: it is not your WhatsApp MCP Desktop",
                name.display()
            ),
        ))
    }
}

/// Whether `e` (from [`connect`]) means nobody serves the channel.
pub fn nobody_there(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(NOT_FOUND) || e.kind() == std::io::ErrorKind::NotFound
}

/// Nothing to leave on Windows: a pipe vanishes with its process (tests).
#[cfg(test)]
pub(super) fn leave_stale(_path: &Path) {}
