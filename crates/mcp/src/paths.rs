//! Where the app keeps its files; shared by the app and the helper, which must agree.

use std::path::PathBuf;

/// Why there is no data folder.
#[derive(Debug, thiserror::Error)]
#[error(
    "This system has no home folder for the current user, so the app has nowhere to keep its data. Set \
     WHATSAPP_MCP_DATA_DIR to a folder."
)]
pub struct NoHome;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("org", "whatsappmcp", "whatsapp-mcp-desktop")
}

/// The data folder: `$WHATSAPP_MCP_DATA_DIR` when set (tests, portable installs),
/// otherwise the OS per-user data folder (`~/.local/share/whatsapp-mcp-desktop` on Linux,
/// `~/Library/Application Support/org.whatsappmcp.whatsapp-mcp-desktop` on macOS,
/// `%APPDATA%\whatsappmcp\whatsapp-mcp-desktop\data` on Windows).
pub fn data_dir() -> Result<PathBuf, NoHome> {
    if let Some(dir) = std::env::var_os("WHATSAPP_MCP_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    project().map(|d| d.data_dir().to_path_buf()).ok_or(NoHome)
}

/// The log folder: `<data dir>/logs` when the data folder is overridden,
/// otherwise the OS per-user state or cache folder.
pub fn log_dir() -> Result<PathBuf, NoHome> {
    if let Some(dir) = std::env::var_os("WHATSAPP_MCP_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("logs"));
    }
    project()
        .map(|d| d.state_dir().unwrap_or_else(|| d.cache_dir()).join("logs"))
        .ok_or(NoHome)
}

/// Create `dir` (and missing parents) for this user alone (0700). A folder that
/// already exists keeps its permissions (it may be one the person chose, such as
/// their home); `whatsapp-mcp doctor` reports it when others can open it.
pub fn ensure_private(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
