//! One person, two addresses: merging what arrived under a LID into the
//! person's phone-number rows once WhatsApp says which number it belongs to.
//!
//! After a mapping, every address a batch reads goes through it
//! ([`Batch::canonical`]), so later messages, receipts, reactions, edits and
//! revokes under the LID land on the phone number's contact and chat. What
//! was stored under the LID before is moved here, idempotently: a message
//! stored under both addresses is kept once (the phone number's copy), a
//! reaction or vote under both keeps the newer, the chat keeps the newer
//! metadata and both checkpoints' reach. Row ids of kept rows never change.

use std::collections::HashMap;

use sqlx::SqliteConnection;

use super::Batch;
use crate::jid::{Jid, JidKind};
use crate::{Result, Store};

/// `lid` is a LID and `pn` a phone number's address: a pair worth mapping.
pub(super) fn is_pair(lid: &str, pn: &str) -> bool {
    person(lid, JidKind::Lid).is_some() && person(pn, JidKind::Phone).is_some()
}

/// `jid` as a person's address without a device, if it is of `kind`.
fn person(jid: &str, kind: JidKind) -> Option<String> {
    Jid::parse(jid)
        .ok()
        .filter(|j| j.kind() == kind)
        .map(|j| j.person().into_string())
}

impl Store {
    /// Every known LID -> phone number, taken out of the shared cache for the
    /// batch (it goes back on commit) or read from the archive.
    pub(super) async fn known_lids(&self, tx: &mut SqliteConnection) -> Result<HashMap<String, String>> {
        if let Some(lids) = self.id_cache().lids.take() {
            return Ok(lids);
        }
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT lid, pn FROM lid_map")
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().collect())
    }

    /// The address a person's rows are kept under: the phone number of a LID
    /// whose number is known, else `jid` as given.
    pub async fn canonical_jid(&self, jid: &str) -> Result<String> {
        if !jid.ends_with("@lid") {
            return Ok(jid.to_owned());
        }
        let lid = person(jid, JidKind::Lid).unwrap_or_else(|| jid.to_owned());
        let pn: Option<String> = sqlx::query_scalar("SELECT pn FROM lid_map WHERE lid = ?")
            .bind(&lid)
            .fetch_optional(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        Ok(pn.unwrap_or(lid))
    }

    /// Mappings whose LID still has rows of its own (an archive from before
    /// version 6, or mappings an older version kept on contacts): merged once
    /// at open, so a split archive becomes one chat per person.
    pub(crate) async fn merge_split_people(&self) -> Result<u64> {
        let pending: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT lid, pn, at FROM lid_map
             WHERE EXISTS (SELECT 1 FROM contacts WHERE jid = lid_map.lid)
                OR EXISTS (SELECT 1 FROM chats WHERE jid = lid_map.lid)",
        )
        .fetch_all(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        if pending.is_empty() {
            return Ok(0);
        }
        let items: Vec<crate::Item> = pending
            .into_iter()
            .map(|(lid, pn, at)| crate::Item::LidMapping { lid, pn, at })
            .collect();
        self.apply(&items).await?;
        tracing::info!(
            people = items.len(),
            "merged chats split between a LID and a phone number"
        );
        Ok(items.len() as u64)
    }
}

