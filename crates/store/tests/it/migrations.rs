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
