//! Every transition, driven by the client's own event values.

use std::time::Duration;

use whatsapp_rust::wacore::net::DisconnectReason;
use whatsapp_rust::wacore::types::events::{
    ClientOutdated, ConnectFailure, ConnectFailureReason, Connected, Disconnected, Event, LoggedOut, PairingCode,
    PairingQrCode, PairingQrCodesExhausted, QrScannedWithoutMultidevice, StreamReplaced, TempBanReason, TemporaryBan,
};

use super::{Action, Backoff, Connection, EngineState, LogoutReason, Problem};

const T0: i64 = 1_700_000_000_000;

fn qr(code: &str, secs: u64) -> Event {
    Event::PairingQrCode(
        PairingQrCode::builder()
            .code(code.to_owned())
            .timeout(Duration::from_secs(secs))
            .build(),
    )
}

fn connected() -> Event {
    Event::Connected(Connected::builder().build())
}

fn dropped(reason: DisconnectReason) -> Event {
    Event::Disconnected(Disconnected::builder().reason(reason).build())
}

fn exhausted() -> Event {
    Event::PairingQrCodesExhausted(PairingQrCodesExhausted::builder().disconnected(true).build())
}

#[test]
fn qr_codes_rotate_then_run_out_and_can_restart() {
    let mut c = Connection::new(false, 1);
    assert_eq!(c.state(), &EngineState::Unlinked);
    assert_eq!(c.on_event(&qr("ref-1", 60), T0), Action::Nothing);
    assert_eq!(
        c.state(),
        &EngineState::ShowingQr {
            code: "ref-1".into(),
            expires_at: T0 + 60_000,
            round: 1
        }
    );
    assert!(
        c.state().describe(T0).contains("changes in 60 s"),
        "{}",
        c.state().describe(T0)
    );
    c.on_event(&qr("ref-2", 20), T0 + 60_000);
    assert_eq!(
        c.state(),
        &EngineState::ShowingQr {
            code: "ref-2".into(),
            expires_at: T0 + 80_000,
            round: 1
        }
    );

    assert_eq!(c.on_event(&exhausted(), T0 + 160_000), Action::WaitForPerson);
    assert_eq!(c.state(), &EngineState::QrExhausted { rounds: 1 });
    assert!(
        !c.state().describe(T0).contains("linked devices WhatsApp allows"),
        "first time: no device-limit talk"
    );
    // The client disconnects when codes run out: that is not a network problem.
    assert_eq!(
        c.on_event(&dropped(DisconnectReason::StreamEnded), T0 + 160_001),
        Action::WaitForPerson
    );
    assert!(c.state().needs_attention());

    assert_eq!(c.restart_linking(), Action::Reconnect(Duration::ZERO));
    c.on_event(&qr("ref-7", 60), T0 + 200_000);
    assert!(matches!(c.state(), EngineState::ShowingQr { round: 2, .. }));
    c.on_event(&exhausted(), T0 + 360_000);
    assert_eq!(c.state(), &EngineState::QrExhausted { rounds: 2 });
    assert!(
        c.state().describe(T0).contains("Settings > Linked devices"),
        "second time: device-limit guidance"
    );
}

#[test]
fn phone_code_and_success() {
    let mut c = Connection::new(false, 1);
    let code = Event::PairingCode(
        PairingCode::builder()
            .code("ABCD-EFGH".to_owned())
            .timeout(Duration::from_mins(3))
            .build(),
    );
    c.on_event(&code, T0);
    assert_eq!(
        c.state(),
        &EngineState::ShowingCode {
            code: "ABCD-EFGH".into(),
            expires_at: T0 + 180_000
        }
    );
    assert!(c.state().describe(T0).contains("Link with phone number instead"));
    c.on_event(&connected(), T0 + 5_000);
    assert_eq!(c.state(), &EngineState::Connected { since: T0 + 5_000 });
    assert!(!c.state().needs_attention());
}

