//! The window's commands: each through IPC, as the web view calls them.

use serde_json::{Value, json};

use crate::harness::TestApp;

fn state(status: &Value) -> &str {
    status["state"]["state"].as_str().unwrap_or_default()
}

/// Show the QR code, scan it with the simulated phone, wait until linked.
fn link(app: &TestApp) -> Value {
    let status = app.wait_status(10, "a QR code", |s| state(s) == "showing_qr");
    let code = status["state"]["code"].as_str().unwrap().to_owned();
    assert!(
        app.invoke("demo_phone", json!({"action": "scan", "code": code}))
            .unwrap()
            == json!(true)
    );
    app.wait_status(20, "linked", |s| state(s) == "connected")
}

/// Link, then wait for the phone's whole history; returns how many messages that is.
fn link_and_sync(app: &TestApp) -> i64 {
    link(app);
    let total = app.phone.corpus().messages().count() as i64;
    app.wait_status(60, "the history", |s| s["messages"].as_i64() == Some(total));
    total
}

#[test]
fn linking_by_qr_code_shows_a_scannable_code_and_then_the_history() {
    let app = TestApp::new();
    let status = app.wait_status(10, "a QR code", |s| state(s) == "showing_qr");
    let svg = status["qr_svg"].as_str().unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg:.80}");
    assert_eq!(status["setup_done"], json!(false));
    assert_eq!(status["demo"], json!(true));
    // A code that is not the one on screen does not link.
    let wrong = app.invoke("demo_phone", json!({"action": "scan", "code": "not-the-code"}));
    assert_eq!(wrong, Ok(json!(false)));
    assert_eq!(state(&app.invoke("app_status", json!({})).unwrap()), "showing_qr");
    link(&app);
    let corpus_messages = app.phone.corpus().messages().count() as i64;
    let done = app.wait_status(60, "the whole history", |s| {
        s["messages"].as_i64() == Some(corpus_messages)
    });
    assert_eq!(done["chats"].as_i64(), Some(app.phone.corpus().chats.len() as i64));
    assert!(done["account"].as_str().is_some_and(|a| a.ends_with("@s.whatsapp.net")));
    assert!(done["qr_svg"].is_null());
}

#[test]
fn linking_by_phone_number_gives_an_eight_character_code() {
    let app = TestApp::new();
    app.wait_status(10, "a QR code", |s| state(s) == "showing_qr");
    let number = format!("+{}", app.phone.corpus().own_jid.trim_end_matches("@s.whatsapp.net"));
    let code = app.invoke("pair_with_phone", json!({"phone": number})).unwrap();
    let code = code.as_str().unwrap();
    assert_eq!(code.chars().filter(char::is_ascii_alphanumeric).count(), 8, "{code}");
    assert_eq!(
        app.invoke("demo_phone", json!({"action": "enter_code", "code": "WRONG123"})),
        Ok(json!(false))
    );
    assert_eq!(
        app.invoke("demo_phone", json!({"action": "enter_code", "code": code})),
        Ok(json!(true))
    );
    app.wait_status(20, "linked", |s| state(s) == "connected");
    // A number that is not a phone number is refused in words.
    let bad = app.invoke("pair_with_phone", json!({"phone": "call me"})).unwrap_err();
    assert!(bad.as_str().is_some_and(|m| m.len() > 20), "{bad}");
}

