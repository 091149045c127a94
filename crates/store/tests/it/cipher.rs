//! Encryption at rest (SQLCipher): what is on disk, the wrong key, archives and
//! backups from before encryption, backups and recovery of encrypted archives.

use std::path::Path;

use wa_store::{ArchiveKey, Item, SearchQuery, Store, StoreError};

use crate::{apply_all, small_corpus};

fn key(byte: u8) -> ArchiveKey {
    ArchiveKey::from_hex(&format!("{byte:02x}").repeat(32)).expect("64 hex digits")
}

/// A word of some message's text that is long enough to be distinctive.
fn distinctive_word(items: &[Item]) -> String {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Message(m) => m.text.clone(),
            _ => None,
        })
        .flat_map(|t| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|w| w.len() >= 9 && w.chars().all(char::is_alphabetic))
        .expect("a long word in the corpus")
}

/// Every byte of the file and its -wal, if any.
fn bytes_on_disk(path: &Path) -> Vec<u8> {
    let mut all = std::fs::read(path).expect("read archive");
    if let Ok(wal) = std::fs::read(format!("{}-wal", path.display())) {
        all.extend(wal);
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn hits(store: &Store, word: &str) -> usize {
    store
        .search(&SearchQuery {
            text: word.to_owned(),
            ..Default::default()
        })
        .await
        .expect("search")
        .items
        .len()
}

#[tokio::test]
async fn an_encrypted_archive_holds_no_readable_text_and_opens_only_with_its_key() {
    let (_c, items) = small_corpus();
    let word = distinctive_word(items);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("messages.db");
    let store = Store::open_with(&path, &key(7)).await.expect("create encrypted");
    assert!(store.encrypted());
    apply_all(&store, items, 700).await;
    let messages = store.statistics().await.expect("stats").messages;
    assert!(hits(&store, &word).await > 0, "search works on the encrypted archive");
    // While open, the WAL holds recent pages: encrypted too.
    let live = bytes_on_disk(&path);
    assert!(
        !contains(&live, word.as_bytes()),
        "'{word}' is readable in the open archive"
    );
    store.close().await;

    let on_disk = bytes_on_disk(&path);
    assert!(!on_disk.starts_with(b"SQLite format 3"), "the file is not plain SQLite");
    assert!(!contains(&on_disk, word.as_bytes()), "'{word}' is readable on disk");
    assert!(!contains(&on_disk, b"CREATE TABLE"), "the schema is readable on disk");
    // Control: the same data unencrypted does show the word.
    let plain = Store::open(dir.path().join("plain.db")).await.expect("plain");
    apply_all(&plain, items, 700).await;
    plain.close().await;
    assert!(contains(&bytes_on_disk(&dir.path().join("plain.db")), word.as_bytes()));

    // The right key: everything is there.
    let again = Store::open_with(&path, &key(7)).await.expect("reopen");
    assert_eq!(again.statistics().await.expect("stats").messages, messages);
    assert!(again.integrity_check().await.expect("check").is_empty());
    again.close().await;

    // Another key, or none: refused, and the file is left exactly as it was.
    let before = std::fs::read(&path).expect("read");
    let wrong = Store::open_with(&path, &key(8)).await.expect_err("wrong key");
    assert!(matches!(wrong, StoreError::Locked { .. }), "{wrong:?}");
    assert!(wrong.to_string().contains("keychain no longer holds"), "{wrong}");
    assert!(wrong.to_string().contains("Nothing in it was changed"), "{wrong}");
    let none = Store::open(&path).await.expect_err("no key");
    assert!(matches!(none, StoreError::NotADatabase { .. }), "{none:?}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "a refused open changes nothing"
    );
    // And open_or_recover does not "repair" an archive it merely cannot unlock.
    let locked = Store::open_or_recover(&path, &dir.path().join("backups"), &key(8))
        .await
        .expect_err("locked");
    assert!(matches!(locked, StoreError::Locked { .. }), "{locked:?}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "nothing set aside or rebuilt"
    );
}

#[tokio::test]
async fn a_new_archive_beside_a_left_over_key_fingerprint_takes_the_new_key() {
    // The person deleted the archive (not its `.keyid`) and the keychain's key
    // changed since: the fresh archive is not "locked", it takes the new key.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("messages.db");
    let keyid = Path::new(&format!("{}.keyid", path.display())).to_path_buf();
    let (_c, items) = small_corpus();
    let old = Store::open_with(&path, &key(7)).await.expect("create");
    apply_all(&old, &items[..100], 100).await;
    old.close().await;
    let old_fingerprint = std::fs::read_to_string(&keyid).expect("fingerprint");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let fresh = Store::open_with(&path, &key(8)).await.expect("a new archive");
    assert_eq!(fresh.statistics().await.expect("stats").messages, 0);
    fresh.close().await;
    assert_ne!(
        std::fs::read_to_string(&keyid).expect("fingerprint"),
        old_fingerprint,
        "the fingerprint is the new key's"
    );
    let wrong = Store::open_with(&path, &key(7)).await.expect_err("the old key");
    assert!(matches!(wrong, StoreError::Locked { .. }), "{wrong:?}");
    Store::open_with(&path, &key(8)).await.expect("the new key opens it");
}

#[tokio::test]
async fn a_passphrase_locks_the_archive_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("messages.db");
    let phrase = |p: &str| ArchiveKey::Passphrase(zeroize::Zeroizing::new(p.to_owned()));
    let store = Store::open_with(&path, &phrase("correct horse 'battery'"))
        .await
        .expect("create");
    let (_c, items) = small_corpus();
    apply_all(&store, &items[..200], 100).await;
    store.close().await;
    assert!(!bytes_on_disk(&path).starts_with(b"SQLite format 3"));
    assert!(
        !Path::new(&format!("{}.keyid", path.display())).exists(),
        "no fingerprint of a passphrase"
    );
    let wrong = Store::open_with(&path, &phrase("correct horse battery"))
        .await
        .expect_err("wrong passphrase");
    assert!(matches!(wrong, StoreError::Locked { .. }), "{wrong:?}");
    assert!(wrong.to_string().contains("passphrase"), "{wrong}");
    let right = Store::open_with(&path, &phrase("correct horse 'battery'"))
        .await
        .expect("right");
    assert!(right.statistics().await.expect("stats").messages > 0);
}

#[tokio::test]
async fn an_archive_and_backups_from_before_encryption_are_encrypted_at_the_first_start() {
    let (_c, items) = small_corpus();
    let word = distinctive_word(items);
    let dir = tempfile::tempdir().expect("dir");
    let live = dir.path().join("live").join("messages.db");
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(live.parent().expect("dir")).expect("dir");
    let plain = Store::open(&live).await.expect("plain");
    apply_all(&plain, items, 700).await;
    let messages = plain.statistics().await.expect("stats").messages;
    let found = hits(&plain, &word).await;
    let backup = backups.join("messages-1800000000.db");
    std::fs::create_dir_all(&backups).expect("dir");
    plain.backup(&backup).await.expect("plain backup");
    // What a crash leaves: the files as they are while the archive is open,
    // the WAL not folded, so the newest rows live only in the -wal file. (A
    // copy: Windows lets no one replace a file this process still holds open.)
    let path = dir.path().join("messages.db");
    for suffix in ["", "-wal"] {
        std::fs::copy(
            format!("{}{suffix}", live.display()),
            format!("{}{suffix}", path.display()),
        )
        .expect("copy");
    }
    std::mem::forget(plain);
    assert!(
        contains(&std::fs::read(&backup).expect("read"), word.as_bytes()),
        "control: plain backup"
    );
    // A crash of an earlier attempt left a partial file behind.
    std::fs::write(format!("{}.encrypting", path.display()), b"half an attempt").expect("partial");

    let (store, recovery) = Store::open_or_recover(&path, &backups, &key(3)).await.expect("open");
    assert_eq!(recovery, None);
    assert!(store.encrypted());
    assert_eq!(
        store.statistics().await.expect("stats").messages,
        messages,
        "nothing lost"
    );
    assert_eq!(hits(&store, &word).await, found, "the search index came along");
    assert!(store.integrity_check().await.expect("check").is_empty());
    store.close().await;
    for file in [&path, &backup] {
        let bytes = bytes_on_disk(file);
        assert!(
            !bytes.starts_with(b"SQLite format 3"),
            "{} is still plain",
            file.display()
        );
        assert!(
            !contains(&bytes, word.as_bytes()),
            "'{word}' readable in {}",
            file.display()
        );
    }
    assert!(!Path::new(&format!("{}.encrypting", path.display())).exists());
    let restored = Store::open_read_only_with(&backup, &key(3))
        .await
        .expect("backup opens with the key");
    assert_eq!(restored.statistics().await.expect("stats").messages, messages);
}

#[tokio::test]
async fn backups_of_an_encrypted_archive_are_encrypted_and_damage_is_still_recovered() {
    let (_c, items) = small_corpus();
    let word = distinctive_word(items);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("messages.db");
    let backups = dir.path().join("backups");
    let store = Store::open_with(&path, &key(5)).await.expect("create");
    apply_all(&store, items, 700).await;
    let messages = store.statistics().await.expect("stats").messages;
    let made = store
        .rolling_backup(&backups, 3, std::time::Duration::from_hours(24), 1_800_000_000)
        .await
        .expect("backup")
        .expect("made");
    let bytes = std::fs::read(&made).expect("read backup");
    assert!(!bytes.starts_with(b"SQLite format 3") && !contains(&bytes, word.as_bytes()));
    assert!(Store::open_read_only(&made).await.is_err(), "the backup needs the key");
    store.close().await;

    // Damaged pages in the middle: found (each page has its own MAC) and salvaged.
    let len = std::fs::metadata(&path).expect("meta").len();
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start((len / 2) / 4096 * 4096)).expect("seek");
    std::io::Write::write_all(&mut file, &vec![0xA5; 8 * 4096]).expect("damage");
    drop(file);
    let (store, recovery) = Store::open_or_recover(&path, &backups, &key(5))
        .await
        .expect("recovered");
    let Some(wa_store::Recovery::Salvaged { messages: saved, .. }) = recovery else {
        panic!("expected a salvage, got {recovery:?}");
    };
    assert!(saved > 0 && saved <= messages as u64, "{saved} of {messages}");
    assert!(store.encrypted() && store.quick_check().await.expect("check").is_empty());
    store.close().await;
    assert!(
        !contains(&bytes_on_disk(&path), word.as_bytes()),
        "the rebuilt archive is encrypted"
    );

    // The whole file destroyed: the (encrypted) backup is restored with the same key.
    std::fs::write(&path, vec![0x5A; 64 * 1024]).expect("destroy");
    let (store, recovery) = Store::open_or_recover(&path, &backups, &key(5))
        .await
        .expect("restored");
    assert!(
        matches!(recovery, Some(wa_store::Recovery::Restored { .. })),
        "{recovery:?}"
    );
    assert_eq!(store.statistics().await.expect("stats").messages, messages);
}
