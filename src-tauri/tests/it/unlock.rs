//! No keychain on this computer: the window's unlock page, through IPC. The
//! app waits locked (assistants are told so at once), a wrong passphrase is
//! refused in words and changes nothing, the right one starts everything; or
//! the person chooses not to encrypt, which is remembered.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tauri::Manager;
use tauri::test::{MockRuntime, mock_builder};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use wa_app::lock::Lock;
use wa_app::start::Boot;
use wa_store::{ArchiveKey, Store};

use crate::harness::{RUNTIME, invoke, main_window};

const PASSPHRASE: &str = "correct horse 'battery'";

struct Locked {
    app: tauri::App<MockRuntime>,
    window: tauri::WebviewWindow<MockRuntime>,
    socket: PathBuf,
    base: PathBuf,
    _dir: tempfile::TempDir,
}

/// The app as `run` starts it without a keychain: locked, socket bound.
fn locked(prepare: impl FnOnce(&Path)) -> Locked {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("data");
    std::fs::create_dir_all(base.join("demo")).unwrap();
    prepare(&base);
    // The channel: a socket file, or on Windows a pipe named after the folder.
    let socket = if cfg!(windows) {
        let unique = dir.path().file_name().and_then(|n| n.to_str()).unwrap_or("unlock");
        PathBuf::from(format!(r"\\.\pipe\whatsapp-mcp-test-{unique}"))
    } else {
        dir.path().join("run").join("app.sock")
    };
    let boot = Boot {
        base: base.clone(),
        data_dir: base.join("demo"),
        demo: true,
        headless: false,
        remote: None,
        helper: dir.path().join("whatsapp-mcp"),
        clients: wa_clients::Env {
            home: dir.path().join("home"),
            config_dir: dir.path().join("home").join(".config"),
            app_data: dir.path().join("home").join("AppData"),
        },
    };
    let lock = RUNTIME.block_on(async {
        let listener = wa_app::channel::bind(&socket).await.unwrap();
        Lock::waiting(boot, listener, "no Secret Service here".into())
    });
    let app = wa_desktop::with_commands(mock_builder())
        .manage(lock)
        .build(wa_desktop::context())
        .unwrap();
    let window = main_window(&app);
    Locked {
        app,
        window,
        socket,
        base,
        _dir: dir,
    }
}

impl Locked {
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        invoke(&self.window, cmd, args)
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        if let Some(services) = self.app.try_state::<wa_app::Services>() {
            RUNTIME.block_on(services.shutdown());
        }
    }
}

/// An MCP client's first request on the app's socket, and the first answer.
fn initialize(socket: &Path) -> Value {
    RUNTIME.block_on(async {
        let mut stream = wa_app::channel::connect(socket).await.unwrap();
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}});
        stream.write_all(format!("{request}\n").as_bytes()).await.unwrap();
        let mut line = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tokio::io::BufReader::new(stream).read_line(&mut line),
        )
        .await
        .expect("an answer, not a hang")
        .unwrap();
        serde_json::from_str(&line).unwrap()
    })
}

