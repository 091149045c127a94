//! Reading: chats, messages, contacts, statistics.

use sqlx::{QueryBuilder, Sqlite};

use crate::ingest::id_floor;
use crate::model::ChatScope;
use crate::model::{
    ChatFilter, ChatKind, ChatStatistics, ChatSummary, Contact, MediaInfo, MediaRecord, MemberRole, Message,
    MessageFilter, MessageKey, MessageKind, MessageStatus, Page, Reaction, SortOrder, Statistics,
};
use crate::scope::Narrowing;
use crate::{Result, Store, StoreError};

/// Columns that make a [`Message`]; `m` is the messages table, joined by [`message_joins`].
macro_rules! message_columns {
    () => {
        "m.id, c.jid AS chat_jid, m.msg_id, s.jid AS sender_jid,
        coalesce(s.saved_name, s.push_name, s.business_name) AS sender_name, s.phone AS sender_phone,
        m.from_me, m.ts, m.kind, m.text, m.original_text, m.edited_at, m.deleted_at,
        m.quoted_msg_id, q.jid AS quoted_sender_jid, m.extra, m.status"
    };
}
macro_rules! message_joins {
    () => {
        " JOIN chats c ON c.id = m.chat_id
          JOIN contacts s ON s.id = m.sender_id
          LEFT JOIN contacts q ON q.id = m.quoted_sender_id"
    };
}
pub(crate) use {message_columns, message_joins};

pub(crate) const MESSAGE_SELECT: &str = concat!("SELECT ", message_columns!(), " FROM messages m", message_joins!());

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub(crate) id: i64,
    chat_jid: String,
    msg_id: String,
    sender_jid: String,
    sender_name: Option<String>,
    sender_phone: Option<String>,
    from_me: bool,
    ts: i64,
    kind: String,
    text: Option<String>,
    original_text: Option<String>,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    quoted_msg_id: Option<String>,
    quoted_sender_jid: Option<String>,
    extra: Option<String>,
    status: i64,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        let kind = MessageKind::parse(&r.kind).unwrap_or(MessageKind::Unknown);
        let quoted = match (r.quoted_msg_id, r.quoted_sender_jid) {
            (Some(msg_id), Some(sender_jid)) => Some(MessageKey {
                chat_jid: r.chat_jid.clone(),
                msg_id,
                sender_jid,
            }),
            _ => None,
        };
        Message {
            chat_jid: r.chat_jid,
            msg_id: r.msg_id,
            sender_jid: r.sender_jid,
            sender_name: r.sender_name,
            sender_phone: r.sender_phone,
            from_me: r.from_me,
            ts: r.ts,
            kind,
            text: r.text,
            original_text: r.original_text,
            edited_at: r.edited_at,
            deleted_at: r.deleted_at,
            quoted,
            extra: r.extra.and_then(|e| serde_json::from_str(&e).ok()),
            status: MessageStatus::from_i64(r.status),
            has_media: kind.has_media(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ChatRow {
    jid: String,
    kind: String,
    name: Option<String>,
    parent_jid: Option<String>,
    archived: bool,
    pinned: bool,
    muted_until: Option<i64>,
    unread_count: i64,
    last_message_ts: Option<i64>,
    preview: Option<String>,
    last_from_me: Option<bool>,
    last_sender_name: Option<String>,
}

impl From<ChatRow> for ChatSummary {
    fn from(r: ChatRow) -> Self {
        ChatSummary {
            jid: r.jid,
            kind: ChatKind::parse(&r.kind).unwrap_or(ChatKind::Direct),
            name: r.name,
            parent_jid: r.parent_jid,
            archived: r.archived,
            pinned: r.pinned,
            muted_until: r.muted_until,
            unread_count: u32::try_from(r.unread_count).unwrap_or(0),
            last_message_ts: r.last_message_ts,
            last_message_preview: r.preview,
            last_message_from_me: r.last_from_me,
            last_sender_name: r.last_sender_name,
        }
    }
}

const CHAT_SELECT: &str = "SELECT c.jid, c.kind,
        coalesce(c.name, dc.saved_name, dc.push_name, dc.business_name) AS name,
        p.jid AS parent_jid, c.archived, c.pinned, c.muted_until, c.unread_count, c.last_message_ts,
        substr(coalesce(lm.text, CASE WHEN lm.id IS NOT NULL THEN '[' || lm.kind || ']' END), 1, 120) AS preview,
        lm.from_me AS last_from_me,
        coalesce(ls.saved_name, ls.push_name, ls.business_name) AS last_sender_name
    FROM chats c
    LEFT JOIN chats p ON p.id = c.parent_id
    LEFT JOIN contacts dc ON c.kind = 'direct' AND dc.jid = c.jid
    LEFT JOIN messages lm ON lm.id = c.last_message_id
    LEFT JOIN contacts ls ON ls.id = lm.sender_id";

#[derive(sqlx::FromRow)]
struct MemberRow {
    #[sqlx(flatten)]
    contact: ContactRow,
    role: String,
}

#[derive(sqlx::FromRow)]
struct MediaRow {
    mime: Option<String>,
    file_name: Option<String>,
    direct_path: Option<String>,
    url: Option<String>,
    media_key: Option<Vec<u8>>,
    media_key_ts: Option<i64>,
    file_sha256: Option<Vec<u8>>,
    file_enc_sha256: Option<Vec<u8>>,
    file_length: Option<i64>,
    width: Option<i64>,
    height: Option<i64>,
    duration_secs: Option<i64>,
    local_path: Option<String>,
    downloaded_at: Option<i64>,
    attempts: i64,
    last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    jid: String,
    phone: Option<String>,
    saved_name: Option<String>,
    push_name: Option<String>,
    business_name: Option<String>,
    lid: Option<String>,
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        Contact {
            jid: r.jid,
            phone: r.phone,
            saved_name: r.saved_name,
            push_name: r.push_name,
            business_name: r.business_name,
            lid: r.lid,
        }
    }
}

/// Most rows one call returns, whatever the caller asks.
pub const MAX_PAGE: u32 = 500;

pub(crate) fn page_size(limit: u32) -> u32 {
    if limit == 0 { 50 } else { limit.min(MAX_PAGE) }
}

pub(crate) fn encode_cursor(prefix: char, value: i64) -> String {
    format!("{prefix}{value}")
}

pub(crate) fn decode_cursor(cursor: Option<&str>, prefix: char) -> Result<Option<i64>> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    cursor
        .strip_prefix(prefix)
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            StoreError::InvalidInput(format!(
                "The cursor {cursor:?} is not one this list gave out. Leave it empty to start from the first page."
            ))
        })
}

fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Split a fetched `limit + 1` rows into a page and the cursor of the next
/// one; `cursor_of(i, row)` is the cursor that goes on right after row `i`
/// (kept for each row, so a page cut shorter still goes on from where it ends).
pub(crate) fn paginate<R, T>(mut rows: Vec<R>, limit: u32, cursor_of: impl Fn(usize, &R) -> String) -> Page<T>
where
    T: From<R>,
{
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let item_cursors: Vec<String> = rows.iter().enumerate().map(|(i, r)| cursor_of(i, r)).collect();
    let next_cursor = if more { item_cursors.last().cloned() } else { None };
    Page {
        items: rows.into_iter().map(T::from).collect(),
        next_cursor,
        item_cursors,
    }
}

fn empty_page<T>() -> Page<T> {
    Page::default()
}

/// The conditions of a message listing on `m` other than its chats.
struct RowConditions<'a> {
    filter: &'a MessageFilter,
    /// The sender's row id, looked up.
    sender: Option<i64>,
    /// The cursor: the last id of the previous page.
    after_id: Option<i64>,
    descending: bool,
}

impl RowConditions<'_> {
    fn push(&self, qb: &mut QueryBuilder<Sqlite>) {
        let filter = self.filter;
        if let Some(id) = self.sender {
            qb.push(" AND m.sender_id = ").push_bind(id);
        }
        if let Some(after) = filter.after {
            qb.push(" AND m.id >= ").push_bind(id_floor(after));
        }
        if let Some(before) = filter.before {
            qb.push(" AND m.id < ").push_bind(id_floor(before));
        }
        if let Some(from_me) = filter.from_me {
            qb.push(" AND m.from_me = ").push_bind(from_me);
        }
        if let Some(has_media) = filter.has_media {
            qb.push(if has_media { " AND " } else { " AND NOT " })
                .push("m.kind IN ('image', 'video', 'audio', 'voice', 'document', 'sticker')");
        }
        if !filter.include_deleted {
            qb.push(" AND m.deleted_at IS NULL");
        }
        if let Some(id) = self.after_id {
            qb.push(if self.descending {
                " AND m.id < "
            } else {
                " AND m.id > "
            })
            .push_bind(id);
        }
    }
}

