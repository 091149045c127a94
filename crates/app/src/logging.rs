//! The log both programs write: to a file in the logs folder (and stderr),
//! with every phone number and chat ID masked on the way out, and times to the
//! millisecond. Only our own `tracing` events are recorded: the WhatsApp
//! client's crates log through `log`, which is not collected, since their
//! Signal code writes identifiers and key material at WARN.

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

/// Install the process's logging: `file` (the logs folder's `app.log` or
/// `helper.log`) and, with `stderr`, the standard error too, both through the
/// redacting writer, at `level` unless `WHATSAPP_MCP_LOG` says otherwise.
/// Never stdout: in the helper it is the protocol channel. Public so that the
/// test of what reaches the log in a real-client session uses exactly these layers.
pub fn install(file: Option<std::fs::File>, level: &str, stderr: bool) {
    use tracing_subscriber::prelude::*;
    let filter = filter(std::env::var("WHATSAPP_MCP_LOG").ok().as_deref(), level);
    let stderr = stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_timer(LogTime)
            .with_writer(|| Redacting(std::io::stderr()))
    });
    let file = file.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_timer(LogTime)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(Redacting(file)))
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .init();
}

/// What is logged: `asked` (`WHATSAPP_MCP_LOG`, when it parses) or `level`.
/// At DEBUG and below rmcp writes every request and every tool result in
/// full (message texts, names), so it stays at INFO unless asked for by name.
fn filter(asked: Option<&str>, level: &str) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::filter::LevelFilter;
    let (filter, named) = match asked.map(EnvFilter::try_new) {
        Some(Ok(filter)) => (filter, asked.is_some_and(|a| a.contains("rmcp"))),
        _ => (EnvFilter::new(level), false),
    };
    if named || filter.max_level_hint().is_none_or(|max| max <= LevelFilter::INFO) {
        return filter;
    }
    match "rmcp=info".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_debug_the_mcp_library_stays_at_info_unless_asked_for_by_name() {
        let shown = |asked: Option<&str>, level: &str| filter(asked, level).to_string();
        assert!(
            shown(Some("debug"), "info").contains("rmcp=info"),
            "{}",
            shown(Some("debug"), "info")
        );
        assert!(shown(None, "trace").contains("rmcp=info"));
        assert!(!shown(Some("info"), "info").contains("rmcp"));
        assert!(
            !shown(None, "warn").contains("rmcp"),
            "not raised above the level asked"
        );
        assert!(!shown(Some("debug,rmcp=trace"), "info").contains("rmcp=info"));
        // Something that does not parse falls back to the level given.
        assert_eq!(shown(Some("=!?"), "warn"), "warn");
    }

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
}
