//! The app's local socket: each connection is one MCP session served inside
//! the app, which owns the only WhatsApp connection.
//!
//! Unix: a socket file in a folder only this user can enter (0700), itself
//! 0600; another local user cannot connect. No TCP port is ever opened.
//! (Windows, later: a named pipe with a user-only ACL through tokio's
//! `named_pipe`.) Decision: tokio's own `UnixListener` rather than another
//! crate; it is the runtime we already ship.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rmcp::ServiceExt;

use crate::server::{Core, WhatsAppMcp};

/// Why the socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("The app's socket {path} could not be created: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("Another copy of WhatsApp MCP Desktop is already running (it answers on {path}).")]
    InUse { path: PathBuf },
}

/// Where the socket lives: `<runtime dir>/whatsapp-mcp/app.sock`, or under the
/// data folder when the system has no per-user runtime folder.
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

/// Listen on `path` and serve every connection until the listener fails.
/// A stale socket file from a crashed run is replaced; a live one means another
/// copy of the app is running, and this one does not take over.
#[cfg(unix)]
pub async fn bind(path: &Path) -> Result<tokio::net::UnixListener, SocketError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| SocketError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        private_dir(dir).map_err(io)?;
    }
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(SocketError::InUse { path: path.to_owned() });
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

/// Serve MCP sessions on `listener` for as long as it accepts.
#[cfg(unix)]
pub async fn serve(listener: tokio::net::UnixListener, core: Arc<Core>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let server = WhatsAppMcp::new(Arc::clone(&core));
                tokio::spawn(async move {
                    match server.serve(crate::guard::guard(stream)).await {
                        Ok(session) => {
                            if let Err(e) = session.waiting().await {
                                tracing::debug!(error = %e, "an MCP session ended with an error");
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "an MCP client left during the handshake"),
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "the socket stopped accepting");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}