impl Store {
    pub(crate) async fn lookup_chat_id(&self, jid: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT id FROM chats WHERE jid = ?")
            .bind(self.canonical_jid(jid).await?)
            .fetch_optional(self.reader())
            .await
            .map_err(|e| self.err(e))
    }

    pub(crate) async fn lookup_contact_id(&self, jid: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT id FROM contacts WHERE jid = ?")
            .bind(self.canonical_jid(jid).await?)
            .fetch_optional(self.reader())
            .await
            .map_err(|e| self.err(e))
    }

    /// Chats by last activity (newest first), with unread counts and a preview.
    pub async fn list_chats(&self, filter: &ChatFilter) -> Result<Page<ChatSummary>> {
        let limit = page_size(filter.limit);
        let offset = decode_cursor(filter.cursor.as_deref(), 'o')?.unwrap_or(0).max(0);
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(CHAT_SELECT);
        qb.push(" WHERE 1 = 1");
        if let Some(name) = filter.name.as_deref().filter(|n| !n.is_empty()) {
            let pattern = like_pattern(name);
            qb.push(" AND (coalesce(c.name, dc.saved_name, dc.push_name, '') LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR c.jid LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\')");
        }
        if let Some(kind) = filter.kind {
            qb.push(" AND c.kind = ").push_bind(kind.as_str());
        }
        if let Some(archived) = filter.archived {
            qb.push(" AND c.archived = ").push_bind(archived);
        }
        if filter.unread_only {
            qb.push(" AND c.unread_count > 0");
        }
        if let Some(parent) = &filter.parent_jid {
            qb.push(" AND p.jid = ").push_bind(parent.to_string());
        }
        filter.scope.push_condition(&mut qb, "c.jid");
        qb.push(" ORDER BY c.pinned DESC, c.last_message_ts IS NULL, c.last_message_ts DESC, c.id LIMIT ")
            .push_bind(i64::from(limit) + 1)
            .push(" OFFSET ")
            .push_bind(offset);
        let rows: Vec<ChatRow> = qb
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        Ok(paginate(rows, limit, |i, _| encode_cursor('o', offset + i as i64 + 1)))
    }

