//! Registration on real files in a temporary home (with a non-ASCII name).

use super::*;

struct Home {
    _dir: tempfile::TempDir,
    env: Env,
    helper: PathBuf,
}

/// A home folder with Claude Desktop "installed" (its settings folder exists).
fn home() -> Home {
    let dir = tempfile::tempdir().expect("dir");
    let home = dir.path().join("Jörg Ünïcode 日本");
    let env = Env {
        config_dir: home.join(".config"),
        app_data: home.join("AppData/Roaming"),
        home: home.clone(),
    };
    let config = Client::ClaudeDesktop.config_path(&env);
    std::fs::create_dir_all(config.parent().expect("parent")).expect("claude dir");
    let helper = home.join("Apps/WhatsApp MCP/whatsapp-mcp");
    std::fs::create_dir_all(helper.parent().expect("parent")).expect("apps");
    std::fs::write(&helper, b"#!/bin/sh\n").expect("helper");
    Home { _dir: dir, env, helper }
}

fn config(h: &Home) -> PathBuf {
    Client::ClaudeDesktop.config_path(&h.env)
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

const EXISTING: &str = r#"{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me"]},
    "zeta": {"command": "zeta"}
  },
  "alpha": 1
}"#;

#[test]
fn a_new_config_is_created_with_our_entry_and_status_follows() {
    let h = home();
    assert_eq!(status(&h.env, Client::ClaudeDesktop, &h.helper), Status::NotConnected);
    let change = register(&h.env, Client::ClaudeDesktop, &h.helper).expect("register");
    assert!(change.changed && change.backup.is_none());
    let written = read(&config(&h));
    assert_eq!(
        written["mcpServers"]["whatsapp"],
        serde_json::json!({"command": h.helper.display().to_string(), "args": [], "env": {}})
    );
    assert_eq!(status(&h.env, Client::ClaudeDesktop, &h.helper), Status::Connected);
    let states = states(&h.env, &h.helper);
    assert_eq!(states[0].description, "Claude Desktop is connected.");
    // Restarting is offered only where it works (macOS); elsewhere it says what to do.
    assert_eq!(states[0].can_restart, cfg!(target_os = "macos"));
    if !cfg!(target_os = "macos") {
        let err = restart(Client::ClaudeDesktop).expect_err("not here");
        assert!(err.contains("quit it completely and open it again"), "{err}");
    }

    // The app moved: the entry is stale until connected again, which the app does on start.
    let moved = h.helper.with_file_name("moved/whatsapp-mcp");
    assert!(matches!(
        status(&h.env, Client::ClaudeDesktop, &moved),
        Status::Stale { .. }
    ));
    assert!(
        refresh_stale(&h.env, &moved).is_empty(),
        "no helper there: nothing to point at"
    );
    std::fs::create_dir_all(moved.parent().expect("dir")).expect("dir");
    std::fs::write(&moved, b"#!/bin/sh\n").expect("helper");
    let refreshed = refresh_stale(&h.env, &moved);
    assert_eq!(refreshed.len(), 1);
    assert_eq!(status(&h.env, Client::ClaudeDesktop, &moved), Status::Connected);
}

#[test]
fn other_settings_stay_in_order_a_backup_is_kept_and_a_second_connect_changes_nothing() {
    let h = home();
    std::fs::write(config(&h), EXISTING).expect("write");
    let change = register(&h.env, Client::ClaudeDesktop, &h.helper).expect("register");
    let backup = change.backup.expect("a backup");
    assert_eq!(
        std::fs::read_to_string(&backup).expect("backup"),
        EXISTING,
        "the backup is the old file"
    );
    let after = read(&config(&h));
    let before: Value = serde_json::from_str(EXISTING).expect("json");
    let keys: Vec<&String> = after.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["globalShortcut", "mcpServers", "alpha"], "top-level order kept");
    let servers: Vec<&String> = after["mcpServers"].as_object().expect("servers").keys().collect();
    assert_eq!(
        servers,
        ["filesystem", "zeta", "whatsapp"],
        "server order kept, ours added last"
    );
    assert_eq!(after["mcpServers"]["filesystem"], before["mcpServers"]["filesystem"]);
    assert_eq!(after["alpha"], 1);

    let again = register(&h.env, Client::ClaudeDesktop, &h.helper).expect("again");
    assert!(
        !again.changed && again.backup.is_none(),
        "idempotent: no write, no backup"
    );

    // Disconnect removes exactly our entry.
    let removed = unregister(&h.env, Client::ClaudeDesktop).expect("unregister");
    assert!(removed.changed);
    assert_eq!(read(&config(&h)), before, "back to what it was, value for value");
}