#[test]
fn an_encrypted_archive_waits_for_its_passphrase_and_a_wrong_one_changes_nothing() {
    let app = locked(|base| {
        RUNTIME.block_on(async {
            let key = ArchiveKey::Passphrase(zeroize::Zeroizing::new(PASSPHRASE.to_owned()));
            let store = Store::open_with(base.join("demo").join("messages.db"), &key)
                .await
                .unwrap();
            store.set_setting("test.mark", &"kept").await.unwrap();
            store.close().await;
        });
    });
    let archive = app.base.join("demo").join("messages.db");
    assert_eq!(
        app.invoke("lock_state", json!({})).unwrap(),
        json!({"encrypted": true, "why": "no Secret Service here"})
    );
    assert!(app.invoke("app_status", json!({})).is_err(), "nothing runs yet");
    // An assistant that connects now is told why, at once.
    let answer = initialize(&app.socket);
    let said = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(said.contains("locked") && said.contains("passphrase"), "{answer}");

    let before = std::fs::read(&archive).unwrap();
    let wrong = app
        .invoke(
            "unlock",
            json!({"passphrase": "correct horse battery", "encrypt": true}),
        )
        .unwrap_err();
    assert!(
        wrong.as_str().unwrap().contains("does not open your message archive"),
        "{wrong}"
    );
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        before,
        "a wrong passphrase changes nothing"
    );
    let empty = app
        .invoke("unlock", json!({"passphrase": "", "encrypt": true}))
        .unwrap_err();
    assert!(empty.as_str().unwrap().contains("Type your passphrase"), "{empty}");
    assert!(app.invoke("lock_state", json!({})).unwrap().is_object(), "still locked");
    // No opting out of an archive that is encrypted already.
    let refused = app
        .invoke("unlock", json!({"passphrase": null, "encrypt": false}))
        .unwrap_err();
    assert!(refused.as_str().unwrap().contains("already encrypted"), "{refused}");
    assert!(!app.base.join(wa_app::key::ENCRYPTION_OFF_FILE).exists());

    app.invoke("unlock", json!({"passphrase": PASSPHRASE, "encrypt": true}))
        .unwrap();
    assert_eq!(app.invoke("lock_state", json!({})).unwrap(), Value::Null);
    let status = app.invoke("app_status", json!({})).unwrap();
    assert_eq!(status["demo"], json!(true));
    let store = app.app.state::<wa_app::Services>().store.clone();
    assert!(store.encrypted());
    let mark: Option<String> = RUNTIME.block_on(store.setting("test.mark")).unwrap();
    assert_eq!(mark.as_deref(), Some("kept"), "the same archive, opened");
    // The socket now serves MCP itself.
    let answer = initialize(&app.socket);
    assert_eq!(
        answer["result"]["serverInfo"]["name"],
        json!("whatsapp-mcp"),
        "{answer}"
    );
    // A second click is harmless.
    app.invoke("unlock", json!({"passphrase": PASSPHRASE, "encrypt": true}))
        .unwrap();
}

#[test]
fn a_new_archive_takes_a_chosen_passphrase_or_stays_unencrypted_by_choice() {
    // A passphrase that is too short is refused; a good one encrypts the new archive.
    let app = locked(|_| {});
    assert_eq!(app.invoke("lock_state", json!({})).unwrap()["encrypted"], json!(false));
    let short = app
        .invoke("unlock", json!({"passphrase": "short", "encrypt": true}))
        .unwrap_err();
    assert!(short.as_str().unwrap().contains("at least 8 characters"), "{short}");
    app.invoke("unlock", json!({"passphrase": PASSPHRASE, "encrypt": true}))
        .unwrap();
    let archive = app.base.join("demo").join("messages.db");
    assert!(app.app.state::<wa_app::Services>().store.encrypted());
    assert!(!wa_store::cipher::is_plain_sqlite(&archive));
    drop(app);

    // "Don't encrypt": plain SQLite, and remembered for the next starts.
    let app = locked(|_| {});
    app.invoke("unlock", json!({"passphrase": null, "encrypt": false}))
        .unwrap();
    assert_eq!(app.invoke("lock_state", json!({})).unwrap(), Value::Null);
    assert!(!app.app.state::<wa_app::Services>().store.encrypted());
    let archive = app.base.join("demo").join("messages.db");
    assert!(wa_store::cipher::is_plain_sqlite(&archive));
    assert!(app.base.join(wa_app::key::ENCRYPTION_OFF_FILE).exists());
    let (key, source) = wa_app::key::archive_key(&app.base, false).unwrap();
    assert_eq!(
        (key.encrypts(), source),
        (false, wa_app::key::KeySource::NotEncrypted),
        "the next start needs no keychain and asks nothing"
    );
}
