//! Import from lharries/whatsapp-mcp's bridge database (`whatsapp-bridge/store/messages.db`).
//!
//! Its schema: `chats(jid, name, last_message_time)` and `messages(id, chat_jid,
//! sender, content, timestamp, is_from_me, media_type, filename, url, media_key,
//! file_sha256, file_enc_sha256, file_length)` keyed by `(id, chat_jid)`. Its Go
//! bridge writes times as text (`2024-01-02 15:04:05.123+02:00`) and the sender
//! as the phone number alone. Importing is an upsert: a second import adds nothing.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::model::{ChatKind, ChatUpdate, Item, MediaInfo, MessageKind, NewMessage};
use crate::{Result, Store, StoreError};

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub chats: u64,
    pub messages_inserted: u64,
    pub messages_already_present: u64,
    /// Rows without an id or chat, or with a time that cannot be read.
    pub messages_skipped: u64,
}

const PAGE: i64 = 5000;

const REQUIRED: &[(&str, &[&str])] = &[
    ("chats", &["jid", "name", "last_message_time"]),
    (
        "messages",
        &[
            "id",
            "chat_jid",
            "sender",
            "content",
            "timestamp",
            "is_from_me",
            "media_type",
            "filename",
            "url",
            "media_key",
            "file_sha256",
            "file_enc_sha256",
            "file_length",
        ],
    ),
];

type SourceRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<i64>,
);

impl Store {
    /// Import chats and messages from a lharries/whatsapp-mcp bridge database.
    pub async fn import_lharries(&self, source: &Path) -> Result<ImportReport> {
        let refuse = |reason: &str| StoreError::NotLharriesDatabase {
            path: source.to_path_buf(),
            reason: reason.to_owned(),
        };
        if !source.is_file() {
            return Err(refuse("there is no file at this path"));
        }
        let mut header = [0u8; 16];
        let read = std::io::Read::read(
            &mut std::fs::File::open(source).map_err(|e| StoreError::Io {
                path: source.to_path_buf(),
                source: e,
            })?,
            &mut header,
        )
        .unwrap_or(0);
        if read < 16 || &header != b"SQLite format 3\0" {
            return Err(refuse("it is not an SQLite database"));
        }
        let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(source).read_only(true))
            .await
            .map_err(|e| StoreError::from_sqlx(e, source))?;
        for (table, columns) in REQUIRED {
            let present: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
                .bind(table)
                .fetch_all(&mut conn)
                .await
                .map_err(|e| StoreError::from_sqlx(e, source))?;
            if present.is_empty() {
                return Err(refuse(&format!("it has no table {table}")));
            }
            if let Some(missing) = columns.iter().find(|c| !present.iter().any(|p| p == *c)) {
                return Err(refuse(&format!("its table {table} has no column {missing}")));
            }
        }

        let mut report = ImportReport::default();
        let chats: Vec<(Option<String>, Option<String>)> = sqlx::query_as("SELECT jid, name FROM chats")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| StoreError::from_sqlx(e, source))?;
        let items: Vec<Item> = chats
            .into_iter()
            .filter_map(|(jid, name)| jid.filter(|j| !j.is_empty()).map(|j| (j, name)))
            .map(|(jid, name)| {
                Item::Chat(ChatUpdate {
                    kind: Some(ChatKind::from_jid(&jid)),
                    jid,
                    name: name.filter(|n| !n.is_empty()),
                    ..ChatUpdate::default()
                })
            })
            .collect();
        report.chats = items.len() as u64;
        self.apply(&items).await?;

        let mut after = i64::MIN;
        loop {
            let rows: Vec<SourceRow> = sqlx::query_as(
                "SELECT rowid, id, chat_jid, sender, content, CAST(timestamp AS TEXT), CAST(is_from_me AS INTEGER),
                        media_type, filename, url, media_key, file_sha256, file_enc_sha256, file_length
                 FROM messages WHERE rowid > ? ORDER BY rowid LIMIT ?",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(&mut conn)
            .await
            .map_err(|e| StoreError::from_sqlx(e, source))?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            let mut items = Vec::with_capacity(rows.len());
            for row in rows {
                match convert(row) {
                    Some(message) => items.push(Item::Message(message)),
                    None => report.messages_skipped += 1,
                }
            }
            let batch = self.apply(&items).await?;
            report.messages_inserted += batch.inserted;
            report.messages_already_present += batch.already_present;
        }
        conn.close().await.ok();
        Ok(report)
    }
}

