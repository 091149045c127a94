//! Writing: batches of messages and of the changes that follow them.
//!
//! One batch is one transaction. Every item is an idempotent upsert keyed by
//! WhatsApp's own identity, and changes (edits, revokes, reactions, votes) are
//! kept even when they arrive before their message, so any order of delivery,
//! any number of times, ends in the same archive.
//!
//! Messages are written with multi-row `INSERT ... ON CONFLICT DO NOTHING
//! RETURNING id`: the common case (a new message) costs a share of one statement.

use std::collections::{HashMap, HashSet};

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

mod changes;
mod lid;

use crate::model::{BatchReport, ChatUpdate, ContactUpdate, Item, NewMessage};
use crate::segment::index_text;
use crate::{Result, Store, StoreError};

/// Rows per multi-row INSERT: 500 x 12 columns stays far below SQLite's 32766 variables.
const CHUNK: usize = 500;
/// Low bits of a message id that tell apart messages of the same millisecond.
pub(crate) const SLOT_BITS: u32 = 12;

/// The first id a message of time `ts` may take.
pub(crate) fn id_floor(ts: i64) -> i64 {
    ts.clamp(0, i64::MAX >> (SLOT_BITS + 1)) << SLOT_BITS
}

/// Preferred id of a message: its time, then a slot derived from its key so that
/// equal timestamps spread out instead of colliding in order of arrival.
fn preferred_id(m: &NewMessage) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [&m.chat_jid, &m.msg_id, &m.sender_jid] {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    id_floor(m.ts) | (hash & ((1 << SLOT_BITS) - 1)) as i64
}

impl Store {
    /// Apply one batch in one transaction and say what it did.
    ///
    /// When this returns `Ok`, every item is durably stored (the caller may now
    /// acknowledge it to WhatsApp). On `Err` nothing of the batch is stored.
    pub async fn apply(&self, items: &[Item]) -> Result<BatchReport> {
        if items.is_empty() {
            return Ok(BatchReport::default());
        }
        let writer = self.writer()?;
        let mut tx = match writer.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            // A batch that failed on a full disk could not be rolled back either,
            // which leaves the writer connection inside its transaction (SQLite
            // rolled it back when the statement failed). Replace the connection.
            Err(sqlx::Error::InvalidSavePointStatement) => {
                tracing::warn!("the writer connection was left mid-transaction; opening a new one");
                if let Ok(mut stuck) = writer.acquire().await {
                    stuck.close_on_drop();
                }
                writer.begin_with("BEGIN IMMEDIATE").await.map_err(|e| self.err(e))?
            }
            Err(e) => return Err(self.err(e)),
        };
        let lids = self.known_lids(&mut tx).await?;
        let mut batch = Batch {
            store: self,
            ids: LocalIds::default(),
            report: BatchReport::default(),
            to_refresh: HashSet::new(),
            lids,
            merged: false,
        };
        batch.run(&mut tx, items).await?;
        let Batch {
            ids,
            report,
            lids,
            merged,
            ..
        } = batch;
        tx.commit().await.map_err(|e| self.err(e))?;
        let mut cache = self.id_cache();
        if merged {
            // Rows were merged away (the batch cleared what it had cached, see
            // lid.rs); another batch may not have committed in between, but
            // clear again so nothing cached before the merge survives it.
            cache.chats.clear();
            cache.contacts.clear();
            cache.push_names.clear();
        }
        cache.lids = Some(lids);
        // Only committed ids may enter the shared cache.
        if !ids.is_empty() {
            cache.chats.extend(ids.chats);
            cache.contacts.extend(ids.contacts);
            cache.push_names.extend(ids.push_names);
        }
        Ok(report)
    }

    /// Store messages (a convenience over [`Store::apply`]).
    pub async fn upsert_messages(&self, messages: &[NewMessage]) -> Result<BatchReport> {
        let items: Vec<Item> = messages.iter().cloned().map(Item::Message).collect();
        self.apply(&items).await
    }
}

/// Ids and push names this batch learned; they join the shared cache on commit.
#[derive(Default)]
struct LocalIds {
    chats: HashMap<String, i64>,
    contacts: HashMap<String, i64>,
    push_names: HashMap<i64, String>,
}

impl LocalIds {
    fn is_empty(&self) -> bool {
        self.chats.is_empty() && self.contacts.is_empty() && self.push_names.is_empty()
    }
}