#[test]
fn sync_jobs_pause_resume_and_cancel_from_the_window() {
    let app = TestApp::new();
    link(&app);
    assert_eq!(app.invoke("start_sync", json!({"everything": false})), Ok(Value::Null));
    let job = app.invoke("start_sync", json!({"everything": true})).unwrap();
    let id = job["id"].as_i64().unwrap();
    assert_eq!(job["kind"], json!("full"));
    let paused = app
        .invoke("control_sync", json!({"jobId": id, "command": "pause"}))
        .unwrap();
    assert_eq!(paused["state"], json!("paused"));
    let status = app.invoke("app_status", json!({})).unwrap();
    assert!(
        status["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == json!(id) && j["state"] == json!("paused"))
    );
    let resumed = app
        .invoke("control_sync", json!({"jobId": id, "command": "resume"}))
        .unwrap();
    assert_ne!(resumed["state"], json!("paused"));
    let cancelled = app.invoke("control_sync", json!({"jobId": id, "command": "cancel"}));
    // Cancel ends the job (it may have finished on its own just before).
    let cancelled = cancelled.unwrap();
    assert!(
        ["cancelled", "done"].contains(&cancelled["state"].as_str().unwrap()),
        "{cancelled}"
    );
    // A job that does not exist, and a command that does not exist: said, nothing changes.
    let missing = app
        .invoke("control_sync", json!({"jobId": 999_999, "command": "pause"}))
        .unwrap_err();
    assert!(missing.as_str().is_some_and(|m| !m.is_empty()), "{missing}");
    let unknown = app
        .invoke("control_sync", json!({"jobId": id, "command": "explode"}))
        .unwrap_err();
    assert!(unknown.to_string().contains("command"), "{unknown}");
    // Wrong argument types are refused before the command runs.
    let typed = app
        .invoke("fetch_older", json!({"chatJid": "1@s.whatsapp.net", "count": "many"}))
        .unwrap_err();
    assert!(typed.to_string().contains("count"), "{typed}");
}

#[test]
fn fetch_older_for_one_chat_starts_a_chat_job_and_reach_lists_the_chat() {
    let app = TestApp::new();
    link_and_sync(&app);
    let reach = app.invoke("chat_reach", json!({})).unwrap();
    let chats = reach.as_array().unwrap();
    assert!(!chats.is_empty());
    let jid = chats[0]["chat_jid"].as_str().unwrap().to_owned();
    let job = app.invoke("fetch_older", json!({"chatJid": jid, "count": 50})).unwrap();
    assert_eq!(job["kind"], json!("chat"));
    assert_eq!(job["target"], json!(jid));
}

#[test]
fn safety_settings_round_trip_and_finishing_setup_is_remembered() {
    let app = TestApp::new();
    let defaults = app.invoke("safety_settings", json!({})).unwrap();
    assert_eq!(defaults["send_policy"], json!("ask"));
    assert_eq!(defaults["check_updates"], json!(true));
    let wanted = json!({
        "send_policy": "allowlist",
        "recipients": ["491701234567@s.whatsapp.net"],
        "sends_per_minute": 1000,
        "autostart": false,
        "check_updates": false,
    });
    app.invoke("set_safety_settings", json!({"settings": wanted})).unwrap();
    let read = app.invoke("safety_settings", json!({})).unwrap();
    assert_eq!(read["send_policy"], json!("allowlist"));
    assert_eq!(read["recipients"], json!(["491701234567@s.whatsapp.net"]));
    assert_eq!(
        read["sends_per_minute"],
        json!(120),
        "clamped to the most the page offers"
    );
    assert_eq!(read["check_updates"], json!(false));
    // A policy that does not exist is refused and the stored one stays.
    let bad = json!({"send_policy": "whenever", "recipients": [], "sends_per_minute": 5, "autostart": false});
    assert!(app.invoke("set_safety_settings", json!({"settings": bad})).is_err());
    assert_eq!(
        app.invoke("safety_settings", json!({})).unwrap()["send_policy"],
        json!("allowlist")
    );

    assert_eq!(app.invoke("app_status", json!({})).unwrap()["setup_done"], json!(false));
    app.invoke("finish_setup", json!({"sendPolicy": "read_only", "autostart": false}))
        .unwrap();
    let status = app.invoke("app_status", json!({})).unwrap();
    assert_eq!(status["setup_done"], json!(true));
    assert_eq!(status["send_policy"], json!("read_only"));
    app.invoke("reopen_wizard", json!({})).unwrap();
    assert_eq!(app.invoke("app_status", json!({})).unwrap()["setup_done"], json!(false));
}

#[test]
fn approvals_and_audit_log_start_empty_and_unknown_answers_are_refused() {
    let app = TestApp::new();
    assert_eq!(app.invoke("approvals", json!({})), Ok(json!([])));
    let unknown = app
        .invoke("answer_approval", json!({"id": 42, "approved": true}))
        .unwrap_err();
    assert!(unknown.as_str().is_some_and(|m| !m.is_empty()), "{unknown}");
    let log = app.invoke("audit_log", json!({"query": null, "cursor": null})).unwrap();
    assert_eq!(log["items"], json!([]));
}

#[test]
fn diagnostics_find_an_open_data_folder_and_fix_it_and_back_up() {
    let app = TestApp::new();
    let data = app.dir.path().join("data");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let checks = app.invoke("diagnostic_checks", json!({})).unwrap();
        let folder = checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == json!("data"))
            .unwrap()
            .clone();
        assert_eq!(folder["ok"], json!(false));
        assert_eq!(folder["fix"], json!("permissions"));
        app.invoke("fix_permissions", json!({})).unwrap();
        let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let checks = app.invoke("diagnostic_checks", json!({})).unwrap();
        assert!(
            checks
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == json!("data") && c["ok"] == json!(true))
        );
    }
    let integrity = app.invoke("integrity_check", json!({})).unwrap();
    assert_eq!(integrity["ok"], json!(true));
    let backup = app.invoke("backup_now", json!({})).unwrap();
    assert_eq!(backup["ok"], json!(true));
    let files: Vec<_> = std::fs::read_dir(data.join("backups")).unwrap().collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn a_logout_from_the_phone_needs_the_person_and_keeps_the_messages() {
    let app = TestApp::new();
    let total = link_and_sync(&app);
    assert_eq!(app.invoke("demo_phone", json!({"action": "log_out"})), Ok(json!(true)));
    let out = app.wait_status(10, "logged out", |s| state(s) == "logged_out");
    assert_eq!(out["needs_attention"], json!(true));
    assert_eq!(out["messages"].as_i64(), Some(total));
    let text = out["state_text"].as_str().unwrap();
    assert!(text.to_lowercase().contains("link"), "{text}");
}

#[test]
fn demo_only_commands_say_so_outside_demo_mode_and_unknown_commands_fail() {
    let app = TestApp::build(false, Box::new(|b| b));
    assert_eq!(app.invoke("app_status", json!({})).unwrap()["demo"], json!(false));
    let refused = app
        .invoke("demo_phone", json!({"action": "scan", "code": "x"}))
        .unwrap_err();
    assert_eq!(refused, json!("This works only in demo mode (the simulated phone)."));
    assert!(app.invoke("drop_database", json!({})).is_err());
}
