//! What a whole session with the real WhatsApp client leaves in the app's log
//! (issue 9): the app's own logging (`install_logging`, the layers `run()`
//! installs), the real `whatsapp-rust` client against the local WhatsApp
//! server, linking, messages both ways, a group, a file. The log must hold
//! none of the texts, phone numbers or keys of that session.

use std::time::Duration;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use wa_engine::real::{Endpoints, RealAccount};
use wa_engine::{Engine, EngineOptions, EngineState, Outgoing};
use wa_localserver::{LocalServer, Seen};
use wa_store::Store;

const PHONE: &str = "447700912345";
const ANA: &str = "34611223344";
const BRUNO: &str = "34655667788";
const WAIT: Duration = Duration::from_secs(30);

async fn wait_state(engine: &Engine, what: &str, want: impl Fn(&EngineState) -> bool) -> EngineState {
    let mut state = engine.state();
    let reached = match tokio::time::timeout(WAIT, state.wait_for(|s| want(s))).await {
        Ok(Ok(s)) => Some(s.clone()),
        _ => None,
    };
    reached.unwrap_or_else(|| panic!("engine never reached {what}; it is {:?}", *state.borrow()))
}

async fn wait_stored(store: &Store, chat: &str, id: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while store.find_messages(Some(chat), id).await.expect("store").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "message {id} never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_client_session_leaves_no_text_number_or_key_in_the_log() {
    let dir = tempfile::tempdir().expect("dir");
    let log_path = dir.path().join("app.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    // Everything at `debug`: stricter than the app's default (`info`). The
    // logging is this test binary's only subscriber.
    wa_app::logging::install(Some(log), "debug", true);

    let server = LocalServer::start(PHONE).await.expect("server");
    let ana = server.add_contact(ANA, "Ana Secretname").await.expect("contact");
    server.add_contact(BRUNO, "Bruno").await.expect("contact");
    let group = server.add_group("120363000000000999", "Private Group Subject", &[ANA, BRUNO]);

    let store = Store::open(&dir.path().join("messages.db")).await.expect("store");
    let account = RealAccount::open_at(
        &dir.path().join("whatsapp-session.db"),
        store.clone(),
        Endpoints {
            chat_url: Some(server.chat_url()),
            https_to: Some(server.http_base()),
        },
    )
    .await
    .expect("client");
    let engine = Engine::start(account, store.clone(), EngineOptions::new(dir.path()));
    let EngineState::ShowingQr { code, .. } =
        wait_state(&engine, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await
    else {
        unreachable!()
    };
    server.scan_qr(&code).expect("scanned");
    wait_state(&engine, "connected", |s| matches!(s, EngineState::Connected { .. })).await;

    let incoming = "the treasure is buried under the old oak";
    let id = server.send_text(ANA, incoming).await.expect("sent");
    wait_stored(&store, &ana, &id).await;
    let in_group = "meet at the lighthouse at midnight";
    let gid = server.send_group_text(&group, ANA, in_group).await.expect("sent");
    wait_stored(&store, &group, &gid).await;
    let photo: Vec<u8> = (0..40_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let (pid, _) = server
        .send_file(ANA, &photo, "image/jpeg", "holiday snapshot")
        .await
        .expect("sent");
    wait_stored(&store, &ana, &pid).await;
    let media_key = store
        .media(&wa_store::MessageKey {
            chat_jid: ana.clone(),
            msg_id: pid.clone(),
            sender_jid: ana.clone(),
        })
        .await
        .expect("media")
        .and_then(|m| m.info.media_key)
        .expect("a media key");
    let saved = engine
        .download_media(&wa_store::MessageKey {
            chat_jid: ana.clone(),
            msg_id: pid,
            sender_jid: ana.clone(),
        })
        .await
        .expect("downloaded");
    assert_eq!(std::fs::read(saved.path).expect("file"), photo);
    let outgoing = "the password is correct horse battery staple";
    let sent = engine
        .send(Outgoing::Text {
            chat_jid: ana.parse().expect("a chat address"),
            text: outgoing.into(),
            reply_to: None,
            mentions: Vec::new(),
        })
        .await
        .expect("sent");
    server
        .wait_for(
            0,
            WAIT,
            |s| matches!(s, Seen::MessageFromDevice { id, .. } if *id == sent.key.msg_id),
        )
        .await
        .expect("delivered");
    engine.shutdown().await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let written = std::fs::read_to_string(&log_path).expect("log");
    // The log did record the session (the control: an empty log proves nothing).
    assert!(
        written.lines().count() >= 10,
        "the log holds {} lines",
        written.lines().count()
    );
    let mut secrets: Vec<(String, String)> = [incoming, in_group, outgoing, "Ana Secretname", "Private Group Subject"]
        .iter()
        .map(|t| ((*t).to_owned(), format!("text {t:?}")))
        .collect();
    for number in [PHONE, ANA, BRUNO] {
        secrets.push((number.to_owned(), format!("phone number {number}")));
    }
    let mut keys = server.known_keys();
    keys.push(media_key);
    for (i, key) in keys.iter().enumerate() {
        let hex = key.iter().fold(String::new(), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        });
        secrets.push((hex, format!("key {i} in hex")));
        secrets.push((BASE64_STANDARD.encode(key), format!("key {i} in base64")));
        // Rust's `{:?}` of a byte slice, as a careless `debug!(?key)` would write it.
        secrets.push((
            format!("{:?}", &key[..8]).trim_end_matches(']').to_owned(),
            format!("key {i} as bytes"),
        ));
    }
    for (secret, what) in secrets {
        assert!(!written.contains(&secret), "the log holds {what}:\n{written}");
    }
}
