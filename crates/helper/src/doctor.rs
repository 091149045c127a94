//! `whatsapp-mcp doctor`: what the old system's diagnostic script checked, in
//! plain words, with what to do. Exit code 1 when something needs attention.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

struct Report {
    checked: usize,
    problems: usize,
}

impl Report {
    fn ok(&mut self, text: &str) {
        self.checked += 1;
        println!("  ok     {text}");
    }
    fn bad(&mut self, text: &str, fix: &str) {
        self.checked += 1;
        self.problems += 1;
        println!("  PROBLEM {text}\n         What to do: {fix}");
    }
    fn note(&mut self, text: &str) {
        self.checked += 1;
        println!("  note   {text}");
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o777)
}

/// Ask the running app for its status over its socket (raw MCP lines).
#[cfg(unix)]
async fn app_status(socket: &Path) -> Result<serde_json::Value, String> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => "it is not running".to_owned(),
            std::io::ErrorKind::PermissionDenied => "its socket belongs to another user".to_owned(),
            _ => e.to_string(),
        })?;
    let (read, mut write) = stream.into_split();
    let lines = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"whatsapp-mcp doctor","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"backend_status","arguments":{}}}"#,
    ];
    for line in lines {
        write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut reader = BufReader::new(read).lines();
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(line)) = reader.next_line().await {
            let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if value["id"] == 2 {
                return Some(value);
            }
        }
        None
    })
    .await
    .map_err(|_| "the app did not answer within 5 seconds".to_owned())?
    .ok_or_else(|| "the app closed the connection".to_owned())?;
    Ok(answer["result"]["structuredContent"].clone())
}

