//! The engine's one state machine: where the link to WhatsApp is, in words.
//!
//! [`Connection::on_event`] folds the client's own events (`wacore`'s `Event`)
//! into an [`EngineState`] and says what the supervisor should do next (nothing,
//! reconnect after a delay, or wait for the person). It holds no I/O and takes
//! the time as an argument, so every transition is tested without a network.

use std::time::Duration;

use serde::Serialize;
use whatsapp_rust::wacore::types::events::{ConnectFailureReason, Event, TempBanReason};

/// Where the link is. Serialized for the app's UI and the MCP status tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EngineState {
    /// No account linked yet, or linking not started.
    Unlinked,
    /// A QR code to scan; `round` counts how many batches of codes were shown.
    ShowingQr {
        code: String,
        expires_at: i64,
        round: u32,
    },
    /// The codes ran out without a scan. The person asks for new ones; if scans
    /// keep failing, the account may have reached its linked-device limit.
    QrExhausted {
        rounds: u32,
    },
    /// An 8-character code to type on the phone.
    ShowingCode {
        code: String,
        expires_at: i64,
    },
    /// The phone accepted the link; finishing it.
    Linking,
    Connected {
        since: i64,
    },
    /// Connection lost; the next attempt is at `next_try`.
    Reconnecting {
        attempt: u32,
        next_try: i64,
        problem: Problem,
    },
    /// The session ended on WhatsApp's side. Messages are kept; linking again
    /// continues into the same archive.
    LoggedOut {
        reason: LogoutReason,
    },
    TemporarilyBanned {
        until: i64,
        reason: String,
    },
    /// Another client took over this session.
    Replaced,
    /// WhatsApp refuses this version of the client.
    Outdated,
    /// The phone scanned the code but cannot link companion devices.
    PhoneCannotLink,
}

/// Why the connection is down, as far as the engine can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The connection dropped or could not be made (no network, DNS, TLS).
    Network {
        detail: String,
    },
    /// WhatsApp's servers answered with an error such as 500 or 503.
    ServerBusy {
        code: i32,
    },
    /// WhatsApp closed a healthy connection to move it (routine).
    Recycled,
    Other {
        detail: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogoutReason {
    /// Removed under Linked devices on the phone, or logged out there.
    RemovedFromPhone,
    /// WhatsApp locked the account.
    AccountLocked,
    /// The session was refused without a stated reason (often: too long offline).
    Expired,
}

/// What the supervisor should do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// Connect again after this delay.
    Reconnect(Duration),
    /// Stay disconnected until the person acts (re-link, update, wait out a ban).
    WaitForPerson,
}

/// Exponential backoff with jitter: 1 s, 2 s, 4 s ... up to 5 minutes, each
/// spread by +-20% so many clients do not retry in step.
#[derive(Debug, Clone)]
pub struct Backoff {
    rng: fastrand::Rng,
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
            base: Duration::from_secs(1),
            max: Duration::from_mins(5),
        }
    }

    /// The delay before attempt number `attempt` (1 for the first retry).
    pub fn delay(&mut self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let plain = self.base.saturating_mul(1 << exponent).min(self.max);
        let jitter = 0.8 + self.rng.f64() * 0.4;
        plain.mul_f64(jitter).min(self.max)
    }
}

/// The state machine itself.
#[derive(Debug, Clone)]
pub struct Connection {
    state: EngineState,
    attempt: u32,
    qr_round: u32,
    backoff: Backoff,
}

impl Connection {
    pub fn new(linked: bool, seed: u64) -> Self {
        Self {
            state: if linked {
                EngineState::Reconnecting {
                    attempt: 0,
                    next_try: 0,
                    problem: Problem::Recycled,
                }
            } else {
                EngineState::Unlinked
            },
            attempt: 0,
            qr_round: 0,
            backoff: Backoff::new(seed),
        }
    }

