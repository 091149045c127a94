//! Where the app keeps its files.

use std::path::PathBuf;

/// The data folder: `$WHATSAPP_MCP_DATA_DIR` when set (tests, portable installs),
/// otherwise the OS per-user data folder (`~/.local/share/whatsapp-mcp-desktop` on Linux,
/// `~/Library/Application Support/org.whatsappmcp.whatsapp-mcp-desktop` on macOS,
/// `%APPDATA%\whatsappmcp\whatsapp-mcp-desktop\data` on Windows).
pub fn data_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("WHATSAPP_MCP_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let dirs = directories::ProjectDirs::from("org", "whatsappmcp", "whatsapp-mcp-desktop")
        .ok_or_else(|| anyhow::anyhow!("This system has no home folder for the current user, so the app has nowhere to keep its data. Set WHATSAPP_MCP_DATA_DIR to a folder."))?;
    Ok(dirs.data_dir().to_path_buf())
}
