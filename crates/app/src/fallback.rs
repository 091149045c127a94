//! When the app cannot run, the helper still answers: the read tools from the
//! archive opened read-only, and the act tools say why they cannot run.

use std::path::Path;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::AppError;
use crate::paths::Layout;

/// Serve one MCP session on `stream` from the archive in `data_dir`, read-only;
/// `why` says why the app is not answering (act tools repeat it).
pub async fn serve_read_only<S>(data_dir: &Path, why: &str, stream: S) -> Result<(), AppError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    tracing::warn!(reason = %why, "serving read tools from the database");
    let layout = Layout::for_mode(data_dir, crate::paths::demo_requested());
    let (key, _) = crate::key::archive_key(data_dir, false)
        .map_err(|e| AppError::Said(format!("{why} The message archive could not be unlocked either: {e}")))?;
    let store = wa_store::Store::open_read_only_with(layout.archive(), &key)
        .await
        .map_err(|e| AppError::Said(format!("{why} The message archive could not be opened either: {e}")))?;
    let reason = format!("{why} Reading and searching still work; sending needs the app running.");
    let core = wa_mcp::Core::read_only(store, layout.dir().to_path_buf(), reason);
    wa_mcp::session::serve(core, stream).await;
    Ok(())
}
