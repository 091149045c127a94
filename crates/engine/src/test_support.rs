//! Fixtures shared by the engine's tests.

use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

/// This account.
pub const ME: &str = "447700900000@s.whatsapp.net";
/// Someone who writes to us.
pub const ANA: &str = "34600111222@s.whatsapp.net";
/// A group we are in.
pub const GROUP: &str = "120363000000000001@g.us";

/// The key of a message in [`GROUP`].
pub fn key(id: &str, from_me: bool, participant: Option<&str>) -> MessageField<wa::MessageKey> {
    MessageField::some(wa::MessageKey {
        remote_jid: Some(GROUP.into()),
        from_me: Some(from_me),
        id: Some(id.into()),
        participant: participant.map(Into::into),
    })
}