impl Batch<'_> {
    /// Record that `lid` is `pn` (the newer of two claims wins) and merge
    /// what was stored under the LID.
    pub(super) async fn map_lid(&mut self, tx: &mut SqliteConnection, lid: &str, pn: &str, at: i64) -> Result<()> {
        let (Some(lid), Some(pn)) = (person(lid, JidKind::Lid), person(pn, JidKind::Phone)) else {
            // It comes from WhatsApp: one odd pair must not cost the batch its messages.
            tracing::warn!("ignored a LID mapping that is not a LID and a phone number");
            self.count_change(false);
            return Ok(());
        };
        let changed = sqlx::query(
            "INSERT INTO lid_map (lid, pn, at) VALUES (?, ?, ?)
             ON CONFLICT (lid) DO UPDATE SET pn = excluded.pn, at = excluded.at
             WHERE excluded.at > lid_map.at AND excluded.pn <> lid_map.pn",
        )
        .bind(&lid)
        .bind(&pn)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        let current: String = sqlx::query_scalar("SELECT pn FROM lid_map WHERE lid = ?")
            .bind(&lid)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        self.count_change(changed > 0);
        self.lids.insert(lid.clone(), current.clone());
        if current == pn {
            self.merge(tx, &lid, &pn).await?;
        }
        Ok(())
    }

    /// Move the LID's contact and direct chat into the phone number's.
    async fn merge(&mut self, tx: &mut SqliteConnection, lid: &str, pn: &str) -> Result<()> {
        let contact = self.merge_contact(tx, lid, pn).await?;
        let chat = self.merge_chat(tx, lid, pn).await?;
        // The person's contact knows its LID (made now if nothing came from
        // them yet, so the order things arrive in does not show).
        sqlx::query("INSERT INTO contacts (jid, lid) VALUES (?1, ?2) ON CONFLICT (jid) DO UPDATE SET lid = ?2")
            .bind(pn)
            .bind(lid)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        if contact || chat {
            // A kept message may now have edits or revokes that came for the
            // copy under the other address: fold them in again.
            let keys: Vec<(i64, String, i64)> = sqlx::query_as(
                "SELECT DISTINCT x.chat_id, x.msg_id, x.sender_id FROM message_changes x
                 WHERE x.chat_id IN (SELECT id FROM chats WHERE jid = ?1)
                    OR x.sender_id IN (SELECT id FROM contacts WHERE jid = ?1)",
            )
            .bind(pn)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            self.to_refresh.extend(keys);
            // Ids cached under the LID are stale now; nothing else is, but
            // merges are rare and a cleared cache only costs a few look-ups.
            self.merged = true;
            self.ids = super::LocalIds::default();
            let mut cache = self.store.id_cache();
            cache.chats.clear();
            cache.contacts.clear();
            cache.push_names.clear();
        }
        Ok(())
    }

    async fn exec(&self, tx: &mut SqliteConnection, sql: &str, from: i64, to: i64) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn row_id(&self, tx: &mut SqliteConnection, table: &str, jid: &str) -> Result<Option<i64>> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT id FROM {table} WHERE jid = ?")))
            .bind(jid)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.err(e))
    }

    /// The LID's contact becomes the phone number's. Returns whether a row moved.
    async fn merge_contact(&mut self, tx: &mut SqliteConnection, lid: &str, pn: &str) -> Result<bool> {
        let Some(from) = self.row_id(tx, "contacts", lid).await? else {
            return Ok(false);
        };
        let Some(to) = self.row_id(tx, "contacts", pn).await? else {
            // Only the LID is stored: it takes the number, every reference stays.
            sqlx::query("UPDATE contacts SET jid = ? WHERE id = ?")
                .bind(pn)
                .bind(from)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            return Ok(true);
        };
        // Names: the newer row's, the older's where the newer has none.
        self.exec(
            tx,
            "UPDATE contacts SET
                saved_name = CASE WHEN f.updated_at > contacts.updated_at
                    THEN coalesce(f.saved_name, contacts.saved_name) ELSE coalesce(contacts.saved_name, f.saved_name) END,
                push_name = CASE WHEN f.updated_at > contacts.updated_at
                    THEN coalesce(f.push_name, contacts.push_name) ELSE coalesce(contacts.push_name, f.push_name) END,
                business_name = CASE WHEN f.updated_at > contacts.updated_at
                    THEN coalesce(f.business_name, contacts.business_name)
                    ELSE coalesce(contacts.business_name, f.business_name) END,
                phone = coalesce(contacts.phone, f.phone),
                updated_at = max(contacts.updated_at, f.updated_at)
             FROM (SELECT * FROM contacts WHERE id = ?1) AS f
             WHERE contacts.id = ?2",
            from,
            to,
        )
        .await?;
        for sql in [
            // A message stored under both addresses is kept once.
            "DELETE FROM messages WHERE sender_id = ?1 AND EXISTS (SELECT 1 FROM messages o
                WHERE o.chat_id = messages.chat_id AND o.msg_id = messages.msg_id AND o.sender_id = ?2)",
            "UPDATE messages SET sender_id = ?2 WHERE sender_id = ?1",
            "UPDATE messages SET quoted_sender_id = ?2 WHERE quoted_sender_id = ?1",
            "UPDATE messages SET deleted_by_id = ?2 WHERE deleted_by_id = ?1",
            "UPDATE OR IGNORE message_changes SET sender_id = ?2 WHERE sender_id = ?1",
            "DELETE FROM message_changes WHERE sender_id = ?1 AND ?2 IS NOT NULL",
            "UPDATE message_changes SET by_id = ?2 WHERE by_id = ?1",
            "INSERT OR IGNORE INTO group_members (group_id, member_id, role)
                SELECT group_id, ?2, role FROM group_members WHERE member_id = ?1",
            "DELETE FROM group_members WHERE member_id = ?1 AND ?2 IS NOT NULL",
        ] {
            self.exec(tx, sql, from, to).await?;
        }
        for (table, person, value) in [
            ("reactions", "reactor_id", "emoji"),
            ("poll_votes", "voter_id", "options"),
        ] {
            self.exec(
                tx,
                &format!(
                    "INSERT INTO {table} (chat_id, msg_id, msg_sender_id, {person}, {value}, ts)
                     SELECT chat_id, msg_id,
                            CASE WHEN msg_sender_id = ?1 THEN ?2 ELSE msg_sender_id END,
                            CASE WHEN {person} = ?1 THEN ?2 ELSE {person} END, {value}, ts
                     FROM {table} WHERE msg_sender_id = ?1 OR {person} = ?1
                     ON CONFLICT DO UPDATE SET {value} = excluded.{value}, ts = excluded.ts
                     WHERE excluded.ts > {table}.ts OR (excluded.ts = {table}.ts AND excluded.{value} > {table}.{value})"
                ),
                from,
                to,
            )
            .await?;
            self.exec(
                tx,
                &format!("DELETE FROM {table} WHERE (msg_sender_id = ?1 OR {person} = ?1) AND ?2 IS NOT NULL"),
                from,
                to,
            )
            .await?;
        }
        self.exec(tx, "DELETE FROM contacts WHERE id = ?1 AND ?2 IS NOT NULL", from, to)
            .await?;
        Ok(true)
    }

    /// The LID's direct chat becomes the phone number's. Returns whether a row moved.
    async fn merge_chat(&mut self, tx: &mut SqliteConnection, lid: &str, pn: &str) -> Result<bool> {
        let Some(from) = self.row_id(tx, "chats", lid).await? else {
            return Ok(false);
        };
        // Jobs and the audit log name chats by address.
        for sql in [
            "UPDATE sync_jobs SET target = ?2 WHERE target = ?1",
            "UPDATE audit_log SET recipient = ?2 WHERE recipient = ?1",
        ] {
            sqlx::query(sql)
                .bind(lid)
                .bind(pn)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        let Some(to) = self.row_id(tx, "chats", pn).await? else {
            sqlx::query("UPDATE chats SET jid = ? WHERE id = ?")
                .bind(pn)
                .bind(from)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            return Ok(true);
        };
        for sql in [
            "DELETE FROM messages WHERE chat_id = ?1 AND EXISTS (SELECT 1 FROM messages o
                WHERE o.chat_id = ?2 AND o.msg_id = messages.msg_id AND o.sender_id = messages.sender_id)",
            "UPDATE messages SET chat_id = ?2 WHERE chat_id = ?1",
            "UPDATE OR IGNORE message_changes SET chat_id = ?2 WHERE chat_id = ?1",
            "DELETE FROM message_changes WHERE chat_id = ?1 AND ?2 IS NOT NULL",
        ] {
            self.exec(tx, sql, from, to).await?;
        }
        for (table, person, value) in [
            ("reactions", "reactor_id", "emoji"),
            ("poll_votes", "voter_id", "options"),
        ] {
            self.exec(
                tx,
                &format!(
                    "INSERT INTO {table} (chat_id, msg_id, msg_sender_id, {person}, {value}, ts)
                     SELECT ?2, msg_id, msg_sender_id, {person}, {value}, ts FROM {table} WHERE chat_id = ?1
                     ON CONFLICT DO UPDATE SET {value} = excluded.{value}, ts = excluded.ts
                     WHERE excluded.ts > {table}.ts OR (excluded.ts = {table}.ts AND excluded.{value} > {table}.{value})"
                ),
                from,
                to,
            )
            .await?;
            self.exec(
                tx,
                &format!("DELETE FROM {table} WHERE chat_id = ?1 AND ?2 IS NOT NULL"),
                from,
                to,
            )
            .await?;
        }
        for sql in [
            // History reaches as far back as the further of the two; counts add up.
            "INSERT INTO sync_checkpoints (chat_id, oldest_msg_id, oldest_from_me, oldest_ts, newest_ts, state,
                                           messages_synced, last_error, updated_at)
                SELECT ?2, oldest_msg_id, oldest_from_me, oldest_ts, newest_ts, state, messages_synced, last_error,
                       updated_at
                FROM sync_checkpoints WHERE chat_id = ?1
             ON CONFLICT (chat_id) DO UPDATE SET
                oldest_msg_id = CASE WHEN coalesce(excluded.oldest_ts, 1e18) < coalesce(oldest_ts, 1e18)
                    THEN excluded.oldest_msg_id ELSE oldest_msg_id END,
                oldest_from_me = CASE WHEN coalesce(excluded.oldest_ts, 1e18) < coalesce(oldest_ts, 1e18)
                    THEN excluded.oldest_from_me ELSE oldest_from_me END,
                state = CASE WHEN state = 'complete' OR excluded.state = 'complete' THEN 'complete'
                    ELSE state END,
                oldest_ts = min(coalesce(oldest_ts, excluded.oldest_ts), coalesce(excluded.oldest_ts, oldest_ts)),
                newest_ts = max(coalesce(newest_ts, excluded.newest_ts), coalesce(excluded.newest_ts, newest_ts)),
                messages_synced = messages_synced + excluded.messages_synced,
                updated_at = max(updated_at, excluded.updated_at)",
            "DELETE FROM sync_checkpoints WHERE chat_id = ?1 AND ?2 IS NOT NULL",
            // The chat's metadata: the newer row's, the older's where the newer has none.
            "UPDATE chats SET
                name = CASE WHEN f.updated_at > chats.updated_at
                    THEN coalesce(f.name, chats.name) ELSE coalesce(chats.name, f.name) END,
                archived = CASE WHEN f.updated_at > chats.updated_at THEN f.archived ELSE chats.archived END,
                pinned = CASE WHEN f.updated_at > chats.updated_at THEN f.pinned ELSE chats.pinned END,
                muted_until = CASE WHEN f.updated_at > chats.updated_at THEN f.muted_until ELSE chats.muted_until END,
                unread_count = CASE WHEN f.updated_at > chats.updated_at THEN f.unread_count ELSE chats.unread_count END,
                updated_at = max(chats.updated_at, f.updated_at),
                last_message_id = (SELECT max(id) FROM messages WHERE chat_id = ?2),
                last_message_ts = (SELECT ts FROM messages WHERE chat_id = ?2 ORDER BY id DESC LIMIT 1)
             FROM (SELECT * FROM chats WHERE id = ?1) AS f
             WHERE chats.id = ?2",
            "DELETE FROM chats WHERE id = ?1 AND ?2 IS NOT NULL",
        ] {
            self.exec(tx, sql, from, to).await?;
        }
        Ok(true)
    }
}