#[test]
fn an_old_whatsapp_mcp_is_named_replaced_and_kept_in_the_backup() {
    let h = home();
    let old = r#"{"mcpServers": {"whatsapp": {"command": "/home/me/.local/bin/uv", "args": ["--directory", "/home/me/whatsapp-mcp/whatsapp-mcp-server", "run", "main.py"]}}}"#;
    std::fs::write(config(&h), old).expect("write");
    let Status::Elsewhere { command } = status(&h.env, Client::ClaudeDesktop, &h.helper) else {
        panic!("an entry for another tool")
    };
    assert!(
        command.contains("uv --directory") && command.contains("main.py"),
        "{command}"
    );
    // Disconnecting does not touch someone else's entry.
    assert!(!unregister(&h.env, Client::ClaudeDesktop).expect("unregister").changed);
    let change = register(&h.env, Client::ClaudeDesktop, &h.helper).expect("register");
    assert!(change.replaced.as_deref().is_some_and(|r| r.contains("main.py")));
    assert_eq!(
        std::fs::read_to_string(change.backup.expect("backup")).expect("read"),
        old
    );
    assert_eq!(status(&h.env, Client::ClaudeDesktop, &h.helper), Status::Connected);
}

#[test]
fn invalid_json_is_refused_with_line_and_column_and_never_overwritten() {
    let h = home();
    let broken = "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"},\n  }\n}\n";
    std::fs::write(config(&h), broken).expect("write");
    let err = register(&h.env, Client::ClaudeDesktop, &h.helper).expect_err("invalid");
    let text = err.to_string();
    assert!(text.contains("line 4") && text.contains("column"), "{text}");
    assert!(
        text.contains("Nothing was changed") && text.contains("text editor"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(config(&h)).expect("read"), broken, "untouched");
    assert!(matches!(
        status(&h.env, Client::ClaudeDesktop, &h.helper),
        Status::Broken { .. }
    ));
    // No stray temporary files either.
    let leftovers: Vec<_> = std::fs::read_dir(config(&h).parent().expect("dir"))
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "claude_desktop_config.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Wrong shapes are refused too.
    std::fs::write(config(&h), "[1, 2]").expect("write");
    let err = register(&h.env, Client::ClaudeDesktop, &h.helper).expect_err("array");
    assert!(err.to_string().contains("not a JSON object"), "{err}");
    std::fs::write(config(&h), r#"{"mcpServers": "none"}"#).expect("write");
    let err = register(&h.env, Client::ClaudeDesktop, &h.helper).expect_err("shape");
    assert!(err.to_string().contains("\"mcpServers\" is not an object"), "{err}");
}

#[test]
fn bom_crlf_empty_huge_and_symlinked_files() {
    let h = home();
    // BOM and CRLF are kept.
    std::fs::write(config(&h), b"\xEF\xBB\xBF{\r\n  \"a\": 1\r\n}\r\n").expect("write");
    register(&h.env, Client::ClaudeDesktop, &h.helper).expect("register");
    let raw = std::fs::read(config(&h)).expect("read");
    assert!(raw.starts_with(b"\xEF\xBB\xBF"), "BOM kept");
    assert!(
        raw.windows(2).filter(|w| w == b"\r\n").count() > 3 && !raw.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
        "CRLF throughout"
    );

    // An empty file is an empty config.
    std::fs::write(config(&h), b"  \n").expect("write");
    register(&h.env, Client::ClaudeDesktop, &h.helper).expect("register on empty");
    assert_eq!(status(&h.env, Client::ClaudeDesktop, &h.helper), Status::Connected);

    // A huge file is not a settings file.
    let f = std::fs::File::create(config(&h)).expect("create");
    f.set_len(MAX_CONFIG_BYTES + 1).expect("grow");
    let err = register(&h.env, Client::ClaudeDesktop, &h.helper).expect_err("huge");
    assert!(err.to_string().contains("too large"), "{err}");

    // A symlinked config stays a link; the file it names gets the entry.
    #[cfg(unix)]
    {
        let real = h.env.home.join("dotfiles/claude.json");
        std::fs::create_dir_all(real.parent().expect("parent")).expect("dir");
        std::fs::write(&real, EXISTING).expect("write");
        std::fs::remove_file(config(&h)).expect("remove");
        std::os::unix::fs::symlink(&real, config(&h)).expect("link");
        register(&h.env, Client::ClaudeDesktop, &h.helper).expect("register");
        assert!(
            std::fs::symlink_metadata(config(&h))
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert!(read(&real)["mcpServers"]["whatsapp"].is_object());
        assert_eq!(read(&real)["globalShortcut"], "Ctrl+Space");
    }
}

#[test]
fn not_installed_and_missing_folders() {
    let dir = tempfile::tempdir().expect("dir");
    let env = Env {
        home: dir.path().to_owned(),
        config_dir: dir.path().join(".config"),
        app_data: dir.path().join("AppData"),
    };
    let helper = dir.path().join("whatsapp-mcp");
    assert_eq!(status(&env, Client::ClaudeDesktop, &helper), Status::NotInstalled);
    assert!(states(&env, &helper)[0].description.contains("not found"));
    // Connecting anyway creates the folder and the file (Claude Desktop reads it when installed).
    register(&env, Client::ClaudeDesktop, &helper).expect("register");
    assert!(Client::ClaudeDesktop.config_path(&env).exists());
    // Unregister with no file is a no-op.
    std::fs::remove_file(Client::ClaudeDesktop.config_path(&env)).expect("rm");
    assert!(!unregister(&env, Client::ClaudeDesktop).expect("unregister").changed);
    // Connect then disconnect on a file without servers: it is as it was.
    std::fs::write(Client::ClaudeDesktop.config_path(&env), r#"{"theme": "dark"}"#).expect("write");
    register(&env, Client::ClaudeDesktop, &helper).expect("register");
    unregister(&env, Client::ClaudeDesktop).expect("unregister");
    assert_eq!(
        read(&Client::ClaudeDesktop.config_path(&env)),
        serde_json::json!({"theme": "dark"})
    );
}

#[test]
fn a_file_rewritten_by_the_client_meanwhile_is_not_clobbered() {
    let h = home();
    std::fs::write(config(&h), EXISTING).expect("write");
    // What we read is no longer what is there: the write is abandoned (the caller re-reads).
    let replaced = replace(Client::ClaudeDesktop, &config(&h), Some(b"{}"), b"{\"x\": 1}").expect("replace");
    assert!(!replaced);
    assert_eq!(std::fs::read_to_string(config(&h)).expect("read"), EXISTING);
    // A writer that keeps changing the file while we register: we end with both its change and ours.
    let path = config(&h);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            for n in 0..100 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let mut v = read(&path);
                v["counter"] = Value::from(n);
                std::fs::write(&path, serde_json::to_vec_pretty(&v).expect("json")).expect("write");
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let outcome = register(&h.env, Client::ClaudeDesktop, &h.helper);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().expect("writer");
    match outcome {
        Ok(_) => {
            // Whatever the writer did after us may have dropped our entry (it rewrote from
            // its own copy); what we wrote never dropped the writer's keys.
            let v = read(&path);
            assert_eq!(v["globalShortcut"], "Ctrl+Space");
        }
        Err(ClientError::Busy { .. }) => {}
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn every_client_gets_its_documented_file_and_entry_and_keeps_its_other_settings() {
    let h = home();
    // Claude Code's file carries much more than servers.
    let claude_code = Client::ClaudeCode.config_path(&h.env);
    std::fs::write(
        &claude_code,
        r#"{"numStartups": 34, "projects": {"/p": {"mcpServers": {}, "history": ["x"]}}, "theme": "dark"}"#,
    )
    .expect("write");
    for dir in [".cursor", ".codeium/windsurf", ".lmstudio"] {
        std::fs::create_dir_all(h.env.home.join(dir)).expect("dir");
    }
    let expected: [(Client, &str); 5] = [
        (Client::ClaudeDesktop, ".config/Claude/claude_desktop_config.json"),
        (Client::ClaudeCode, ".claude.json"),
        (Client::Cursor, ".cursor/mcp.json"),
        (Client::Windsurf, ".codeium/windsurf/mcp_config.json"),
        (Client::LmStudio, ".lmstudio/mcp.json"),
    ];
    for (client, relative) in expected {
        if cfg!(target_os = "linux") {
            assert_eq!(
                client.config_path(&h.env),
                h.env.home.join(relative),
                "{}",
                client.name()
            );
        }
        assert!(client.installed(&h.env), "{} seen as installed", client.name());
        assert_eq!(
            status(&h.env, client, &h.helper),
            Status::NotConnected,
            "{}",
            client.name()
        );
        register(&h.env, client, &h.helper).expect("register");
        assert_eq!(
            status(&h.env, client, &h.helper),
            Status::Connected,
            "{}",
            client.name()
        );
        let v = read(&client.config_path(&h.env));
        let entry = &v["mcpServers"]["whatsapp"];
        assert_eq!(entry["command"], h.helper.display().to_string());
        assert_eq!(entry["args"], serde_json::json!([]));
        assert_eq!(
            entry.get("type").is_some(),
            client == Client::ClaudeCode,
            "{}",
            client.name()
        );
    }
    let v = read(&claude_code);
    assert_eq!(v["numStartups"], 34);
    assert_eq!(v["projects"]["/p"]["history"], serde_json::json!(["x"]));
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["numStartups", "projects", "theme", "mcpServers"]);
    unregister(&h.env, Client::ClaudeCode).expect("unregister");
    assert_eq!(
        read(&claude_code),
        serde_json::json!({"numStartups": 34, "projects": {"/p": {"mcpServers": {}, "history": ["x"]}}, "theme": "dark"})
    );
    // A home without them: not installed, and the descriptions say so.
    let bare = tempfile::tempdir().expect("dir");
    let env = Env {
        home: bare.path().to_owned(),
        config_dir: bare.path().join(".config"),
        app_data: bare.path().join("AppData"),
    };
    for state in states(&env, &h.helper) {
        assert_eq!(state.status, Status::NotInstalled, "{}", state.name);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Connect then disconnect gives back an equivalent document; connecting twice is connecting once.
    #[test]
    fn register_then_unregister_is_the_identity(doc in arbitrary_config()) {
        let h = home();
        let path = config(&h);
        std::fs::write(&path, serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
        register(&h.env, Client::ClaudeDesktop, &h.helper).expect("register");
        let once = std::fs::read(&path).expect("read");
        let again = register(&h.env, Client::ClaudeDesktop, &h.helper).expect("again");
        proptest::prop_assert!(!again.changed);
        proptest::prop_assert_eq!(std::fs::read(&path).expect("read"), once);
        unregister(&h.env, Client::ClaudeDesktop).expect("unregister");
        // Equivalent: an empty "mcpServers" and none at all mean the same to every client.
        proptest::prop_assert_eq!(without_empty_servers(read(&path)), without_empty_servers(doc));
    }
}

fn without_empty_servers(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v
        && map
            .get("mcpServers")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        map.shift_remove("mcpServers");
    }
    v
}

/// Any JSON object, possibly with an `mcpServers` object of other servers (never ours).
fn arbitrary_config() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-zA-Z0-9 éü日本😀]{0,12}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let servers = proptest::collection::btree_map("[a-v]{1,8}", Just(serde_json::json!({"command": "x"})), 0..3);
    (
        proptest::collection::btree_map("[a-z]{1,8}", value, 0..5),
        proptest::option::of(servers),
    )
        .prop_map(|(top, servers)| {
            let mut map: Map<String, Value> = top.into_iter().filter(|(k, _)| k != "mcpServers").collect();
            if let Some(servers) = servers {
                map.insert("mcpServers".into(), Value::Object(servers.into_iter().collect()));
            }
            Value::Object(map)
        })
}

/// Every fixture in `tests/fixtures/clients` (written by its `make.py`, whose
/// expectations come from Python's json module, not from this code): connecting
/// gives the expected document, key for key and in order, with the BOM and line
/// ends it had; or the expected refusal, and the file is left byte for byte.
#[test]
fn real_world_config_files_connect_or_are_refused_in_words() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/clients");
    let helper = Path::new("/opt/WhatsApp MCP/whatsapp-mcp");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".input").map(str::to_owned))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "{} fixtures", names.len());
    let ordered = |bytes: &[u8]| -> String {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let v: Value = serde_json::from_slice(body).expect("expected output is JSON");
        serde_json::to_string(&v).expect("json")
    };
    for name in &names {
        let h = home();
        let path = config(&h);
        let input = std::fs::read(dir.join(format!("{name}.input"))).expect("input");
        std::fs::write(&path, &input).expect("write");
        let outcome = register(&h.env, Client::ClaudeDesktop, helper);
        if let Ok(expected) = std::fs::read(dir.join(format!("{name}.expected"))) {
            let change = outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(change.changed, "{name}");
            let got = std::fs::read(&path).expect("read");
            assert_eq!(
                ordered(&got),
                ordered(&expected),
                "{name}: document or key order differs"
            );
            assert_eq!(
                got.starts_with(b"\xEF\xBB\xBF"),
                expected.starts_with(b"\xEF\xBB\xBF"),
                "{name}: BOM"
            );
            let crlf = |b: &[u8]| b.windows(2).any(|w| w == b"\r\n");
            assert_eq!(crlf(&got), crlf(&expected), "{name}: line ends");
            if !input.iter().all(u8::is_ascii_whitespace) {
                let backup = change.backup.unwrap_or_else(|| panic!("{name}: no backup"));
                assert_eq!(
                    std::fs::read(backup).expect("backup"),
                    input,
                    "{name}: the backup is the old file"
                );
            }
        } else {
            let words = std::fs::read_to_string(dir.join(format!("{name}.error"))).expect("error words");
            let err = outcome.expect_err(name).to_string();
            assert!(
                err.contains(words.trim()),
                "{name}: {err:?} does not say {:?}",
                words.trim()
            );
            assert!(err.contains("Nothing was changed"), "{name}: {err}");
            assert_eq!(
                std::fs::read(&path).expect("read"),
                input,
                "{name}: the file was touched"
            );
            let others = std::fs::read_dir(path.parent().expect("dir")).expect("dir").count();
            assert_eq!(others, 1, "{name}: no backup or temporary file is left");
        }
    }
}

