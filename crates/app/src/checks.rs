//! Health checks, one set for both front ends: `whatsapp-mcp doctor` prints
//! them in a terminal, the Diagnostics page lists them with a button for the
//! fix it offers. Each check is a sentence, and what to do when it fails.

use std::path::Path;

use serde::Serialize;
use wa_clients::{ClientState, Status};
use wa_store::{ArchiveKey, Store, StoreError};

use crate::error::AppError;
use crate::key::KeyError;
use crate::paths::Layout;
use crate::services::Services;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    /// Worth knowing, nothing wrong.
    Note,
    Problem,
}

/// One check, in words.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name (the page marks its row with it; tests find it by it).
    pub id: &'static str,
    pub level: Level,
    /// `level` is not a problem (what the page's tick shows).
    pub ok: bool,
    pub text: String,
    /// What the person does about a problem, in words (the doctor prints it).
    pub what_to_do: Option<String>,
    /// The fix the window offers as a button (`reconnect`, `relink`, `permissions`, `assistants`).
    pub fix: Option<&'static str>,
}

impl Check {
    pub fn ok(id: &'static str, text: impl Into<String>) -> Self {
        Self::new(id, Level::Ok, text.into(), None)
    }

    pub fn note(id: &'static str, text: impl Into<String>) -> Self {
        Self::new(id, Level::Note, text.into(), None)
    }

    pub fn problem(id: &'static str, text: impl Into<String>, what_to_do: impl Into<String>) -> Self {
        Self::new(id, Level::Problem, text.into(), Some(what_to_do.into()))
    }

    fn new(id: &'static str, level: Level, text: String, what_to_do: Option<String>) -> Self {
        Self {
            id,
            level,
            ok: level != Level::Problem,
            text,
            what_to_do,
            fix: None,
        }
    }

    /// The button the window offers for it.
    #[must_use]
    pub fn with_fix(mut self, fix: Option<&'static str>) -> Self {
        self.fix = fix;
        self
    }
}

/// The data folder: there, and this user's alone.
pub fn data_folder(dir: &Path) -> Vec<Check> {
    if !dir.is_dir() {
        return vec![Check::problem(
            "data",
            format!("There is no data folder yet ({}).", dir.display()),
            "Open WhatsApp MCP Desktop once and link your WhatsApp account.",
        )];
    }
    let mut checks = vec![Check::ok("data-folder", format!("Data folder: {}", dir.display()))];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).map_or(0, |m| m.permissions().mode() & 0o777);
        checks.push(if mode == 0o700 {
            Check::ok("data", "Only you can open the data folder.")
        } else {
            Check::problem(
                "data",
                format!("Other users can open the data folder (permissions {mode:o})."),
                format!(
                    "Use Fix in the app's Diagnostics, or run: chmod 700 \"{}\"",
                    dir.display()
                ),
            )
            .with_fix(Some("permissions"))
        });
    }
    #[cfg(windows)]
    checks.push(match crate::user_only::others_allowed(dir) {
        Ok(others) if others.is_empty() => Check::ok("data", "Only you can open the data folder."),
        Ok(others) => Check::problem(
            "data",
            format!("Others can open the data folder ({}).", others.join(", ")),
            "Use Fix in the app's Diagnostics: it makes the folder yours alone.",
        )
        .with_fix(Some("permissions")),
        Err(e) => Check::note("data", format!("Who can open the data folder could not be read ({e}).")),
    });
    checks
}

/// Make the data folder this user's alone again (the Diagnostics fix).
pub fn fix_permissions(dir: &Path) -> Result<(), AppError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| AppError::Said(format!("The data folder's permissions could not be changed: {e}")))?;
    }
    #[cfg(windows)]
    crate::user_only::protect_folder(dir)
        .map_err(|e| AppError::Said(format!("The data folder's permissions could not be changed: {e}")))?;
    #[cfg(not(any(unix, windows)))]
    let _ = dir;
    Ok(())
}

/// The integrity check alone (the Diagnostics page's button).
pub async fn integrity(store: &Store) -> Check {
    match store.integrity_check().await {
        Ok(p) if p.is_empty() => Check::ok("archive", "The archive passed its integrity check."),
        Ok(p) => Check::problem(
            "archive",
            format!("The archive is damaged: {}", p.join("; ")),
            "Restart the app: at its start it keeps the damaged file aside and recovers what it can.",
        ),
        Err(e) => Check::problem(
            "archive",
            format!("The integrity check could not run: {e}"),
            "Close other programs using it and retry.",
        ),
    }
}

