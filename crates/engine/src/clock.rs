//! The engine's one clock: the wall time in milliseconds since the Unix epoch.
//!
//! Everything time-based (the state machine, backoff, progress, checkpoints)
//! takes the time as an argument; only the edges read it, through [`now_ms`],
//! so tests can hand any time to the logic. This module is the only place in
//! the engine that reads the wall clock (`clippy.toml` bans the others).

use crate::state::EngineState;

/// Now, in milliseconds since the Unix epoch (0 if the system clock is before it).
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl EngineState {
    /// [`EngineState::describe`] at the current time.
    pub fn describe_now(&self) -> String {
        self.describe(now_ms())
    }
}
