//! A child process ingesting a long history is killed with SIGKILL at random
//! points. After every kill the database passes `integrity_check`, holds every
//! batch the child reported committed, and holds the batch in flight either
//! whole or not at all.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use wa_store::{Item, MessageKey, Store};

const CHILD_DB: &str = "WA_STORE_CRASH_CHILD_DB";
const CHILD_FROM: &str = "WA_STORE_CRASH_CHILD_FROM";
const BATCH: usize = 250;
const KILLS: usize = 24;

fn batches() -> Vec<Vec<Item>> {
    let corpus = wa_corpus::Corpus::new(wa_corpus::Config {
        messages: 40_000,
        chats: 120,
        ..wa_corpus::Config::phone()
    });
    let items: Vec<Item> = corpus.items().collect();
    items.chunks(BATCH).map(<[Item]>::to_vec).collect()
}

fn message_keys(batch: &[Item]) -> Vec<MessageKey> {
    batch
        .iter()
        .filter_map(|i| match i {
            Item::Message(m) => Some(m.key()),
            _ => None,
        })
        .collect()
}

/// The child: apply batches from `from` on, printing each one committed.
fn child(db: &str, from: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = Store::open(db).await.expect("child open");
        for (n, batch) in batches().iter().enumerate().skip(from) {
            store.apply(batch).await.expect("child apply");
            println!("COMMITTED {n}");
        }
        println!("DONE");
    });
}

async fn stored_keys(store: &Store) -> HashSet<MessageKey> {
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(store.path())
            .read_only(true),
    )
    .await
    .expect("pool");
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.jid, m.msg_id, s.jid FROM messages m JOIN chats c ON c.id = m.chat_id JOIN contacts s ON s.id = m.sender_id",
    )
    .fetch_all(&pool)
    .await
    .expect("keys");
    pool.close().await;
    rows.into_iter()
        .map(|(chat_jid, msg_id, sender_jid)| MessageKey {
            chat_jid,
            msg_id,
            sender_jid,
        })
        .collect()
}

#[test]
fn killed_ingest_never_loses_a_committed_batch() {
    if let (Ok(db), Ok(from)) = (std::env::var(CHILD_DB), std::env::var(CHILD_FROM)) {
        child(&db, from.parse().expect("from"));
        return;
    }
    let batches = batches();
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("messages.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut rng = fastrand::Rng::with_seed(0xC4A5);
    let mut next = 0;
    let mut kills = 0;
    while kills < KILLS {
        assert!(
            next < batches.len(),
            "the corpus ran out after {kills} kills; make it longer"
        );
        let mut child = Command::new(crate::this_binary())
            .args([
                "--exact",
                "crash::killed_ingest_never_loses_a_committed_batch",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB, &db)
            .env(CHILD_FROM, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let wanted = rng.usize(1..4);
        let mut committed = None;
        let mut seen = 0;
        while seen < wanted {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(n) = line.strip_prefix("COMMITTED ") {
                committed = Some(n.parse::<usize>().expect("batch number"));
                seen += 1;
            }
        }
        // Somewhere inside the next batch's transaction, or between two.
        std::thread::sleep(Duration::from_micros(rng.u64(0..25_000)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        kills += 1;
        // Lines the child printed before it died: every batch it saw committed.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("COMMITTED ") {
                committed = Some(n.parse::<usize>().expect("batch number"));
            }
        }

        runtime.block_on(async {
            let store = Store::open(&db).await.expect("reopen after kill");
            let problems = store.integrity_check().await.expect("integrity check");
            assert!(problems.is_empty(), "kill {kills}: {problems:?}");
            let stored = stored_keys(&store).await;
            if let Some(n) = committed {
                next = n + 1;
            }
            for (n, batch) in batches.iter().enumerate().take(next) {
                for key in message_keys(batch) {
                    assert!(
                        stored.contains(&key),
                        "kill {kills}: batch {n} was reported committed but {key:?} is missing"
                    );
                }
            }
            // The batch in flight is all there or not there at all.
            if let Some(in_flight) = batches.get(next) {
                let keys = message_keys(in_flight);
                let present = keys.iter().filter(|k| stored.contains(k)).count();
                assert!(
                    present == 0 || present == keys.len(),
                    "kill {kills}: batch {next} is half stored ({present}/{})",
                    keys.len()
                );
                if present == keys.len() && !keys.is_empty() {
                    next += 1;
                }
            }
            let expected: usize = batches.iter().take(next).map(|b| message_keys(b).len()).sum();
            assert_eq!(
                stored.len(),
                expected,
                "kill {kills}: exactly the committed batches, no duplicates"
            );
            store.close().await;
        });
    }
}