    /// One chat by JID.
    pub async fn get_chat(&self, jid: &str) -> Result<Option<ChatSummary>> {
        let sql = format!("{CHAT_SELECT} WHERE c.jid = ?");
        let row: Option<ChatRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(self.canonical_jid(jid).await?)
            .fetch_optional(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        Ok(row.map(ChatSummary::from))
    }

    /// Messages matching `filter`, a page at a time.
    pub async fn list_messages(
        &self,
        filter: &MessageFilter,
        order: SortOrder,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Message>> {
        let limit = page_size(limit);
        let after_id = decode_cursor(cursor, 'm')?;
        let chats = self.filter_chats(filter).await?;
        let sender = match &filter.sender_jid {
            Some(jid) => match self.lookup_contact_id(jid).await? {
                Some(id) => Some(id),
                None => return Ok(empty_page()),
            },
            None => None,
        };
        let descending = order != SortOrder::Oldest;
        let order_by = if descending { " DESC LIMIT " } else { " ASC LIMIT " };
        let rows = RowConditions {
            filter,
            sender,
            after_id,
            descending,
        };
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(MESSAGE_SELECT);
        qb.push(" WHERE 1 = 1");
        match chats {
            Narrowing::Everything => rows.push(&mut qb),
            Narrowing::EachRow => {
                filter.scope.push_condition(&mut qb, "c.jid");
                rows.push(&mut qb);
            }
            Narrowing::Chats(ids) => match ids[..] {
                [] => return Ok(empty_page()),
                [id] => {
                    qb.push(" AND m.chat_id = ").push_bind(id);
                    rows.push(&mut qb);
                }
                _ => {
                    // Each chat's rows in id order from its index, merged: no sort
                    // of whole chats, however many messages they hold.
                    qb.push(" AND m.id IN (");
                    for (i, id) in ids.into_iter().enumerate() {
                        qb.push(if i == 0 { "" } else { " UNION ALL " })
                            .push("SELECT m.id FROM messages m WHERE m.chat_id = ")
                            .push_bind(id);
                        rows.push(&mut qb);
                    }
                    qb.push(" ORDER BY 1")
                        .push(order_by)
                        .push_bind(i64::from(limit) + 1)
                        .push(")");
                }
            },
        }
        qb.push(" ORDER BY m.id").push(order_by).push_bind(i64::from(limit) + 1);
        let rows: Vec<MessageRow> = qb
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        Ok(paginate(rows, limit, |_, r| encode_cursor('m', r.id)))
    }

    pub(crate) async fn message_row_id(&self, key: &MessageKey) -> Result<Option<(i64, i64)>> {
        sqlx::query_as(
            "SELECT m.id, m.chat_id FROM messages m
             JOIN chats c ON c.id = m.chat_id JOIN contacts s ON s.id = m.sender_id
             WHERE c.jid = ? AND m.msg_id = ? AND s.jid = ?",
        )
        .bind(self.canonical_jid(&key.chat_jid).await?)
        .bind(&key.msg_id)
        .bind(self.canonical_jid(&key.sender_jid).await?)
        .fetch_optional(self.reader())
        .await
        .map_err(|e| self.err(e))
    }

    /// One message by key.
    pub async fn get_message(&self, key: &MessageKey) -> Result<Option<Message>> {
        let Some((id, _)) = self.message_row_id(key).await? else {
            return Ok(None);
        };
        let sql = format!("{MESSAGE_SELECT} WHERE m.id = ?");
        let row: Option<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        Ok(row.map(Message::from))
    }

    /// The chats a contact shares with this account: the direct chat, groups
    /// they are a member of, and chats they wrote in; most recently active first.
    pub async fn contact_chats(&self, contact_jid: &str, limit: u32) -> Result<Vec<ChatSummary>> {
        self.contact_chats_in_scope(contact_jid, limit, &ChatScope::All).await
    }

    /// [`Store::contact_chats`], only chats in `scope`.
    pub async fn contact_chats_in_scope(
        &self,
        contact_jid: &str,
        limit: u32,
        scope: &ChatScope,
    ) -> Result<Vec<ChatSummary>> {
        let Some(contact_id) = self.lookup_contact_id(contact_jid).await? else {
            return Ok(Vec::new());
        };
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(CHAT_SELECT);
        qb.push(" WHERE (c.jid = ")
            .push_bind(contact_jid.to_owned())
            .push(" OR c.id IN (SELECT group_id FROM group_members WHERE member_id = ")
            .push_bind(contact_id)
            .push(") OR c.id IN (SELECT DISTINCT chat_id FROM messages WHERE sender_id = ")
            .push_bind(contact_id)
            .push("))");
        scope.push_condition(&mut qb, "c.jid");
        qb.push(" ORDER BY c.last_message_ts IS NULL, c.last_message_ts DESC, c.id LIMIT ")
            .push_bind(i64::from(page_size(limit)));
        let rows: Vec<ChatRow> = qb
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(ChatSummary::from).collect())
    }

    /// Drop this computer's copy of a message (WhatsApp and other devices keep
    /// theirs). Its media record goes with it and the search index forgets it;
    /// edits and reactions recorded for it stay, so if a later history sync
    /// brings the message back it returns as it was. Returns whether it was stored.
    pub async fn drop_message(&self, key: &MessageKey) -> Result<bool> {
        let Some((id, _)) = self.message_row_id(key).await? else {
            return Ok(false);
        };
        let done = sqlx::query("DELETE FROM messages WHERE id = ?")
            .bind(id)
            .execute(self.writer()?)
            .await
            .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Messages with WhatsApp id `msg_id` (in `chat_jid` when given), newest first.
    /// Ids are unique per chat and sender, so without a chat more than one may match.
    pub async fn find_messages(&self, chat_jid: Option<&str>, msg_id: &str) -> Result<Vec<Message>> {
        // With a chat the unique (chat, id, sender) index answers; without one it is
        // a scan, which is why tools ask for the chat.
        let rows: Vec<MessageRow> = if let Some(chat) = chat_jid {
            let sql = format!(
                "{MESSAGE_SELECT} WHERE m.chat_id = (SELECT id FROM chats WHERE jid = ?) AND m.msg_id = ?
                 ORDER BY m.id DESC LIMIT 20"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(self.canonical_jid(chat).await?)
                .bind(msg_id)
                .fetch_all(self.reader())
                .await
        } else {
            let sql = format!("{MESSAGE_SELECT} WHERE m.msg_id = ? ORDER BY m.id DESC LIMIT 20");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(msg_id)
                .fetch_all(self.reader())
                .await
        }
        .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    /// A message with up to `before` messages before it and `after` after it, oldest first.
    pub async fn message_context(&self, key: &MessageKey, before: u32, after: u32) -> Result<Vec<Message>> {
        let Some((id, chat_id)) = self.message_row_id(key).await? else {
            return Err(StoreError::NotFound {
                what: format!("The message {} in chat {}", key.msg_id, key.chat_jid),
            });
        };
        let earlier = format!("{MESSAGE_SELECT} WHERE m.chat_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?");
        let later = format!("{MESSAGE_SELECT} WHERE m.chat_id = ? AND m.id >= ? ORDER BY m.id ASC LIMIT ?");
        let mut rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(earlier))
            .bind(chat_id)
            .bind(id)
            .bind(i64::from(before.min(MAX_PAGE)))
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        rows.reverse();
        let tail: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(later))
            .bind(chat_id)
            .bind(id)
            .bind(i64::from(after.min(MAX_PAGE)) + 1)
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        rows.extend(tail);
        Ok(rows.into_iter().map(Message::from).collect())
    }

    /// Contacts whose name, push name, business name, phone or JID contains `query`.
    pub async fn search_contacts(&self, query: &str, limit: u32) -> Result<Vec<Contact>> {
        let pattern = like_pattern(query.trim());
        let rows: Vec<ContactRow> = sqlx::query_as(
            "SELECT jid, phone, saved_name, push_name, business_name, lid FROM contacts
             WHERE saved_name LIKE ?1 ESCAPE '\\' OR push_name LIKE ?1 ESCAPE '\\'
                OR business_name LIKE ?1 ESCAPE '\\' OR phone LIKE ?1 ESCAPE '\\' OR jid LIKE ?1 ESCAPE '\\'
             ORDER BY saved_name IS NULL, coalesce(saved_name, push_name, business_name, jid) LIMIT ?2",
        )
        .bind(pattern)
        .bind(i64::from(page_size(limit)))
        .fetch_all(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(Contact::from).collect())
    }

    /// A contact by JID, LID or phone number.
    pub async fn get_contact(&self, id: &str) -> Result<Option<Contact>> {
        let row: Option<ContactRow> = sqlx::query_as(
            "SELECT jid, phone, saved_name, push_name, business_name, lid FROM contacts
             WHERE jid = ?1 OR lid = ?1 OR phone = ?1 ORDER BY jid = ?1 DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(Contact::from))
    }

    /// Members of a group with their roles.
    pub async fn group_members(&self, group_jid: &str) -> Result<Vec<(Contact, MemberRole)>> {
        let rows: Vec<MemberRow> = sqlx::query_as(
            "SELECT k.jid, k.phone, k.saved_name, k.push_name, k.business_name, k.lid, g.role
             FROM group_members g JOIN chats c ON c.id = g.group_id JOIN contacts k ON k.id = g.member_id
             WHERE c.jid = ? ORDER BY g.role DESC, coalesce(k.saved_name, k.push_name, k.jid)",
        )
        .bind(group_jid)
        .fetch_all(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let role = MemberRole::parse(&r.role).unwrap_or(MemberRole::Member);
                (Contact::from(r.contact), role)
            })
            .collect())
    }

