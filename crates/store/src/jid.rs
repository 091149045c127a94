//! WhatsApp addresses (JIDs), parsed once where they come in: a tool's
//! argument, a line of the Safety page's allowlist, a chat the person picks.
//!
//! What arrives from WhatsApp itself is already an address (the client crate's
//! own type made it); what a person or an assistant types is checked here, by
//! one set of rules, into a [`Jid`]. Everything past that edge (store queries,
//! the send path, the gate's allowlist) takes the parsed value, so a phone
//! number typed as `+44 7700 900123` and the stored `447700900123@s.whatsapp.net`
//! are the same recipient everywhere.
//!
//! Kinds, by the part after `@`:
//! - `s.whatsapp.net`: a person by phone number (`c.us`, the old name, is read as it);
//! - `lid`: a person by WhatsApp's private id (LID), which hides the number;
//! - `g.us`: a group. A community is a group too: the same kind of address,
//!   which the archive knows is a community because other groups name it as
//!   their parent (`ChatSummary::parent_jid`);
//! - `broadcast`: a broadcast list, or `status@broadcast` (Status updates);
//! - `newsletter`: a WhatsApp channel.
//!
//! A device part (`:12` in `447700900123:12@s.whatsapp.net`) names one of a
//! person's devices: it is kept as given, and [`Jid::person`] drops it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The shortest and longest phone numbers (with country code) anywhere:
/// E.164 allows at most 15 digits; the shortest in use have 7.
pub const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// What kind of address a [`Jid`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JidKind {
    /// A person by phone number (`…@s.whatsapp.net`).
    Phone,
    /// A person by LID (`…@lid`).
    Lid,
    /// A group or a community (`…@g.us`).
    Group,
    /// A broadcast list or Status (`…@broadcast`).
    Broadcast,
    /// A channel (`…@newsletter`).
    Newsletter,
}

impl JidKind {
    fn server(self) -> &'static str {
        match self {
            Self::Phone => "s.whatsapp.net",
            Self::Lid => "lid",
            Self::Group => "g.us",
            Self::Broadcast => "broadcast",
            Self::Newsletter => "newsletter",
        }
    }

    fn of_server(server: &str) -> Option<Self> {
        Some(match server {
            "s.whatsapp.net" | "c.us" => Self::Phone,
            "lid" => Self::Lid,
            "g.us" => Self::Group,
            "broadcast" => Self::Broadcast,
            "newsletter" => Self::Newsletter,
            _ => return None,
        })
    }

    /// Whether this is one person (by number or by LID).
    pub fn is_person(self) -> bool {
        matches!(self, Self::Phone | Self::Lid)
    }
}

/// Why a text is not a WhatsApp address, in words for the person or assistant who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JidError {
    #[error(
        "\"{0}\" is not a WhatsApp address. A chat's address looks like 447700900123@s.whatsapp.net \
         (a person), 120363...@g.us (a group) or 1234...@lid; list_chats shows each chat's."
    )]
    NotAnAddress(String),
    #[error(
        "\"{0}\" is neither a phone number with its country code (like +44 7700 900123) nor a chat's \
         address (like 447700900123@s.whatsapp.net or 120363...@g.us)."
    )]
    NotANumberOrAddress(String),
}

/// A checked WhatsApp address, `user[:device]@server`, with `c.us` read as `s.whatsapp.net`.
///
/// It reads as the `&str` it holds, so it goes straight into the store's queries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Jid(String);

