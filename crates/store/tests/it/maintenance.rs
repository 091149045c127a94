//! Integrity check, backup while in use, and recovery of a damaged file.

use std::io::{Seek, SeekFrom, Write};

use wa_store::{Item, MessageFilter, SortOrder, Store};

use crate::{apply_all, fresh_store, small_corpus};

#[tokio::test]
async fn rolling_backups_are_daily_keep_the_newest_and_each_is_a_whole_archive() {
    let (_c, items) = small_corpus();
    let (dir, store) = fresh_store().await;
    apply_all(&store, items, 700).await;
    let messages = store.statistics().await.expect("s").messages;
    let backups = dir.path().join("backups");
    let day = std::time::Duration::from_hours(24);
    let t0 = 1_800_000_000;
    // A hand-made copy before an upgrade is not part of the rotation.
    std::fs::create_dir_all(&backups).expect("dir");
    std::fs::write(backups.join("before-upgrade-v1-1.db"), b"kept").expect("write");

    let first = store.rolling_backup(&backups, 2, day, t0).await.expect("first");
    assert!(first.is_some(), "no backup yet: one is made");
    let again = store.rolling_backup(&backups, 2, day, t0 + 3600).await.expect("again");
    assert_eq!(again, None, "an hour later: the day's backup is fresh enough");
    let second = store
        .rolling_backup(&backups, 2, day, t0 + 25 * 3600)
        .await
        .expect("second");
    let third = store
        .rolling_backup(&backups, 2, day, t0 + 50 * 3600)
        .await
        .expect("third");
    let mut names: Vec<String> = std::fs::read_dir(&backups)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "before-upgrade-v1-1.db".to_owned(),
            format!("messages-{}.db", t0 + 25 * 3600),
            format!("messages-{}.db", t0 + 50 * 3600),
        ],
        "the oldest rolling backup went; the newest two and the upgrade copy stay"
    );
    for backup in [second.expect("made"), third.expect("made")] {
        let copy = Store::open_read_only(&backup).await.expect("opens");
        assert_eq!(copy.statistics().await.expect("s").messages, messages);
        assert!(copy.integrity_check().await.expect("check").is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&backup).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", backup.display());
        }
    }
}

#[tokio::test]
async fn backup_is_a_complete_consistent_copy() {
    let (_c, items) = small_corpus();
    let (dir, store) = fresh_store().await;
    apply_all(&store, items, 700).await;
    let dest = dir.path().join("backup.db");
    store.backup(&dest).await.expect("backup");
    let copy = Store::open(&dest).await.expect("open backup");
    assert_eq!(
        copy.statistics().await.expect("s").messages,
        store.statistics().await.expect("s").messages
    );
    assert!(copy.integrity_check().await.expect("check").is_empty());
    let hits = copy
        .search(&wa_store::SearchQuery {
            text: "que".into(),
            ..Default::default()
        })
        .await
        .expect("search");
    assert!(!hits.items.is_empty(), "the copy's search index works");
    let err = store.backup(&dest).await.expect_err("never overwrite");
    assert!(err.to_string().contains("cannot overwrite"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&dest).expect("meta").permissions().mode() & 0o777,
            0o600
        );
    }
}

