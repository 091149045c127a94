//! What follows a message: edits, revokes, reactions, poll votes and receipts.
//!
//! Every kind is applied set-based, a few statements per batch whatever its size:
//! with SQLite on its own thread, each statement is a round trip between threads
//! (tens of microseconds here), so one statement per change would cost more than
//! inserting the messages.

use std::collections::HashSet;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::Batch;
use crate::model::{Item, MessageKey};
use crate::segment::index_text;
use crate::{Result, StoreError};

/// Rows per multi-row statement: at most 9 columns x 1,000 stays below SQLite's 32,766 variables.
const CHUNK: usize = 1_000;

/// A message key with its chat and sender resolved to row ids.
type Key = (i64, String, i64);

struct ChangeRow {
    key: Key,
    change_id: String,
    kind: &'static str,
    at: i64,
    text: Option<String>,
    search_text: Option<String>,
    by_id: Option<i64>,
}

struct VoteRow {
    key: Key,
    voter_id: i64,
    value: String,
    at: i64,
}

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::InvalidInput(e.to_string()))
}

impl Batch<'_> {
    async fn key(&mut self, tx: &mut SqliteConnection, target: &MessageKey) -> Result<Key> {
        let chat_id = self.chat_id(tx, &target.chat_jid).await?;
        let sender_id = self.contact_id(tx, &target.sender_jid).await?;
        Ok((chat_id, target.msg_id.clone(), sender_id))
    }

    /// The key of an archived chat and sender, without creating either: a
    /// receipt for a message we never had must not add an empty chat (one
    /// showed up for our own LID, from receipts of messages to our phone).
    async fn existing_key(&mut self, tx: &mut SqliteConnection, target: &MessageKey) -> Result<Option<Key>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT c.id, k.id FROM chats c, contacts k WHERE c.jid = ?1 AND k.jid = ?2")
                .bind(self.canonical(&target.chat_jid))
                .bind(self.canonical(&target.sender_jid))
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        Ok(row.map(|(chat_id, sender_id)| (chat_id, target.msg_id.clone(), sender_id)))
    }

    /// Apply every change item of the batch (messages are already stored).
    pub(super) async fn apply_changes(&mut self, tx: &mut SqliteConnection, items: &[Item]) -> Result<()> {
        let mut changes = Vec::new();
        let mut reactions = Vec::new();
        let mut votes = Vec::new();
        let mut receipts: Vec<(i64, String, i64, i64)> = Vec::new();
        for item in items {
            match item {
                Item::Edit {
                    target,
                    change_id,
                    at,
                    text,
                } => changes.push(ChangeRow {
                    key: self.key(tx, target).await?,
                    change_id: change_id.clone(),
                    kind: "edit",
                    at: *at,
                    search_text: index_text(text),
                    text: Some(text.clone()),
                    by_id: None,
                }),
                Item::Revoke {
                    target,
                    change_id,
                    at,
                    by_jid,
                } => changes.push(ChangeRow {
                    key: self.key(tx, target).await?,
                    change_id: change_id.clone(),
                    kind: "revoke",
                    at: *at,
                    text: None,
                    search_text: None,
                    by_id: Some(self.contact_id(tx, by_jid).await?),
                }),
                Item::Reaction {
                    target,
                    reactor_jid,
                    emoji,
                    at,
                } => reactions.push(VoteRow {
                    key: self.key(tx, target).await?,
                    voter_id: self.contact_id(tx, reactor_jid).await?,
                    value: emoji.clone(),
                    at: *at,
                }),
                Item::PollVote {
                    target,
                    voter_jid,
                    options,
                    at,
                } => votes.push(VoteRow {
                    key: self.key(tx, target).await?,
                    voter_id: self.contact_id(tx, voter_jid).await?,
                    value: json(options)?,
                    at: *at,
                }),
                Item::Receipt { target, status } => {
                    if let Some((chat_id, msg_id, sender_id)) = self.existing_key(tx, target).await? {
                        receipts.push((chat_id, msg_id, sender_id, *status as i64));
                    }
                }
                Item::Message(_)
                | Item::Chat(_)
                | Item::Contact(_)
                | Item::Members { .. }
                | Item::LidMapping { .. } => {}
            }
        }
        for chunk in changes.chunks(CHUNK) {
            self.record_changes(tx, chunk).await?;
        }
        for chunk in reactions.chunks(CHUNK) {
            self.upsert_latest(tx, "reactions", "reactor_id", "emoji", chunk)
                .await?;
        }
        for chunk in votes.chunks(CHUNK) {
            self.upsert_latest(tx, "poll_votes", "voter_id", "options", chunk)
                .await?;
        }
        if !receipts.is_empty() {
            self.apply_receipts(tx, &receipts).await?;
        }
        self.refresh_changed_messages(tx).await
    }

    /// Keep edits and revokes (each once); remember the messages they touch.
    async fn record_changes(&mut self, tx: &mut SqliteConnection, rows: &[ChangeRow]) -> Result<()> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO message_changes (chat_id, msg_id, sender_id, change_id, kind, at, text, search_text, by_id) ",
        );
        qb.push_values(rows, |mut b, r| {
            b.push_bind(r.key.0)
                .push_bind(r.key.1.clone())
                .push_bind(r.key.2)
                .push_bind(r.change_id.clone())
                .push_bind(r.kind)
                .push_bind(r.at)
                .push_bind(r.text.clone())
                .push_bind(r.search_text.clone())
                .push_bind(r.by_id);
        });
        qb.push(" ON CONFLICT DO NOTHING RETURNING chat_id, msg_id, sender_id");
        let new: Vec<Key> = qb.build_query_as().fetch_all(&mut *tx).await.map_err(|e| self.err(e))?;
        self.count(new.len(), rows.len());
        self.to_refresh.extend(new);
        Ok(())
    }

    /// Reactions and poll votes: one row per message and person, the newest wins
    /// (ties broken by value, so any order of arrival gives the same row).
    async fn upsert_latest(
        &mut self,
        tx: &mut SqliteConnection,
        table: &str,
        person: &str,
        value: &str,
        rows: &[VoteRow],
    ) -> Result<()> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "INSERT INTO {table} (chat_id, msg_id, msg_sender_id, {person}, {value}, ts) "
        ));
        qb.push_values(rows, |mut b, r| {
            b.push_bind(r.key.0)
                .push_bind(r.key.1.clone())
                .push_bind(r.key.2)
                .push_bind(r.voter_id)
                .push_bind(r.value.clone())
                .push_bind(r.at);
        });
        qb.push(format!(
            " ON CONFLICT DO UPDATE SET {value} = excluded.{value}, ts = excluded.ts
              WHERE excluded.ts > {table}.ts OR (excluded.ts = {table}.ts AND excluded.{value} > {table}.{value})"
        ));
        let changed = qb
            .build()
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        self.count(changed as usize, rows.len());
        Ok(())
    }

    /// Raise message statuses; a receipt never lowers one. A receipt for a
    /// message not stored yet is dropped (the next receipt or sync brings it).
    async fn apply_receipts(&mut self, tx: &mut SqliteConnection, receipts: &[(i64, String, i64, i64)]) -> Result<()> {
        let changed = sqlx::query(
            "UPDATE messages SET status = r.status
             FROM (SELECT value ->> 0 AS chat_id, value ->> 1 AS msg_id, value ->> 2 AS sender_id,
                          max(value ->> 3) AS status
                   FROM json_each(?) GROUP BY 1, 2, 3) AS r
             WHERE messages.chat_id = r.chat_id AND messages.msg_id = r.msg_id
               AND messages.sender_id = r.sender_id AND messages.status < r.status",
        )
        .bind(json(&receipts)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        self.count(changed as usize, receipts.len());
        Ok(())
    }

    /// Fold recorded edits and revokes into their messages in one statement: the
    /// newest edit gives the text (the first text is kept as `original_text`), the
    /// first revoke gives `deleted_at`. Messages not stored yet are left for later:
    /// their insert finds the changes waiting (`pending_changes`).
    async fn refresh_changed_messages(&mut self, tx: &mut SqliteConnection) -> Result<()> {
        if self.to_refresh.is_empty() {
            return Ok(());
        }
        let keys: Vec<Key> = std::mem::take(&mut self.to_refresh).into_iter().collect();
        sqlx::query(
            "WITH keys AS (
                 SELECT value ->> 0 AS chat_id, value ->> 1 AS msg_id, value ->> 2 AS sender_id FROM json_each(?)
             ),
             edits AS (
                 SELECT c.chat_id, c.msg_id, c.sender_id, c.at, c.text, c.search_text,
                        row_number() OVER (PARTITION BY c.chat_id, c.msg_id, c.sender_id
                                           ORDER BY c.at DESC, c.change_id DESC) AS n
                 FROM message_changes c JOIN keys k USING (chat_id, msg_id, sender_id) WHERE c.kind = 'edit'
             ),
             revokes AS (
                 SELECT c.chat_id, c.msg_id, c.sender_id, c.at, c.by_id,
                        row_number() OVER (PARTITION BY c.chat_id, c.msg_id, c.sender_id
                                           ORDER BY c.at ASC, c.change_id ASC) AS n
                 FROM message_changes c JOIN keys k USING (chat_id, msg_id, sender_id) WHERE c.kind = 'revoke'
             ),
             latest AS (
                 SELECT k.chat_id, k.msg_id, k.sender_id, e.at AS edit_at, e.text AS edit_text,
                        e.search_text AS edit_search, r.at AS revoke_at, r.by_id AS revoke_by
                 FROM keys k
                 LEFT JOIN edits e ON e.chat_id = k.chat_id AND e.msg_id = k.msg_id AND e.sender_id = k.sender_id
                                  AND e.n = 1
                 LEFT JOIN revokes r ON r.chat_id = k.chat_id AND r.msg_id = k.msg_id AND r.sender_id = k.sender_id
                                    AND r.n = 1
             )
             UPDATE messages SET
                 original_text = CASE WHEN x.edit_at IS NOT NULL AND messages.edited_at IS NOT x.edit_at
                                      THEN coalesce(messages.original_text, messages.text)
                                      ELSE messages.original_text END,
                 text = CASE WHEN x.edit_at IS NOT NULL THEN x.edit_text ELSE messages.text END,
                 search_text = CASE WHEN x.edit_at IS NOT NULL THEN x.edit_search ELSE messages.search_text END,
                 edited_at = coalesce(x.edit_at, messages.edited_at),
                 deleted_at = coalesce(x.revoke_at, messages.deleted_at),
                 deleted_by_id = CASE WHEN x.revoke_at IS NOT NULL THEN x.revoke_by ELSE messages.deleted_by_id END
             FROM latest x
             WHERE messages.chat_id = x.chat_id AND messages.msg_id = x.msg_id AND messages.sender_id = x.sender_id
               -- An edit at the same time as the stored one can still win on its change id.
               AND ((x.edit_at IS NOT NULL AND (messages.edited_at IS NOT x.edit_at
                                                OR messages.text IS NOT x.edit_text))
                    OR (x.revoke_at IS NOT NULL AND messages.deleted_at IS NOT x.revoke_at))",
        )
        .bind(json(&keys)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn count(&mut self, applied: usize, total: usize) {
        self.report.changes_applied += applied as u64;
        self.report.changes_ignored += total.saturating_sub(applied) as u64;
    }
}

/// Keys of `new_ids` messages that have edits or revokes waiting for them.
pub(super) async fn pending_changes(tx: &mut SqliteConnection, new_ids: &[i64]) -> Result<HashSet<Key>, sqlx::Error> {
    let ids = serde_json::to_string(new_ids).unwrap_or_else(|_| "[]".into());
    let rows: Vec<Key> = sqlx::query_as(
        "SELECT DISTINCT m.chat_id, m.msg_id, m.sender_id FROM messages m
         JOIN message_changes c ON c.chat_id = m.chat_id AND c.msg_id = m.msg_id AND c.sender_id = m.sender_id
         WHERE m.id IN (SELECT value FROM json_each(?))",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().collect())
}