    /// Current reactions on a message (removed ones left out).
    pub async fn reactions(&self, key: &MessageKey) -> Result<Vec<Reaction>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT k.jid, r.emoji, r.ts FROM reactions r
             JOIN chats c ON c.id = r.chat_id JOIN contacts s ON s.id = r.msg_sender_id
             JOIN contacts k ON k.id = r.reactor_id
             WHERE c.jid = ? AND r.msg_id = ? AND s.jid = ? AND r.emoji != '' ORDER BY r.ts",
        )
        .bind(self.canonical_jid(&key.chat_jid).await?)
        .bind(&key.msg_id)
        .bind(self.canonical_jid(&key.sender_jid).await?)
        .fetch_all(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(reactor_jid, emoji, ts)| Reaction { reactor_jid, emoji, ts })
            .collect())
    }

    /// Votes of a poll: option -> voters.
    pub async fn poll_votes(&self, key: &MessageKey) -> Result<Vec<(String, Vec<String>)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT k.jid, v.options FROM poll_votes v
             JOIN chats c ON c.id = v.chat_id JOIN contacts s ON s.id = v.msg_sender_id
             JOIN contacts k ON k.id = v.voter_id
             WHERE c.jid = ? AND v.msg_id = ? AND s.jid = ? ORDER BY v.ts",
        )
        .bind(self.canonical_jid(&key.chat_jid).await?)
        .bind(&key.msg_id)
        .bind(self.canonical_jid(&key.sender_jid).await?)
        .fetch_all(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(voter, options)| (voter, serde_json::from_str(&options).unwrap_or_default()))
            .collect())
    }

    /// The media record of a message.
    pub async fn media(&self, key: &MessageKey) -> Result<Option<MediaRecord>> {
        let Some((id, _)) = self.message_row_id(key).await? else {
            return Ok(None);
        };
        let row: Option<MediaRow> = sqlx::query_as(
            "SELECT mime, file_name, direct_path, url, media_key, media_key_ts, file_sha256, file_enc_sha256,
                    file_length, width, height, duration_secs, local_path, downloaded_at, attempts, last_error
             FROM media WHERE message_id = ?",
        )
        .bind(id)
        .fetch_optional(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|r| MediaRecord {
            info: MediaInfo {
                mime: r.mime,
                file_name: r.file_name,
                direct_path: r.direct_path,
                url: r.url,
                media_key: r.media_key,
                media_key_ts: r.media_key_ts,
                file_sha256: r.file_sha256,
                file_enc_sha256: r.file_enc_sha256,
                file_length: r.file_length,
                width: r.width,
                height: r.height,
                duration_secs: r.duration_secs,
            },
            local_path: r.local_path,
            downloaded_at: r.downloaded_at,
            attempts: r.attempts,
            last_error: r.last_error,
        }))
    }

    /// Record the outcome of a media download attempt.
    pub async fn record_media_download(
        &self,
        key: &MessageKey,
        outcome: std::result::Result<&str, &str>,
        new_direct_path: Option<&str>,
    ) -> Result<()> {
        let Some((id, _)) = self.message_row_id(key).await? else {
            return Err(StoreError::NotFound {
                what: format!("The message {}", key.msg_id),
            });
        };
        let (path, error) = match outcome {
            Ok(path) => (Some(path), None),
            Err(error) => (None, Some(error)),
        };
        sqlx::query(
            "UPDATE media SET attempts = attempts + 1,
                local_path = coalesce(?, local_path),
                downloaded_at = CASE WHEN ? IS NOT NULL THEN ? ELSE downloaded_at END,
                last_error = ?, direct_path = coalesce(?, direct_path)
             WHERE message_id = ?",
        )
        .bind(path)
        .bind(path)
        .bind(crate::now_ms())
        .bind(error)
        .bind(new_direct_path)
        .bind(id)
        .execute(self.writer()?)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Totals over the whole archive.
    pub async fn statistics(&self) -> Result<Statistics> {
        let (messages, media_messages, deleted_messages, oldest_ts, newest_ts): (
            i64,
            i64,
            i64,
            Option<i64>,
            Option<i64>,
        ) = sqlx::query_as(
            "SELECT count(*),
                        count(*) FILTER (WHERE kind IN ('image', 'video', 'audio', 'voice', 'document', 'sticker')),
                        count(deleted_at), min(ts), max(ts)
                 FROM messages",
        )
        .fetch_one(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        let (chats, contacts, page_count, page_size): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM chats), (SELECT count(*) FROM contacts),
                    (SELECT page_count FROM pragma_page_count()),
                    -- SQLCipher answers this one as text.
                    CAST((SELECT page_size FROM pragma_page_size()) AS INTEGER)",
        )
        .fetch_one(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        Ok(Statistics {
            messages,
            chats,
            contacts,
            media_messages,
            deleted_messages,
            oldest_ts,
            newest_ts,
            database_bytes: page_count * page_size,
        })
    }

    /// Message counts per chat, busiest first.
    pub async fn chat_statistics(&self, limit: u32) -> Result<Vec<ChatStatistics>> {
        self.chat_statistics_in_scope(limit, &ChatScope::All).await
    }

    /// [`Store::chat_statistics`], only chats in `scope`.
    pub async fn chat_statistics_in_scope(&self, limit: u32, scope: &ChatScope) -> Result<Vec<ChatStatistics>> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT c.jid, c.name, count(m.id) AS messages, coalesce(sum(m.from_me), 0) AS from_me,
                    min(m.ts) AS oldest_ts, max(m.ts) AS newest_ts
             FROM chats c JOIN messages m ON m.chat_id = c.id WHERE 1 = 1",
        );
        scope.push_condition(&mut qb, "c.jid");
        qb.push(" GROUP BY c.id ORDER BY count(m.id) DESC LIMIT ")
            .push_bind(i64::from(page_size(limit)));
        qb.build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))
    }
}