#[tokio::test]
async fn a_damaged_file_is_detected_and_recovered_without_inventing_anything() {
    let (_c, items) = small_corpus();
    let (_dir, store) = fresh_store().await;
    apply_all(&store, items, 700).await;
    let path = store.path().to_path_buf();
    let before = store.statistics().await.expect("stats");
    let originals: std::collections::HashMap<String, Option<String>> = all_messages(&store)
        .await
        .into_iter()
        .map(|m| (format!("{}/{}/{}", m.chat_jid, m.msg_id, m.sender_jid), m.text))
        .collect();
    store.close().await;
    assert!(
        !path.with_extension("db-wal").exists(),
        "closing folds the WAL into the file"
    );

    // Overwrite eight pages in the middle of the file with garbage.
    let len = std::fs::metadata(&path).expect("meta").len();
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).expect("open file");
    file.seek(SeekFrom::Start((len / 2) / 4096 * 4096)).expect("seek");
    file.write_all(&vec![0xA5; 8 * 4096]).expect("damage");
    drop(file);

    // Detected either on opening or by the integrity check, depending on which pages were hit.
    match Store::open(&path).await {
        Ok(damaged) => {
            let problems = damaged.integrity_check().await.expect("check runs");
            assert!(!problems.is_empty(), "the damage is detected");
            damaged.close().await;
        }
        Err(e) => {
            assert!(matches!(e, wa_store::StoreError::Corrupt { .. }), "{e}");
            assert!(e.to_string().contains("Start the app again"), "{e}");
        }
    }

    let (recovered, report) = Store::recover(&path).await.expect("recover");
    assert!(
        report.damaged_copy.as_ref().is_some_and(|p| p.exists()),
        "the damaged file is kept aside"
    );
    assert!(
        recovered.integrity_check().await.expect("check").is_empty(),
        "the new file is sound"
    );
    let after = recovered.statistics().await.expect("stats");
    // Rows under a damaged interior page of the table are out of reach of this
    // b-tree based copy (page-level salvage is issue 9's); here: some are saved.
    assert!(
        after.messages > 0,
        "messages saved: {} of {}",
        after.messages,
        before.messages
    );
    assert!(after.messages <= before.messages);
    assert_eq!(after.messages as u64, report.messages());
    for m in all_messages(&recovered).await {
        let key = format!("{}/{}/{}", m.chat_jid, m.msg_id, m.sender_jid);
        if let Some(text) = originals.get(&key) {
            assert_eq!(&m.text, text, "recovered text is the original");
        } else {
            assert!(
                m.chat_jid.starts_with("recovered-") || m.sender_jid.starts_with("recovered-"),
                "{key} was invented"
            );
        }
    }
    // The recovered store takes new data and re-syncs what was lost without duplicates.
    let report = apply_all(&recovered, items, 700).await;
    assert_eq!(report.inserted + report.already_present, before.messages as u64);
}

