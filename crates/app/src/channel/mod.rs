//! The app's local channel to assistants: each connection is one MCP session
//! served inside the app, which owns the only WhatsApp connection. Binding it
//! is also the single-instance lock: a second copy finds it taken and stops.
//! No TCP port is ever opened.
//!
//! - Unix (`unix.rs`): a socket file, 0600 in a 0700 folder, with a lock file.
//! - Windows (`windows.rs`): a named pipe that only the current user can open
//!   and that refuses remote clients, created as the name's first instance.
//!
//! Both give the same API: [`bind`] to a [`Listener`] whose `accept` gives
//! streams (and [`peer_pid`] the process at the other end, which `peer.rs`
//! names for the approval dialog and the audit log), [`connect`] for the helper and the doctor, [`serve`] and
//! [`serve_locked`] on top. Decision: tokio's own `UnixListener` and
//! `named_pipe` rather than another crate; it is the runtime we already ship.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

mod peer;

pub use os::{ClientStream, Listener, ServerStream, bind, connect, default_path, nobody_there, peer_pid};

/// Why the channel could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("The app's channel {path} could not be created: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("Another copy of WhatsApp MCP Desktop is already running (it answers on {path}).")]
    InUse { path: PathBuf },
}

/// `$WHATSAPP_MCP_SOCKET`, when set: the channel's address chosen by hand (tests).
fn from_env() -> Option<PathBuf> {
    std::env::var_os("WHATSAPP_MCP_SOCKET")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// Take the channel's lock file `lock`, waiting a moment for it: a copy
/// restarting itself (after an update or a restore) starts the new process
/// just before the old one exits. Still held after that: another copy runs.
async fn lock_patiently(path: &Path, lock: &std::fs::File) -> Result<(), ChannelError> {
    for attempt in 0..=15 {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if attempt < 15 => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => break,
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(ChannelError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
    Err(ChannelError::InUse { path: path.to_owned() })
}

/// Serve MCP sessions on `listener` for as long as it accepts.
pub async fn serve(mut listener: Listener, core: Arc<wa_mcp::Core>) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                // Who connected, as the system tells it (peer.rs): named in
                // the approval dialog and the audit log.
                let pid = peer_pid(&stream);
                let core = Arc::clone(&core);
                tokio::spawn(async move {
                    let asker = tokio::task::spawn_blocking(move || peer::asker(pid))
                        .await
                        .unwrap_or_default();
                    wa_mcp::session::serve_asked_by(core, stream, asker).await;
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "the channel stopped accepting");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// While the app waits for its passphrase (the unlock page): an assistant
/// that connects is answered at once that the app is locked (a JSON-RPC error
/// to its first request, in words), instead of waiting for answers that would
/// not come. Gives the listener back when `stop` fires (or is dropped).
pub async fn serve_locked(
    mut listener: Listener,
    message: String,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Listener {
    loop {
        tokio::select! {
            _ = &mut stop => return listener,
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    let message = message.clone();
                    tokio::spawn(async move { wa_mcp::session::refuse(stream, &message).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the channel stopped accepting");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests;
