//! Import from lharries/whatsapp-mcp's bridge database.

use wa_store::{MessageFilter, MessageKey, MessageKind, SortOrder, StoreError};

/// The schema the Go bridge creates (whatsapp-bridge/main.go), verbatim.
const LHARRIES_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS chats (
        jid TEXT PRIMARY KEY,
        name TEXT,
        last_message_time TIMESTAMP
    );
    CREATE TABLE IF NOT EXISTS messages (
        id TEXT,
        chat_jid TEXT,
        sender TEXT,
        content TEXT,
        timestamp TIMESTAMP,
        is_from_me BOOLEAN,
        media_type TEXT,
        filename TEXT,
        url TEXT,
        media_key BLOB,
        file_sha256 BLOB,
        file_enc_sha256 BLOB,
        file_length INTEGER,
        PRIMARY KEY (id, chat_jid),
        FOREIGN KEY (chat_jid) REFERENCES chats(jid)
    );";

async fn lharries_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("messages.db");
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .expect("create");
    sqlx::raw_sql(LHARRIES_SCHEMA).execute(&pool).await.expect("schema");
    sqlx::raw_sql(
        "INSERT INTO chats VALUES ('34600111222@s.whatsapp.net', 'Lucía', '2024-03-01 14:30:00+01:00');
         INSERT INTO chats VALUES ('120363000000000001@g.us', 'Family', '2024-03-02 09:00:00+00:00');
         INSERT INTO messages VALUES ('A1', '34600111222@s.whatsapp.net', '34600111222', '¿Vienes a la cena?',
             '2024-03-01 14:30:00+01:00', 0, '', '', '', NULL, NULL, NULL, 0);
         INSERT INTO messages VALUES ('A2', '34600111222@s.whatsapp.net', '447700900000', 'Sí, llego a las 9',
             '2024-03-01 14:31:05.250+01:00', 1, '', '', '', NULL, NULL, NULL, 0);
         INSERT INTO messages VALUES ('G1', '120363000000000001@g.us', '447700900111', 'Look at this',
             '2024-03-02 09:00:00+00:00', 0, 'image', 'photo.jpg', 'https://mmg.whatsapp.net/v/t62/abc?x=1',
             x'0102', x'0304', x'0506', 12345);
         INSERT INTO messages VALUES ('G2', '120363000000000001@g.us', '447700900111', 'minutes',
             '2024-03-02 09:05:00+00:00', 0, 'document', 'minutes.pdf', '', NULL, NULL, NULL, 99);
         INSERT INTO messages VALUES ('BAD', '120363000000000001@g.us', '447700900111', 'no time', 'someday', 0,
             '', '', '', NULL, NULL, NULL, 0);",
    )
    .execute(&pool)
    .await
    .expect("rows");
    pool.close().await;
    path
}

#[tokio::test]
async fn imports_once_and_only_once() {
    let dir = tempfile::tempdir().expect("dir");
    let source = lharries_file(dir.path()).await;
    let (_d, store) = crate::fresh_store().await;
    let first = store.import_lharries(&source).await.expect("import");
    assert_eq!(first.chats, 2);
    assert_eq!(first.messages_inserted, 4);
    assert_eq!(first.messages_already_present, 0);
    assert_eq!(first.messages_skipped, 1, "the row with an unreadable time");
    let second = store.import_lharries(&source).await.expect("again");
    assert_eq!(second.messages_inserted, 0);
    assert_eq!(second.messages_already_present, 4);
    assert_eq!(store.statistics().await.expect("stats").messages, 4);

    let reply = store
        .get_message(&MessageKey {
            chat_jid: "34600111222@s.whatsapp.net".into(),
            msg_id: "A2".into(),
            sender_jid: "447700900000@s.whatsapp.net".into(),
        })
        .await
        .expect("get")
        .expect("imported");
    assert!(reply.from_me);
    assert_eq!(reply.ts, 1_709_299_865_250);
    assert_eq!(reply.text.as_deref(), Some("Sí, llego a las 9"));

    let photo_key = MessageKey {
        chat_jid: "120363000000000001@g.us".into(),
        msg_id: "G1".into(),
        sender_jid: "447700900111@s.whatsapp.net".into(),
    };
    let photo = store.get_message(&photo_key).await.expect("get").expect("imported");
    assert_eq!(photo.kind, MessageKind::Image);
    let media = store.media(&photo_key).await.expect("media").expect("media row");
    assert_eq!(media.info.media_key.as_deref(), Some(&[1u8, 2][..]));
    assert_eq!(media.info.file_length, Some(12345));
    assert_eq!(media.info.file_name.as_deref(), Some("photo.jpg"));

    let group = store
        .get_chat("120363000000000001@g.us")
        .await
        .expect("chat")
        .expect("exists");
    assert_eq!(group.kind, wa_store::ChatKind::Group);
    assert_eq!(group.name.as_deref(), Some("Family"));
    let found = store
        .search(&wa_store::SearchQuery {
            text: "cena".into(),
            ..Default::default()
        })
        .await
        .expect("search");
    assert_eq!(found.items.len(), 1, "imported text is searchable");
    let page = store
        .list_messages(
            &MessageFilter {
                chat_jid: Some(crate::jid("120363000000000001@g.us")),
                ..Default::default()
            },
            SortOrder::Oldest,
            10,
            None,
        )
        .await
        .expect("list");
    assert_eq!(
        page.items.iter().map(|m| m.msg_id.as_str()).collect::<Vec<_>>(),
        ["G1", "G2"]
    );
}

#[tokio::test]
async fn other_files_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let (_d, store) = crate::fresh_store().await;

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").expect("write");
    let err = store.import_lharries(&text).await.expect_err("text file");
    assert!(matches!(err, StoreError::NotLharriesDatabase { .. }));
    assert!(err.to_string().contains("not an SQLite database"), "{err}");

    // Our own database is SQLite, but not the bridge's.
    let err = store.import_lharries(store.path()).await.expect_err("our own db");
    assert!(err.to_string().contains("whatsapp-bridge/store/messages.db"), "{err}");
    assert!(err.to_string().contains("column"), "{err}");

    let err = store
        .import_lharries(&dir.path().join("missing.db"))
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("no file"), "{err}");
    assert_eq!(store.statistics().await.expect("stats").messages, 0);
}
