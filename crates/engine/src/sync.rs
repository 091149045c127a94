//! Sync progress people can read, job control, and a throttle for progress events.
//!
//! Pure logic with the time passed in: the history-sync loop feeds each stored
//! chunk to a [`ProgressTracker`], and the window, the tray and MCP progress
//! notifications read its [`SyncProgress`], at most ten times a second
//! ([`Throttle`]). Job commands follow [`next_state`], so "resume a cancelled
//! sync" is refused with a sentence instead of doing something surprising.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;
use tokio::sync::oneshot;
use wa_store::JobState;

/// How far a sync is, for the progress bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncProgress {
    /// New messages stored so far.
    pub messages: u64,
    /// Chats touched so far.
    pub chats: u64,
    /// The phone's own estimate of how much history it has sent, when it gives one.
    pub percent: Option<u8>,
    /// Messages per second over the last half minute.
    pub rate: f64,
    /// Seconds left, when a percentage and a rate allow a guess.
    pub eta_secs: Option<u64>,
    pub elapsed_secs: u64,
}

/// Rate window: long enough to smooth bursts, short enough to follow a stall.
const WINDOW_MS: i64 = 30_000;

/// Accumulates what each stored chunk added.
#[derive(Debug, Clone)]
pub struct ProgressTracker {
    started: i64,
    messages: u64,
    chats: HashSet<String>,
    percent: Option<u8>,
    samples: VecDeque<(i64, u64)>,
}

impl ProgressTracker {
    pub fn new(now: i64) -> Self {
        Self {
            started: now,
            messages: 0,
            chats: HashSet::new(),
            percent: None,
            samples: VecDeque::from([(now, 0)]),
        }
    }

    /// A chunk was stored at `now`: `inserted` new messages, in these chats, and
    /// the phone reports `phone_progress` per cent (history sync's `progress`).
    pub fn record<'a>(
        &mut self,
        now: i64,
        inserted: u64,
        chats: impl IntoIterator<Item = &'a str>,
        phone_progress: Option<u32>,
    ) {
        self.messages += inserted;
        self.chats.extend(chats.into_iter().map(str::to_owned));
        if let Some(p) = phone_progress {
            // The phone's percentage only grows; a stray lower value is ignored.
            let p = u8::try_from(p.min(100)).unwrap_or(100);
            self.percent = Some(self.percent.map_or(p, |old| old.max(p)));
        }
        self.samples.push_back((now, self.messages));
        while self.samples.len() > 2 && self.samples.front().is_some_and(|(t, _)| now - t > WINDOW_MS) {
            self.samples.pop_front();
        }
    }

    pub fn snapshot(&self, now: i64) -> SyncProgress {
        let (first_time, first_count) = self.samples.front().copied().unwrap_or((self.started, 0));
        let span = (now - first_time).max(1);
        let rate = (self.messages - first_count) as f64 * 1000.0 / span as f64;
        let elapsed = (now - self.started).max(0);
        let eta_secs = match self.percent {
            Some(100) => Some(0),
            Some(p) if p > 0 && elapsed > 0 => {
                let total = elapsed as f64 * 100.0 / f64::from(p);
                Some(((total - elapsed as f64) / 1000.0).round().max(0.0) as u64)
            }
            _ => None,
        };
        SyncProgress {
            messages: self.messages,
            chats: self.chats.len() as u64,
            percent: self.percent,
            rate: (rate * 10.0).round() / 10.0,
            eta_secs,
            elapsed_secs: (elapsed / 1000) as u64,
        }
    }
}

/// What a person (or an assistant) can ask of a sync job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobCommand {
    Pause,
    Resume,
    Cancel,
}

/// A command that does not apply to the job's state, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("This sync is {state} and cannot be {verb}. {hint}")]
pub struct JobCommandRefused {
    pub state: &'static str,
    pub verb: &'static str,
    pub hint: &'static str,
}

/// The state a job moves to on `command`. Repeating a command is harmless
/// (pausing a paused job keeps it paused); finished jobs stay finished.
pub fn next_state(state: JobState, command: JobCommand) -> Result<JobState, JobCommandRefused> {
    use JobCommand::{Cancel, Pause, Resume};
    use JobState::{Cancelled, Done, Failed, Paused, Queued, Running};
    let finished = |state: &'static str, verb: &'static str| JobCommandRefused {
        state,
        verb,
        hint: "Start a new sync instead.",
    };
    match (state, command) {
        (Queued | Running | Paused, Pause) => Ok(Paused),
        (Queued, Resume) => Ok(Queued),
        (Running | Paused, Resume) => Ok(Running),
        (Queued | Running | Paused | Cancelled, Cancel) => Ok(Cancelled),
        (Done, Cancel) => Ok(Done),
        (Failed, Cancel) => Ok(Failed),
        (Done, Pause) => Err(finished("finished", "paused")),
        (Done, Resume) => Err(finished("finished", "resumed")),
        (Cancelled, Pause) => Err(finished("cancelled", "paused")),
        (Cancelled, Resume) => Err(finished("cancelled", "resumed")),
        (Failed, Pause) => Err(finished("failed", "paused")),
        (Failed, Resume) => Err(JobCommandRefused {
            state: "failed",
            verb: "resumed",
            hint: "Start a new sync; it continues from where this one stopped.",
        }),
    }
}

