//! Every earlier schema version migrates to the latest with its data intact.

use wa_store::{MIGRATOR, SearchQuery, Store};

async fn database_at_version(path: &std::path::Path, version: i64) {
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true),
    )
    .await
    .expect("create");
    MIGRATOR.run_to(version, &pool).await.expect("partial migration");
    // Data as version 1 (and every later one) stores it.
    sqlx::raw_sql(
        "INSERT INTO chats (id, jid, kind, name, last_message_id, last_message_ts) VALUES (1, 'old@g.us', 'group', 'Old friends', 8192, 2);
         INSERT INTO contacts (id, jid, push_name) VALUES (1, 'a@s.whatsapp.net', 'Ana');
         INSERT INTO messages (id, chat_id, msg_id, sender_id, ts, kind, text) VALUES
             (4096, 1, 'M1', 1, 1, 'text', 'an old message about tapas'),
             (8192, 1, 'M2', 1, 2, 'text', 'and another about paella');",
    )
    .execute(&pool)
    .await
    .expect("seed data");
    pool.close().await;
}

#[tokio::test]
async fn an_upgrade_first_keeps_a_copy_of_the_archive_as_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("messages.db");
    database_at_version(&path, 1).await;
    let store = Store::open(&path).await.expect("upgrade");
    store.close().await;
    let copies: Vec<_> = std::fs::read_dir(dir.path().join("backups"))
        .expect("a backups folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let name = copies[0].file_name().expect("name").to_string_lossy().into_owned();
    assert!(name.starts_with("before-upgrade-v1-"), "{name}");
    // The copy is the archive before the upgrade: version 1, same messages.
    let pool = sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&copies[0]))
        .await
        .expect("open copy");
    let version: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .expect("version");
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!((version, messages), (1, 2));
    pool.close().await;
    // Opening the upgraded archive again (or a new one) makes no more copies.
    let store = Store::open(&path).await.expect("reopen");
    store.close().await;
    let fresh = tempfile::tempdir().expect("dir");
    Store::open(fresh.path().join("messages.db"))
        .await
        .expect("new")
        .close()
        .await;
    assert_eq!(std::fs::read_dir(dir.path().join("backups")).expect("list").count(), 1);
    assert!(!fresh.path().join("backups").exists());
}

#[tokio::test]
async fn every_earlier_version_migrates_with_data_intact() {
    let latest = wa_store::latest_schema_version();
    let versions: Vec<i64> = MIGRATOR.iter().map(|m| m.version).filter(|v| *v < latest).collect();
    assert!(!versions.is_empty(), "there are earlier versions to test");
    for version in versions {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("messages.db");
        database_at_version(&path, version).await;
        let store = Store::open(&path)
            .await
            .unwrap_or_else(|e| panic!("from v{version}: {e}"));
        assert_eq!(
            store.schema_version().await.expect("version"),
            latest,
            "from v{version}"
        );
        let stats = store.statistics().await.expect("stats");
        assert_eq!((stats.messages, stats.chats), (2, 1), "from v{version}");
        let hits = store
            .search(&SearchQuery {
                text: "tapas".into(),
                ..Default::default()
            })
            .await
            .expect("search");
        assert_eq!(hits.items.len(), 1, "from v{version}: old messages are searchable");
        assert_eq!(hits.items[0].message.sender_name.as_deref(), Some("Ana"));
        let chat = store.get_chat("old@g.us").await.expect("chat").expect("kept");
        assert_eq!(chat.last_message_preview.as_deref(), Some("and another about paella"));
        assert!(
            store.integrity_check().await.expect("check").is_empty(),
            "from v{version}"
        );
        // New data goes in after the upgrade.
        store
            .set_setting("send_policy", "ask")
            .await
            .expect("settings table exists");
        store.close().await;
    }
}
