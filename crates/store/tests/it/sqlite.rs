//! The SQLite we link has what the store relies on.

#[tokio::test]
async fn linked_sqlite_has_fts5_and_both_tokenizers() {
    let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.expect("memory db");
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&pool)
        .await
        .expect("version");
    let parts: Vec<u32> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    // trigram's remove_diacritics (compared in the benchmark) needs 3.45.
    assert!(parts >= vec![3, 45], "SQLite {version} is older than 3.45");
    let fts5: bool = sqlx::query_scalar("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
        .fetch_one(&pool)
        .await
        .expect("compile options");
    assert!(fts5, "FTS5 is compiled in");
    sqlx::raw_sql(
        "CREATE VIRTUAL TABLE words USING fts5(t, tokenize = \"unicode61 remove_diacritics 2 categories 'L* N* Co M* So'\");
         CREATE VIRTUAL TABLE grams USING fts5(t, tokenize = 'trigram case_sensitive 0 remove_diacritics 1');
         INSERT INTO words VALUES ('Canción de cumpleaños');
         INSERT INTO grams VALUES ('Canción de cumpleaños');",
    )
    .execute(&pool)
    .await
    .expect("both tokenizers");
    let words: i64 = sqlx::query_scalar("SELECT count(*) FROM words WHERE words MATCH 'cancion'")
        .fetch_one(&pool)
        .await
        .expect("word match");
    let grams: i64 = sqlx::query_scalar("SELECT count(*) FROM grams WHERE grams MATCH 'umple'")
        .fetch_one(&pool)
        .await
        .expect("trigram match");
    assert_eq!((words, grams), (1, 1));
    let dbstat: i64 = sqlx::query_scalar("SELECT count(*) FROM dbstat")
        .fetch_one(&pool)
        .await
        .expect("dbstat (sizes in the benchmark)");
    assert!(dbstat > 0);
}