fn convert(row: SourceRow) -> Option<NewMessage> {
    let (_, id, chat_jid, sender, content, timestamp, from_me, media_type, filename, url, key, sha, enc_sha, length) =
        row;
    let msg_id = id.filter(|s| !s.is_empty())?;
    let chat_jid = chat_jid.filter(|s| !s.is_empty())?;
    let ts = parse_time(timestamp.as_deref()?)?;
    let sender = sender.filter(|s| !s.is_empty()).unwrap_or_else(|| chat_jid.clone());
    let sender_jid = if sender.contains('@') {
        sender
    } else {
        format!("{sender}@s.whatsapp.net")
    };
    let kind = match media_type.as_deref().unwrap_or("") {
        "" => MessageKind::Text,
        "image" => MessageKind::Image,
        "video" => MessageKind::Video,
        "audio" => MessageKind::Audio,
        "document" => MessageKind::Document,
        "sticker" => MessageKind::Sticker,
        _ => MessageKind::Unknown,
    };
    let media = kind.has_media().then(|| MediaInfo {
        file_name: filename.filter(|f| !f.is_empty()),
        url: url.filter(|u| !u.is_empty()),
        media_key: key.filter(|k| !k.is_empty()),
        file_sha256: sha.filter(|k| !k.is_empty()),
        file_enc_sha256: enc_sha.filter(|k| !k.is_empty()),
        file_length: length,
        ..MediaInfo::default()
    });
    Some(NewMessage {
        chat_jid,
        msg_id,
        sender_jid,
        from_me: from_me.unwrap_or(0) != 0,
        ts,
        kind,
        text: content.filter(|c| !c.is_empty()),
        quoted: None,
        extra: None,
        media,
        push_name: None,
    })
}

/// Milliseconds since the epoch from the texts Go's SQLite driver and Python
/// write: `YYYY-MM-DD[ T]HH:MM:SS[.frac][Z|±HH:MM]`, or a number of seconds or ms.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        // Seconds until the year 5138; larger numbers are milliseconds.
        return Some(if n.abs() < 100_000_000_000 { n * 1000 } else { n });
    }
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.chars().take_while(char::is_ascii_digit).count();
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let rest = rest.trim();
    let offset_minutes = match rest {
        "" | "Z" | "+00:00" | "UTC" => 0,
        _ => {
            // "+02:00", "-0700", or " +0200 +0200" (Go's time.String form).
            let zone = rest.split_whitespace().next()?;
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            if digits.len() != 4 {
                return None;
            }
            sign * (digits[..2].parse::<i64>().ok()? * 60 + digits[2..].parse::<i64>().ok()?)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn reads_the_time_formats_the_bridge_writes() {
        assert_eq!(parse_time("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_time("2024-03-01T12:30:00Z"), Some(1_709_296_200_000));
        assert_eq!(parse_time("2024-03-01 14:30:00+02:00"), Some(1_709_296_200_000));
        assert_eq!(parse_time("2024-03-01 14:30:00.250+02:00"), Some(1_709_296_200_250));
        assert_eq!(parse_time("2024-03-01 05:30:00-0700"), Some(1_709_296_200_000));
        assert_eq!(
            parse_time("2024-03-01 14:30:00.123456789 +0200 +0200"),
            Some(1_709_296_200_123)
        );
        assert_eq!(parse_time("1709296200"), Some(1_709_296_200_000));
        assert_eq!(parse_time("1709296200000"), Some(1_709_296_200_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2024-13-01 00:00:00"), None);
    }
}
