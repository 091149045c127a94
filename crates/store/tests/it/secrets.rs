//! The archive's key and passphrase never reach a log (issue 20). sqlx logs
//! every statement it runs (DEBUG, and WARN when it takes over a second),
//! the `PRAGMA key` that starts each connection included, and the logs end up
//! in the diagnostic report people are asked to share. The key also opens the
//! WhatsApp session.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use sqlx::{ConnectOptions as _, Connection as _};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use wa_store::{ArchiveKey, Store};

/// Logged only while a test records (the subscriber is global: sqlx logs from
/// its connections' own threads).
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Every event at every level from every thread, while RECORDING.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .with_filter(tracing_subscriber::filter::filter_fn(|_| {
                RECORDING.load(Ordering::SeqCst)
            }));
        // If something else had installed one first, the control below fails.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
        logs
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Open the archive at `path` with `key` while another connection holds it
/// exclusively for 1.5 s: the start's statements wait, so sqlx calls them slow.
async fn slow_open(path: &Path, key: &ArchiveKey) {
    let mut holder = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        // The holder is this test's own connection, not the store's.
        .disable_statement_logging();
    if let Some(value) = key.pragma_value() {
        holder = holder.pragma("key", value.to_string());
    }
    let mut holder = holder.connect().await.expect("the holder connects");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .expect("exclusive lock");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        sqlx::query("COMMIT").execute(&mut holder).await.expect("commit");
        holder.close().await.ok();
    });
    let started = std::time::Instant::now();
    let store = Store::open_with(path, key)
        .await
        .expect("the store opens once the lock is released");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the start was slowed: {:?}",
        started.elapsed()
    );
    store.statistics().await.expect("the archive answers");
    release.await.expect("holder task");
}

#[tokio::test]
async fn the_key_and_the_passphrase_never_reach_a_log_even_when_the_start_is_slow() {
    let logs = captured();
    let dir = tempfile::tempdir().expect("temp dir");
    let hex = "a7c3".repeat(16);
    let raw = ArchiveKey::from_hex(&hex).expect("64 hex digits");
    let phrase = "correct horse battery staple nine";
    let passphrase = ArchiveKey::Passphrase(zeroize::Zeroizing::new(phrase.to_owned()));

    RECORDING.store(true, Ordering::SeqCst);
    // Control: a plain archive's slow start is logged, statement and all.
    slow_open(&dir.path().join("plain.db"), &ArchiveKey::None).await;
    slow_open(&dir.path().join("raw.db"), &raw).await;
    slow_open(&dir.path().join("passphrase.db"), &passphrase).await;
    // And a quick start, logged at DEBUG.
    Store::open_with(dir.path().join("raw.db"), &raw).await.expect("reopen");
    RECORDING.store(false, Ordering::SeqCst);

    let text = String::from_utf8_lossy(&logs.lock().unwrap_or_else(PoisonError::into_inner)).into_owned();
    assert!(
        text.contains("slow statement") && text.contains("journal_mode"),
        "control: the logs hold the plain archive's slow start with its statements:\n{text}"
    );
    assert!(
        !text.to_lowercase().contains(&hex),
        "the raw key is in the logs:\n{text}"
    );
    assert!(!text.contains(phrase), "the passphrase is in the logs:\n{text}");
}