    /// Retry delays start at `base` instead of a second (tests use milliseconds).
    #[must_use]
    pub fn with_backoff_base(mut self, base: Duration) -> Self {
        self.backoff.base = base;
        self
    }

    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// Fold one client event in at time `now` (ms since the epoch).
    // One arm per client event: the transition table reads best as one match.
    #[allow(clippy::too_many_lines)]
    pub fn on_event(&mut self, event: &Event, now: i64) -> Action {
        match event {
            Event::PairingQrCode(qr) => {
                // A new batch of codes starts a new round; a rotation within one does not.
                let round = if let EngineState::ShowingQr { round, .. } = &self.state {
                    *round
                } else {
                    self.qr_round += 1;
                    self.qr_round
                };
                self.state = EngineState::ShowingQr {
                    code: qr.code.clone(),
                    expires_at: now + millis(qr.timeout),
                    round,
                };
                Action::Nothing
            }
            Event::PairingCode(code) => {
                self.state = EngineState::ShowingCode {
                    code: code.code.clone(),
                    expires_at: now + millis(code.timeout),
                };
                Action::Nothing
            }
            Event::PairingQrCodesExhausted(_) => {
                self.state = EngineState::QrExhausted { rounds: self.qr_round };
                Action::WaitForPerson
            }
            Event::QrScannedWithoutMultidevice(_) => {
                self.state = EngineState::PhoneCannotLink;
                Action::WaitForPerson
            }
            Event::PairSuccess(_) => {
                self.state = EngineState::Linking;
                Action::Nothing
            }
            Event::PairError(e) => self.retry(
                now,
                Problem::Other {
                    detail: e.error.clone(),
                },
            ),
            Event::Connected(_) => {
                self.attempt = 0;
                self.qr_round = 0;
                self.state = EngineState::Connected { since: now };
                Action::Nothing
            }
            Event::Disconnected(d) => {
                if self.is_final() {
                    return Action::WaitForPerson;
                }
                let problem = if d.reason.is_clean_shutdown() {
                    Problem::Recycled
                } else {
                    Problem::Network {
                        detail: d.reason.to_string(),
                    }
                };
                self.retry(now, problem)
            }
            Event::LoggedOut(l) => {
                let reason = match l.reason {
                    ConnectFailureReason::AccountLocked => LogoutReason::AccountLocked,
                    ConnectFailureReason::LoggedOut => LogoutReason::RemovedFromPhone,
                    _ => LogoutReason::Expired,
                };
                self.state = EngineState::LoggedOut { reason };
                Action::WaitForPerson
            }
            Event::StreamReplaced(_) => {
                self.state = EngineState::Replaced;
                Action::WaitForPerson
            }
            Event::ClientOutdated(_) => {
                self.state = EngineState::Outdated;
                Action::WaitForPerson
            }
            Event::TemporaryBan(ban) => {
                self.state = EngineState::TemporarilyBanned {
                    until: now.saturating_add(ban.expire.num_milliseconds()),
                    reason: ban_reason(&ban.code).to_owned(),
                };
                Action::WaitForPerson
            }
            Event::ConnectFailure(f) => {
                if f.reason.is_logged_out() {
                    self.state = EngineState::LoggedOut {
                        reason: LogoutReason::Expired,
                    };
                    return Action::WaitForPerson;
                }
                if f.reason == ConnectFailureReason::ClientOutdated {
                    self.state = EngineState::Outdated;
                    return Action::WaitForPerson;
                }
                let problem = match &f.reason {
                    ConnectFailureReason::ServiceUnavailable => Problem::ServerBusy { code: 503 },
                    ConnectFailureReason::InternalServerError => Problem::ServerBusy { code: 500 },
                    other => Problem::Other {
                        detail: f.message.clone().unwrap_or_else(|| format!("{other:?}")),
                    },
                };
                self.retry(now, problem)
            }
            _ => Action::Nothing,
        }
    }

    /// The person asked for fresh QR codes (after they ran out).
    pub fn restart_linking(&mut self) -> Action {
        self.state = EngineState::Unlinked;
        Action::Reconnect(Duration::ZERO)
    }

    /// States only the person can leave (re-link, update, wait out a ban).
    fn is_final(&self) -> bool {
        matches!(
            self.state,
            EngineState::LoggedOut { .. }
                | EngineState::Replaced
                | EngineState::Outdated
                | EngineState::TemporarilyBanned { .. }
                | EngineState::PhoneCannotLink
                | EngineState::QrExhausted { .. }
        )
    }

    fn retry(&mut self, now: i64, problem: Problem) -> Action {
        // A routine recycle of a healthy connection reconnects at once.
        let delay = if problem == Problem::Recycled && matches!(self.state, EngineState::Connected { .. }) {
            Duration::ZERO
        } else {
            self.attempt += 1;
            self.backoff.delay(self.attempt)
        };
        self.state = EngineState::Reconnecting {
            attempt: self.attempt,
            next_try: now + millis(delay),
            problem,
        };
        Action::Reconnect(delay)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn ban_reason(code: &TempBanReason) -> &'static str {
    match code {
        TempBanReason::SentToTooManyPeople => "too many messages to people who do not have your number",
        TempBanReason::BlockedByUsers => "too many people blocked this account",
        TempBanReason::CreatedTooManyGroups => "too many groups created with people who do not have your number",
        TempBanReason::SentTooManySameMessage => "the same message sent to too many people",
        _ => "WhatsApp did not say why",
    }
}

/// A duration for people: "45 s", "12 min", "3 h 20 min".
fn human(ms: i64) -> String {
    let secs = (ms.max(0) + 999) / 1000;
    match secs {
        // Countdowns (QR codes, retries) read best in seconds.
        0..=119 => format!("{secs} s"),
        120..=3599 => format!("{} min", secs / 60),
        _ => {
            let minutes = secs / 60 % 60;
            if minutes == 0 {
                format!("{} h", secs / 3600)
            } else {
                format!("{} h {minutes} min", secs / 3600)
            }
        }
    }
}

impl EngineState {
    /// One or two sentences for the tray and the assistant: what is happening
    /// and what to do, with the time left worded at `now`.
    pub fn describe(&self, now: i64) -> String {
        match self.countdown(now) {
            Some(left) => format!("{} {left}", self.summary()),
            None => self.summary(),
        }
    }

