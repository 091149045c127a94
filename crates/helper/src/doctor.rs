//! `whatsapp-mcp doctor`: the app's health checks (`wa_app::checks`, the same
//! the Diagnostics page lists) printed in plain words, with what to do. Exit
//! code 1 when something needs attention.

use wa_app::checks::{self, Check, Level};
use wa_app::paths::{self, Layout};

#[derive(Default)]
struct Printer {
    checked: usize,
    problems: usize,
}

impl Printer {
    fn print(&mut self, check: &Check) {
        self.checked += 1;
        match check.level {
            Level::Ok => println!("  ok     {}", check.text),
            Level::Note => println!("  note   {}", check.text),
            Level::Problem => {
                self.problems += 1;
                println!("  PROBLEM {}", check.text);
                if let Some(what) = &check.what_to_do {
                    println!("         What to do: {what}");
                }
            }
        }
    }

    fn all(&mut self, checks: &[Check]) {
        for check in checks {
            self.print(check);
        }
    }
}

/// The doctor's checks; with `bundle`, also the redacted diagnostic report
/// (the same as the app's Diagnostics > Export), written to the data folder.
pub async fn run(bundle: bool) -> i32 {
    let mut r = Printer::default();
    println!("whatsapp-mcp {} doctor\n", env!("CARGO_PKG_VERSION"));
    let data_dir = match paths::data_dir() {
        Ok(d) => d,
        Err(e) => {
            r.print(&Check::problem(
                "data",
                e.to_string(),
                "Set WHATSAPP_MCP_DATA_DIR to a folder you own.",
            ));
            return 1;
        }
    };
    let demo = paths::demo_requested();
    let layout = Layout::for_mode(&data_dir, demo);

    println!("Data");
    r.all(&checks::data_folder(&data_dir));
    let (key_check, key) = checks::archive_key(&data_dir);
    r.print(&key_check);
    if let Some(key) = &key {
        r.all(&checks::archive_on_disk(&layout, key).await);
    }

    println!("\nApp");
    let socket = wa_app::channel::default_path(&data_dir);
    let answer = checks::ask_running_app(&socket).await;
    let running = checks::running_app(&socket, &answer);
    r.all(&running);
    // The report writes "WhatsApp: <this>": the app's own words, not the check's line.
    let state_text = answer
        .as_ref()
        .ok()
        .and_then(|status| status["description"].as_str())
        .unwrap_or("The app is not running.")
        .to_owned();

    println!("\nAssistants");
    let helper = std::env::current_exe().unwrap_or_default();
    let states = wa_app::assistants::states(&wa_app::assistants::Env::from_system(), &helper);
    r.all(&checks::assistants(&states));

    if bundle {
        println!("\nDiagnostic report");
        let context = wa_app::report::Context {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            state: state_text,
            demo,
            assistants: states.into_iter().map(|s| s.description).collect(),
        };
        // Without the key (a passphrase typed in the window) the report says it cannot read the archive.
        let key = key.unwrap_or(wa_app::types::ArchiveKey::None);
        r.print(&match wa_app::report::write_from_disk(&layout, &key, &context).await {
            Ok(path) => Check::ok(
                "report",
                format!(
                    "Written to {}. Phone numbers are masked and no message text is in it; read it before you send it.",
                    path.display()
                ),
            ),
            Err(e) => Check::problem(
                "report",
                format!("The report could not be written: {e}"),
                "Check that the data folder is yours and the disk is not full, then run the doctor again.",
            ),
        });
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