#[test]
fn network_drops_back_off_and_recover() {
    let mut c = Connection::new(true, 7);
    c.on_event(&connected(), T0);
    let mut delays = Vec::new();
    for i in 0..6 {
        match c.on_event(&dropped(DisconnectReason::ReadError("connection reset".into())), T0 + i) {
            Action::Reconnect(d) => delays.push(d),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        delays.windows(2).all(|w| w[1] > w[0]),
        "each retry waits longer: {delays:?}"
    );
    assert!(delays[0] >= Duration::from_millis(800) && delays[0] <= Duration::from_millis(1200));
    match c.state() {
        EngineState::Reconnecting {
            attempt: 6,
            problem: Problem::Network { detail },
            ..
        } => {
            assert!(detail.contains("connection reset"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        c.state()
            .describe(T0)
            .contains("check this computer's internet connection")
    );
    c.on_event(&connected(), T0 + 100_000);
    // After recovery, the next problem starts from a short delay again.
    match c.on_event(&dropped(DisconnectReason::ReadError("timeout".into())), T0 + 200_000) {
        Action::Reconnect(d) => assert!(d <= Duration::from_millis(1200), "{d:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_routine_recycle_reconnects_at_once() {
    let mut c = Connection::new(true, 1);
    c.on_event(&connected(), T0);
    assert_eq!(
        c.on_event(&dropped(DisconnectReason::StreamEnded), T0),
        Action::Reconnect(Duration::ZERO)
    );
}

#[test]
fn server_errors_are_retried_with_their_code() {
    let mut c = Connection::new(true, 1);
    let busy = Event::ConnectFailure(
        ConnectFailure::builder()
            .reason(ConnectFailureReason::ServiceUnavailable)
            .build(),
    );
    assert!(matches!(c.on_event(&busy, T0), Action::Reconnect(_)));
    assert!(matches!(
        c.state(),
        EngineState::Reconnecting {
            problem: Problem::ServerBusy { code: 503 },
            ..
        }
    ));
    assert!(c.state().describe(T0).contains("error 503"));
}

#[test]
fn endings_that_need_the_person() {
    let cases: Vec<(Event, EngineState, &str)> = vec![
        (
            Event::LoggedOut(
                LoggedOut::builder()
                    .on_connect(false)
                    .reason(ConnectFailureReason::LoggedOut)
                    .build(),
            ),
            EngineState::LoggedOut {
                reason: LogoutReason::RemovedFromPhone,
            },
            "unlinked from your phone",
        ),
        (
            Event::LoggedOut(
                LoggedOut::builder()
                    .on_connect(true)
                    .reason(ConnectFailureReason::UnknownLogout)
                    .build(),
            ),
            EngineState::LoggedOut {
                reason: LogoutReason::Expired,
            },
            "long time offline",
        ),
        (
            Event::LoggedOut(
                LoggedOut::builder()
                    .on_connect(true)
                    .reason(ConnectFailureReason::AccountLocked)
                    .build(),
            ),
            EngineState::LoggedOut {
                reason: LogoutReason::AccountLocked,
            },
            "locked",
        ),
        (
            Event::StreamReplaced(StreamReplaced::builder().build()),
            EngineState::Replaced,
            "took over",
        ),
        (
            Event::ClientOutdated(ClientOutdated::builder().build()),
            EngineState::Outdated,
            "Update WhatsApp MCP Desktop",
        ),
        (
            Event::QrScannedWithoutMultidevice(QrScannedWithoutMultidevice::builder().build()),
            EngineState::PhoneCannotLink,
            "Update WhatsApp on your phone",
        ),
    ];
    for (event, expected, words) in cases {
        let mut c = Connection::new(true, 1);
        c.on_event(&connected(), T0);
        assert_eq!(c.on_event(&event, T0), Action::WaitForPerson, "{expected:?}");
        assert_eq!(c.state(), &expected);
        assert!(c.state().needs_attention());
        assert!(c.state().describe(T0).contains(words), "{}", c.state().describe(T0));
        // The disconnect that follows does not turn it into a retry loop.
        assert_eq!(
            c.on_event(&dropped(DisconnectReason::StreamEnded), T0 + 1),
            Action::WaitForPerson
        );
        assert_eq!(c.state(), &expected);
    }
}

#[test]
fn a_temporary_ban_says_why_and_until_when() {
    let mut c = Connection::new(true, 1);
    let ban = Event::TemporaryBan(
        TemporaryBan::builder()
            .code(TempBanReason::SentToTooManyPeople)
            .expire(whatsapp_rust::chrono::TimeDelta::seconds(12_000))
            .build(),
    );
    assert_eq!(c.on_event(&ban, T0), Action::WaitForPerson);
    assert_eq!(
        c.state(),
        &EngineState::TemporarilyBanned {
            until: T0 + 12_000_000,
            reason: "too many messages to people who do not have your number".into()
        }
    );
    assert!(
        c.state().describe(T0).contains("3 h 20 min"),
        "{}",
        c.state().describe(T0)
    );
}

#[test]
fn backoff_is_capped_and_seeded() {
    let mut a = Backoff::new(42);
    let mut b = Backoff::new(42);
    let delays: Vec<Duration> = (1..=30).map(|n| a.delay(n)).collect();
    assert_eq!(
        delays,
        (1..=30).map(|n| b.delay(n)).collect::<Vec<_>>(),
        "same seed, same delays"
    );
    assert!(delays.iter().all(|d| *d <= Duration::from_mins(5)));
    assert!(delays[29] >= Duration::from_mins(4), "long outages settle near the cap");
}

#[test]
fn states_serialize_for_the_ui() {
    let state = EngineState::Reconnecting {
        attempt: 2,
        next_try: 5,
        problem: Problem::ServerBusy { code: 503 },
    };
    let json = serde_json::to_value(&state).expect("json");
    assert_eq!(json["state"], "reconnecting");
    assert_eq!(json["problem"]["kind"], "server_busy");
}

#[test]
fn a_diagnosed_network_failure_says_what_was_found() {
    let mut c = Connection::new(true, 1);
    let reason = format!(
        "{}this computer cannot look up web.whatsapp.com. Check that it is connected to the internet",
        crate::net::DIAGNOSIS_PREFIX
    );
    c.on_event(&dropped(DisconnectReason::ReadError(reason)), T0);
    let text = c.state().describe(T0);
    assert!(
        text.starts_with("Can't reach WhatsApp: this computer cannot look up web.whatsapp.com."),
        "{text}"
    );
    assert!(!text.contains("diagnosis"), "the marker is not shown: {text}");
}

/// The window is pushed the words without the time left (it counts down
/// itself); the tray and assistants get both, as one sentence.
#[test]
fn the_words_and_the_countdown_make_the_description() {
    let now = 1_000_000;
    let states = [
        EngineState::ShowingQr {
            code: "2@x".into(),
            expires_at: now + 45_000,
            round: 1,
        },
        EngineState::ShowingCode {
            code: "ABCD-EFGH".into(),
            expires_at: now + 150_000,
        },
        EngineState::Reconnecting {
            attempt: 3,
            next_try: now + 9_000,
            problem: Problem::Recycled,
        },
        EngineState::TemporarilyBanned {
            until: now + 3_900_000,
            reason: "spam".into(),
        },
        EngineState::Connected { since: now },
    ];
    let expected = [
        Some("It changes in 45 s."),
        Some("It is valid for 2 min."),
        Some("Trying again in 9 s (attempt 3)."),
        Some("You can use it again in 1 h 5 min."),
        None,
    ];
    for (state, countdown) in states.iter().zip(expected) {
        assert_eq!(state.countdown(now).as_deref(), countdown, "{state:?}");
        let whole = match countdown {
            Some(left) => format!("{} {left}", state.summary()),
            None => state.summary(),
        };
        assert_eq!(state.describe(now), whole);
        assert!(
            !state.summary().contains(" in "),
            "no time left in the words: {}",
            state.summary()
        );
    }
}