async fn all_messages(store: &Store) -> Vec<wa_store::Message> {
    let filter = MessageFilter {
        include_deleted: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_messages(&filter, SortOrder::Oldest, 500, cursor.as_deref())
            .await
            .expect("list");
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

#[tokio::test]
async fn integrity_check_is_clean_on_a_healthy_store() {
    let (_dir, store) = fresh_store().await;
    store
        .apply(&[Item::Chat(wa_store::ChatUpdate {
            jid: "x@g.us".into(),
            ..Default::default()
        })])
        .await
        .expect("chat");
    assert_eq!(store.integrity_check().await.expect("check"), Vec::<String>::new());
}

/// Damage `path`: `len` bytes of garbage at `at`.
fn scribble(path: &std::path::Path, at: u64, len: usize) {
    let mut file = std::fs::OpenOptions::new().write(true).open(path).expect("open file");
    file.seek(SeekFrom::Start(at)).expect("seek");
    file.write_all(&vec![0xA5; len]).expect("damage");
}

const DAY: u64 = 86_400;

#[tokio::test]
async fn at_start_damaged_pages_are_found_and_what_can_be_saved_is_saved() {
    let (_c, items) = small_corpus();
    let (dir, store) = fresh_store().await;
    apply_all(&store, items, 700).await;
    let path = store.path().to_path_buf();
    let before = store.statistics().await.expect("stats").messages;
    store.close().await;
    let len = std::fs::metadata(&path).expect("meta").len();
    scribble(&path, (len / 2) / 4096 * 4096, 8 * 4096);

    let (store, recovery) = Store::open_or_recover(&path, &dir.path().join("backups"), &wa_store::ArchiveKey::None)
        .await
        .expect("opened");
    let Some(wa_store::Recovery::Salvaged {
        messages,
        damaged_kept_at,
    }) = recovery.clone()
    else {
        panic!("expected a salvage, got {recovery:?}");
    };
    assert!(messages > 0 && messages <= before as u64, "{messages} of {before}");
    assert!(damaged_kept_at.exists(), "the damaged file is kept");
    assert!(
        store.quick_check().await.expect("check").is_empty(),
        "the new archive is sound"
    );
    let sentence = recovery.expect("recovery").sentence();
    assert!(
        sentence.contains("damaged") && sentence.contains(&format!("{messages} messages")),
        "{sentence}"
    );
    // A sound archive opens with nothing to say.
    store.close().await;
    let (_store, again) = Store::open_or_recover(&path, &dir.path().join("backups"), &wa_store::ArchiveKey::None)
        .await
        .expect("opened");
    assert_eq!(again, None);
}

#[tokio::test]
async fn at_start_a_destroyed_file_gives_way_to_the_newest_sound_backup() {
    let (_c, items) = small_corpus();
    let (dir, store) = fresh_store().await;
    let backups = dir.path().join("backups");
    let now = 1_800_000_000;
    apply_all(&store, &items[..1_000], 500).await;
    let older = store
        .rolling_backup(&backups, 7, std::time::Duration::from_secs(DAY), now - 2 * DAY)
        .await
        .expect("backup")
        .expect("made");
    apply_all(&store, &items[1_000..], 500).await;
    let newer = store
        .rolling_backup(&backups, 7, std::time::Duration::from_secs(DAY), now - DAY)
        .await
        .expect("backup")
        .expect("made");
    let in_newer = store.statistics().await.expect("stats").messages;
    let path = store.path().to_path_buf();
    store.close().await;
    // The newest backup is itself broken; the file's first pages are garbage.
    scribble(&newer, 0, 4096);
    scribble(&path, 0, 3 * 4096);

    let (store, recovery) = Store::open_or_recover(&path, &backups, &wa_store::ArchiveKey::None)
        .await
        .expect("opened");
    match &recovery {
        Some(wa_store::Recovery::Restored {
            backup,
            damaged_kept_at,
            ..
        }) => {
            assert_eq!(backup, &older, "the broken newer backup is passed over");
            assert!(damaged_kept_at.exists());
        }
        other => panic!("expected a restore, got {other:?}"),
    }
    let restored = store.statistics().await.expect("stats").messages;
    assert!(
        restored > 0 && restored < in_newer,
        "{restored} (the older backup) of {in_newer}"
    );
    assert!(store.quick_check().await.expect("check").is_empty());
    assert!(recovery.expect("recovery").sentence().contains("was restored"));
}

#[tokio::test]
async fn at_start_a_destroyed_file_without_backups_starts_afresh_and_keeps_it() {
    let (_c, items) = small_corpus();
    let (dir, store) = fresh_store().await;
    apply_all(&store, items, 700).await;
    let path = store.path().to_path_buf();
    store.close().await;
    scribble(&path, 0, 3 * 4096);
    let (store, recovery) = Store::open_or_recover(&path, &dir.path().join("backups"), &wa_store::ArchiveKey::None)
        .await
        .expect("opened");
    let Some(wa_store::Recovery::Fresh { damaged_kept_at }) = recovery else {
        panic!("expected a new archive, got {recovery:?}");
    };
    assert!(damaged_kept_at.exists());
    assert_eq!(store.statistics().await.expect("stats").messages, 0);
}

#[tokio::test]
async fn at_start_a_file_whose_wal_was_lost_mid_write_is_sound_and_opens_as_is() {
    let (_c, items) = small_corpus();
    let (dir, store) = fresh_store().await;
    apply_all(&store, &items[..1_500], 500).await;
    // Closing folds the WAL into the file; the next writes sit in a new WAL.
    let path = store.path().to_path_buf();
    store.close().await;
    let store = Store::open(&path).await.expect("reopened");
    apply_all(&store, &items[1_500..], 500).await;
    // The main file as it is on disk while writes sit in the WAL: the WAL is gone.
    let copy = dir.path().join("lost-wal").join("messages.db");
    std::fs::create_dir_all(copy.parent().expect("dir")).expect("dir");
    std::fs::copy(store.path(), &copy).expect("copy");
    let (opened, recovery) = Store::open_or_recover(&copy, &dir.path().join("backups"), &wa_store::ArchiveKey::None)
        .await
        .expect("opened");
    assert_eq!(recovery, None, "an older but sound archive needs no recovery");
    assert!(opened.quick_check().await.expect("check").is_empty());
    assert!(opened.statistics().await.expect("stats").messages > 0);
}

#[tokio::test]
async fn a_chosen_backup_is_checked_staged_and_put_in_place_at_the_next_start() {
    use wa_store::restore::{apply_staged_restore, list_backups, stage_restore, staged_path};
    let (_c, items) = small_corpus();
    let dir = tempfile::tempdir().expect("dir");
    let key = wa_store::ArchiveKey::from_hex(&"3c".repeat(32)).expect("key");
    let path = dir.path().join("messages.db");
    let backups = dir.path().join("backups");
    let store = Store::open_with(&path, &key).await.expect("open");
    let half = items.len() / 2;
    apply_all(&store, &items[..half], 700).await;
    let older = store.statistics().await.expect("stats").messages;
    let day = std::time::Duration::from_hours(24);
    let chosen = store
        .rolling_backup(&backups, 5, day, 1_800_000_000)
        .await
        .expect("backup")
        .expect("made");
    apply_all(&store, &items[half..], 700).await;
    let newer = store.statistics().await.expect("stats").messages;
    assert!(newer > older);
    store
        .rolling_backup(&backups, 5, day, 1_800_000_000 + 2 * 86_400)
        .await
        .expect("backup");
    // A damaged backup among them.
    let broken = backups.join("messages-1800090000.db");
    std::fs::write(&broken, vec![0x33; 8192]).expect("broken");

    let listed = list_backups(&backups, &key).await;
    let made: Vec<u64> = listed.iter().map(|b| b.made_at_secs).collect();
    assert_eq!(made, vec![1_800_172_800, 1_800_090_000, 1_800_000_000], "newest first");
    let counts: Vec<Option<i64>> = listed.iter().map(|b| b.messages).collect();
    assert_eq!(
        counts,
        vec![Some(newer), None, Some(older)],
        "what each holds; the broken one cannot say"
    );

    // The broken one is refused in words, and nothing is staged.
    let refused = stage_restore(&path, &broken, &key).await.expect_err("broken backup");
    assert!(refused.to_string().contains("cannot be restored"), "{refused}");
    assert!(refused.to_string().contains("was not changed"), "{refused}");
    assert!(!staged_path(&path).exists());

    // The chosen one: staged while the archive stays in use, unchanged.
    assert_eq!(stage_restore(&path, &chosen, &key).await.expect("staged"), older);
    assert_eq!(store.statistics().await.expect("stats").messages, newer);
    store.close().await;

    // Next start: it takes the archive's place; the replaced one is kept.
    let aside = apply_staged_restore(&path)
        .expect("applied")
        .expect("a file was replaced");
    assert!(!staged_path(&path).exists());
    let (restored, recovery) = Store::open_or_recover(&path, &backups, &key).await.expect("open");
    assert_eq!(recovery, None);
    assert_eq!(restored.statistics().await.expect("stats").messages, older);
    restored.close().await;
    let kept = Store::open_read_only_with(&aside, &key)
        .await
        .expect("kept archive opens");
    assert_eq!(kept.statistics().await.expect("stats").messages, newer, "nothing lost");
    // Nothing staged: nothing to do.
    assert_eq!(apply_staged_restore(&path).expect("nothing"), None);
}
