//! Unix: a socket file in a folder only this user can enter (0700), itself
//! 0600; another local user cannot connect. A lock file beside it, held for
//! the life of the process, makes binding the single-instance lock.

use std::path::{Path, PathBuf};

use super::ChannelError;

/// One accepted connection.
pub type ServerStream = tokio::net::UnixStream;
/// The helper's and the doctor's end.
pub type ClientStream = tokio::net::UnixStream;

/// The process at the other end of an accepted connection (its peer credentials).
pub fn peer_pid(stream: &ServerStream) -> Option<u32> {
    stream.peer_cred().ok()?.pid().and_then(|p| u32::try_from(p).ok())
}

/// The listening end of the channel.
pub struct Listener {
    socket: tokio::net::UnixListener,
    path: PathBuf,
}

impl Listener {
    /// The next connection.
    pub async fn accept(&mut self) -> std::io::Result<ServerStream> {
        self.socket.accept().await.map(|(stream, _)| stream)
    }

    /// Where it listens.
    pub fn address(&self) -> &Path {
        &self.path
    }
}

/// Where the socket lives: `$WHATSAPP_MCP_SOCKET`, else
/// `<runtime dir>/whatsapp-mcp/app.sock`, else under the data folder when the
/// system has no per-user runtime folder.
pub fn default_path(data_dir: &Path) -> PathBuf {
    if let Some(path) = super::from_env() {
        return path;
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join("whatsapp-mcp").join("app.sock"),
        None => data_dir.join("run").join("app.sock"),
    }
}

fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Listen on `path`. A stale socket file from a crashed run is replaced; a live
/// one means another copy of the app is running, and this one does not take over.
pub async fn bind(path: &Path) -> Result<Listener, ChannelError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| ChannelError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        private_dir(dir).map_err(io)?;
    }
    // One copy at a time, even when two start in the same instant: the copy
    // holding `<socket>.lock` (an OS file lock, released when the process ends,
    // however it ends) owns the socket. Without it, two copies finding a stale
    // socket could each remove it and bind (found by the fault campaign).
    let lock = lock_file(path).map_err(io)?;
    super::lock_patiently(path, &lock).await?;
    // Held for the life of the process.
    INSTANCE_LOCK.get_or_init(|| lock);
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(ChannelError::InUse { path: path.to_owned() });
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    let socket = tokio::net::UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(Listener {
        socket,
        path: path.to_owned(),
    })
}

/// The lock that makes this process the one serving the socket.
static INSTANCE_LOCK: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();

fn lock_file(socket: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(format!("{}.lock", socket.display()))
}

/// Connect to the running app's channel.
pub async fn connect(path: &Path) -> std::io::Result<ClientStream> {
    tokio::net::UnixStream::connect(path).await
}

/// Whether `e` (from [`connect`]) means nobody serves the channel.
pub fn nobody_there(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    )
}

/// A stale socket file, as a killed run leaves it (tests).
#[cfg(test)]
pub(super) fn leave_stale(path: &Path) {
    let _ = std::fs::create_dir_all(path.parent().expect("dir"));
    let _ = std::fs::remove_file(path);
    drop(std::os::unix::net::UnixListener::bind(path).expect("stale socket"));
    // In one process the lock of an earlier bind stays held (as in the app);
    // release it by hand so the next round starts clean.
    let _ = std::fs::remove_file(format!("{}.lock", path.display()));
}
