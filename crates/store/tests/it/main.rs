//! The store's integration tests: one binary, one module per area.
// Scenario tests read top to bottom, one story each: long is clearer than split.
#![allow(clippy::too_many_lines)]

mod cipher;
mod crash;
mod errors;
mod ingest;
mod lharries;
mod lid;
mod maintenance;
mod migrations;
mod props;
mod queries;
mod scope;
mod search;
mod secrets;
mod sqlite;

use std::path::PathBuf;

use wa_store::{Item, Store};

/// A fresh store in its own temporary folder (kept alive by the returned guard).
pub async fn fresh_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("data").join("messages.db"))
        .await
        .expect("open store");
    (dir, store)
}

/// Apply items in batches of `size`.
pub async fn apply_all(store: &Store, items: &[Item], size: usize) -> wa_store::BatchReport {
    let mut total = wa_store::BatchReport::default();
    for chunk in items.chunks(size) {
        total += store.apply(chunk).await.expect("apply batch");
    }
    total
}

/// A small corpus shared by several tests, generated once.
pub fn small_corpus() -> &'static (wa_corpus::Corpus, Vec<Item>) {
    static CORPUS: std::sync::OnceLock<(wa_corpus::Corpus, Vec<Item>)> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        let corpus = wa_corpus::Corpus::new(wa_corpus::Config::small());
        let items = corpus.items().collect();
        (corpus, items)
    })
}

/// This test binary, for tests that run part of themselves in a child process.
pub fn this_binary() -> PathBuf {
    std::env::current_exe().expect("current exe")
}

/// A checked address from one the test knows is right.
pub fn jid(text: &str) -> wa_store::Jid {
    wa_store::Jid::parse(text).unwrap_or_else(|e| panic!("{e}"))
}