/// The open archive: how much it holds, its newest message, its integrity,
/// and whether assistants on other machines may reach it.
pub async fn archive(store: &Store, data_dir: &Path) -> Vec<Check> {
    let mut checks = Vec::new();
    match store.statistics().await {
        Ok(s) => {
            checks.push(Check::ok(
                "archive-size",
                format!(
                    "Message archive: {} messages in {} chats, {:.1} MB.",
                    s.messages,
                    s.chats,
                    s.database_bytes as f64 / 1_048_576.0
                ),
            ));
            checks.push(match s.newest_ts.map(wa_mcp::format::iso) {
                Some(t) => Check::ok("newest", format!("Newest message: {t}.")),
                None => Check::note("newest", "No messages yet: the first sync has not run."),
            });
        }
        Err(e) => checks.push(Check::problem(
            "archive-size",
            format!("The archive cannot be read: {e}"),
            "Open the app; it repairs what it can.",
        )),
    }
    checks.push(integrity(store).await);
    checks.push(match store.setting::<String>(wa_mcp::remote::ADDRESS).await {
        Ok(Some(address)) if !address.trim().is_empty() => Check::note(
            "remote",
            format!(
                "Remote use is on: assistants on other machines can connect to http://{address}{} with the token in {}.",
                wa_mcp::remote::PATH,
                data_dir.join(wa_mcp::remote::TOKEN_FILE).display()
            ),
        ),
        Ok(_) => Check::ok("remote", "Remote use is off: only assistants on this computer can connect."),
        Err(e) => Check::problem(
            "remote",
            format!("A remote-use setting is not valid: {e}"),
            "Fix it in the app under Settings > Assistants > Remote use.",
        ),
    });
    checks
}

/// An archive that would not open.
pub fn archive_unopened(e: &StoreError) -> Check {
    let what_to_do = match e {
        StoreError::Locked { .. } => {
            "Give the app the key the archive was locked with (the same keychain, or the same \
             WHATSAPP_MCP_PASSPHRASE)."
        }
        _ => "Open WhatsApp MCP Desktop; it creates or repairs the archive.",
    };
    Check::problem("archive", e.to_string(), what_to_do)
}

/// The WhatsApp connection, as the engine describes it.
pub fn whatsapp(description: &str, needs_attention: bool, fix: Option<&'static str>) -> Check {
    let text = format!("WhatsApp: {description}");
    if needs_attention {
        Check::problem("whatsapp", text, "Open the app and follow what it says.").with_fix(fix)
    } else {
        Check::ok("whatsapp", text)
    }
}

/// Each assistant on this computer (the doctor's list).
pub fn assistants(states: &[ClientState]) -> Vec<Check> {
    states
        .iter()
        .map(|state| match state.status {
            Status::Connected => Check::ok("assistant", state.description.clone()),
            Status::Stale { .. } | Status::Broken { .. } => Check::problem(
                "assistant",
                state.description.clone(),
                "In the app, open Connect assistants and connect it again; the app never overwrites a broken file.",
            ),
            _ => Check::note("assistant", state.description.clone()),
        })
        .collect()
}

/// The assistants in one line (the Diagnostics page, which has a page for the detail).
pub fn assistants_summary(states: &[ClientState]) -> Check {
    let connected: Vec<&str> = states
        .iter()
        .filter(|c| c.status == Status::Connected)
        .map(|c| c.name)
        .collect();
    let stale = states
        .iter()
        .any(|c| matches!(c.status, Status::Stale { .. } | Status::Broken { .. }));
    let fix = Some("assistants");
    if connected.is_empty() {
        Check::problem(
            "assistants",
            "No assistant is connected yet.",
            "Open Connect assistants and connect one.",
        )
        .with_fix(fix)
    } else if stale {
        Check::problem(
            "assistants",
            format!(
                "Connected: {}; another one needs connecting again.",
                connected.join(", ")
            ),
            "Open Connect assistants and connect it again.",
        )
        .with_fix(fix)
    } else {
        Check::ok("assistants", format!("Connected: {}.", connected.join(", ")))
    }
}

/// Where the archive's key comes from, and the key when this process can have it
/// (`None`: encrypted with a passphrase typed in the window, which this check cannot know).
pub fn archive_key(data_dir: &Path) -> (Check, Option<ArchiveKey>) {
    match crate::key::archive_key(data_dir, false) {
        Ok((key, source)) => (
            Check::ok("key", format!("Message archive: {}.", source.describe())),
            Some(key),
        ),
        // No keychain, an encrypted archive: its passphrase is typed in the
        // app's window at each start; this check cannot open it without it.
        Err(KeyError::NoKeychain { .. }) if crate::key::archive_is_encrypted(data_dir) => (
            Check::note(
                "key",
                "Message archive: encrypted with a passphrase typed in the app's window (no keychain here). \
                 To let this check read it too, run it with WHATSAPP_MCP_PASSPHRASE set.",
            ),
            None,
        ),
        Err(e) => (
            Check::problem("key", "The message archive's key is not available.", e.to_string()),
            Some(ArchiveKey::None),
        ),
    }
}

/// The archive on disk, opened read-only (the doctor, with or without the app running).
pub async fn archive_on_disk(layout: &Layout, key: &ArchiveKey) -> Vec<Check> {
    match Store::open_read_only_with(&layout.archive(), key).await {
        Ok(store) => {
            let checks = archive(&store, layout.dir()).await;
            store.close().await;
            checks
        }
        Err(e) => vec![archive_unopened(&e)],
    }
}

