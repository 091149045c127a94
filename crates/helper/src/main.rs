//! `whatsapp-mcp`: the small program assistants (Claude Desktop, ...) launch.
//!
//! It carries MCP between the assistant (stdio) and WhatsApp MCP Desktop (the
//! app's user-only local channel: a socket on Unix, a named pipe on Windows); the app owns the only WhatsApp connection
//! and database. If the app is not running it starts it in the tray (or
//! headless without a display) and waits for its socket, at most ~10 s. If the
//! app cannot start, it answers the read tools itself from the database,
//! opened read-only, and the act tools say why they cannot run.
//!
//! Stdout carries only protocol; logs go to `<log dir>/helper.log`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod doctor;

use wa_app::assistants::{self, Client, Env};
use wa_app::{channel, paths};

const WAIT_FOR_APP: Duration = Duration::from_secs(10);

/// Logs go to `<logs folder>/helper.log`, masked (see `wa_app::logging`);
/// to stderr only when there is no logs folder. Never stdout: it is the protocol channel.
fn init_logging() {
    let file = paths::open_log("helper.log");
    let stderr = file.is_none();
    wa_app::logging::install(file, "info", stderr);
}

/// The app's program: `$WHATSAPP_MCP_APP`, else beside this helper (how the
/// installers ship them), else where the installers put it, else on the PATH.
fn app_program() -> PathBuf {
    if let Some(app) = std::env::var_os("WHATSAPP_MCP_APP").filter(|a| !a.is_empty()) {
        return PathBuf::from(app);
    }
    let name = format!("whatsapp-mcp-desktop{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|me| me.parent().map(|dir| dir.join(&name)));
    // Where the installers put the app, for a helper that runs from elsewhere
    // (the Claude Desktop extension unpacks it into Claude's own folder).
    let installed = [
        Some(PathBuf::from("/usr/bin").join(&name)),
        Some(PathBuf::from("/Applications/WhatsApp MCP Desktop.app/Contents/MacOS").join(&name)),
        std::env::var_os("LOCALAPPDATA").map(|d| PathBuf::from(d).join("WhatsApp MCP Desktop").join(&name)),
        std::env::var_os("ProgramFiles").map(|d| PathBuf::from(d).join("WhatsApp MCP Desktop").join(&name)),
    ];
    std::iter::once(beside)
        .chain(installed)
        .flatten()
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Whether the app can show its tray and window: not when
/// `WHATSAPP_MCP_HEADLESS=1` asks for it headless (a server, a CI machine),
/// nor on Linux without a display; always on Windows and macOS otherwise.
fn has_display() -> bool {
    if std::env::var_os("WHATSAPP_MCP_HEADLESS").is_some_and(|v| v == "1") {
        return false;
    }
    if !cfg!(target_os = "linux") {
        return true;
    }
    std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
}

/// Start the app detached, in the tray or headless.
fn start_app() -> Result<(), String> {
    let program = app_program();
    let mode = if has_display() { "--hidden" } else { "--headless" };
    tracing::info!(program = %program.display(), mode, "starting the app");
    let mut command = std::process::Command::new(&program);
    command
        .arg(mode)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    detach(&mut command);
    command
        .spawn()
        .map(drop)
        .map_err(|e| format!("WhatsApp MCP Desktop ({}) could not be started: {e}", program.display()))
}

/// Windows: the app gets no console window (none flashes up) and outlives
/// the helper's console, which the assistant may close with it.
#[cfg(windows)]
fn detach(command: &mut std::process::Command) {
    use std::os::windows::process::CommandExt;
    /// `CREATE_NO_WINDOW | DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP`.
    const FLAGS: u32 = 0x0800_0000 | 0x0000_0008 | 0x0000_0200;
    command.creation_flags(FLAGS);
}

/// Unix: the app starts in its own session, so the assistant's signals to the
/// helper's process group do not reach it.
#[cfg(unix)]
fn detach(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

async fn connect(socket: &Path) -> Option<channel::ClientStream> {
    channel::connect(socket).await.ok()
}

/// The app's channel, starting the app when nobody answers.
async fn reach_app(socket: &Path) -> Result<channel::ClientStream, String> {
    if let Some(stream) = connect(socket).await {
        return Ok(stream);
    }
    start_app()?;
    let started = Instant::now();
    while started.elapsed() < WAIT_FOR_APP {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(stream) = connect(socket).await {
            tracing::info!(ms = started.elapsed().as_millis(), "the app answered");
            return Ok(stream);
        }
    }
    Err(format!(
        "WhatsApp MCP Desktop did not start within {} seconds. Open it once from your applications menu \
         and check what it says.",
        WAIT_FOR_APP.as_secs()
    ))
}

/// Carry bytes both ways until the assistant or the app hangs up.
async fn pipe(stream: channel::ClientStream) -> anyhow::Result<()> {
    let (mut from_app, mut to_app) = tokio::io::split(stream);
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let up = async {
        let copied = tokio::io::copy(&mut stdin, &mut to_app).await;
        // The assistant closed stdin: tell the app, then let the answers drain.
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut to_app).await;
        copied
    };
    let down = async {
        let copied = tokio::io::copy(&mut from_app, &mut stdout).await;
        let _ = tokio::io::AsyncWriteExt::flush(&mut stdout).await;
        copied
    };
    let (up, down) = tokio::join!(up, down);
    tracing::info!(up = ?up.ok(), down = ?down.ok(), "session ended");
    Ok(())
}

/// The app cannot run: answer from the database, read-only, on stdio.
async fn serve_read_only(data_dir: &Path, why: &str) -> anyhow::Result<()> {
    let stdio = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
    Ok(wa_app::fallback::serve_read_only(data_dir, why, stdio).await?)
}

async fn run() -> anyhow::Result<()> {
    let data_dir = paths::data_dir()?;
    let socket = channel::default_path(&data_dir);
    match reach_app(&socket).await {
        Ok(stream) => pipe(stream).await,
        Err(why) => serve_read_only(&data_dir, &why).await,
    }
}

/// `register`, `unregister` and `status`: the wizard's "Connect assistants" from a terminal.
fn assistants_command(command: &str, args: &[String]) -> std::process::ExitCode {
    let env = Env::from_system();
    let helper = std::env::current_exe().unwrap_or_default();
    let chosen: Vec<Client> = match args {
        [] => Client::ALL.to_vec(),
        [flag, name] if flag == "--client" => {
            let Ok(client) = serde_json::from_value(serde_json::Value::String(name.clone())) else {
                eprintln!(
                    "Unknown client \"{name}\". Known: claude_desktop, claude_code, cursor, vs_code, windsurf, zed, lm_studio."
                );
                return std::process::ExitCode::from(2);
            };
            vec![client]
        }
        _ => {
            eprintln!("Use: whatsapp-mcp {command} [--client claude_desktop]");
            return std::process::ExitCode::from(2);
        }
    };
    let mut failed = false;
    for client in chosen {
        let outcome = match command {
            "register" => assistants::register(&env, client, &helper),
            "unregister" => assistants::unregister(&env, client),
            _ => {
                let state = assistants::states(&env, &helper)
                    .into_iter()
                    .find(|s| s.client == client);
                if let Some(state) = state {
                    println!("{}", state.description);
                }
                continue;
            }
        };
        match outcome {
            Ok(change) if !change.changed => {
                println!("{}: nothing to change ({}).", client.name(), change.path.display());
            }
            Ok(change) => {
                let verb = if command == "register" {
                    "connected"
                } else {
                    "disconnected"
                };
                println!("{} {verb} ({}).", client.name(), change.path.display());
                if let Some(old) = change.replaced {
                    println!("  It used {old} before.");
                }
                if let Some(backup) = change.backup {
                    println!("  The previous settings are kept in {}.", backup.display());
                }
                if command == "register" {
                    println!("  Restart {} to finish.", client.name());
                }
            }
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn main() -> std::process::ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--version" | "-V") => {
            println!("whatsapp-mcp {}", env!("CARGO_PKG_VERSION"));
            return std::process::ExitCode::SUCCESS;
        }
        Some("doctor") => {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("whatsapp-mcp could not start: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let bundle = match std::env::args().nth(2).as_deref() {
                None => false,
                Some("--bundle") => true,
                Some(other) => {
                    eprintln!("Unknown doctor option \"{other}\". Use: whatsapp-mcp doctor [--bundle].");
                    return std::process::ExitCode::from(2);
                }
            };
            return std::process::ExitCode::from(u8::try_from(runtime.block_on(doctor::run(bundle))).unwrap_or(1));
        }
        Some(command @ ("register" | "unregister" | "status")) => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            return assistants_command(command, &args);
        }
        Some("--help" | "-h") => {
            println!(
                "whatsapp-mcp {}: connects an AI assistant (MCP over stdio) to WhatsApp MCP Desktop.\n\
                 Assistants launch it; you do not need to run it yourself.\n\
                 Commands: doctor [--bundle] (check the app, the archive and the assistants, in plain words;\n\
                 --bundle also writes a diagnostic report without message text or phone numbers);\n\
                 register [--client claude_desktop|claude_code|cursor|vs_code|windsurf|zed|lm_studio] / unregister [--client ...] / status (connect assistants).\n\
                 Options: --version, --help.",
                env!("CARGO_PKG_VERSION")
            );
            return std::process::ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!(
                "Unknown option \"{other}\". Use: whatsapp-mcp doctor | register | unregister | status | --version | --help."
            );
            return std::process::ExitCode::from(2);
        }
        None => {}
    }
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("whatsapp-mcp could not start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "stopped");
            eprintln!("whatsapp-mcp: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
