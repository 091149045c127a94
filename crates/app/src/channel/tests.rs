//! The channel on this system (Unix socket or Windows named pipe): the same tests.

use super::*;

/// A name for this test's channel: a socket file in `dir`, or a pipe named after it.
fn address(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        let unique = dir.file_name().and_then(|n| n.to_str()).unwrap_or("test");
        PathBuf::from(format!(r"\\.\pipe\whatsapp-mcp-test-{unique}"))
    } else {
        dir.join("run").join("app.sock")
    }
}

/// Two copies starting in the same instant, with what a killed run leaves
/// in the way: exactly one serves, the other is told one runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_copies_at_once_one_serves() {
    let dir = tempfile::tempdir().expect("dir");
    let path = address(dir.path());
    for _ in 0..20 {
        os::leave_stale(&path);
        let (a, b) = tokio::join!(bind(&path), bind(&path));
        let won = usize::from(a.is_ok()) + usize::from(b.is_ok());
        let lost = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(ChannelError::InUse { .. })))
            .count();
        assert_eq!((won, lost), (1, 1), "{:?} / {:?}", a.as_ref().err(), b.as_ref().err());
        let listener = a.or(b).expect("the winner");
        assert!(connect(&path).await.is_ok(), "the winner answers");
        drop(listener);
    }
}

/// Several assistants at once each get their own session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_clients_at_once_each_get_an_answer() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("dir");
    let path = address(dir.path());
    let mut listener = bind(&path).await.expect("bind");
    let echo = tokio::spawn(async move {
        for _ in 0..5 {
            let stream = listener.accept().await.expect("accept");
            tokio::spawn(async move {
                let (read, mut write) = tokio::io::split(stream);
                let mut line = String::new();
                tokio::io::BufReader::new(read)
                    .read_line(&mut line)
                    .await
                    .expect("read");
                write.write_all(format!("echo {line}").as_bytes()).await.expect("write");
            });
        }
    });
    let clients = (0..5).map(|n| {
        let path = path.clone();
        tokio::spawn(async move {
            let stream = connect(&path).await.expect("connect");
            let (read, mut write) = tokio::io::split(stream);
            write.write_all(format!("{n}\n").as_bytes()).await.expect("write");
            let mut line = String::new();
            tokio::io::BufReader::new(read)
                .read_line(&mut line)
                .await
                .expect("read");
            line
        })
    });
    for (n, client) in clients.enumerate() {
        assert_eq!(client.await.expect("client"), format!("echo {n}\n"));
    }
    echo.await.expect("server");
}

/// Nobody serving: the helper can tell (and starts the app).
#[tokio::test]
async fn nobody_serving_is_told_apart() {
    let dir = tempfile::tempdir().expect("dir");
    let e = connect(&address(dir.path())).await.expect_err("nobody");
    assert!(nobody_there(&e), "{e:?}");
}

/// Locked: an MCP client's initialize gets an error in words at once, with
/// its own id; after the unlock the same listener is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_app_answers_at_once_that_it_is_locked() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("dir");
    let path = address(dir.path());
    let listener = bind(&path).await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let serving = tokio::spawn(serve_locked(
        listener,
        "It is locked: type the passphrase.".into(),
        stopped,
    ));
    let ask = |line: String| {
        let path = path.clone();
        async move {
            let stream = connect(&path).await.expect("connect");
            let (read, mut write) = tokio::io::split(stream);
            write.write_all(line.as_bytes()).await.expect("write");
            let mut answer = String::new();
            tokio::io::BufReader::new(read)
                .read_line(&mut answer)
                .await
                .expect("read");
            answer
        }
    };
    for id in [serde_json::json!(7), serde_json::json!("a")] {
        let request = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {}});
        let answer: serde_json::Value = serde_json::from_str(&ask(format!("{request}\n")).await).expect("json");
        assert_eq!(answer["id"], id);
        assert_eq!(answer["error"]["message"], "It is locked: type the passphrase.");
    }
    // Not JSON at all: still an answer, not a hang.
    let answer = ask("hello\n".into()).await;
    assert!(answer.contains("It is locked"), "{answer}");
    let _ = stop.send(());
    let listener = serving.await.expect("listener back");
    assert_eq!(listener.address(), path.as_path());
}

/// Only this user can open the socket file and its folder.
#[cfg(unix)]
#[tokio::test]
async fn the_socket_is_this_user_s_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let path = address(dir.path());
    let _listener = bind(&path).await.expect("bind");
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("dir")), 0o700);
}

/// The system names the program at the other end: here this test program
/// itself, which connected directly (not through the helper).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_names_who_connected() {
    let dir = tempfile::tempdir().expect("dir");
    let path = address(dir.path());
    let mut listener = bind(&path).await.expect("bind");
    let (accepted, _client) = tokio::join!(listener.accept(), connect(&path));
    let stream = accepted.expect("accept");
    let pid = peer_pid(&stream);
    assert_eq!(pid, Some(std::process::id()), "the connecting process");
    let me = std::env::current_exe().expect("exe");
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().to_lowercase());
    match peer::asker(pid) {
        wa_mcp::Asker::Direct { program } => assert_eq!(name(Path::new(&program)), name(&me), "{program}"),
        other => panic!("{other:?}"),
    }
}

/// Through the helper, the asker is the program that started the helper (the
/// assistant app), whatever the client calls itself. A stand-in helper: a
/// copy of Python named `whatsapp-mcp`, started by this test program.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_helper_the_asker_is_the_program_that_started_it() {
    let dir = tempfile::tempdir().expect("dir");
    let path = address(dir.path());
    let mut listener = bind(&path).await.expect("bind");
    let python = std::fs::canonicalize("/usr/bin/python3").expect("python3");
    let helper = dir.path().join("whatsapp-mcp");
    std::fs::copy(&python, &helper).expect("copy");
    let mut child = std::process::Command::new(&helper)
        .env("PYTHONHOME", "/usr")
        .args([
            "-c",
            "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ntime.sleep(5)",
        ])
        .arg(&path)
        .spawn()
        .expect("start the stand-in helper");
    let stream = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("in time")
        .expect("accept");
    let pid = peer_pid(&stream);
    assert_eq!(pid, Some(child.id()), "the helper's process");
    let me = std::env::current_exe().expect("exe");
    assert_eq!(
        peer::asker(pid),
        wa_mcp::Asker::ViaHelper {
            program: me.display().to_string()
        }
    );
    child.kill().ok();
    child.wait().ok();
    // A program other than the helper is named itself.
    let direct = peer::process(std::process::id()).expect("this process");
    assert_eq!(direct.program, me);
}