/// Ask the running app for its status over its channel (raw MCP lines).
pub async fn ask_running_app(socket: &Path) -> Result<serde_json::Value, String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = crate::channel::connect(socket).await.map_err(|e| {
        if crate::channel::nobody_there(&e) {
            "it is not running".to_owned()
        } else if e.kind() == std::io::ErrorKind::PermissionDenied {
            "its channel belongs to another user".to_owned()
        } else {
            e.to_string()
        }
    })?;
    let (read, mut write) = tokio::io::split(stream);
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
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), async {
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

/// The running app as it answered (its `backend_status`), or why it did not.
pub fn running_app(socket: &Path, answer: &Result<serde_json::Value, String>) -> Vec<Check> {
    let status = match answer {
        Ok(status) => status,
        Err(e) => {
            return vec![Check::problem(
                "app",
                format!("WhatsApp MCP Desktop is not answering ({e})."),
                "Start it from your applications menu; assistants start it by themselves too.",
            )];
        }
    };
    let mut checks = vec![Check::ok(
        "app",
        format!("WhatsApp MCP Desktop is running (socket {}).", socket.display()),
    )];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(socket).map_or(0, |m| m.permissions().mode() & 0o777);
        checks.push(if mode == 0o600 {
            Check::ok("socket", "Only you can connect to the app's socket.")
        } else {
            Check::problem("socket", "The app's socket can be used by others.", "Restart the app.")
        });
    }
    let text = status["description"].as_str().unwrap_or("unknown");
    checks.push(whatsapp(
        text,
        status["needs_attention"].as_bool().unwrap_or(true),
        None,
    ));
    if let Some(account) = status["account"].as_str() {
        checks.push(Check::ok("account", format!("Linked account: {account}")));
    }
    if status["demo"].as_bool() == Some(true) {
        checks.push(Check::note(
            "demo",
            "Demo mode: a simulated account, not your WhatsApp.",
        ));
    }
    checks
}

impl Services {
    /// The Diagnostics page's checks, on the running app.
    pub async fn diagnostic_checks(&self) -> Vec<Check> {
        let mut checks = data_folder(&self.data_dir);
        checks.extend(archive(&self.store, &self.data_dir).await);
        if let Some(problem) = self.engine.storage_problem() {
            checks.push(Check::problem(
                "storage",
                format!("{problem} New messages wait in memory and are saved as soon as there is room."),
                "Free some disk space; nothing is lost meanwhile.",
            ));
        }
        let state = self.engine.state().borrow().clone();
        checks.push(whatsapp(
            &state.describe_now(),
            state.needs_attention(),
            crate::status::connection_fix(&state),
        ));
        checks.push(assistants_summary(&self.assistants()));
        checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_others_can_open_is_a_problem_with_the_permissions_fix_and_fixing_it_clears_it() {
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("open it");
            let folder = data_folder(&data);
            let perms = folder.iter().find(|c| c.id == "data").expect("the permission check");
            assert_eq!((perms.level, perms.fix), (Level::Problem, Some("permissions")));
            assert!(perms.what_to_do.as_deref().is_some_and(|w| w.contains("chmod 700")));
            fix_permissions(&data).expect("fix");
            assert!(data_folder(&data).iter().all(|c| c.ok));
        }
        let missing = data_folder(&dir.path().join("nowhere"));
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].level, Level::Problem);
    }

    #[tokio::test]
    async fn an_empty_archive_is_sound_has_no_messages_yet_and_no_remote_use() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path().join("messages.db")).await.expect("store");
        let checks = archive(&store, dir.path()).await;
        let by_id = |id: &str| checks.iter().find(|c| c.id == id).expect(id).clone();
        assert_eq!(by_id("archive").level, Level::Ok);
        assert_eq!(by_id("newest").level, Level::Note);
        assert_eq!(by_id("remote").level, Level::Ok);
        store
            .set_setting(wa_mcp::remote::ADDRESS, &"127.0.0.1:8765")
            .await
            .expect("remote on");
        let checks = archive(&store, dir.path()).await;
        let remote = checks.iter().find(|c| c.id == "remote").expect("remote");
        assert_eq!(remote.level, Level::Note);
        assert!(remote.text.contains("http://127.0.0.1:8765"), "{}", remote.text);
        store.close().await;
    }

    #[test]
    fn the_connection_check_offers_the_fix_only_when_it_needs_attention() {
        let bad = whatsapp("Logged out.", true, Some("relink"));
        assert_eq!((bad.ok, bad.fix), (false, Some("relink")));
        let good = whatsapp("Connected to WhatsApp.", false, Some("relink"));
        assert_eq!(
            (good.ok, good.fix, good.text.as_str()),
            (true, None, "WhatsApp: Connected to WhatsApp.")
        );
    }
}