    /// [`EngineState::describe`] without the time left: the window words its
    /// countdowns itself from the state's times (ui/src/status.ts, the same
    /// sentences), so what it is pushed stays true as the seconds pass.
    pub fn summary(&self) -> String {
        match self {
            Self::Unlinked => "Not linked to a WhatsApp account yet. Open the app to link it.".into(),
            Self::ShowingQr { .. } => "Scan the QR code with WhatsApp on your phone (Settings > Linked devices > \
                 Link a device)."
                .into(),
            Self::QrExhausted { rounds } if *rounds >= 2 => "The QR codes ran out again. If your phone scanned \
                 the code but nothing happened, your account may already have the most linked devices WhatsApp \
                 allows: on your phone open Settings > Linked devices, log out of one you no longer use, then \
                 show a new code."
                .into(),
            Self::QrExhausted { .. } => "The QR codes ran out before one was scanned. Show a new code when your \
                 phone is ready."
                .into(),
            Self::ShowingCode { .. } => "On your phone open WhatsApp > Settings > Linked devices > Link a device > \
                 Link with phone number instead, and type this code."
                .into(),
            Self::Linking => "Your phone accepted the link. Finishing…".into(),
            Self::Connected { .. } => "Connected to WhatsApp.".into(),
            Self::Reconnecting { problem, .. } => match problem {
                Problem::Network { detail } => match detail.split_once(crate::net::DIAGNOSIS_PREFIX).map(|(_, f)| f) {
                    Some(found) => format!("Can't reach WhatsApp: {found}."),
                    None => "Can't reach WhatsApp: check this computer's internet connection.".to_owned(),
                },
                Problem::ServerBusy { code } => format!("WhatsApp's servers are busy (error {code})."),
                Problem::Recycled => "Reconnecting to WhatsApp.".to_owned(),
                Problem::Other { detail } => format!("The connection to WhatsApp failed ({detail})."),
            },
            Self::LoggedOut { reason } => match reason {
                LogoutReason::RemovedFromPhone => "This computer was unlinked from your phone. Your messages are \
                     kept here; link again to continue."
                    .into(),
                LogoutReason::AccountLocked => "WhatsApp locked this account. Open WhatsApp on your phone to see \
                     why; your messages are kept here."
                    .into(),
                LogoutReason::Expired => "The link to your phone ended (this happens after a long time offline). \
                     Your messages are kept here; link again to continue."
                    .into(),
            },
            Self::TemporarilyBanned { reason, .. } => format!("WhatsApp temporarily blocked this account ({reason})."),
            Self::Replaced => "Another session took over this link (WhatsApp Web or another copy of this app). \
                 Close it, then reconnect here."
                .into(),
            Self::Outdated => "WhatsApp no longer accepts this version of the app. Update WhatsApp MCP Desktop.".into(),
            Self::PhoneCannotLink => "Your phone scanned the code but cannot link devices. Update WhatsApp on your \
                 phone, then try again."
                .into(),
        }
    }

    /// The sentence that counts down, worded at `now`, for the states that have one.
    pub fn countdown(&self, now: i64) -> Option<String> {
        match self {
            Self::ShowingQr { expires_at, .. } => Some(format!("It changes in {}.", human(expires_at - now))),
            Self::ShowingCode { expires_at, .. } => Some(format!("It is valid for {}.", human(expires_at - now))),
            Self::Reconnecting { attempt, next_try, .. } if *attempt > 0 => Some(format!(
                "Trying again in {} (attempt {attempt}).",
                human(next_try - now)
            )),
            Self::TemporarilyBanned { until, .. } => Some(format!("You can use it again in {}.", human(until - now))),
            _ => None,
        }
    }

    /// Whether the person needs to do something (tray shows "needs attention").
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            Self::QrExhausted { .. }
                | Self::LoggedOut { .. }
                | Self::TemporarilyBanned { .. }
                | Self::Replaced
                | Self::Outdated
                | Self::PhoneCannotLink
        )
    }
}

#[cfg(test)]
mod tests;
