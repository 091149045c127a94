//! Downloads on the simulated account: checked, saved, and asked of the phone
//! again when the file expired.

use wa_corpus::Config;
use wa_store::{MessageKind, NewMessage};

use crate::error::EngineError;
use crate::sim::account::SimConfig;
use crate::sim::media;
use crate::test_support::{expected_messages, synced};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_downloaded_checked_and_expired_files_are_asked_again() {
    let (dir, account, engine) = synced(Config::small(), SimConfig::default()).await;
    let store = engine.store().clone();
    let media_messages: Vec<NewMessage> = expected_messages(account.corpus())
        .into_iter()
        .filter(|m| m.media.is_some())
        .collect();
    let fresh = media_messages
        .iter()
        .find(|m| !media::starts_expired(&m.msg_id))
        .expect("a fresh file");
    let expired: Vec<&NewMessage> = media_messages
        .iter()
        .filter(|m| media::starts_expired(&m.msg_id))
        .take(2)
        .collect();
    assert_eq!(expired.len(), 2);

    let saved = engine.download_media(&fresh.key()).await.expect("download");
    assert!(!saved.reuploaded);
    let bytes = std::fs::read(&saved.path).expect("saved file");
    assert_eq!(bytes, media::file_for(&fresh.msg_id), "the exact file");
    assert!(saved.path.starts_with(dir.path().join("media")));
    let ext = saved.path.extension().and_then(|e| e.to_str()).expect("extension");
    assert!(
        ["jpg", "mp4", "ogg", "mp3", "webp", "pdf", "docx", "xlsx", "zip", "txt"].contains(&ext),
        "{ext}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved.path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only this user reads downloaded media");
    }

    // Expired on the server: the phone uploads it again and the download succeeds.
    let again = engine.download_media(&expired[0].key()).await.expect("re-uploaded");
    assert!(again.reuploaded);
    assert_eq!(
        std::fs::read(&again.path).expect("file"),
        media::file_for(&expired[0].msg_id)
    );
    let record = store.media(&expired[0].key()).await.expect("record").expect("media");
    assert!(
        record
            .info
            .direct_path
            .as_deref()
            .is_some_and(|p| p.contains("reupload"))
    );
    // Asked again: served from disk.
    let cached = engine.download_media(&expired[0].key()).await.expect("cached");
    assert_eq!(cached.path, again.path);

    // Expired and the phone offline: a sentence that says what to do, recorded.
    account.set_phone_online(false);
    let offline = engine
        .download_media(&expired[1].key())
        .await
        .expect_err("phone offline");
    assert!(matches!(offline, EngineError::PhoneOffline));
    assert!(offline.to_string().contains("Open WhatsApp on your phone"), "{offline}");
    let record = store.media(&expired[1].key()).await.expect("record").expect("media");
    assert!(record.last_error.is_some_and(|e| e.contains("phone")));

    // A text message has nothing to download.
    let text = expected_messages(account.corpus())
        .into_iter()
        .find(|m| m.kind == MessageKind::Text)
        .expect("a text");
    assert!(matches!(
        engine.download_media(&text.key()).await,
        Err(EngineError::NoMedia)
    ));
}

/// What senders call their files never makes a name Windows (or any system)
/// refuses: reserved device names, `:` and `\`, trailing dots and spaces.
#[test]
fn saved_names_are_valid_on_windows_whatever_the_file_was_called() {
    const RESERVED: [&str; 8] = ["CON", "PRN", "AUX", "NUL", "COM1", "COM9", "LPT1", "LPT9"];
    for sent in [
        "CON",
        "aux.txt",
        "a:b.pdf",
        "report...",
        "trailing. ",
        "..\\..\\evil.exe",
        "NUL.tar.gz",
        "über straße.docx",
        "",
    ] {
        let info = wa_store::MediaInfo {
            mime: Some("application/pdf".into()),
            file_name: Some(sent.into()),
            ..Default::default()
        };
        let path = super::media_name("120363000000000001@g.us", "3EB0:AB/CD", 1_767_225_600_000, &info);
        let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        assert_eq!(parts.len(), 2, "a folder and a file: {path:?}");
        for part in &parts {
            let stem = part.split('.').next().unwrap_or_default().to_ascii_uppercase();
            assert!(!RESERVED.contains(&stem.as_str()), "{sent:?} -> {part:?}");
            assert!(
                !part.chars().any(|c| "<>:\"/\\|?*".contains(c) || c.is_control()),
                "{sent:?} -> {part:?}"
            );
            assert!(
                !part.ends_with('.') && !part.ends_with(' ') && !part.is_empty(),
                "{sent:?} -> {part:?}"
            );
        }
        assert!(parts[1].starts_with("2026-01-01_"), "{parts:?}");
    }
}

/// A stranger's message carries the file's download address. One that does not
/// point at WhatsApp's media servers (the client library pastes it after the
/// media host) is refused before any request, and the message is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_address_that_leaves_whatsapp_s_servers_makes_no_request() {
    let (_dir, account, engine) = synced(Config::small(), SimConfig::default()).await;
    let store = engine.store().clone();
    let fresh: Vec<NewMessage> = expected_messages(account.corpus())
        .into_iter()
        .filter(|m| m.media.is_some() && !media::starts_expired(&m.msg_id))
        .take(2)
        .collect();
    let (victim, control) = (&fresh[0], &fresh[1]);
    for hostile in [
        ".attacker.example/v/t62.7118-24/x.enc",
        "@attacker.example/x.enc",
        ":8443/x.enc",
        "//attacker.example/x.enc",
        "/v/t62 x.enc\r\nHost: attacker.example",
        "/v/t62\\..\\x.enc",
    ] {
        // As if the message had carried it.
        store
            .record_media_download(&victim.key(), Err("test"), Some(hostile))
            .await
            .expect("set the path");
        let refused = engine.download_media(&victim.key()).await.expect_err(hostile);
        assert!(
            refused
                .to_string()
                .contains("does not point at WhatsApp's media servers"),
            "{refused}"
        );
        assert!(account.download_requests().is_empty(), "{hostile:?} made a request");
    }
    let record = store
        .media(&victim.key())
        .await
        .expect("record")
        .expect("the media row is kept");
    assert!(record.last_error.is_some_and(|e| e.contains("media servers")));
    assert!(
        store.get_message(&victim.key()).await.expect("query").is_some(),
        "the message is kept"
    );
    // Control: an ordinary address is fetched (one request).
    engine.download_media(&control.key()).await.expect("download");
    assert_eq!(account.download_requests().len(), 1);
    assert!(super::media_server_path(
        "/v/t62.7118-24/31337_2_n.enc?ccb=11-4&oh=01_Q5&oe=6800&_nc_sid=5e03e0"
    ));
}
