//! The golden `tools/list`: every tool's name, description, input and output
//! schema and annotations, as an assistant receives them, sorted by name and
//! compared with `crates/mcp/tests/fixtures/tools_list.json`. A change to any
//! tool's schema shows up in review as a change to that file.
//!
//! After a deliberate change, rewrite the file with
//! `BLESS=1 cargo test -p wa-mcp tools_list` and commit it with the change.

use std::path::Path;

use rmcp::ServiceExt;
use wa_store::Store;

use super::{Core, WhatsAppMcp};

/// The environment variable that rewrites the golden file instead of comparing.
const BLESS: &str = "BLESS";

fn golden_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools_list.json")
}

/// What tools/list answers, sorted by name, as pretty JSON with a final newline.
async fn tools_list_json() -> String {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path().join("messages.db")).await.expect("store");
    // Tool descriptions never depend on data or on the engine: the read-only
    // core (no engine) lists the same tools as the app's.
    let core = Core::read_only(store, dir.path().to_path_buf(), "no engine in this test");
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(session) = WhatsAppMcp::new(core).serve(server_io).await {
            let _ = session.waiting().await;
        }
    });
    let client = ().serve(client_io).await.expect("client");
    let mut tools = client.list_all_tools().await.expect("tools/list");
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let value = serde_json::to_value(&tools).expect("json");
    let mut json = serde_json::to_string_pretty(&sorted_keys(value)).expect("json");
    json.push('\n');
    json
}

/// `value` with every object's keys in alphabetical order: the file reads the
/// same whichever way serde_json keeps keys in this build (a workspace build
/// turns on its `preserve_order` for the clients crate).
fn sorted_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted_keys(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_matches_the_golden_file() {
    let actual = tools_list_json().await;
    let path = golden_path();
    if std::env::var_os(BLESS).is_some_and(|v| v == "1") {
        std::fs::write(&path, &actual).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let first_difference = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "tools/list differs from {} (first at line {}). If the change is intended, \
             rerun with {BLESS}=1 to rewrite the file, and commit it.\n--- actual line: {:?}\n--- golden line: {:?}",
            path.display(),
            first_difference + 1,
            actual.lines().nth(first_difference).unwrap_or("(end)"),
            expected.lines().nth(first_difference).unwrap_or("(end)"),
        );
    }
}
