//! When the desktop tells the person that assistants wait for approval:
//! once when the first request arrives, then at most every half minute while
//! more arrive, in one notification that counts them (a burst of requests is
//! not a burst of notifications; the queue itself is capped in wa_mcp::approvals).

use std::time::{Duration, Instant};

use wa_mcp::PendingApproval;

/// The shortest time between two approval notifications.
pub const QUIET: Duration = Duration::from_secs(30);

/// Decides approval notifications; one per app.
#[derive(Debug, Default)]
pub struct ApprovalNotices {
    shown: usize,
    last: Option<Instant>,
}

impl ApprovalNotices {
    /// The notification's text if one is due now that `pending` wait.
    pub fn on_change(&mut self, pending: &[PendingApproval], now: Instant) -> Option<String> {
        let grew = pending.len() > self.shown;
        let first = self.shown == 0;
        self.shown = pending.len();
        let quiet_over = self.last.is_none_or(|at| now.duration_since(at) >= QUIET);
        if !grew || !(first || quiet_over) {
            return None;
        }
        let newest = pending.last()?;
        self.last = Some(now);
        Some(if pending.len() == 1 {
            format!(
                "{} wants to {} to {}.",
                newest.request.client,
                newest.request.tool.replace('_', " "),
                newest
                    .request
                    .recipient_name
                    .as_deref()
                    .unwrap_or(&newest.request.recipient)
            )
        } else {
            format!("{} requests from assistants wait for your answer.", pending.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(n: usize) -> Vec<PendingApproval> {
        (0..n)
            .map(|i| PendingApproval {
                id: i as u64 + 1,
                request: wa_mcp::ApprovalRequest {
                    client: "Claude".into(),
                    tool: "send_message".into(),
                    recipient: "447700900123@s.whatsapp.net".into(),
                    recipient_name: Some("Ana".into()),
                    content: "hi".into(),
                    context: None,
                    preview: None,
                    local: false,
                },
                asked_at: 0,
                expires_at: 0,
            })
            .collect()
    }

    #[test]
    fn a_burst_of_requests_is_one_notification_then_a_count_after_a_quiet_time() {
        let mut notices = ApprovalNotices::default();
        let t0 = Instant::now();
        let first = notices.on_change(&pending(1), t0).expect("the first is told");
        assert_eq!(first, "Claude wants to send message to Ana.");
        for n in 2..=10 {
            assert_eq!(
                notices.on_change(&pending(n), t0 + Duration::from_secs(n as u64)),
                None,
                "{n}"
            );
        }
        // Fewer (answered), then more again, still within the quiet time: nothing.
        assert_eq!(notices.on_change(&pending(3), t0 + Duration::from_secs(12)), None);
        assert_eq!(notices.on_change(&pending(4), t0 + Duration::from_secs(13)), None);
        let later = notices.on_change(&pending(5), t0 + QUIET + Duration::from_secs(1));
        assert_eq!(
            later.as_deref(),
            Some("5 requests from assistants wait for your answer.")
        );
        // All answered; a new one later is told at once.
        assert_eq!(
            notices.on_change(&pending(0), t0 + QUIET + Duration::from_secs(2)),
            None
        );
        assert!(
            notices
                .on_change(&pending(1), t0 + QUIET + Duration::from_secs(3))
                .is_some()
        );
    }
}
