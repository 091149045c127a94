//! The app's local channel to assistants: each connection is one MCP session
//! served inside the app, which owns the only WhatsApp connection. Binding it
//! is also the single-instance lock: a second copy finds it taken and stops.
//!
//! Unix: a socket file in a folder only this user can enter (0700), itself
//! 0600; another local user cannot connect. No TCP port is ever opened.
//! (Windows: a named pipe with a user-only security descriptor, issue 19.)
//! Decision: tokio's own `UnixListener` rather than another crate; it is the
//! runtime we already ship.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The listening end of the channel.
#[cfg(unix)]
pub type Listener = tokio::net::UnixListener;

/// Why the channel could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("The app's socket {path} could not be created: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("Another copy of WhatsApp MCP Desktop is already running (it answers on {path}).")]
    InUse { path: PathBuf },
}

/// Where the socket lives: `$WHATSAPP_MCP_SOCKET`, else
/// `<runtime dir>/whatsapp-mcp/app.sock`, else under the data folder when the
/// system has no per-user runtime folder.
pub fn default_path(data_dir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("WHATSAPP_MCP_SOCKET").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join("whatsapp-mcp").join("app.sock"),
        None => data_dir.join("run").join("app.sock"),
    }
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Listen on `path`. A stale socket file from a crashed run is replaced; a live
/// one means another copy of the app is running, and this one does not take over.
#[cfg(unix)]
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
    // A copy restarting itself (after an update or a restore) starts the new
    // process just before the old one exits: give the old one a moment.
    let lock = lock_file(path).map_err(io)?;
    let mut tries = 0;
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if tries < 15 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => return Err(ChannelError::InUse { path: path.to_owned() }),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    // Held for the life of the process.
    INSTANCE_LOCK.get_or_init(|| lock);
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(ChannelError::InUse { path: path.to_owned() });
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

/// The lock that makes this process the one serving the socket.
#[cfg(unix)]
static INSTANCE_LOCK: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();

#[cfg(unix)]
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

/// Connect to the running app's channel (the helper and the doctor).
#[cfg(unix)]
pub async fn connect(path: &Path) -> std::io::Result<tokio::net::UnixStream> {
    tokio::net::UnixStream::connect(path).await
}

/// Serve MCP sessions on `listener` for as long as it accepts.
#[cfg(unix)]
pub async fn serve(listener: Listener, core: Arc<wa_mcp::Core>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(wa_mcp::session::serve(Arc::clone(&core), stream));
            }
            Err(e) => {
                tracing::warn!(error = %e, "the socket stopped accepting");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}

/// While the app waits for its passphrase (the unlock page): an assistant
/// that connects is answered at once that the app is locked (a JSON-RPC error
/// to its first request, in words), instead of waiting for answers that would
/// not come. Gives the listener back when `stop` fires (or is dropped).
#[cfg(unix)]
pub async fn serve_locked(
    listener: Listener,
    message: String,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Listener {
    loop {
        tokio::select! {
            _ = &mut stop => return listener,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let message = message.clone();
                    tokio::spawn(async move { wa_mcp::session::refuse(stream, &message).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the socket stopped accepting");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            },
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Two copies starting in the same instant, with a stale socket file from a
    /// killed run in the way: exactly one serves, the other is told one runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_copies_at_once_over_a_stale_socket_one_serves() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("run").join("app.sock");
        for _ in 0..20 {
            // The stale file: a socket nobody listens on any more.
            drop(bind_plain(&path));
            let (a, b) = tokio::join!(bind(&path), bind(&path));
            let won = usize::from(a.is_ok()) + usize::from(b.is_ok());
            let lost = [&a, &b]
                .iter()
                .filter(|r| matches!(r, Err(ChannelError::InUse { .. })))
                .count();
            assert_eq!((won, lost), (1, 1), "{a:?} / {b:?}");
            let listener = a.or(b).expect("the winner");
            assert!(
                tokio::net::UnixStream::connect(&path).await.is_ok(),
                "the winner answers"
            );
            drop(listener);
            // In one process the lock of the first bind stays held (as in the app);
            // release it by hand so the next round starts clean.
            let _ = std::fs::remove_file(format!("{}.lock", path.display()));
        }
    }

    /// Locked: an MCP client's initialize gets an error in words at once, with
    /// its own id; after the unlock the same listener is given back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_locked_app_answers_at_once_that_it_is_locked() {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("run").join("app.sock");
        let listener = bind(&path).await.expect("bind");
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let serving = tokio::spawn(serve_locked(
            listener,
            "It is locked: type the passphrase.".into(),
            stopped,
        ));
        for id in [serde_json::json!(7), serde_json::json!("a")] {
            let mut stream = tokio::net::UnixStream::connect(&path).await.expect("connect");
            let request = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {}});
            stream
                .write_all(format!("{request}\n").as_bytes())
                .await
                .expect("write");
            let mut answer = String::new();
            tokio::io::BufReader::new(stream)
                .read_line(&mut answer)
                .await
                .expect("read");
            let answer: serde_json::Value = serde_json::from_str(&answer).expect("json");
            assert_eq!(answer["id"], id);
            assert_eq!(answer["error"]["message"], "It is locked: type the passphrase.");
        }
        // Not JSON at all: still an answer, not a hang.
        let mut stream = tokio::net::UnixStream::connect(&path).await.expect("connect");
        stream.write_all(b"hello\n").await.expect("write");
        let mut answer = String::new();
        tokio::io::BufReader::new(stream)
            .read_line(&mut answer)
            .await
            .expect("read");
        assert!(answer.contains("It is locked"), "{answer}");
        let _ = stop.send(());
        let listener = serving.await.expect("listener back");
        assert_eq!(listener.local_addr().expect("addr").as_pathname(), Some(path.as_path()));
    }

    fn bind_plain(path: &Path) -> std::os::unix::net::UnixListener {
        let _ = std::fs::create_dir_all(path.parent().expect("dir"));
        let _ = std::fs::remove_file(path);
        std::os::unix::net::UnixListener::bind(path).expect("stale socket")
    }
}
