//! Connect assistants: register the `whatsapp-mcp` helper in an MCP client's
//! config file, safely.
//!
//! Safe editing, always:
//! - every other key and value is kept, in its order (`serde_json` with
//!   `preserve_order`); a byte-order mark and CRLF line ends are kept too;
//! - before a change, a timestamped copy of the file is written beside it;
//! - the new file is written to a temporary file in the same folder, synced,
//!   and renamed over the old one (a crash leaves the old or the new file, never
//!   half of one); a symlinked config is written where the link points;
//! - if the client rewrites the file meanwhile, the change is made again on
//!   what it wrote;
//! - a file that is not valid JSON is never overwritten: the error names the
//!   file, line and column, and says how to fix or restore it.
//!
//! Supported: Claude Desktop, Claude Code (user scope), Cursor, Windsurf and
//! LM Studio (`mcpServers` in plain JSON), VS Code (`servers` in its user
//! `mcp.json`) and Zed (`context_servers` in `settings.json`), the last two
//! JSONC, edited through a concrete syntax tree so comments, trailing commas
//! and the person's formatting stay as they were. Each file, key and the
//! source it was checked against are in `docs/clients.md`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

/// Our entry's key in a client's server list.
pub const ENTRY: &str = "whatsapp";
/// Files larger than this are not edited (a config is a few KB; Claude Code's
/// `~/.claude.json` also keeps per-project history and can reach megabytes).
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024 * 1024;

/// The assistants we can connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Client {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    Windsurf,
    LmStudio,
    VsCode,
    Zed,
}

impl Client {
    /// Claude Desktop first: the wizard lists them in this order.
    pub const ALL: [Client; 7] = [
        Client::ClaudeDesktop,
        Client::ClaudeCode,
        Client::Cursor,
        Client::VsCode,
        Client::Windsurf,
        Client::Zed,
        Client::LmStudio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "Claude Desktop",
            Client::ClaudeCode => "Claude Code",
            Client::Cursor => "Cursor",
            Client::Windsurf => "Windsurf",
            Client::LmStudio => "LM Studio",
            Client::VsCode => "VS Code",
            Client::Zed => "Zed",
        }
    }

    /// The object in the config that lists servers.
    fn key(self) -> &'static str {
        match self {
            Client::VsCode => "servers",
            Client::Zed => "context_servers",
            _ => "mcpServers",
        }
    }

    /// Whether the file is JSONC (comments and trailing commas allowed, and kept).
    fn jsonc(self) -> bool {
        matches!(self, Client::VsCode | Client::Zed)
    }

    /// The entry this client reads for a local (stdio) server.
    fn entry(self, helper: &Path) -> Value {
        let command = helper.display().to_string();
        match self {
            // Claude Code names the transport of every server it lists.
            Client::ClaudeCode | Client::VsCode => {
                serde_json::json!({ "type": "stdio", "command": command, "args": [], "env": {} })
            }
            _ => serde_json::json!({ "command": command, "args": [], "env": {} }),
        }
    }

    /// Where the client keeps its MCP servers.
    pub fn config_path(self, env: &Env) -> PathBuf {
        match self {
            Client::ClaudeDesktop => {
                let dir = if cfg!(target_os = "macos") {
                    env.home.join("Library/Application Support/Claude")
                } else if cfg!(windows) {
                    env.app_data.join("Claude")
                } else {
                    env.config_dir.join("Claude")
                };
                dir.join("claude_desktop_config.json")
            }
            // The same home-relative paths on every system (USERPROFILE on Windows).
            Client::ClaudeCode => env.home.join(".claude.json"),
            Client::Cursor => env.home.join(".cursor").join("mcp.json"),
            Client::Windsurf => env.home.join(".codeium").join("windsurf").join("mcp_config.json"),
            Client::LmStudio => env.home.join(".lmstudio").join("mcp.json"),
            // VS Code's user profile; Zed's settings (~/.config/zed on Linux and macOS).
            Client::VsCode => {
                let dir = if cfg!(target_os = "macos") {
                    env.home.join("Library/Application Support/Code/User")
                } else if cfg!(windows) {
                    env.app_data.join("Code/User")
                } else {
                    env.config_dir.join("Code/User")
                };
                dir.join("mcp.json")
            }
            Client::Zed => {
                let dir = if cfg!(target_os = "macos") {
                    env.home.join(".config/zed")
                } else if cfg!(windows) {
                    env.app_data.join("Zed")
                } else {
                    env.config_dir.join("zed")
                };
                dir.join("settings.json")
            }
        }
    }

    /// Whether the client seems installed: its settings folder exists (Claude
    /// Code: its `~/.claude` folder or `~/.claude.json`).
    pub fn installed(self, env: &Env) -> bool {
        match self {
            Client::ClaudeCode => env.home.join(".claude").is_dir() || self.config_path(env).is_file(),
            _ => self.config_path(env).parent().is_some_and(Path::is_dir),
        }
    }
}