const VSCODE_MCP: &str = r#"{
  // Servers I use every day.
  "servers": {
    "memory": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-memory"], // keep this version
    },
  },
  /* inputs for secrets */
  "inputs": [],
}
"#;

const ZED_SETTINGS: &str = r#"// Zed settings
//
// For information on how to configure Zed, see the Zed
// documentation: https://zed.dev/docs/configuring-zed
{
  "theme": "One Dark",
  "ui_font_size": 16, // larger on this laptop
  "buffer_font_family": "Zed Plex Mono",
}
"#;

#[test]
fn jsonc_clients_keep_comments_trailing_commas_and_formatting() {
    let h = home();
    let vscode = Client::VsCode.config_path(&h.env);
    let zed = Client::Zed.config_path(&h.env);
    if cfg!(target_os = "linux") {
        assert_eq!(vscode, h.env.config_dir.join("Code/User/mcp.json"));
        assert_eq!(zed, h.env.config_dir.join("zed/settings.json"));
    }
    for (client, path, text) in [(Client::VsCode, &vscode, VSCODE_MCP), (Client::Zed, &zed, ZED_SETTINGS)] {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
        std::fs::write(path, text).expect("write");
        assert_eq!(
            status(&h.env, client, &h.helper),
            Status::NotConnected,
            "{}",
            client.name()
        );
        register(&h.env, client, &h.helper).unwrap_or_else(|e| panic!("{}: {e}", client.name()));
        let after = std::fs::read_to_string(path).expect("read");
        for comment in text
            .lines()
            .filter_map(|l| l.find("//").or_else(|| l.find("/*")).map(|i| l[i..].trim()))
        {
            assert!(
                after.contains(comment),
                "{}: comment {comment:?} lost:\n{after}",
                client.name()
            );
        }
        assert_eq!(
            status(&h.env, client, &h.helper),
            Status::Connected,
            "{}:\n{after}",
            client.name()
        );
        let before = parse(client, text.as_bytes()).expect("before");
        let now = parse(client, after.as_bytes()).expect("after");
        for (key, value) in before.as_object().expect("object") {
            if key != client.key() {
                assert_eq!(&now[key], value, "{}: {key} changed", client.name());
            }
        }
        let entry = &now[client.key()]["whatsapp"];
        assert_eq!(entry["command"], h.helper.display().to_string());
        assert_eq!(
            entry.get("type").is_some(),
            client == Client::VsCode,
            "{}",
            client.name()
        );
        // Connecting again changes nothing; disconnecting gives back the same settings.
        assert!(!register(&h.env, client, &h.helper).expect("again").changed);
        unregister(&h.env, client).expect("unregister");
        let back = std::fs::read_to_string(path).expect("read");
        assert_eq!(
            without_empty_servers_key(parse(client, back.as_bytes()).expect("back"), client.key()),
            without_empty_servers_key(before, client.key()),
            "{}:\n{back}",
            client.name()
        );
        assert!(
            back.contains(text.lines().next().expect("first line")),
            "{}",
            client.name()
        );
    }
    // The other servers in VS Code's file are untouched, comment included.
    assert!(
        std::fs::read_to_string(&vscode)
            .expect("read")
            .contains("// keep this version")
    );

    // Broken JSONC is refused with line and column, and left alone.
    let broken = "{\n  // fine\n  \"theme\": \"x\",\n  \"ui_font_size\": 16\n  \"oops\"\n";
    std::fs::write(&zed, broken).expect("write");
    let err = register(&h.env, Client::Zed, &h.helper)
        .expect_err("broken")
        .to_string();
    assert!(
        err.contains("line") && err.contains("column") && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&zed).expect("read"), broken);
}

