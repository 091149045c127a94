//! Files and folders for this user alone: what every file the store writes
//! (archives, backups, copies being made) is created with.

use std::path::Path;

/// Create `dir` (and parents) for this user alone.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Flush a file just written to the disk. Through a handle opened for writing:
/// Windows refuses to flush one opened only for reading ("Access denied").
pub(crate) fn sync_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new().write(true).open(path)?.sync_all()
}

/// Make a file this user's alone (Unix: 0600; Windows: a file takes the access
/// list of its folder, which the app makes the user's alone: nothing to do).
#[cfg_attr(not(unix), allow(clippy::unnecessary_wraps))] // the Unix path can fail
pub(crate) fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
