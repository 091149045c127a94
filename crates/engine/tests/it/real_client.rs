//! Linking, login and faults through the real client.

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use wa_engine::clock::now_ms;
use wa_engine::real::{Endpoints, RealAccount};
use wa_engine::state::{LogoutReason, Problem};
use wa_engine::{Engine, EngineEvent, EngineOptions, EngineState, Outgoing};
use wa_localserver::{Fault, LocalServer, LoginRefusal, Received, Seen, text_of, wa};
use wa_store::MessageStatus;
use wa_store::{ArchiveKey, Store};
use whatsapp_rust::buffa::MessageField;

const PHONE: &str = "15550001234";
const WAIT: Duration = Duration::from_secs(30);

/// The client's own `log` records, shown when a test fails (`RUST_LOG=debug` for more).
fn logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        struct Stderr;
        impl log::Log for Stderr {
            fn enabled(&self, m: &log::Metadata<'_>) -> bool {
                m.level() <= log::max_level()
            }
            fn log(&self, r: &log::Record<'_>) {
                eprintln!("{} {}: {}", r.level(), r.target(), r.args());
            }
            fn flush(&self) {}
        }
        let level = match std::env::var("RUST_LOG").as_deref() {
            Ok("debug") => log::LevelFilter::Debug,
            Ok("trace") => log::LevelFilter::Trace,
            _ => log::LevelFilter::Info,
        };
        let _ = log::set_logger(&Stderr);
        log::set_max_level(level);
    });
}

struct App {
    engine: Engine,
    store: Store,
}

/// The key the app's archive and session are locked with in these tests.
fn test_key() -> ArchiveKey {
    ArchiveKey::from_hex(&"5e".repeat(32)).expect("key")
}

/// The app's engine on the real client, its data in `dir` (encrypted, as the
/// app keeps it), connecting to `server`.
async fn open_app(server: &LocalServer, dir: &Path) -> App {
    open_app_with(server, dir, &test_key()).await
}

async fn open_app_with(server: &LocalServer, dir: &Path, key: &ArchiveKey) -> App {
    logs();
    let store = Store::open_with(&dir.join("messages.db"), key).await.expect("store");
    let account = RealAccount::open_at(
        &dir.join("whatsapp-session.db"),
        store.clone(),
        Endpoints {
            chat_url: Some(server.chat_url()),
            https_to: Some(server.http_base()),
        },
    )
    .await
    .expect("client");
    let mut options = EngineOptions::new(dir);
    options.linked = account.is_linked();
    options.backoff_base = Duration::from_millis(200);
    let engine = Engine::start(account, store.clone(), options);
    App { engine, store }
}

async fn wait_state(engine: &Engine, what: &str, want: impl Fn(&EngineState) -> bool) -> EngineState {
    let mut state = engine.state();
    let reached = match tokio::time::timeout(WAIT, state.wait_for(|s| want(s))).await {
        Ok(Ok(s)) => Some(s.clone()),
        _ => None,
    };
    reached.unwrap_or_else(|| panic!("engine never reached {what}; it is {:?}", *state.borrow()))
}

fn is_connected(s: &EngineState) -> bool {
    matches!(s, EngineState::Connected { .. })
}

