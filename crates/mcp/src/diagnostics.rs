//! The redacted diagnostic report a person can attach to a bug report: what
//! the doctor checks (versions, archive counts and integrity, sync jobs,
//! settings, assistants) and the end of the logs, with every phone number and
//! account ID masked. Message text is never in it (the logs carry none; the
//! report reads only counts from the archive).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use wa_store::Store;

/// Lines of each log file kept (its end).
const LOG_LINES: usize = 300;

/// Mask every run of 6 or more digits but its last two (phone numbers, JIDs,
/// LIDs, group IDs): `447700900123@s.whatsapp.net` → `••••••••••23@s.whatsapp.net`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 6 {
            out.extend(std::iter::repeat_n('•', digits.len() - 2));
            out.push_str(&digits[digits.len() - 2..]);
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// A log writer that masks every run of six or more digits (phone numbers,
/// chat IDs) on its way out, as [`redact`] does. The app and the helper write
/// their logs through it; each log line arrives in one `write`, so a number
/// is never split across two calls.
#[derive(Debug)]
pub struct Redacting<W>(pub W);

impl<W: std::io::Write> std::io::Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Log times to the millisecond in local time (`2026-11-26 03:10:57.123`):
/// the default's microseconds are a six-digit run the redaction would mask.
#[derive(Debug, Clone, Copy)]
pub struct LogTime;

impl tracing_subscriber::fmt::time::FormatTime for LogTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f"))
    }
}

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
    let dir = data_dir.join("diagnostics");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_writer_masks_numbers_and_keeps_the_rest() {
        use std::io::Write as _;
        let mut out = Redacting(Vec::new());
        writeln!(out, "INFO sent to 447700900123@s.whatsapp.net in 12 ms").expect("write");
        out.flush().expect("flush");
        assert_eq!(
            String::from_utf8(out.0).expect("utf-8"),
            "INFO sent to ••••••••••23@s.whatsapp.net in 12 ms\n"
        );
    }

    #[test]
    fn numbers_and_ids_are_masked_and_small_numbers_kept() {
        assert_eq!(redact("447700900123@s.whatsapp.net"), "••••••••••23@s.whatsapp.net");
        assert_eq!(
            redact("+1 555 0100 and 120363025246125486@g.us"),
            "+1 555 0100 and ••••••••••••••••86@g.us"
        );
        assert_eq!(
            redact("3 chats, 50000 messages, port 8765"),
            "3 chats, 50000 messages, port 8765"
        );
        assert_eq!(redact("id 1234567"), "id •••••67");
    }

    #[tokio::test]
    async fn the_report_has_the_facts_and_no_phone_numbers() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path().join("m.db")).await.expect("store");
        store
            .set_setting(crate::policy::RECIPIENTS, &["447700900123@s.whatsapp.net"])
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
