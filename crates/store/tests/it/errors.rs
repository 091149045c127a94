//! Opening problems give one clear sentence and never touch the data.

use wa_store::{Store, StoreError};

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("messages.db");
    let content = b"these are my notes, not a database at all.";
    std::fs::write(&path, content).expect("write");
    let err = Store::open(&path).await.expect_err("must refuse");
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");
    assert!(err.to_string().contains("not a WhatsApp MCP database"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), content, "the file is unchanged");
}

#[tokio::test]
async fn a_database_from_a_newer_app_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("messages.db");
    let store = Store::open(&path).await.expect("open");
    store.close().await;
    let pool = sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&path))
        .await
        .expect("raw");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .expect("fake a future migration");
    pool.close().await;
    let err = Store::open(&path).await.expect_err("must refuse");
    match &err {
        StoreError::NewerSchema { found, known, .. } => {
            assert_eq!(*found, 9999);
            assert_eq!(*known, wa_store::latest_schema_version());
        }
        other => panic!("unexpected: {other}"),
    }
    assert!(err.to_string().contains("Update the app"), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_the_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("new-data-dir");
    let path = data.join("messages.db");
    let store = Store::open(&path).await.expect("open");
    store.upsert_messages(&[]).await.expect("noop");
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&path), 0o600);
    let wal = data.join("messages.db-wal");
    assert!(wal.exists());
    assert_eq!(mode(&wal), 0o600, "SQLite gives the WAL the database's mode");
    store.close().await;
    // A file left readable by others is tightened on the next open.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = Store::open(&path).await.expect("reopen");
    assert_eq!(mode(&path), 0o600);
    store.close().await;
}

#[tokio::test]
async fn read_only_open_refuses_writes_with_words() {
    let (dir, store) = crate::fresh_store().await;
    let path = store.path().to_path_buf();
    store.close().await;
    let ro = Store::open_read_only(&path).await.expect("open read-only");
    let err = ro.set_setting("x", &1).await.expect_err("read-only");
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
    assert!(ro.statistics().await.is_ok());
    let missing = Store::open_read_only(dir.path().join("nope.db"))
        .await
        .expect_err("missing");
    assert!(missing.to_string().contains("does not exist"), "{missing}");
}

#[cfg(target_os = "linux")]
const FS_CHILD: &str = "WA_STORE_FS_CHILD";

/// A full disk and a read-only disk, on a real (tiny) tmpfs in a private mount
/// namespace: the test re-runs itself under `unshare` so it needs no root.
/// Linux only (tmpfs and mount namespaces); the Windows twin is not written
/// yet (docs/testing.md#windows).
#[cfg(target_os = "linux")]
#[test]
fn full_and_read_only_disks_get_clear_errors() {
    if std::env::var(FS_CHILD).is_ok() {
        fs_child();
        return;
    }
    let output = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount"])
        .arg(crate::this_binary())
        .args([
            "--exact",
            "errors::full_and_read_only_disks_get_clear_errors",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FS_CHILD, "1")
        .output()
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("FS CHILD OK"),
        "child failed:\n{stdout}\n{stderr}"
    );
}

#[cfg(target_os = "linux")]
fn mount(args: &[&str]) {
    let status = std::process::Command::new("mount").args(args).status().expect("mount");
    assert!(status.success(), "mount {args:?}");
}

#[cfg(target_os = "linux")]
fn fs_child() {
    let dir = tempfile::tempdir().expect("dir");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mkdir");
    mount(&["-t", "tmpfs", "-o", "size=600k", "tmpfs", mnt.to_str().expect("utf8")]);
    let path = mnt.join("messages.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = Store::open(&path).await.expect("open on tmpfs");
        let (_corpus, items) = crate::small_corpus();
        let mut stored = 0;
        let mut failure = None;
        for batch in items.chunks(100) {
            match store.apply(batch).await {
                Ok(report) => stored += report.inserted,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let err = failure.expect("600 KB must fill up");
        assert!(matches!(err, StoreError::DiskFull { .. }), "got: {err}");
        assert!(err.to_string().contains("disk holding"), "{err}");
        // Nothing committed was lost, and the file is sound.
        let stats = store.statistics().await.expect("stats after full disk");
        assert_eq!(stats.messages as u64, stored);
        assert!(store.integrity_check().await.expect("check").is_empty());
        store.close().await;

        mount(&["-o", "remount,ro", mnt.to_str().expect("utf8")]);
        let err = Store::open(&path).await.expect_err("read-only disk");
        assert!(matches!(err, StoreError::ReadOnly { .. }), "got: {err}");
        assert!(err.to_string().contains("read-only"), "{err}");
        println!("FS CHILD OK ({stored} messages before the disk filled)");
    });
}