impl Jid {
    /// An address as WhatsApp writes it. A bare phone number is refused
    /// here (see [`Jid::from_input`] for text a person typed).
    pub fn parse(text: &str) -> Result<Self, JidError> {
        let text = text.trim();
        let refuse = || JidError::NotAnAddress(text.to_owned());
        let (user, server) = text.split_once('@').ok_or_else(refuse)?;
        let kind = JidKind::of_server(server).ok_or_else(refuse)?;
        let (id, device) = match user.split_once(':') {
            Some((id, device)) if kind.is_person() => (id, Some(device)),
            Some(_) => return Err(refuse()),
            None => (user, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let id_ok = match kind {
            // The old group form is `<creator's number>-<seconds>`.
            JidKind::Group => id.split('-').all(digits) && id.split('-').count() <= 2,
            JidKind::Broadcast => id == "status" || digits(id),
            JidKind::Phone => digits(id) && id.len() <= *PHONE_DIGITS.end(),
            JidKind::Lid | JidKind::Newsletter => digits(id),
        };
        if !id_ok || device.is_some_and(|d| !digits(d)) {
            return Err(refuse());
        }
        Ok(Self(format!("{user}@{}", kind.server())))
    }

    /// What a person or an assistant gives for a recipient: an address, or a
    /// phone number with its country code in any usual format (`+44 7700 900123`,
    /// `0044 (7700) 900-123`). A national number (`07700 900123`) is refused:
    /// no country code begins with 0, and guessing one would reach a stranger.
    pub fn from_input(text: &str) -> Result<Self, JidError> {
        let text = text.trim();
        if text.contains('@') {
            return Self::parse(text);
        }
        Self::phone(text).ok_or_else(|| JidError::NotANumberOrAddress(text.to_owned()))
    }

    /// The address of the person with phone number `text`, if it is one.
    pub fn phone(text: &str) -> Option<Self> {
        let text = text.trim();
        let all: String = text.chars().filter(char::is_ascii_digit).collect();
        // `00` is the international prefix dialled from most countries: the same as `+`.
        let digits = all.strip_prefix("00").unwrap_or(&all);
        let number_chars = text.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let national = digits.starts_with('0');
        (number_chars && !national && PHONE_DIGITS.contains(&digits.len()))
            .then(|| Self(format!("{digits}@s.whatsapp.net")))
    }

    /// What kind of address this is.
    pub fn kind(&self) -> JidKind {
        self.0
            .rsplit_once('@')
            .and_then(|(_, server)| JidKind::of_server(server))
            .unwrap_or(JidKind::Phone)
    }

    /// The part before `@` (with the device, if any).
    pub fn user(&self) -> &str {
        self.0.split_once('@').map_or(&self.0, |(user, _)| user)
    }

    /// The phone number (digits, no `+`) for a phone address.
    pub fn phone_number(&self) -> Option<&str> {
        (self.kind() == JidKind::Phone).then(|| self.user().split(':').next().unwrap_or_default())
    }

    /// The person or chat, without a device part.
    #[must_use]
    pub fn person(&self) -> Self {
        match self.user().split_once(':') {
            Some((id, _)) => Self(format!("{id}@{}", self.kind().server())),
            None => self.clone(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Whether the address `jid` (as stored, unchecked) is a group or a community.
pub fn is_group(jid: &str) -> bool {
    crate::ChatKind::from_jid(jid) == crate::ChatKind::Group
}

impl std::ops::Deref for Jid {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Jid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Jid {
    type Err = JidError;
    fn from_str(s: &str) -> Result<Self, JidError> {
        Self::parse(s)
    }
}

impl From<Jid> for String {
    fn from(jid: Jid) -> Self {
        jid.0
    }
}

impl PartialEq<str> for Jid {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Jid {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Read back checked: settings written by an older version may hold a phone
/// number as the person typed it, which reads as that number's address.
impl<'de> Deserialize<'de> for Jid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::from_input(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_and_says_what_it_is() {
        for (text, kind) in [
            ("447700900123@s.whatsapp.net", JidKind::Phone),
            ("447700900123:12@s.whatsapp.net", JidKind::Phone),
            ("100000000000001@lid", JidKind::Lid),
            ("100000000000001:3@lid", JidKind::Lid),
            ("120363000000000001@g.us", JidKind::Group),
            ("447700900123-1600000000@g.us", JidKind::Group),
            ("status@broadcast", JidKind::Broadcast),
            ("1600000000@broadcast", JidKind::Broadcast),
            ("120363000000000002@newsletter", JidKind::Newsletter),
        ] {
            let jid = Jid::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(jid.kind(), kind, "{text}");
            assert_eq!(jid.as_str(), text);
        }
    }

    #[test]
    fn the_old_server_name_reads_as_today_s() {
        assert_eq!(
            Jid::parse("447700900123@c.us").expect("jid"),
            "447700900123@s.whatsapp.net"
        );
    }

    #[test]
    fn phone_numbers_in_the_usual_formats_become_addresses() {
        for text in [
            "+44 7700 900123",
            "447700900123",
            "+44 (7700) 900-123",
            " 44.7700.900123 ",
            "0044 7700 900123",
        ] {
            assert_eq!(
                Jid::from_input(text).expect("phone").as_str(),
                "447700900123@s.whatsapp.net",
                "{text}"
            );
        }
        assert_eq!(
            Jid::from_input("447700900123@s.whatsapp.net")
                .expect("jid")
                .phone_number(),
            Some("447700900123")
        );
        assert_eq!(Jid::parse("1@lid").expect("lid").phone_number(), None);
    }

    #[test]
    fn nonsense_is_refused_in_words() {
        for text in [
            "bob",
            "12",
            "1234567890123456",
            "x@example.com",
            "@s.whatsapp.net",
            "bob@s.whatsapp.net",
            "120363:1@g.us",
            "1-2-3@g.us",
            "44 7700 900123 ext 5",
            "07700 900123",
        ] {
            let error = Jid::from_input(text).expect_err(text).to_string();
            assert!(error.contains(text.trim()), "{error}");
        }
        // A bare number is an address only where a person typed it.
        assert!(matches!(Jid::parse("447700900123"), Err(JidError::NotAnAddress(_))));
    }

    #[test]
    fn the_device_part_is_dropped_for_the_person() {
        let jid = Jid::parse("447700900123:12@s.whatsapp.net").expect("jid");
        assert_eq!(jid.person(), "447700900123@s.whatsapp.net");
        assert_eq!(jid.phone_number(), Some("447700900123"));
    }

    #[test]
    fn settings_keep_what_people_typed_readable() {
        let read: Vec<Jid> = serde_json::from_str(r#"["+44 7700 900123", "120363000000000001@g.us"]"#).expect("json");
        assert_eq!(read[0], "447700900123@s.whatsapp.net");
        assert_eq!(
            serde_json::to_string(&read).expect("json"),
            r#"["447700900123@s.whatsapp.net","120363000000000001@g.us"]"#
        );
        assert!(serde_json::from_str::<Jid>(r#""bob""#).is_err());
    }
}
