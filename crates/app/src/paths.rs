//! Where the app keeps its files; shared by the app and the helper, which must
//! agree. The names of the files and folders inside the data folder are
//! written here once ([`Layout`]).

use std::path::{Path, PathBuf};

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

/// Whether this run is the demo (`WHATSAPP_MCP_DEMO=1`; the app's `--demo`
/// sets it for the helper it starts and the helpers assistants start).
pub fn demo_requested() -> bool {
    std::env::var_os("WHATSAPP_MCP_DEMO").is_some_and(|v| v == "1")
}

/// The files of one mode's folder: the data folder itself, or its `demo`
/// folder, so a demo never mixes with a real account's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The message archive.
    pub const ARCHIVE: &str = "messages.db";
    /// Backups: daily, before upgrades, "Back up now", and what a restore replaced.
    pub const BACKUPS: &str = "backups";
    /// The demo's own folder inside the data folder.
    pub const DEMO: &str = "demo";
    /// WhatsApp's session keys (the client crate's own store).
    pub const SESSION: &str = "whatsapp-session.db";
    /// Diagnostic reports.
    pub const DIAGNOSTICS: &str = "diagnostics";

    /// The folder of this mode's archive under the data folder `base`.
    pub fn for_mode(base: &Path, demo: bool) -> Self {
        Self {
            dir: if demo {
                base.join(Self::DEMO)
            } else {
                base.to_path_buf()
            },
        }
    }

    /// The files of the folder `dir` (an archive's folder, as given).
    pub fn in_dir(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn archive(&self) -> PathBuf {
        self.dir.join(Self::ARCHIVE)
    }

    pub fn backups(&self) -> PathBuf {
        self.dir.join(Self::BACKUPS)
    }

    pub fn session(&self) -> PathBuf {
        self.dir.join(Self::SESSION)
    }

    pub fn diagnostics(&self) -> PathBuf {
        self.dir.join(Self::DIAGNOSTICS)
    }

    /// Every archive the data folder `base` may hold (the real one, the demo's).
    pub fn archives(base: &Path) -> [PathBuf; 2] {
        [
            Self::for_mode(base, false).archive(),
            Self::for_mode(base, true).archive(),
        ]
    }
}

/// Create `dir` (and missing parents) for this user alone (Unix: 0700;
/// Windows: an access list naming the user alone, which what is made inside
/// inherits). A folder that already exists keeps its permissions (it may be
/// one the person chose, such as their home); `whatsapp-mcp doctor` reports
/// it when others can open it.
pub fn ensure_private(dir: &Path) -> std::io::Result<()> {
    let existed = dir.is_dir();
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(windows)]
    if !existed {
        crate::user_only::protect_folder(dir)?;
    }
    #[cfg(not(windows))]
    let _ = existed;
    Ok(())
}

/// A log file grows to this before it starts afresh (the previous one is kept as `<name>.1`).
pub const LOG_LIMIT: u64 = 10 * 1024 * 1024;

/// Open `<logs folder>/<name>` to append (this user's alone: folder 0700,
/// file 0600), first moving it to `<name>.1` when it outgrew [`LOG_LIMIT`].
/// `None` when there is no logs folder to be had (logging then goes to stderr only).
pub fn open_log(name: &str) -> Option<std::fs::File> {
    open_log_in(&log_dir().ok()?, name, LOG_LIMIT)
}

fn open_log_in(dir: &Path, name: &str, limit: u64) -> Option<std::fs::File> {
    ensure_private(dir).ok()?;
    let path = dir.join(name);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > limit)
        && let Err(e) = std::fs::rename(&path, dir.join(format!("{name}.1")))
    {
        // Logging is not up yet: the log grows on instead of starting afresh.
        eprintln!("{} could not be rotated: {e}", path.display());
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    #[test]
    fn a_log_is_private_and_starts_afresh_past_its_limit_keeping_one_old() {
        let home = tempfile::tempdir().expect("dir");
        let dir = home.path().join("logs");
        let mut log = super::open_log_in(&dir, "app.log", 10).expect("open");
        log.write_all(b"first run, long enough\n").expect("write");
        drop(log);
        let mut log = super::open_log_in(&dir, "app.log", 10).expect("reopen");
        log.write_all(b"second\n").expect("write");
        drop(log);
        assert_eq!(std::fs::read_to_string(dir.join("app.log")).expect("read"), "second\n");
        assert_eq!(
            std::fs::read_to_string(dir.join("app.log.1")).expect("old"),
            "first run, long enough\n"
        );
        // Under the limit: appended to.
        let mut log = super::open_log_in(&dir, "app.log", 10).expect("again");
        log.write_all(b"third\n").expect("write");
        assert_eq!(
            std::fs::read_to_string(dir.join("app.log")).expect("read"),
            "second\nthird\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&dir.join("app.log")), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
    }
}