/// Write the redacted report and say where it is.
async fn write_bundle(
    r: &mut Report,
    db_dir: &std::path::Path,
    key: &wa_store::ArchiveKey,
    context: &wa_mcp::diagnostics::Context,
) {
    println!("\nDiagnostic report");
    let log_dir = wa_mcp::paths::log_dir().unwrap_or_else(|_| db_dir.join("logs"));
    let written = match wa_store::Store::open_read_only_with(&db_dir.join("messages.db"), key).await {
        Ok(store) => {
            let written = wa_mcp::diagnostics::write_report(&store, db_dir, &log_dir, context).await;
            store.close().await;
            written.map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    match written {
        Ok(path) => r.ok(&format!(
            "Written to {}. Phone numbers are masked and no message text is in it; read it before you send it.",
            path.display()
        )),
        Err(e) => r.bad(
            &format!("The report could not be written: {e}"),
            "Check that the data folder is yours and the disk is not full, then run the doctor again.",
        ),
    }
}

/// The doctor's checks; with `bundle`, also the redacted diagnostic report
/// (the same as the app's Diagnostics > Export), written to the data folder.
pub async fn run(bundle: bool) -> i32 {
    let mut r = Report {
        checked: 0,
        problems: 0,
    };
    println!("whatsapp-mcp {} doctor\n", env!("CARGO_PKG_VERSION"));
    let data_dir = match wa_mcp::paths::data_dir() {
        Ok(d) => d,
        Err(e) => {
            r.bad(&e.to_string(), "Set WHATSAPP_MCP_DATA_DIR to a folder you own.");
            return 1;
        }
    };
    let demo = std::env::var_os("WHATSAPP_MCP_DEMO").is_some_and(|v| v == "1");
    let db_dir = if demo { data_dir.join("demo") } else { data_dir.clone() };

    println!("Data");
    if data_dir.is_dir() {
        r.ok(&format!("Data folder: {}", data_dir.display()));
        #[cfg(unix)]
        match mode(&data_dir) {
            Some(0o700) => r.ok("Only you can open the data folder."),
            Some(m) => r.bad(
                &format!("The data folder can be opened by others (permissions {m:o})."),
                &format!("Run: chmod 700 \"{}\"", data_dir.display()),
            ),
            None => {}
        }
    } else {
        r.bad(
            &format!("There is no data folder yet ({}).", data_dir.display()),
            "Open WhatsApp MCP Desktop once and link your WhatsApp account.",
        );
    }
    let key = match wa_mcp::archive_key::archive_key(&data_dir, false) {
        Ok((key, source)) => {
            r.ok(&format!("Message archive: {}.", source.describe()));
            Some(key)
        }
        // No keychain, an encrypted archive: its passphrase is typed in the
        // app's window at each start; this check cannot open it without it.
        Err(wa_mcp::archive_key::KeyError::NoKeychain { .. })
            if wa_mcp::archive_key::archive_is_encrypted(&data_dir) =>
        {
            r.note(
                "Message archive: encrypted with a passphrase typed in the app's window (no keychain here). \
                 To let this check read it too, run it with WHATSAPP_MCP_PASSPHRASE set.",
            );
            None
        }
        Err(e) => {
            r.bad("The message archive's key is not available.", &e.to_string());
            Some(wa_store::ArchiveKey::None)
        }
    };
    let db = db_dir.join("messages.db");
    if let Some(key) = &key {
        match wa_store::Store::open_read_only_with(&db, key).await {
            Ok(store) => {
                match store.statistics().await {
                    Ok(s) => {
                        r.ok(&format!(
                            "Message archive: {} messages in {} chats, {:.1} MB.",
                            s.messages,
                            s.chats,
                            s.database_bytes as f64 / 1_048_576.0
                        ));
                        match s.newest_ts.map(wa_mcp::format::iso) {
                            Some(t) => r.ok(&format!("Newest message: {t}.")),
                            None => r.note("No messages yet: the first sync has not run."),
                        }
                    }
                    Err(e) => r.bad(
                        &format!("The archive cannot be read: {e}"),
                        "Open the app; it repairs what it can.",
                    ),
                }
                match store.integrity_check().await {
                    Ok(p) if p.is_empty() => r.ok("The archive passed its integrity check."),
                    Ok(p) => r.bad(
                        &format!("The archive is damaged: {}", p.join("; ")),
                        "Open the app: it keeps the damaged file aside and recovers what it can.",
                    ),
                    Err(e) => r.bad(
                        &format!("The integrity check could not run: {e}"),
                        "Close other programs using it and retry.",
                    ),
                }
                match store.setting::<String>(wa_mcp::remote::ADDRESS).await {
                Ok(Some(address)) if !address.trim().is_empty() => r.note(&format!(
                    "Remote use is on: assistants on other machines can connect to http://{address}{} with the token in {}.",
                    wa_mcp::remote::PATH,
                    db_dir.join(wa_mcp::remote::TOKEN_FILE).display()
                )),
                Ok(_) => r.ok("Remote use is off: only assistants on this computer can connect."),
                Err(e) => r.bad(
                    &format!("A remote-use setting is not valid: {e}"),
                    "Fix it in the app under Settings > Assistants > Remote use.",
                ),
            }
                store.close().await;
            }
            Err(e @ wa_store::StoreError::Locked { .. }) => r.bad(
                &e.to_string(),
                "Give the app the key the archive was locked with (the same keychain, or the same \
             WHATSAPP_MCP_PASSPHRASE).",
            ),
            Err(e) => r.bad(
                &e.to_string(),
                "Open WhatsApp MCP Desktop; it creates or repairs the archive.",
            ),
        }
    }

    println!("\nApp");
    let mut state_text = "The app is not running.".to_owned();
    let socket = wa_mcp::socket::default_path(&data_dir);
    #[cfg(unix)]
    match app_status(&socket).await {
        Ok(status) => {
            r.ok(&format!(
                "WhatsApp MCP Desktop is running (socket {}).",
                socket.display()
            ));
            if mode(&socket) == Some(0o600) {
                r.ok("Only you can connect to the app's socket.");
            } else {
                r.bad("The app's socket can be used by others.", "Restart the app.");
            }
            let text = status["description"].as_str().unwrap_or("unknown");
            text.clone_into(&mut state_text);
            if status["needs_attention"].as_bool().unwrap_or(true) {
                r.bad(&format!("WhatsApp: {text}"), "Open the app and follow what it says.");
            } else {
                r.ok(&format!("WhatsApp: {text}"));
            }
            if let Some(account) = status["account"].as_str() {
                r.ok(&format!("Linked account: {account}"));
            }
            if status["demo"].as_bool() == Some(true) {
                r.note("Demo mode: a simulated account, not your WhatsApp.");
            }
        }
        Err(e) => r.bad(
            &format!("WhatsApp MCP Desktop is not answering ({e})."),
            "Start it from your applications menu; assistants start it by themselves too.",
        ),
    }

    println!("\nAssistants");
    let env = wa_clients::Env::from_system();
    let helper = std::env::current_exe().unwrap_or_default();
    let states = wa_clients::states(&env, &helper);
    for state in &states {
        match state.status {
            wa_clients::Status::Connected => r.ok(&state.description),
            wa_clients::Status::Stale { .. } | wa_clients::Status::Broken { .. } => r.bad(
                &state.description,
                "In the app, open Connect assistants and connect it again; the app never overwrites a broken file.",
            ),
            _ => r.note(&state.description),
        }
    }
    if bundle {
        let context = wa_mcp::diagnostics::Context {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            state: state_text,
            demo,
            assistants: states.into_iter().map(|s| s.description).collect(),
        };
        // Without the key (a passphrase typed in the window) the bundle says it cannot read the archive.
        write_bundle(
            &mut r,
            &db_dir,
            key.as_ref().unwrap_or(&wa_store::ArchiveKey::None),
            &context,
        )
        .await;
    }

    println!();
    if r.problems == 0 {
        println!("Everything looks right ({} checks).", r.checked);
        0
    } else {
        println!("{} of {} checks need attention.", r.problems, r.checked);
        1
    }
}
