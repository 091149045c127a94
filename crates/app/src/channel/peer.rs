//! Who is on the other end of the channel, as the system tells it (not as the
//! client names itself): the connecting program's process (the socket's peer
//! credentials on Unix, the pipe's client process on Windows), its program
//! file, and, when that is our helper, the program that started the helper:
//! the assistant app. See wa_mcp::asker for what is done with it.

use std::path::PathBuf;

use wa_mcp::Asker;

/// A process as the system describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Process {
    /// Its program file.
    pub(crate) program: PathBuf,
    /// The process that started it, if still known.
    pub(crate) parent: Option<u32>,
}

/// What the system says of the process `pid` that connected.
pub(crate) fn asker(pid: Option<u32>) -> Asker {
    let Some(me) = pid.and_then(process) else {
        return Asker::Unknown;
    };
    if is_helper(&me.program) {
        match me.parent.and_then(process) {
            Some(parent) => Asker::ViaHelper {
                program: parent.program.display().to_string(),
            },
            None => Asker::ViaHelper {
                program: "a program that has already ended".to_owned(),
            },
        }
    } else {
        Asker::Direct {
            program: me.program.display().to_string(),
        }
    }
}

/// Whether `program` is our MCP helper (`whatsapp-mcp`, `whatsapp-mcp.exe`;
/// not the app, `whatsapp-mcp-desktop`).
fn is_helper(program: &std::path::Path) -> bool {
    program
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.eq_ignore_ascii_case("whatsapp-mcp"))
}

/// The process `pid`: Linux reads /proc.
#[cfg(target_os = "linux")]
pub(crate) fn process(pid: u32) -> Option<Process> {
    let program = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    // /proc/<pid>/stat: "pid (name) state ppid ...", the name may hold spaces and ')'.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let parent = after_name.split_whitespace().nth(1).and_then(|p| p.parse().ok());
    Some(Process { program, parent })
}

/// The process `pid`: macOS asks `ps` (its `comm` is the program's full path).
#[cfg(target_os = "macos")]
pub(crate) fn process(pid: u32) -> Option<Process> {
    let out = std::process::Command::new("/bin/ps")
        .args(["-o", "ppid=", "-o", "comm=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().next()?.trim_start();
    let (parent, program) = line.split_once(char::is_whitespace)?;
    Some(Process {
        program: PathBuf::from(program.trim()),
        parent: parent.trim().parse().ok(),
    })
}

/// The process `pid`: Windows asks the process list (crate::user_only).
#[cfg(windows)]
pub(crate) fn process(pid: u32) -> Option<Process> {
    let (program, parent) = crate::user_only::process(pid)?;
    Some(Process { program, parent })
}

/// Other systems do not say (the asker stays unknown).
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
pub(crate) fn process(_pid: u32) -> Option<Process> {
    None
}