/// Lets an event through at most once per interval, plus always the last one
/// (call [`Throttle::flush`] when the work ends, so 100% is never swallowed).
#[derive(Debug, Clone)]
pub struct Throttle {
    interval_ms: i64,
    last: Option<i64>,
    pending: bool,
}

impl Throttle {
    /// At most `per_second` events a second.
    pub fn per_second(per_second: u32) -> Self {
        Self {
            interval_ms: 1000 / i64::from(per_second.max(1)),
            last: None,
            pending: false,
        }
    }

    /// Whether an event happening at `now` should be sent.
    pub fn allow(&mut self, now: i64) -> bool {
        let allowed = self.last.is_none_or(|last| now - last >= self.interval_ms);
        if allowed {
            self.last = Some(now);
        }
        self.pending = !allowed;
        allowed
    }

    /// Whether a held-back event still needs sending now that the work ended.
    pub fn flush(&mut self) -> bool {
        std::mem::take(&mut self.pending)
    }
}

/// What the phone answered to one "older messages" request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Answer {
    /// Messages in the answer (0: the phone has nothing older).
    pub messages: u64,
    /// Of those, new to the store.
    pub inserted: u64,
}

/// Answers and their waiters, matched by request id whichever comes first.
#[derive(Debug, Default)]
pub(crate) struct Answers {
    pub(crate) waiting: HashMap<String, oneshot::Sender<Answer>>,
    pub(crate) early: HashMap<String, Answer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn progress_counts_rates_and_estimates() {
        let mut p = ProgressTracker::new(T0);
        for second in 1..=10 {
            p.record(
                T0 + second * 1000,
                500,
                ["a@s.whatsapp.net", "b@g.us"],
                Some(second as u32 * 5),
            );
        }
        let s = p.snapshot(T0 + 10_000);
        assert_eq!(
            (s.messages, s.chats, s.percent, s.elapsed_secs),
            (5_000, 2, Some(50), 10)
        );
        assert!((s.rate - 500.0).abs() < 1.0, "{}", s.rate);
        assert_eq!(s.eta_secs, Some(10), "half done in 10 s: about 10 s left");
        // The phone's percentage never goes backwards.
        p.record(T0 + 11_000, 0, [], Some(20));
        assert_eq!(p.snapshot(T0 + 11_000).percent, Some(50));
    }

    #[test]
    fn the_rate_follows_a_stall() {
        let mut p = ProgressTracker::new(T0);
        p.record(T0 + 1_000, 10_000, ["c"], None);
        // Nothing for a minute: the window forgets the burst.
        p.record(T0 + 61_000, 0, [], None);
        p.record(T0 + 62_000, 0, [], None);
        let s = p.snapshot(T0 + 62_000);
        assert!(s.rate < 1.0, "rate after a stall: {}", s.rate);
        assert_eq!(s.eta_secs, None, "no percentage, no guess");
    }

    #[test]
    fn job_commands() {
        use JobCommand::{Cancel, Pause, Resume};
        use JobState::{Cancelled, Done, Failed, Paused, Queued, Running};
        assert_eq!(next_state(Running, Pause), Ok(Paused));
        assert_eq!(next_state(Paused, Pause), Ok(Paused), "pausing twice is harmless");
        assert_eq!(next_state(Paused, Resume), Ok(Running));
        assert_eq!(next_state(Queued, Resume), Ok(Queued));
        assert_eq!(next_state(Running, Cancel), Ok(Cancelled));
        assert_eq!(
            next_state(Done, Cancel),
            Ok(Done),
            "cancelling a finished job changes nothing"
        );
        let refused = next_state(Cancelled, Resume).expect_err("cancelled is final");
        assert_eq!(
            refused.to_string(),
            "This sync is cancelled and cannot be resumed. Start a new sync instead."
        );
        assert!(
            next_state(Failed, Resume)
                .expect_err("failed")
                .to_string()
                .contains("continues from where")
        );
    }

    #[test]
    fn throttle_caps_events_and_keeps_the_last() {
        let mut t = Throttle::per_second(10);
        let sent = (0..1000).filter(|ms| t.allow(T0 + ms)).count();
        assert_eq!(sent, 10, "one second of events at 1 kHz: ten sent");
        assert!(t.flush(), "the final state was held back and must be sent");
        assert!(!t.flush());
    }
}
