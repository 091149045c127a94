//! The app's commands and its updater, driven through Tauri's IPC on the mock
//! runtime: the same handlers, state and plugins as the real app, with a real
//! store on disk and the engine on the simulated account. (The real window
//! and tray are tested end to end by tests/wizard_e2e.py and tests/app_smoke.py.)
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]
// Scenario tests read top to bottom, one story each: long is clearer than split.
#![allow(clippy::too_many_lines)]

mod commands;
mod harness;
mod privacy;
mod unlock;
mod updates;