/// Show a QR code, let the phone scan it, wait until connected. The linked device.
async fn link_by_qr(server: &LocalServer, app: &App) -> u16 {
    let shown = wait_state(&app.engine, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await;
    let EngineState::ShowingQr { code, .. } = shown else {
        unreachable!()
    };
    let device = server.scan_qr(&code).expect("the phone reads the code");
    wait_state(&app.engine, "connected", is_connected).await;
    device
}

fn unhandled(server: &LocalServer) -> Vec<Seen> {
    server
        .seen()
        .into_iter()
        .filter(|s| matches!(s, Seen::UnhandledIq { .. }))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_by_qr_code_then_resumes_after_a_restart_with_its_session_encrypted() {
    let server = LocalServer::start(PHONE).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    // Linked by a version from before encryption: plain files.
    let app = open_app_with(&server, dir.path(), &ArchiveKey::None).await;
    let device = link_by_qr(&server, &app).await;
    let seen = server.seen();
    // The phone checked the device's own signature over the identity it signed.
    assert!(seen.contains(&Seen::Linked { device }), "{seen:?}");
    assert!(seen.contains(&Seen::LoggedIn { device }), "{seen:?}");
    assert!(server.devices()[0].confirmed);
    assert_eq!(
        app.engine.own_jid().as_deref(),
        Some(format!("{PHONE}@s.whatsapp.net").as_str())
    );
    // Every IQ a fresh login sends has its answer.
    assert_eq!(unhandled(&server), Vec::<Seen>::new());

    // Quit and start again: the session file links the same device, the
    // handshake resumes with the cached server key (IK), no QR code.
    app.engine.shutdown().await;
    drop(app);
    let mark = server.seen().len();
    let app = open_app(&server, dir.path()).await;
    wait_state(&app.engine, "connected after a restart", is_connected).await;
    let after: Vec<Seen> = server.seen().split_off(mark);
    assert!(
        after.contains(&Seen::Handshake {
            ik: true,
            registered: true
        }),
        "{after:?}"
    );
    assert!(after.contains(&Seen::LoggedIn { device }), "{after:?}");
    assert!(!after.iter().any(|s| matches!(s, Seen::PairDevice { .. })), "{after:?}");

    // That start came with a key: the session (the account's keys) and the
    // archive were encrypted, and the device logged in from the encrypted session.
    app.engine.shutdown().await;
    app.store.close().await;
    drop(app);
    for file in ["whatsapp-session.db", "messages.db"] {
        let bytes = std::fs::read(dir.path().join(file)).expect("read");
        assert!(!bytes.starts_with(b"SQLite format 3"), "{file} is still plain");
        assert!(
            !bytes.windows(PHONE.len()).any(|w| w == PHONE.as_bytes()),
            "the phone number is readable in {file}"
        );
    }
    // Control: another key cannot open the session, and says so.
    let store = Store::open_with(
        &dir.path().join("other.db"),
        &ArchiveKey::from_hex(&"77".repeat(32)).expect("key"),
    )
    .await
    .expect("store");
    let wrong = RealAccount::open_at(&dir.path().join("whatsapp-session.db"), store, Endpoints::default()).await;
    assert!(wrong.is_err(), "a session opened with the wrong key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_on_the_phone_logs_out_and_links_again_into_the_same_archive() {
    let server = LocalServer::start(PHONE).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    let device = link_by_qr(&server, &app).await;
    server.remove_device(device);
    let state = wait_state(&app.engine, "logged out", |s| {
        matches!(s, EngineState::LoggedOut { .. })
    })
    .await;
    assert_eq!(
        state,
        EngineState::LoggedOut {
            reason: LogoutReason::RemovedFromPhone
        }
    );
    assert!(server.devices().is_empty());
    // Linking again: new QR codes, a new device, connected.
    app.engine.new_qr_codes().await.expect("new codes");
    let again = link_by_qr(&server, &app).await;
    assert_ne!(again, device);
    assert_eq!(server.devices().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_client_taking_the_session_is_shown_as_replaced() {
    let server = LocalServer::start(PHONE).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    let device = link_by_qr(&server, &app).await;
    server.replace_session(device);
    wait_state(&app.engine, "replaced", |s| *s == EngineState::Replaced).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_and_busy_servers_reconnect_by_themselves() {
    let server = LocalServer::start(PHONE).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    let device = link_by_qr(&server, &app).await;

    // The network goes away mid-session, and the next attempt is cut right
    // after its handshake: the client comes back on its own.
    let mark = server.seen().len();
    server.inject(Fault::DropAfterHandshake(1));
    // ... and the one after that in the middle of the login's own requests.
    server.inject(Fault::DropAfterStanzas { stanzas: 2, times: 1 });
    server.drop_connections();
    server
        .wait_for(mark, WAIT, |s| *s == Seen::LoggedIn { device })
        .await
        .expect("logged in again");
    wait_state(&app.engine, "connected again", is_connected).await;
    let handshakes = server.seen()[mark..]
        .iter()
        .filter(|s| matches!(s, Seen::Handshake { .. }))
        .count();
    assert!(
        handshakes >= 2,
        "the cut attempt and the good one: {:?}",
        &server.seen()[mark..]
    );

    // WhatsApp answers 503 twice: the engine says the servers are busy, then connects.
    let mark = server.seen().len();
    server.inject(Fault::RefuseLogin(LoginRefusal::ServerError(503), 2));
    let mut events = app.engine.events();
    server.drop_connections();
    server
        .wait_for(mark, WAIT, |s| *s == Seen::LoggedIn { device })
        .await
        .expect("logged in after the 503s");
    wait_state(&app.engine, "connected after 503s", is_connected).await;
    let mut shown = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let EngineEvent::State { state, text } = event {
            shown.push((state, text));
        }
    }
    assert!(
        shown.iter().any(|(s, text)| matches!(
            s,
            EngineState::Reconnecting {
                problem: Problem::ServerBusy { code: 503 },
                ..
            }
        ) && text.contains("busy")),
        "the busy server was never shown: {shown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_and_outdated_clients_wait_for_the_person() {
    let server = LocalServer::start(PHONE).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    link_by_qr(&server, &app).await;

    server.inject(Fault::RefuseLogin(
        LoginRefusal::TempBanned {
            code: 101,
            seconds: 3600,
        },
        1,
    ));
    server.drop_connections();
    let state = wait_state(&app.engine, "banned", |s| {
        matches!(s, EngineState::TemporarilyBanned { .. })
    })
    .await;
    let EngineState::TemporarilyBanned { until, .. } = state else {
        unreachable!()
    };
    let in_an_hour = now_ms() + 3_600_000;
    assert!(
        (until - in_an_hour).abs() < 60_000,
        "until {until}, expected about {in_an_hour}"
    );

    // Another run of the app against a server that refuses this version.
    app.engine.shutdown().await;
    drop(app);
    server.inject(Fault::RefuseLogin(LoginRefusal::ClientOutdated, 1));
    let app = open_app(&server, dir.path()).await;
    wait_state(&app.engine, "outdated", |s| *s == EngineState::Outdated).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_device_list_leaves_the_codes_unscanned() {
    let server = LocalServer::start(PHONE).await.expect("server");
    server.set_max_devices(0);
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    let shown = wait_state(&app.engine, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await;
    let EngineState::ShowingQr { code, .. } = shown else {
        unreachable!()
    };
    assert!(matches!(server.scan_qr(&code), Err(wa_localserver::Error::DeviceLimit)));
    // A code from another device is not this one's: the phone refuses it too.
    let forged = code.replacen(',', "x,", 1);
    assert!(server.scan_qr(&forged).is_err());
    assert!(matches!(*app.engine.state().borrow(), EngineState::ShowingQr { .. }));
    assert!(server.devices().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_with_a_code_typed_on_the_phone() {
    let server = LocalServer::start(PHONE).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    wait_state(&app.engine, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await;

    // A wrong code typed on the phone: nothing is linked, the code stays up.
    let code = app.engine.pair_with_phone(&format!("+{PHONE}")).await.expect("a code");
    assert_eq!(code.chars().filter(char::is_ascii_alphanumeric).count(), 8, "{code}");
    wait_state(&app.engine, "the code", |s| {
        matches!(s, EngineState::ShowingCode { .. })
    })
    .await;
    let wrong = if code.starts_with('A') {
        code.replacen('A', "B", 1)
    } else {
        format!("A{}", &code[1..])
    };
    server.enter_code(&wrong).expect("typed");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(server.devices().is_empty(), "a wrong code linked a device");

    // The right code on a fresh request links and connects.
    let code = app.engine.pair_with_phone(PHONE).await.expect("a new code");
    server.enter_code(&code).expect("typed");
    wait_state(&app.engine, "connected", is_connected).await;
    let devices = server.devices();
    assert_eq!(devices.len(), 1);
    assert!(devices[0].confirmed, "the device did not sign the identity back");
}

/// WhatsApp's QR refs last 60 s, then 20 s each: with two refs the codes
/// change once and run out after 80 s; new codes link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_codes_rotate_then_run_out_and_new_ones_link() {
    let server = LocalServer::start(PHONE).await.expect("server");
    server.set_qr_refs(2);
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    let first = wait_state(&app.engine, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await;
    let EngineState::ShowingQr { code: first, .. } = first else {
        unreachable!()
    };
    let mut state = app.engine.state();
    let second = tokio::time::timeout(
        Duration::from_secs(75),
        state.wait_for(|s| matches!(s, EngineState::ShowingQr { code, .. } if *code != first)),
    )
    .await
    .expect("a second code within 75 s")
    .expect("engine running")
    .clone();
    let EngineState::ShowingQr { code: second, .. } = second else {
        unreachable!()
    };
    assert_ne!(first.split(',').next(), second.split(',').next(), "a new ref");
    tokio::time::timeout(
        Duration::from_secs(40),
        state.wait_for(|s| matches!(s, EngineState::QrExhausted { .. })),
    )
    .await
    .expect("the codes ran out")
    .expect("engine running");
    // An expired code no longer links.
    assert!(server.scan_qr(&first).is_err());
    app.engine.new_qr_codes().await.expect("new codes");
    link_by_qr(&server, &app).await;
}

const ANA: &str = "34600111222";

/// The app sends `text` to `chat`; once the server has it, every copy as its
/// recipients' phones decrypted it.
async fn send_text(server: &LocalServer, app: &App, chat: &str, text: &str) -> (wa_engine::Sent, Vec<Received>) {
    let sent = app
        .engine
        .send(Outgoing::Text {
            chat_jid: chat.parse().expect("a chat address"),
            text: text.into(),
            reply_to: None,
            mentions: Vec::new(),
        })
        .await
        .expect("sent");
    let copies = delivered(server, &sent.key.msg_id).await;
    (sent, copies)
}

/// Wait for the server to get message `id` from the device; its decrypted copies.
async fn delivered(server: &LocalServer, id: &str) -> Vec<Received> {
    server
        .wait_for(
            0,
            WAIT,
            |s| matches!(s, Seen::MessageFromDevice { id: got, .. } if got == id),
        )
        .await
        .expect("the server got the message");
    server.received().into_iter().filter(|r| r.id == id).collect()
}

/// The copy of a message `who`'s phone decrypted.
fn copy_for(copies: &[Received], who: &str) -> wa::Message {
    copies
        .iter()
        .find(|r| r.decrypted_by == who)
        .map_or_else(|| panic!("{who} never got it: {copies:?}"), |r| r.message.clone())
}

/// Ask `check` until it answers `Ok` or `within` has passed; then its last `Err`
/// (what was seen instead) is the failure.
async fn eventually<T, F>(within: Duration, mut check: impl FnMut() -> F) -> T
where
    F: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(found) => return found,
            Err(seen) if tokio::time::Instant::now() >= deadline => panic!("{seen}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The archived message `id` in `chat`, once it is there with `want`.
async fn stored(app: &App, chat: &str, id: &str, want: impl Fn(&wa_store::Message) -> bool) -> wa_store::Message {
    eventually(WAIT, || async {
        let found = app.store.find_messages(Some(chat), id).await.expect("store");
        if let Some(message) = found.iter().find(|m| want(m)) {
            return Ok(message.clone());
        }
        let anywhere = app.store.find_messages(None, id).await.expect("store");
        Err(format!(
            "message {id} never reached the archive as expected; in {chat}: {found:?}; anywhere: {anywhere:?}"
        ))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_both_ways_through_real_signal_sessions() {
    let server = LocalServer::start(PHONE).await.expect("server");
    let ana = server.add_contact(ANA, "Ana").await.expect("contact");
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    link_by_qr(&server, &app).await;

    // Ana's phone starts a Signal session from the device's uploaded pre-keys.
    let text = "Hola, ¿qué tal? 🎉 — first message";
    let id = server.send_text(ANA, text).await.expect("sent");
    let message = stored(&app, &ana, &id, |_| true).await;
    assert_eq!(message.text.as_deref(), Some(text));
    assert!(!message.from_me);
    assert_eq!(message.sender_jid, ana);

    // The app answers: Ana's phone decrypts exactly that text, and the
    // account's own phone gets its device-sent copy.
    let reply = "All good here, thanks!";
    let (sent, copies) = send_text(&server, &app, &ana, reply).await;
    assert_eq!(text_of(&copy_for(&copies, &ana)).as_deref(), Some(reply));
    assert_eq!(text_of(&copy_for(&copies, &server.phone_jid())).as_deref(), Some(reply));

    // A second message rides the established session (a plain `msg`).
    let id2 = server.send_text(ANA, "second").await.expect("sent");
    stored(&app, &ana, &id2, |m| m.text.as_deref() == Some("second")).await;

    // Ana reads our reply: the archive says so.
    server.read(ANA, std::slice::from_ref(&sent.key.msg_id));
    stored(&app, &ana, &sent.key.msg_id, |m| m.status == MessageStatus::Read).await;

    // Ana reacts to our reply, edits her second message and deletes her first;
    // her phone writes each key from her side, as WhatsApp does.
    let ours = |id: &str, from_me: bool| {
        MessageField::some(wa::MessageKey {
            remote_jid: Some(format!("{PHONE}@s.whatsapp.net")),
            from_me: Some(from_me),
            id: Some(id.to_owned()),
            participant: None,
        })
    };
    let heart = wa::Message {
        reaction_message: MessageField::some(wa::message::ReactionMessage {
            key: ours(&sent.key.msg_id, false),
            text: Some("❤️".into()),
            sender_timestamp_ms: Some(now_ms()),
            ..Default::default()
        }),
        ..Default::default()
    };
    server.send_message(ANA, &heart).await.expect("reaction");
    let edit = wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: ours(&id2, true),
            r#type: Some(wa::message::protocol_message::Type::MESSAGE_EDIT),
            edited_message: MessageField::some(wa::Message {
                conversation: Some("second, edited".into()),
                ..Default::default()
            }),
            timestamp_ms: Some(now_ms()),
            ..Default::default()
        }),
        ..Default::default()
    };
    server.send_message(ANA, &edit).await.expect("edit");
    let revoke = wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: ours(&id, true),
            r#type: Some(wa::message::protocol_message::Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    };
    server.send_message(ANA, &revoke).await.expect("revoke");
    stored(&app, &ana, &id2, |m| m.text.as_deref() == Some("second, edited")).await;
    stored(&app, &ana, &id, |m| m.deleted_at.is_some()).await;
    eventually(WAIT, || async {
        let reactions = app.store.reactions(&sent.key).await.expect("store");
        if reactions.iter().any(|r| r.reactor_jid == ana && r.emoji == "❤️") {
            Ok(())
        } else {
            Err(format!("Ana's reaction never reached our message: {reactions:?}"))
        }
    })
    .await;

    // We react to Ana's message and delete our reply: her phone reads keys from our side.
    let thumbs = app
        .engine
        .send(Outgoing::Reaction {
            target: message.key(),
            emoji: "👍".into(),
        })
        .await
        .expect("reaction sent");
    let deleted = app.engine.revoke(&sent.key).await.expect("revoked");
    let reaction = copy_for(&delivered(&server, &thumbs.key.msg_id).await, &ana)
        .reaction_message
        .into_option()
        .expect("a reaction");
    assert_eq!(reaction.text.as_deref(), Some("👍"));
    let key = reaction.key.into_option().expect("key");
    assert_eq!(
        (key.id.as_deref(), key.from_me),
        (Some(id.as_str()), Some(false)),
        "{key:?}"
    );
    let protocol = copy_for(&delivered(&server, &deleted.key.msg_id).await, &ana)
        .protocol_message
        .into_option()
        .expect("a revoke");
    assert_eq!(protocol.r#type, Some(wa::message::protocol_message::Type::REVOKE));
    let key = protocol.key.into_option().expect("key");
    assert_eq!(
        (key.id.as_deref(), key.from_me),
        (Some(sent.key.msg_id.as_str()), Some(true)),
        "{key:?}"
    );

    // Written while the app was closed: delivered at the next start. Closed as
    // the server sees it: until it notices the socket go, it hands messages to
    // the closing connection, where they are lost (the client's disconnect
    // returns before that).
    let before_close = server.seen().len();
    app.engine.shutdown().await;
    drop(app);
    server
        .wait_for(before_close, WAIT, |s| matches!(s, Seen::Closed { .. }))
        .await
        .expect("the server saw the app go");
    let away = server.send_text(ANA, "while you were away").await.expect("queued");
    let app = open_app(&server, dir.path()).await;
    wait_state(&app.engine, "connected again", is_connected).await;
    stored(&app, &ana, &away, |m| m.text.as_deref() == Some("while you were away")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_both_ways_through_the_media_host() {
    let server = LocalServer::start(PHONE).await.expect("server");
    let ana = server.add_contact(ANA, "Ana").await.expect("contact");
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    link_by_qr(&server, &app).await;

    // Ana sends a photo: the app downloads it from the media host, checks and
    // decrypts it, and saves exactly her bytes.
    let photo: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (id, _) = server
        .send_file(ANA, &photo, "image/jpeg", "beach")
        .await
        .expect("sent");
    let photo_message = stored(&app, &ana, &id, |m| m.has_media).await;
    let saved = app
        .engine
        .download_media(&photo_message.key())
        .await
        .expect("downloaded");
    assert_eq!(std::fs::read(&saved.path).expect("saved file"), photo);
    assert_eq!(saved.mime.as_deref(), Some("image/jpeg"));

    // A photo whose file expired on the server (410): the app asks Ana's phone
    // to upload it again (media retry, keyed by the media key) and gets it.
    let (late, path) = server
        .send_file(ANA, &photo[..90_000], "image/jpeg", "late")
        .await
        .expect("sent");
    server.expire_media(&path, 410);
    let stored_late = stored(&app, &ana, &late, |m| m.has_media).await;
    let saved = app
        .engine
        .download_media(&stored_late.key())
        .await
        .expect("downloaded after a re-upload");
    assert!(saved.reuploaded, "{saved:?}");
    assert_eq!(std::fs::read(&saved.path).expect("saved file"), &photo[..90_000]);
    assert!(server.seen().contains(&Seen::MediaReuploaded { id: late }));

    // The app sends a document: uploaded encrypted, and Ana's phone opens it.
    let document: Vec<u8> = b"%PDF-1.4 minutes of the meeting\n".repeat(2_000);
    let path = dir.path().join("minutes.pdf");
    std::fs::write(&path, &document).expect("file");
    let sent = app
        .engine
        .send(Outgoing::File {
            chat_jid: ana.parse().expect("a chat address"),
            path,
            caption: Some("the minutes".into()),
            reply_to: None,
        })
        .await
        .expect("sent");
    let at_ana = copy_for(&delivered(&server, &sent.key.msg_id).await, &ana);
    let doc = at_ana.document_message.as_option().expect("a document");
    assert_eq!(doc.mimetype.as_deref(), Some("application/pdf"));
    assert_eq!(server.open_media(&at_ana).expect("Ana opens it"), document);
}

/// A stranger's photo whose download address leaves WhatsApp's media host:
/// the client library would ask `https://{media host}{direct_path}`, and
/// `@127.0.0.1:{port}/…` turns that into a request (with the media auth
/// token and the person's address) to another server. Nothing reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_address_that_leaves_the_media_host_makes_no_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let server = LocalServer::start(PHONE).await.expect("server");
    let ana = server.add_contact(ANA, "Ana").await.expect("contact");
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    link_by_qr(&server, &app).await;

    // The other server: it counts every connection made to it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let port = listener.local_addr().expect("address").port();
    let knocks = Arc::new(AtomicUsize::new(0));
    let counted = knocks.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let hostile = format!("@127.0.0.1:{port}/v/t62.7118-24/invoice");
    let message = wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            url: Some(format!("https://127.0.0.1:{port}/v/t62.7118-24/invoice")),
            direct_path: Some(hostile.clone()),
            mimetype: Some("image/jpeg".into()),
            media_key: Some(vec![7; 32]),
            file_sha256: Some(vec![1; 32]),
            file_enc_sha256: Some(vec![2; 32]),
            file_length: Some(90_000),
            caption: Some("my invoice, please download it".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = server.send_message(ANA, &message).await.expect("sent");
    let photo = stored(&app, &ana, &id, |m| m.has_media).await;

    let refused = app.engine.download_media(&photo.key()).await.expect_err("refused");
    assert!(
        refused
            .to_string()
            .contains("does not point at WhatsApp's media servers"),
        "{refused}"
    );
    // Time for a request to arrive, had one been made.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        knocks.load(Ordering::SeqCst),
        0,
        "nothing connected to the other server"
    );
    // The message is kept, its failure noted without the address.
    let kept = app.store.get_message(&photo.key()).await.expect("store").expect("kept");
    assert_eq!(kept.text.as_deref(), Some("my invoice, please download it"));
    let record = app.store.media(&photo.key()).await.expect("store").expect("media");
    let noted = record.last_error.unwrap_or_default();
    assert!(noted.contains("media servers") && !noted.contains(&hostile), "{noted}");
    // Control: the listener does count a connection (so none came above).
    let _probe = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    eventually(WAIT, || async {
        match knocks.load(Ordering::SeqCst) {
            1 => Ok(()),
            n => Err(format!("{n} connections")),
        }
    })
    .await;
}

/// Group chats run on sender keys: each member hands its key to each device
/// in a pairwise message, then one copy of the text travels under that key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_both_ways_with_sender_keys() {
    const BRUNO: &str = "34600333444";
    let server = LocalServer::start(PHONE).await.expect("server");
    let ana = server.add_contact(ANA, "Ana").await.expect("contact");
    let bruno = server.add_contact(BRUNO, "Bruno").await.expect("contact");
    let group = server.add_group("120363000000000777", "Family", &[ANA, BRUNO]);
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    link_by_qr(&server, &app).await;

    let id = server
        .send_group_text(&group, ANA, "Dinner at eight?")
        .await
        .expect("sent");
    let message = stored(&app, &group, &id, |_| true).await;
    assert_eq!(message.text.as_deref(), Some("Dinner at eight?"));
    assert_eq!(message.sender_jid, ana);
    // Her second message rides the same sender key.
    let id2 = server.send_group_text(&group, ANA, "Or nine").await.expect("sent");
    stored(&app, &group, &id2, |m| m.text.as_deref() == Some("Or nine")).await;

    let (_, copies) = send_text(&server, &app, &group, "Eight works").await;
    for member in [&ana, &bruno, &server.phone_jid()] {
        assert_eq!(
            text_of(&copy_for(&copies, member)).as_deref(),
            Some("Eight works"),
            "{member}"
        );
    }
}

/// The account's history, sent by its phone the way WhatsApp sends it after
/// linking: `HistorySync` chunks, compressed and encrypted on the media host,
/// announced by history-sync notifications the client downloads and opens.
/// Each chat as the phone's history describes it, oldest first (media
/// descriptions only: the files are not on this host).
fn described(corpus: &wa_corpus::Corpus, c: usize) -> Vec<wa::WebMessageInfo> {
    use wa_engine::wire::{change_message, web_message};
    use wa_store::Item;
    corpus
        .chat_items(c)
        .filter_map(|item| match &item {
            Item::Message(m) => Some(web_message(m, &corpus.own_jid)),
            other => change_message(other, &corpus.own_jid),
        })
        .collect()
}

/// The chat with the most messages.
fn busiest(corpus: &wa_corpus::Corpus) -> usize {
    (0..corpus.chats.len())
        .max_by_key(|&c| corpus.chats[c].messages)
        .expect("chats")
}

/// The phone's first history push, 8 chats a chunk: every chat whole, except
/// `cut`, of which only its newest `keep` entries (the rest it gives when
/// asked for older messages).
fn first_push(corpus: &wa_corpus::Corpus, cut: usize, keep: usize) -> Vec<wa::HistorySync> {
    let chats: Vec<usize> = (0..corpus.chats.len()).collect();
    let chunks: Vec<&[usize]> = chats.chunks(8).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(n, chunk)| {
            let conversations = chunk
                .iter()
                .map(|&c| {
                    let plan = &corpus.chats[c];
                    let mut infos = described(corpus, c);
                    if c == cut {
                        infos.drain(..infos.len() - keep);
                    }
                    wa::Conversation {
                        id: plan.jid.clone(),
                        name: plan.name.clone(),
                        messages: infos
                            .into_iter()
                            .map(|info| wa::HistorySyncMsg {
                                message: MessageField::some(info),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }
                })
                .collect();
            wa::HistorySync {
                sync_type: if n == 0 {
                    wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP
                } else {
                    wa::history_sync::HistorySyncType::RECENT
                },
                conversations,
                chunk_order: u32::try_from(n).ok(),
                progress: u32::try_from((n + 1) * 100 / chunks.len()).ok(),
                ..Default::default()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_from_the_phone_lands_exactly_in_the_archive() {
    use wa_corpus::{Config, Corpus};
    use wa_store::Item;

    let corpus = Corpus::new(Config::small());
    let own = corpus.own_jid.clone();
    let number = own.split('@').next().expect("number");
    let server = LocalServer::start(number).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    let app = open_app(&server, dir.path()).await;
    link_by_qr(&server, &app).await;

    // The phone sends only the newest 20 entries of the busiest chat after
    // linking; the rest it gives when asked for older messages.
    let busiest = busiest(&corpus);
    let busiest_jid = corpus.chats[busiest].jid.clone();
    server.set_phone_history(&busiest_jid, described(&corpus, busiest));
    for sync in first_push(&corpus, busiest, 20) {
        server.send_history(&sync).await.expect("history sent");
    }

    eventually(Duration::from_mins(1), || async {
        let chats = app.store.statistics().await.expect("statistics").chats;
        if chats >= corpus.chats.len() as i64 {
            Ok(())
        } else {
            Err(format!("the first history never landed: {chats} chats"))
        }
    })
    .await;

    // "Fetch older messages" for the busiest chat: the engine asks the phone
    // through the real client, in batches, until the phone has nothing older.
    let job = app
        .engine
        .start_sync(wa_engine::SyncRequest::Chat {
            jid: busiest_jid.parse().expect("a chat address"),
            count: 100_000,
        })
        .await
        .expect("job");
    eventually(Duration::from_mins(2), || async {
        let now = app.engine.job(job.id).await.expect("job");
        if now.state == wa_store::JobState::Done {
            Ok(())
        } else {
            Err(format!("the chat job never finished: {now:?}"))
        }
    })
    .await;
    let answers = server
        .seen()
        .iter()
        .filter(|s| matches!(s, Seen::OnDemandHistory { chat, .. } if *chat == busiest_jid))
        .count();
    assert!(answers >= 2, "the phone answered {answers} requests for older messages");

    let expected = corpus.messages().count() as i64;
    let stats = eventually(Duration::from_mins(1), || async {
        let stats = app.store.statistics().await.expect("statistics");
        if stats.messages >= expected {
            Ok(stats)
        } else {
            Err(format!("{} of {expected} messages arrived", stats.messages))
        }
    })
    .await;
    assert_eq!(stats.messages, expected, "every message of the history, once");
    if stats.chats != corpus.chats.len() as i64 {
        let listed = app
            .store
            .list_chats(&wa_store::ChatFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .expect("chats");
        let extra: Vec<_> = listed
            .items
            .iter()
            .filter(|c| !corpus.chats.iter().any(|p| p.jid == c.jid))
            .collect();
        panic!(
            "{} chats, expected {}; not in the corpus: {extra:?}",
            stats.chats,
            corpus.chats.len()
        );
    }
    // Spot checks: the newest message of a few chats, text and sender exactly.
    for c in [0, corpus.chats.len() / 2, corpus.chats.len() - 1] {
        let newest = corpus
            .chat_items(c)
            .filter_map(|item| match item {
                Item::Message(m) => Some(m),
                _ => None,
            })
            .last()
            .expect("a message");
        let found = app
            .store
            .find_messages(Some(&newest.chat_jid), &newest.msg_id)
            .await
            .expect("store");
        let found = found.first().unwrap_or_else(|| panic!("{} missing", newest.msg_id));
        assert_eq!(found.sender_jid, newest.sender_jid);
        assert_eq!(found.ts, newest.ts);
        if found.deleted_at.is_none() && found.edited_at.is_none() {
            assert_eq!(found.text, newest.text);
        }
    }
}

/// Set in the child process of the SIGKILL test: its data folder.
const KILL_CHILD_DIR: &str = "WAMCP_REAL_KILL_CHILD_DIR";

/// The child: link through the local server (the parent scans the code and
/// sends the phone's first history), then fetch the busiest chat's older
/// messages in small batches, printing progress until the parent kills it.
async fn killed_child(dir: &Path) {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} set by the parent"));
    let store = Store::open_with(&dir.join("messages.db"), &test_key())
        .await
        .expect("store");
    let account = RealAccount::open_at(
        &dir.join("whatsapp-session.db"),
        store.clone(),
        Endpoints {
            chat_url: Some(var("WAMCP_TEST_CHAT_URL")),
            https_to: Some(var("WAMCP_TEST_HTTPS_TO")),
        },
    )
    .await
    .expect("client");
    let mut options = EngineOptions::new(dir);
    options.backoff_base = Duration::from_millis(200);
    options.history_batch = 20;
    let engine = Engine::start(account, store.clone(), options);
    let shown = wait_state(&engine, "a QR code", |s| matches!(s, EngineState::ShowingQr { .. })).await;
    let EngineState::ShowingQr { code, .. } = shown else {
        unreachable!()
    };
    println!("QR {code}");
    wait_state(&engine, "connected", is_connected).await;
    println!("LINKED");
    let chats: i64 = var("WAMCP_TEST_CHATS").parse().expect("a number");
    eventually(Duration::from_mins(1), || async {
        let now = store.statistics().await.expect("statistics").chats;
        if now >= chats {
            Ok(())
        } else {
            Err(format!("{now} of {chats} chats"))
        }
    })
    .await;
    let job = engine
        .start_sync(wa_engine::SyncRequest::Chat {
            jid: var("WAMCP_TEST_CHAT").parse().expect("a chat address"),
            count: 100_000,
        })
        .await
        .expect("job");
    println!("JOB {}", job.id);
    loop {
        let now = engine.job(job.id).await.expect("job");
        println!("PROGRESS {}", now.messages_done);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_with_sigkill_on_the_real_client_resumes_exactly() {
    use std::io::{BufRead, BufReader};
    use wa_corpus::{Config, Corpus};
    if let Some(dir) = std::env::var_os(KILL_CHILD_DIR) {
        killed_child(Path::new(&dir)).await;
        return;
    }
    let corpus = Corpus::new(Config::small());
    let number = corpus.own_jid.split('@').next().expect("number").to_owned();
    let server = LocalServer::start(&number).await.expect("server");
    let busiest = busiest(&corpus);
    let busiest_jid = corpus.chats[busiest].jid.clone();
    server.set_phone_history(&busiest_jid, described(&corpus, busiest));
    let dir = tempfile::tempdir().expect("dir");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "real_client::a_sync_killed_with_sigkill_on_the_real_client_resumes_exactly",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL_CHILD_DIR, dir.path())
        .env("WAMCP_TEST_CHAT_URL", server.chat_url())
        .env("WAMCP_TEST_HTTPS_TO", server.http_base())
        .env("WAMCP_TEST_CHAT", &busiest_jid)
        .env("WAMCP_TEST_CHATS", corpus.chats.len().to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, mut said) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // libtest prints "test <name> ... " on the line of the child's first output.
    let (mut job, mut done_at_kill) = (None, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_mins(2);
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline, said.recv()).await {
        if let Some((_, code)) = line.split_once("QR ") {
            server.scan_qr(code.trim()).expect("the phone reads the code");
        } else if line.contains("LINKED") {
            for sync in first_push(&corpus, busiest, 20) {
                server.send_history(&sync).await.expect("history sent");
            }
        } else if let Some((_, id)) = line.split_once("JOB ") {
            job = id.trim().parse::<i64>().ok();
        } else if let Some(n) = line
            .split_once("PROGRESS ")
            .and_then(|(_, n)| n.trim().parse::<i64>().ok())
            && n >= 60
        {
            done_at_kill = n;
            break;
        }
    }
    // SIGKILL in the middle of the on-demand sync: no shutdown, no flush.
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let job = job.expect("the child started a job");
    assert!(done_at_kill >= 60, "the child made progress before the kill");
    let total = corpus
        .chat_items(busiest)
        .filter(|i| matches!(i, wa_store::Item::Message(_)))
        .count() as i64;
    assert!(
        done_at_kill < total - 20,
        "killed in the middle: {done_at_kill} of {total}"
    );

    let store = Store::open_with(&dir.path().join("messages.db"), &test_key())
        .await
        .expect("the archive opens after the kill");
    assert!(
        store.integrity_check().await.expect("check").is_empty(),
        "sound after the kill"
    );
    let open = store.open_jobs().await.expect("open jobs");
    assert!(
        open.iter().any(|j| j.id == job),
        "the killed job is still open: {open:?}"
    );
    store.close().await;

    // The next start logs in with the saved (encrypted) session, resumes the
    // job from its checkpoint, and ends with every message once.
    let app = open_app(&server, dir.path()).await;
    wait_state(&app.engine, "logged in again", is_connected).await;
    eventually(Duration::from_mins(2), || async {
        let now = app.engine.job(job).await.expect("job");
        if now.state == wa_store::JobState::Done {
            Ok(())
        } else {
            Err(format!("not finished: {now:?}"))
        }
    })
    .await;
    let expected = corpus.messages().count() as i64;
    let stats = app.store.statistics().await.expect("statistics");
    assert_eq!(stats.messages, expected, "every message of the history, once");
    assert_eq!(stats.chats, corpus.chats.len() as i64);
    assert!(app.store.integrity_check().await.expect("check").is_empty());
    app.engine.shutdown().await;
}