/// Where this user's folders are (read from the system, or given by tests).
#[derive(Debug, Clone)]
pub struct Env {
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME` or `~/.config` (Linux).
    pub config_dir: PathBuf,
    /// `%APPDATA%` (Windows).
    pub app_data: PathBuf,
}

impl Env {
    pub fn from_system() -> Self {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map_or_else(|| PathBuf::from("."), PathBuf::from);
        let config_dir = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|d| !d.is_empty())
            .map_or_else(|| home.join(".config"), PathBuf::from);
        let app_data = std::env::var_os("APPDATA").map_or_else(|| home.join("AppData/Roaming"), PathBuf::from);
        Self {
            home,
            config_dir,
            app_data,
        }
    }
}

/// How a client stands with us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    NotInstalled,
    /// Installed, without a `whatsapp` entry.
    NotConnected,
    Connected,
    /// Our helper, at a path that is not this app's helper any more (moved or updated).
    Stale {
        command: String,
    },
    /// A `whatsapp` entry for something else (for example lharries/whatsapp-mcp through uv).
    Elsewhere {
        command: String,
    },
    /// The config file cannot be used as it is.
    Broken {
        problem: String,
    },
}

/// A client as the wizard and settings show it.
#[derive(Debug, Clone, Serialize)]
pub struct ClientState {
    pub client: Client,
    pub name: &'static str,
    pub config_path: PathBuf,
    #[serde(flatten)]
    pub status: Status,
    /// The status in words.
    pub description: String,
    /// Whether the app can restart this client for the person (see [`restart`]).
    pub can_restart: bool,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: PathBuf,
    /// The copy made before the change (none when the file did not exist or nothing changed).
    pub backup: Option<PathBuf>,
    /// The entry that was there before, when it pointed elsewhere.
    pub replaced: Option<String>,
    pub changed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "{client}'s settings file {path} is not valid JSON (line {line}, column {column}: {message}). Nothing was changed. \
         Open it in a text editor and fix that spot, or restore an earlier copy ({hint}), then try again."
    )]
    InvalidJson {
        client: &'static str,
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        hint: String,
    },
    #[error(
        "{client}'s settings file {path} does not have the expected shape ({what}). Nothing was changed. Fix it in a text editor, or move it aside so {client} writes a fresh one."
    )]
    Shape {
        client: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error("{client}'s settings file {path} is {size} bytes, too large to be a settings file. Nothing was changed.")]
    TooLarge {
        client: &'static str,
        path: PathBuf,
        size: u64,
    },
    #[error("{client}'s settings file {path} cannot be {doing}: {source}. Nothing was changed.{hint}")]
    Io {
        client: &'static str,
        path: PathBuf,
        doing: &'static str,
        hint: &'static str,
        source: std::io::Error,
    },
    #[error(
        "{client} kept rewriting its settings file {path} while we tried to change it. Close {client} and try again."
    )]
    Busy { client: &'static str, path: PathBuf },
}

/// Whether `command` is a copy of our helper (by its file name).
fn is_our_helper(command: &str) -> bool {
    Path::new(command)
        .file_stem()
        .is_some_and(|s| s.eq_ignore_ascii_case("whatsapp-mcp"))
}

/// A file's text as read: its JSON, and how it was written (BOM, line ends).
struct Loaded {
    raw: Vec<u8>,
    value: Value,
    bom: bool,
    crlf: bool,
}

fn io(client: Client, path: &Path, doing: &'static str, source: std::io::Error) -> ClientError {
    let hint = match source.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            " The file or its folder is read-only for you: allow writing to it (or ask whoever set that up)."
        }
        std::io::ErrorKind::StorageFull => " The disk is full: free some space.",
        _ => "",
    };
    ClientError::Io {
        client: client.name(),
        path: path.to_owned(),
        doing,
        hint,
        source,
    }
}

/// Read and parse `path`; `None` when there is no file yet.
fn load(client: Client, path: &Path) -> Result<Option<Loaded>, ClientError> {
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(client, path, "read", e)),
    };
    if size > MAX_CONFIG_BYTES {
        return Err(ClientError::TooLarge {
            client: client.name(),
            path: path.to_owned(),
            size,
        });
    }
    let mut raw = std::fs::read(path).map_err(|e| io(client, path, "read", e))?;
    // The document, or why not: `None` for an empty file, else where it is invalid.
    let judge = |raw: &[u8]| {
        let body = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        if body.iter().all(u8::is_ascii_whitespace) {
            Err(None)
        } else {
            parse(client, body).map_err(Some)
        }
    };
    let mut judged = judge(&raw);
    // An empty or unparsable file may be one the client is writing right now
    // (most write in place): judge it only once it holds still.
    for _ in 0..10 {
        if judged.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let again = std::fs::read(path).map_err(|e| io(client, path, "read", e))?;
        if again == raw {
            break;
        }
        raw = again;
        judged = judge(&raw);
    }
    let bom = raw.starts_with(b"\xEF\xBB\xBF");
    let body = if bom { &raw[3..] } else { &raw[..] };
    let crlf = body.windows(2).any(|w| w == b"\r\n");
    let value = match judged {
        Ok(value) => value,
        // An empty file is an empty config.
        Err(None) => Value::Object(Map::new()),
        Err(Some((line, column, message))) => {
            return Err(ClientError::InvalidJson {
                client: client.name(),
                path: path.to_owned(),
                line,
                column,
                message,
                hint: latest_backup(path).map_or_else(
                    || "no earlier copy was made by this app".to_owned(),
                    |b| b.display().to_string(),
                ),
            });
        }
    };
    Ok(Some(Loaded { raw, value, bom, crlf }))
}

/// A config's document, or where and why it is not valid (line, column, words).
fn parse(client: Client, body: &[u8]) -> Result<Value, (usize, usize, String)> {
    if !client.jsonc() {
        return serde_json::from_slice(body).map_err(|e| {
            (
                e.line(),
                e.column(),
                e.to_string().split(" at line").next().unwrap_or_default().to_owned(),
            )
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        let before = &body[..e.valid_up_to()];
        let line = before.split(|&b| b == b'\n').count();
        let column = before.len() - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        (line, column, "the file is not UTF-8 text".to_owned())
    })?;
    match jsonc_parser::parse_to_serde_value::<Option<Value>>(text, &jsonc_parser::ParseOptions::default()) {
        Ok(value) => Ok(value.unwrap_or_else(|| Value::Object(Map::new()))),
        Err(e) => Err((e.line_display(), e.column_display(), e.kind().to_string())),
    }
}

/// A JSON value as the JSONC editor takes it.
fn cst_value(value: &Value) -> jsonc_parser::cst::CstInputValue {
    use jsonc_parser::cst::CstInputValue as In;
    match value {
        Value::Null => In::Null,
        Value::Bool(b) => In::Bool(*b),
        Value::Number(n) => In::Number(n.to_string()),
        Value::String(s) => In::String(s.clone()),
        Value::Array(items) => In::Array(items.iter().map(cst_value).collect()),
        Value::Object(map) => In::Object(map.iter().map(|(k, v)| (k.clone(), cst_value(v))).collect()),
    }
}

/// The JSONC file's new text: only our entry (or the emptied server list) is
/// touched; comments, trailing commas and formatting elsewhere stay as written.
fn render_jsonc(text: &str, key: &str, entry: Option<&Value>, drop_servers: bool) -> String {
    use jsonc_parser::cst::CstRootNode;
    let Ok(root) = CstRootNode::parse(text, &jsonc_parser::ParseOptions::default()) else {
        // `load` parsed this very text a moment ago.
        return text.to_owned();
    };
    let object = root.object_value_or_set();
    if drop_servers {
        if let Some(prop) = object.get(key) {
            prop.remove();
        }
    } else if let Some(servers) = object.object_value_or_create(key) {
        match (entry, servers.get(ENTRY)) {
            (Some(value), Some(prop)) => prop.set_value(cst_value(value)),
            (Some(value), None) => {
                servers.append(ENTRY, cst_value(value));
            }
            (None, Some(prop)) => prop.remove(),
            (None, None) => {}
        }
    }
    let mut out = root.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The newest backup this module made of `path`.
fn latest_backup(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let prefix = format!("{name}.backup-");
    let mut backups: Vec<PathBuf> = std::fs::read_dir(path.parent()?)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
        .collect();
    backups.sort();
    backups.pop()
}

fn servers<'a>(client: Client, path: &Path, root: &'a mut Value) -> Result<&'a mut Map<String, Value>, ClientError> {
    let shape = |what| ClientError::Shape {
        client: client.name(),
        path: path.to_owned(),
        what,
    };
    let Value::Object(root) = root else {
        return Err(shape("the file is not a JSON object"));
    };
    let servers = root.entry(client.key()).or_insert_with(|| Value::Object(Map::new()));
    match servers {
        Value::Object(map) => Ok(map),
        _ => Err(match client.key() {
            "servers" => shape("\"servers\" is not an object"),
            "context_servers" => shape("\"context_servers\" is not an object"),
            _ => shape("\"mcpServers\" is not an object"),
        }),
    }
}

/// The file's new text, written as the old one was (BOM, line ends).
fn render(value: &Value, bom: bool, crlf: bool) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    with_line_ends(text, bom, crlf)
}

/// `text` with the BOM and line ends the file had.
fn with_line_ends(text: String, bom: bool, crlf: bool) -> Vec<u8> {
    let text = if crlf {
        text.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        text
    };
    let mut out = Vec::with_capacity(text.len() + 3);
    if bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    out.extend_from_slice(text.as_bytes());
    out
}

/// Write `bytes` to `path` atomically, unless the file changed since `expected`
/// was read (then `Ok(false)`).
fn replace(client: Client, path: &Path, expected: Option<&[u8]>, bytes: &[u8]) -> Result<bool, ClientError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(client, path, "created", e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.whatsapp-mcp-{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(client, path, "written", e));
    }
    // The client may have written the file meanwhile: then start again from its version.
    let now = std::fs::read(path).ok();
    if now.as_deref() != expected {
        let _ = std::fs::remove_file(&tmp);
        return Ok(false);
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(client, path, "written", e));
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(true)
}

/// A copy of the file as it is, beside it, named with the time.
fn backup(client: Client, path: &Path, raw: &[u8]) -> Result<PathBuf, ClientError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S%.3f");
    let copy = path.with_file_name(format!("{name}.backup-{stamp}"));
    if let Err(e) = std::fs::write(&copy, raw) {
        // A full disk can leave half a copy: do not keep it.
        let _ = std::fs::remove_file(&copy);
        return Err(io(client, path, "backed up", e));
    }
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&copy, meta.permissions());
    }
    Ok(copy)
}

/// Follow a symlinked config to the file it names (so the link stays a link).
fn target(path: &Path) -> PathBuf {
    match std::fs::read_link(path) {
        Ok(to) if to.is_absolute() => to,
        Ok(to) => path.parent().unwrap_or(Path::new(".")).join(to),
        Err(_) => path.to_owned(),
    }
}

/// Apply `edit` to the client's config (creating it when missing) with every
/// safety above. `edit` returns whether it changed anything and what it replaced.
fn edit_config(
    client: Client,
    env: &Env,
    drop_empty: bool,
    edit: impl Fn(&mut Map<String, Value>) -> (bool, Option<String>),
) -> Result<Change, ClientError> {
    let shown = client.config_path(env);
    let path = target(&shown);
    for _ in 0..5 {
        let loaded = load(client, &path)?;
        let (mut value, raw, bom, crlf) = match loaded {
            Some(l) => (l.value, Some(l.raw), l.bom, l.crlf),
            None => (Value::Object(Map::new()), None, false, cfg!(windows)),
        };
        let (changed, replaced) = edit(servers(client, &path, &mut value)?);
        // Removing our entry leaves no empty server list behind.
        let mut dropped = false;
        if drop_empty
            && let Value::Object(root) = &mut value
            && root
                .get(client.key())
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
        {
            root.shift_remove(client.key());
            dropped = true;
        }
        if !changed {
            return Ok(Change {
                path: shown,
                backup: None,
                replaced,
                changed: false,
            });
        }
        let backup = raw.as_deref().map(|r| backup(client, &path, r)).transpose()?;
        let bytes = if client.jsonc() {
            let body = raw
                .as_deref()
                .map_or(&[][..], |r| r.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(r));
            let entry = value.get(client.key()).and_then(|s| s.get(ENTRY));
            let text = render_jsonc(&String::from_utf8_lossy(body), client.key(), entry, dropped);
            with_line_ends(text, bom, crlf)
        } else {
            render(&value, bom, crlf)
        };
        let replaced_now = replace(client, &path, raw.as_deref(), &bytes).inspect_err(|_| {
            // Nothing changed, so the copy made for this change is not needed.
            if let Some(b) = &backup {
                let _ = std::fs::remove_file(b);
            }
        })?;
        if replaced_now {
            tracing::info!(client = client.name(), path = %path.display(), "assistant config updated");
            return Ok(Change {
                path: shown,
                backup,
                replaced,
                changed: true,
            });
        }
        if let Some(b) = backup {
            let _ = std::fs::remove_file(b);
        }
    }
    Err(ClientError::Busy {
        client: client.name(),
        path: shown,
    })
}

/// Connect `client` to the helper at `helper` (replacing any other `whatsapp` entry,
/// which stays in the backup).
pub fn register(env: &Env, client: Client, helper: &Path) -> Result<Change, ClientError> {
    let wanted = client.entry(helper);
    edit_config(client, env, false, |servers| {
        let before = servers.get(ENTRY).cloned();
        if before.as_ref() == Some(&wanted) {
            return (false, None);
        }
        let replaced = before.map(|b| describe_entry(&b));
        servers.insert(ENTRY.to_owned(), wanted.clone());
        (true, replaced)
    })
}

/// Remove our entry, and nothing else. An entry for another WhatsApp MCP is left alone.
pub fn unregister(env: &Env, client: Client) -> Result<Change, ClientError> {
    let path = client.config_path(env);
    if !path.exists() {
        return Ok(Change {
            path,
            backup: None,
            replaced: None,
            changed: false,
        });
    }
    edit_config(client, env, true, |servers| {
        let ours = servers
            .get(ENTRY)
            .and_then(|e| e.get("command"))
            .and_then(Value::as_str)
            .is_some_and(is_our_helper);
        if ours {
            servers.shift_remove(ENTRY);
            (true, None)
        } else {
            (false, None)
        }
    })
}

/// An entry in words: its command and arguments.
fn describe_entry(entry: &Value) -> String {
    let command = entry.get("command").and_then(Value::as_str).unwrap_or("?");
    let args: Vec<&str> = entry
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if args.is_empty() {
        command.to_owned()
    } else {
        format!("{command} {}", args.join(" "))
    }
}

/// How `client` stands, for the helper at `helper`.
pub fn status(env: &Env, client: Client, helper: &Path) -> Status {
    let path = target(&client.config_path(env));
    if !client.installed(env) && !path.exists() {
        return Status::NotInstalled;
    }
    let loaded = match load(client, &path) {
        Ok(Some(l)) => l,
        Ok(None) => return Status::NotConnected,
        Err(e) => return Status::Broken { problem: e.to_string() },
    };
    let Some(entry) = loaded.value.get(client.key()).and_then(|s| s.get(ENTRY)) else {
        return Status::NotConnected;
    };
    let command = entry.get("command").and_then(Value::as_str).unwrap_or_default();
    if !is_our_helper(command) {
        return Status::Elsewhere {
            command: describe_entry(entry),
        };
    }
    if Path::new(command) == helper && helper.exists() {
        Status::Connected
    } else {
        Status::Stale {
            command: command.to_owned(),
        }
    }
}

/// Connect again every client whose entry points at an old copy of this app
/// (the app moved or was updated to another path). Run on every app start.
pub fn refresh_stale(env: &Env, helper: &Path) -> Vec<(Client, Result<Change, ClientError>)> {
    if !helper.exists() {
        // A development build without the helper beside it: nothing better to point at.
        return Vec::new();
    }
    Client::ALL
        .iter()
        .filter(|&&c| matches!(status(env, c, helper), Status::Stale { .. }))
        .map(|&c| (c, register(env, c, helper)))
        .collect()
}

/// Whether [`restart`] can restart `client` on this system. Decision: only
/// Claude Desktop on macOS, where quitting and reopening an app by name is
/// reliable (`osascript`, `open -a`). Windows installs Claude in per-version
/// folders and Linux has no official build, so there the wizard says how to
/// restart it instead.
pub fn can_restart(client: Client) -> bool {
    client == Client::ClaudeDesktop && cfg!(target_os = "macos")
}

/// Quit and reopen `client` so it reads its new settings.
pub fn restart(client: Client) -> Result<(), String> {
    if !can_restart(client) {
        return Err(format!(
            "{} cannot be restarted from here on this system: quit it completely and open it again.",
            client.name()
        ));
    }
    let run = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .status()
            .map_err(|e| format!("{program} could not run: {e}"))
    };
    run("osascript", &["-e", "quit app \"Claude\""])?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    match run("open", &["-a", "Claude"])? {
        s if s.success() => Ok(()),
        _ => Err("Claude Desktop did not open again: open it yourself.".to_owned()),
    }
}

/// Every client with its status and a sentence for people.
pub fn states(env: &Env, helper: &Path) -> Vec<ClientState> {
    Client::ALL
        .iter()
        .map(|&client| {
            let status = status(env, client, helper);
            let name = client.name();
            let description = match &status {
                Status::NotInstalled => format!("{name} was not found on this computer."),
                Status::NotConnected => format!("{name} is installed and not connected yet."),
                Status::Connected => format!("{name} is connected."),
                Status::Stale { command } => {
                    format!("{name} points at an old copy of this app ({command}). Connect it again.")
                }
                Status::Elsewhere { command } => format!(
                    "{name} uses another WhatsApp tool ({command}). Connecting replaces it; the old settings are kept in a backup."
                ),
                Status::Broken { problem } => problem.clone(),
            };
            ClientState {
                client,
                name,
                config_path: client.config_path(env),
                status,
                description,
                can_restart: can_restart(client),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
