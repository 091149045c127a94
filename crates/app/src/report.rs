//! The redacted diagnostic report a person can attach to a bug report: what
//! the doctor checks (versions, archive counts and integrity, sync jobs,
//! settings, assistants) and the end of the logs, with every phone number and
//! account ID masked. Message text is never in it (the logs carry none; the
//! report reads only counts from the archive).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use wa_store::Store;

use crate::logging::redact;
use crate::paths::Layout;

/// Lines of each log file kept (its end).
const LOG_LINES: usize = 300;

/// The last `n` lines of a text file.
fn tail(path: &Path, n: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Facts the caller knows and the store does not (engine state, assistants).
#[derive(Debug, Default, Clone)]
pub struct Context {
    pub version: String,
    pub state: String,
    pub demo: bool,
    /// One line per assistant, as the Assistants page says it.
    pub assistants: Vec<String>,
}

/// The report's text (already redacted).
pub async fn report(store: &Store, data_dir: &Path, log_dir: &Path, context: &Context) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "WhatsApp MCP Desktop diagnostic report");
    let _ = writeln!(r, "Version: {}", context.version);
    let _ = writeln!(r, "System: {} {}", std::env::consts::OS, std::env::consts::ARCH);
    let _ = writeln!(r, "Demo mode: {}", context.demo);
    let _ = writeln!(r, "Archive encrypted: {}", if store.encrypted() { "yes" } else { "no" });
    let _ = writeln!(r, "WhatsApp: {}", context.state);
    let _ = writeln!(r, "Data folder: {}", data_dir.display());
    let _ = writeln!(r, "\n[Archive]");
    match store.statistics().await {
        Ok(s) => {
            let _ = writeln!(
                r,
                "{} messages in {} chats, {} contacts, {} with media, {} deleted; {} bytes",
                s.messages, s.chats, s.contacts, s.media_messages, s.deleted_messages, s.database_bytes
            );
        }
        Err(e) => {
            let _ = writeln!(r, "statistics failed: {e}");
        }
    }
    match store.integrity_check().await {
        Ok(p) if p.is_empty() => {
            let _ = writeln!(r, "integrity check: ok");
        }
        Ok(p) => {
            let _ = writeln!(r, "integrity check: {}", p.join("; "));
        }
        Err(e) => {
            let _ = writeln!(r, "integrity check failed: {e}");
        }
    }
    let _ = writeln!(r, "\n[Settings]");
    for prefix in ["app.", "mcp.", "demo."] {
        if let Ok(settings) = store.settings(prefix).await {
            for (key, value) in settings.entries() {
                let _ = writeln!(r, "{key} = {value}");
            }
        }
    }
    let _ = writeln!(r, "\n[Assistants]");
    for line in &context.assistants {
        let _ = writeln!(r, "{line}");
    }
    if let Ok(entries) = std::fs::read_dir(log_dir) {
        let mut logs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        logs.sort();
        for log in logs.iter().filter(|p| p.is_file()) {
            let _ = writeln!(r, "\n[Log {} (last {LOG_LINES} lines)]", log.display());
            let _ = writeln!(r, "{}", tail(log, LOG_LINES));
        }
    }
    redact(&r)
}

/// Write the report to `<data>/diagnostics/diagnostics-<time>.txt` (0600) and return its path.
pub async fn write_report(
    store: &Store,
    data_dir: &Path,
    log_dir: &Path,
    context: &Context,
) -> std::io::Result<PathBuf> {
    let text = report(store, data_dir, log_dir, context).await;
    let dir = Layout::in_dir(data_dir).diagnostics();
    std::fs::create_dir_all(&dir)?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let path = dir.join(format!("diagnostics-{stamp}.txt"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, text.as_bytes())?;
    Ok(path)
}

/// Write the report from the archive on disk, opened read-only (the doctor's `--bundle`).
pub async fn write_from_disk(
    layout: &Layout,
    key: &wa_store::ArchiveKey,
    context: &Context,
) -> Result<PathBuf, crate::error::AppError> {
    let log_dir = crate::paths::log_dir().unwrap_or_else(|_| layout.dir().join("logs"));
    let store = Store::open_read_only_with(&layout.archive(), key).await?;
    let written = write_report(&store, layout.dir(), &log_dir, context).await;
    store.close().await;
    Ok(written?)
}

impl crate::services::Services {
    /// Write the redacted report (the Diagnostics page's Export) and say where it is.
    pub async fn export_report(&self) -> Result<String, crate::error::AppError> {
        let log_dir = crate::paths::log_dir()?;
        let context = Context {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            state: self.engine.state().borrow().describe_now(),
            demo: self.demo.is_some(),
            assistants: self.assistants().into_iter().map(|c| c.description).collect(),
        };
        let path = write_report(&self.store, &self.data_dir, &log_dir, &context).await?;
        Ok(format!(
            "The report is in {}. Phone numbers are masked and no message text is in it; read it before you send it.",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_report_has_the_facts_and_no_phone_numbers() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path().join("m.db")).await.expect("store");
        store
            .set_setting(wa_mcp::policy::RECIPIENTS, &["447700900123@s.whatsapp.net"])
            .await
            .expect("setting");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        std::fs::write(
            logs.join("helper.log"),
            "INFO connected as 447700900123@s.whatsapp.net\nWARN retry for 120363025246125486@g.us\n",
        )
        .expect("log");
        let context = Context {
            version: "9.9.9".into(),
            state: "Connected to WhatsApp.".into(),
            demo: false,
            assistants: vec!["Claude Desktop is connected.".into()],
        };
        let path = write_report(&store, dir.path(), &logs, &context).await.expect("report");
        let text = std::fs::read_to_string(&path).expect("read");
        for needle in [
            "Version: 9.9.9",
            "integrity check: ok",
            "Claude Desktop is connected.",
            "helper.log",
            "mcp.recipients",
        ] {
            assert!(text.contains(needle), "missing {needle}:\n{text}");
        }
        assert!(
            !text.contains("447700900123") && !text.contains("120363025246125486"),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
                0o600
            );
        }
        store.close().await;
    }
}
