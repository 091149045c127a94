//! The engine's one clock: the wall time in milliseconds since the Unix epoch.
//!
//! Everything time-based (the state machine, backoff, progress, checkpoints)
//! takes the time as an argument; only the edges read it, through [`now_ms`],
//! so tests can hand any time to the logic. This module is the only place in
//! the engine that reads the wall clock (`clippy.toml` bans the others), and
//! it reads the programs' one clock, [`wa_store::now_ms`].

use crate::state::EngineState;

pub use wa_store::now_ms;

impl EngineState {
    /// [`EngineState::describe`] at the current time.
    pub fn describe_now(&self) -> String {
        self.describe(now_ms())
    }
}