fn without_empty_servers_key(mut v: Value, key: &str) -> Value {
    if let Value::Object(map) = &mut v
        && map.get(key).and_then(Value::as_object).is_some_and(Map::is_empty)
    {
        map.shift_remove(key);
    }
    v
}

#[cfg(target_os = "linux")]
const FS_CHILD: &str = "WA_CLIENTS_FS_CHILD";

/// A read-only disk and a full disk, on a real tmpfs in a private mount
/// namespace (the test re-runs itself under `unshare`, so it needs no root and
/// root's permission bypass does not hide the failure). Linux only: tmpfs
/// and mount namespaces are how a full disk is made here; the Windows twin
/// (a full volume) is not written yet (docs/testing.md#windows).
#[cfg(target_os = "linux")]
#[test]
fn read_only_and_full_disks_are_said_in_words_and_lose_nothing() {
    if std::env::var(FS_CHILD).is_ok() {
        fs_child();
        return;
    }
    let output = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount"])
        .arg(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "tests::read_only_and_full_disks_are_said_in_words_and_lose_nothing",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FS_CHILD, "1")
        .output()
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("FS CHILD OK"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[cfg(target_os = "linux")]
fn mount(args: &[&str]) {
    let status = std::process::Command::new("mount").args(args).status().expect("mount");
    assert!(status.success(), "mount {args:?}");
}

#[cfg(target_os = "linux")]
fn fs_child() {
    let h = home();
    let dir = config(&h).parent().expect("dir").to_owned();
    let path = config(&h);
    let dir_text = dir.to_str().expect("utf8").to_owned();

    // Read-only: the error says so and the file is as it was.
    mount(&["-t", "tmpfs", "-o", "size=64k", "tmpfs", &dir_text]);
    std::fs::write(&path, EXISTING).expect("write");
    mount(&["-o", "remount,ro", &dir_text]);
    let err = register(&h.env, Client::ClaudeDesktop, &h.helper)
        .expect_err("read-only")
        .to_string();
    assert!(
        err.contains("read-only") && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), EXISTING);

    // Full: the error says the disk is full and the file is as it was.
    mount(&["-o", "remount,rw", &dir_text]);
    let filler = dir.join("filler");
    let mut fill = std::fs::File::create(&filler).expect("filler");
    let block = vec![7u8; 4096];
    while std::io::Write::write_all(&mut fill, &block).is_ok() {}
    drop(fill);
    let err = register(&h.env, Client::ClaudeDesktop, &h.helper)
        .expect_err("full")
        .to_string();
    assert!(
        err.contains("disk is full") && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), EXISTING);
    let stray: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != "claude_desktop_config.json" && n != "filler")
        .collect();
    assert!(stray.is_empty(), "left behind: {stray:?}");
    println!("FS CHILD OK");
}