struct Batch<'s> {
    store: &'s Store,
    ids: LocalIds,
    report: BatchReport,
    /// Messages (chat id, message id, sender id) whose edits or revokes must be
    /// folded in before the batch ends.
    to_refresh: HashSet<(i64, String, i64)>,
    /// Every known LID -> phone-number JID, with this batch's mappings.
    lids: HashMap<String, String>,
    /// This batch merged a LID's rows into a phone number's.
    merged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Chats,
    Contacts,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Chats => "chats",
            Table::Contacts => "contacts",
        }
    }
}

/// A message ready to insert.
struct Row<'m> {
    id: i64,
    chat_id: i64,
    sender_id: i64,
    quoted_sender_id: Option<i64>,
    search_text: Option<String>,
    extra: Option<String>,
    message: &'m NewMessage,
}

impl Batch<'_> {
    fn err(&self, e: sqlx::Error) -> StoreError {
        self.store.err(e)
    }

    async fn run(&mut self, tx: &mut SqliteConnection, items: &[Item]) -> Result<()> {
        // Who is who first: every address below is read through the mappings.
        for item in items {
            match item {
                Item::LidMapping { lid, pn, at } => self.map_lid(tx, lid, pn, *at).await?,
                Item::Contact(ContactUpdate {
                    jid,
                    lid: Some(lid),
                    at,
                    ..
                }) if lid::is_pair(lid, jid) => self.map_lid(tx, lid, jid, *at).await?,
                _ => {}
            }
        }
        // Chat and contact metadata next, so messages see the chat's kind and names.
        for item in items {
            match item {
                Item::Chat(update) => self.update_chat(tx, update).await?,
                Item::Contact(update) => self.update_contact(tx, update).await?,
                Item::Members { group_jid, members } => {
                    self.set_members(tx, group_jid, members).await?;
                }
                _ => {}
            }
        }
        let mut messages: Vec<&NewMessage> = items
            .iter()
            .filter_map(|i| match i {
                Item::Message(m) => Some(m),
                _ => None,
            })
            .collect();
        // In id order: FTS5 flushes its pending terms whenever the rowid goes
        // backwards, and the table's B-tree is filled left to right.
        messages.sort_by_key(|m| preferred_id(m));
        let mut touched_chats = HashSet::new();
        for chunk in messages.chunks(CHUNK) {
            self.insert_messages(tx, chunk, &mut touched_chats).await?;
        }
        self.apply_changes(tx, items).await?;
        if !touched_chats.is_empty() {
            self.refresh_last_messages(tx, &touched_chats).await?;
        }
        Ok(())
    }

    /// Give every JID in `jids` a row id, with two statements for all the new ones.
    async fn resolve(&mut self, tx: &mut SqliteConnection, table: Table, jids: &[&str]) -> Result<()> {
        let missing: HashSet<&str> = jids
            .iter()
            .map(|j| self.canonical(j))
            .filter(|j| self.cached(table, j).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if table == Table::Chats && missing.contains("") {
            return Err(StoreError::InvalidInput("A chat JID is empty.".into()));
        }
        let list = serde_json::to_string(&missing).map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        let name = table.name();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {name} (jid) SELECT value FROM json_each(?) WHERE true ON CONFLICT (jid) DO NOTHING"
        )))
        .bind(&list)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let found: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, jid FROM {name} WHERE jid IN (SELECT value FROM json_each(?))"
        )))
        .bind(&list)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let local = match table {
            Table::Chats => &mut self.ids.chats,
            Table::Contacts => &mut self.ids.contacts,
        };
        local.extend(found.into_iter().map(|(id, jid)| (jid, id)));
        Ok(())
    }

    async fn chat_id(&mut self, tx: &mut SqliteConnection, jid: &str) -> Result<i64> {
        self.id_of(tx, Table::Chats, jid).await
    }

    async fn contact_id(&mut self, tx: &mut SqliteConnection, jid: &str) -> Result<i64> {
        self.id_of(tx, Table::Contacts, jid).await
    }

    async fn id_of(&mut self, tx: &mut SqliteConnection, table: Table, jid: &str) -> Result<i64> {
        if let Some(id) = self.cached(table, jid) {
            return Ok(id);
        }
        self.resolve(tx, table, &[jid]).await?;
        self.cached(table, jid).ok_or_else(|| StoreError::NotFound {
            what: format!("The row of {jid} in {}", table.name()),
        })
    }

    /// The address a person's rows are kept under: the phone number for a
    /// LID whose number is known, else `jid` itself.
    fn canonical<'j>(&'j self, jid: &'j str) -> &'j str {
        if jid.ends_with("@lid") {
            self.lids.get(jid).map_or(jid, String::as_str)
        } else {
            jid
        }
    }

    /// The row id of a JID this batch or an earlier committed one resolved.
    fn cached(&self, table: Table, jid: &str) -> Option<i64> {
        let jid = self.canonical(jid);
        let local = match table {
            Table::Chats => &self.ids.chats,
            Table::Contacts => &self.ids.contacts,
        };
        local.get(jid).copied().or_else(|| {
            let cache = self.store.id_cache();
            match table {
                Table::Chats => cache.chats.get(jid).copied(),
                Table::Contacts => cache.contacts.get(jid).copied(),
            }
        })
    }

    async fn insert_messages(
        &mut self,
        tx: &mut SqliteConnection,
        chunk: &[&NewMessage],
        touched_chats: &mut HashSet<i64>,
    ) -> Result<()> {
        let chats: Vec<&str> = chunk.iter().map(|m| m.chat_jid.as_str()).collect();
        let contacts: Vec<&str> = chunk
            .iter()
            .flat_map(|m| {
                std::iter::once(m.sender_jid.as_str()).chain(m.quoted.as_ref().map(|q| q.sender_jid.as_str()))
            })
            .collect();
        self.resolve(tx, Table::Chats, &chats).await?;
        self.resolve(tx, Table::Contacts, &contacts).await?;
        let mut rows = Vec::with_capacity(chunk.len());
        let mut push_names: HashMap<i64, &str> = HashMap::new();
        for &m in chunk {
            if m.msg_id.is_empty() {
                return Err(StoreError::InvalidInput("A message id is empty.".into()));
            }
            let chat_id = self.chat_id(tx, &m.chat_jid).await?;
            let sender_id = self.contact_id(tx, &m.sender_jid).await?;
            let quoted_sender_id = match &m.quoted {
                Some(q) => Some(self.contact_id(tx, &q.sender_jid).await?),
                None => None,
            };
            if let (Some(name), false) = (m.push_name.as_deref(), m.from_me) {
                push_names.insert(sender_id, name);
            }
            touched_chats.insert(chat_id);
            rows.push(Row {
                id: preferred_id(m),
                chat_id,
                sender_id,
                quoted_sender_id,
                search_text: m.text.as_deref().and_then(index_text),
                extra: m.extra.as_ref().map(serde_json::Value::to_string),
                message: m,
            });
        }

        // Fast path: all new (a fresh sync). No RETURNING, whose rows would each
        // cross from SQLite's thread to ours; a savepoint undoes a partial chunk.
        if self.insert_all_new(tx, &rows).await? {
            self.report.inserted += rows.len() as u64;
            insert_media(tx, &rows).await.map_err(|e| self.err(e))?;
            self.apply_pending_changes(tx, &rows).await?;
            return self.store_push_names(tx, push_names).await;
        }
        let mut inserted: HashSet<i64> = insert_rows(tx, &rows, true)
            .await
            .map_err(|e| self.err(e))?
            .into_iter()
            .collect();
        let mut stored = Vec::with_capacity(rows.len());
        for mut row in rows {
            // `remove`: a message twice in one batch is inserted once, then found present.
            if inserted.remove(&row.id) {
                stored.push(row);
                continue;
            }
            // Not inserted: either already stored, or another message took the id.
            let existing: Option<i64> =
                sqlx::query_scalar("SELECT id FROM messages WHERE chat_id = ? AND msg_id = ? AND sender_id = ?")
                    .bind(row.chat_id)
                    .bind(&row.message.msg_id)
                    .bind(row.sender_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
            if existing.is_some() {
                self.report.already_present += 1;
                continue;
            }
            loop {
                row.id += 1;
                let got = insert_rows(tx, std::slice::from_ref(&row), true)
                    .await
                    .map_err(|e| self.err(e))?;
                if !got.is_empty() {
                    break;
                }
            }
            stored.push(row);
        }
        self.report.inserted += stored.len() as u64;
        if stored.is_empty() {
            return Ok(());
        }

        insert_media(tx, &stored).await.map_err(|e| self.err(e))?;
        self.apply_pending_changes(tx, &stored).await?;
        self.store_push_names(tx, push_names).await
    }

    /// Insert every row of a chunk if none is already stored (or collides);
    /// otherwise leave the chunk untouched and return false.
    async fn insert_all_new(&mut self, tx: &mut SqliteConnection, rows: &[Row<'_>]) -> Result<bool> {
        sqlx::query("SAVEPOINT chunk")
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let done = insert_rows(tx, rows, false).await.map_err(|e| self.err(e))?;
        let all = done.first().copied().unwrap_or(0) == rows.len() as i64;
        let end = if all {
            "RELEASE chunk"
        } else {
            "ROLLBACK TO chunk; RELEASE chunk"
        };
        sqlx::raw_sql(end).execute(&mut *tx).await.map_err(|e| self.err(e))?;
        Ok(all)
    }

    /// Remember the names senders gave themselves, writing only what changed.
    async fn store_push_names(&mut self, tx: &mut SqliteConnection, push_names: HashMap<i64, &str>) -> Result<()> {
        for (sender_id, name) in push_names {
            if self.ids.push_names.get(&sender_id).map(String::as_str) == Some(name) {
                continue;
            }
            let known = {
                let cache = self.store.id_cache();
                cache.push_names.get(&sender_id).is_some_and(|n| n == name)
            };
            if known {
                continue;
            }
            self.ids.push_names.insert(sender_id, name.to_owned());
            sqlx::query("UPDATE contacts SET push_name = ? WHERE id = ? AND push_name IS NOT ?")
                .bind(name)
                .bind(sender_id)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Edits and revokes that arrived before their message.
    async fn apply_pending_changes(&mut self, tx: &mut SqliteConnection, stored: &[Row<'_>]) -> Result<()> {
        let ids: Vec<i64> = stored.iter().map(|r| r.id).collect();
        let pending = changes::pending_changes(tx, &ids).await.map_err(|e| self.err(e))?;
        self.to_refresh.extend(pending);
        Ok(())
    }

    async fn update_chat(&mut self, tx: &mut SqliteConnection, u: &ChatUpdate) -> Result<()> {
        let id = self.chat_id(tx, &u.jid).await?;
        let parent_id = match &u.parent_jid {
            Some(parent) => Some(self.chat_id(tx, parent).await?),
            None => None,
        };
        let applied = sqlx::query(
            "UPDATE chats SET
                kind = coalesce(?, kind), name = coalesce(?, name),
                description = coalesce(?, description), parent_id = coalesce(?, parent_id),
                archived = coalesce(?, archived), pinned = coalesce(?, pinned),
                muted_until = CASE WHEN ? THEN ? ELSE muted_until END,
                unread_count = coalesce(?, unread_count), updated_at = ?
             WHERE id = ? AND updated_at <= ?",
        )
        .bind(u.kind.map(crate::ChatKind::as_str))
        .bind(&u.name)
        .bind(&u.description)
        .bind(parent_id)
        .bind(u.archived)
        .bind(u.pinned)
        .bind(u.muted_until.is_some())
        .bind(u.muted_until.flatten())
        .bind(u.unread_count.map(i64::from))
        .bind(u.at)
        .bind(id)
        .bind(u.at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        self.count_change(applied > 0);
        Ok(())
    }

    async fn update_contact(&mut self, tx: &mut SqliteConnection, u: &ContactUpdate) -> Result<()> {
        let id = self.contact_id(tx, &u.jid).await?;
        if u.push_name.is_some() {
            // The stored push name may change: forget what the cache believes.
            self.ids.push_names.remove(&id);
            self.store.id_cache().push_names.remove(&id);
        }
        let applied = sqlx::query(
            "UPDATE contacts SET
                phone = coalesce(?, phone), saved_name = coalesce(?, saved_name),
                push_name = coalesce(?, push_name), business_name = coalesce(?, business_name),
                lid = coalesce(?, lid), updated_at = ?
             WHERE id = ? AND updated_at <= ?",
        )
        .bind(&u.phone)
        .bind(&u.saved_name)
        .bind(&u.push_name)
        .bind(&u.business_name)
        .bind(&u.lid)
        .bind(u.at)
        .bind(id)
        .bind(u.at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        self.count_change(applied > 0);
        Ok(())
    }

    async fn set_members(
        &mut self,
        tx: &mut SqliteConnection,
        group_jid: &str,
        members: &[(String, crate::MemberRole)],
    ) -> Result<()> {
        let group_id = self.chat_id(tx, group_jid).await?;
        let jids: Vec<&str> = members.iter().map(|(jid, _)| jid.as_str()).collect();
        self.resolve(tx, Table::Contacts, &jids).await?;
        sqlx::query("DELETE FROM group_members WHERE group_id = ?")
            .bind(group_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let mut rows = Vec::with_capacity(members.len());
        for (jid, role) in members {
            rows.push((self.contact_id(tx, jid).await?, role.as_str()));
        }
        for chunk in rows.chunks(CHUNK) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("INSERT INTO group_members (group_id, member_id, role) ");
            qb.push_values(chunk, |mut b, (member_id, role)| {
                b.push_bind(group_id).push_bind(*member_id).push_bind(*role);
            });
            qb.push(" ON CONFLICT DO UPDATE SET role = excluded.role");
            qb.build().execute(&mut *tx).await.map_err(|e| self.err(e))?;
        }
        self.count_change(true);
        Ok(())
    }

    fn count_change(&mut self, applied: bool) {
        if applied {
            self.report.changes_applied += 1;
        } else {
            self.report.changes_ignored += 1;
        }
    }

    async fn refresh_last_messages(&mut self, tx: &mut SqliteConnection, chats: &HashSet<i64>) -> Result<()> {
        let ids: Vec<i64> = chats.iter().copied().collect();
        let ids_json = serde_json::to_string(&ids).map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        sqlx::query(
            "UPDATE chats SET
                last_message_id = (SELECT max(id) FROM messages WHERE chat_id = chats.id),
                last_message_ts = (SELECT ts FROM messages WHERE chat_id = chats.id ORDER BY id DESC LIMIT 1)
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(ids_json)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// Insert rows, skipping any whose key or id is taken. With `returning`, returns
/// the ids inserted; without, returns one number: how many rows were inserted.
async fn insert_rows(tx: &mut SqliteConnection, rows: &[Row<'_>], returning: bool) -> Result<Vec<i64>, sqlx::Error> {
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO messages (id, chat_id, msg_id, sender_id, from_me, ts, kind, text, search_text, \
         quoted_msg_id, quoted_sender_id, extra) ",
    );
    qb.push_values(rows, |mut b, r| {
        let m = r.message;
        b.push_bind(r.id)
            .push_bind(r.chat_id)
            .push_bind(m.msg_id.clone())
            .push_bind(r.sender_id)
            .push_bind(m.from_me)
            .push_bind(m.ts)
            .push_bind(m.kind.as_str())
            .push_bind(m.text.clone())
            .push_bind(r.search_text.clone())
            .push_bind(m.quoted.as_ref().map(|q| q.msg_id.clone()))
            .push_bind(r.quoted_sender_id)
            .push_bind(r.extra.clone());
    });
    if returning {
        qb.push(" ON CONFLICT DO NOTHING RETURNING id");
        qb.build_query_scalar().fetch_all(&mut *tx).await
    } else {
        qb.push(" ON CONFLICT DO NOTHING");
        let done = qb.build().execute(&mut *tx).await?;
        Ok(vec![done.rows_affected() as i64])
    }
}

async fn insert_media(tx: &mut SqliteConnection, rows: &[Row<'_>]) -> Result<(), sqlx::Error> {
    let with_media: Vec<_> = rows
        .iter()
        .filter_map(|r| r.message.media.as_ref().map(|m| (r.id, m)))
        .collect();
    if with_media.is_empty() {
        return Ok(());
    }
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO media (message_id, mime, file_name, direct_path, url, media_key, media_key_ts, \
         file_sha256, file_enc_sha256, file_length, width, height, duration_secs) ",
    );
    qb.push_values(with_media, |mut b, (id, m)| {
        b.push_bind(id)
            .push_bind(m.mime.clone())
            .push_bind(m.file_name.clone())
            .push_bind(m.direct_path.clone())
            .push_bind(m.url.clone())
            .push_bind(m.media_key.clone())
            .push_bind(m.media_key_ts)
            .push_bind(m.file_sha256.clone())
            .push_bind(m.file_enc_sha256.clone())
            .push_bind(m.file_length)
            .push_bind(m.width)
            .push_bind(m.height)
            .push_bind(m.duration_secs);
    });
    qb.push(" ON CONFLICT DO NOTHING");
    qb.build().execute(&mut *tx).await?;
    Ok(())
}
