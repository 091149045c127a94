//! Sync checkpoints (how far back each chat's history reaches) and sync jobs,
//! both stored so a restart resumes where it stopped.

use serde::{Deserialize, Serialize};

use crate::model::{MessageKey, string_enum};
use crate::{Result, Store, StoreError, now_ms};

string_enum!(
    /// State of fetching a chat's older history.
    CheckpointState {
        Idle => "idle",
        Requested => "requested",
        Complete => "complete",
        Failed => "failed",
    }
);

string_enum!(
    /// What a sync job fetches.
    JobKind {
        Full => "full",
        Chat => "chat",
        Community => "community",
        MarkRead => "mark_read",
    }
);

string_enum!(
    /// Where a sync job is.
    JobState {
        Queued => "queued",
        Running => "running",
        Paused => "paused",
        Done => "done",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

impl JobState {
    /// Done, failed or cancelled: nothing more will happen to the job.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

/// How far a chat's history reaches, and whether more is being fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub chat_jid: String,
    /// The oldest stored message, from which "fetch older" continues.
    pub oldest: Option<MessageKey>,
    pub oldest_from_me: Option<bool>,
    pub oldest_ts: Option<i64>,
    pub newest_ts: Option<i64>,
    pub state: CheckpointState,
    pub messages_synced: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// One chat's reach, as the Sync page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatReach {
    pub chat_jid: String,
    pub name: Option<String>,
    pub oldest_ts: Option<i64>,
    pub newest_ts: Option<i64>,
    pub state: CheckpointState,
    pub messages_synced: i64,
    pub last_error: Option<String>,
}

/// A sync job as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub id: i64,
    pub kind: JobKind,
    pub target: Option<String>,
    pub state: JobState,
    pub max_messages: Option<i64>,
    pub messages_done: i64,
    pub chats_done: i64,
    pub chats_total: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

type JobRow = (
    i64,
    String,
    Option<String>,
    String,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

fn job_from_row(r: JobRow) -> Result<SyncJob> {
    Ok(SyncJob {
        id: r.0,
        kind: JobKind::from_stored(&r.1)?,
        target: r.2,
        state: JobState::from_stored(&r.3)?,
        max_messages: r.4,
        messages_done: r.5,
        chats_done: r.6,
        chats_total: r.7,
        last_error: r.8,
        created_at: r.9,
        updated_at: r.10,
        finished_at: r.11,
    })
}

const JOB_COLUMNS: &str = "SELECT id, kind, target, state, max_messages, messages_done, chats_done, chats_total, \
     last_error, created_at, updated_at, finished_at FROM sync_jobs";

impl Store {
    /// Recompute a chat's checkpoint from the messages stored, keeping its state.
    pub async fn refresh_checkpoint(&self, chat_jid: &str) -> Result<Checkpoint> {
        let Some(chat_id) = self.lookup_chat_id(chat_jid).await? else {
            return Err(StoreError::NotFound {
                what: format!("The chat {chat_jid}"),
            });
        };
        sqlx::query(
            "INSERT INTO sync_checkpoints (chat_id, oldest_msg_id, oldest_from_me, oldest_ts, newest_ts,
                                           messages_synced, updated_at)
             SELECT ?1, o.msg_id, o.from_me, o.ts,
                    (SELECT ts FROM messages WHERE chat_id = ?1 ORDER BY id DESC LIMIT 1),
                    (SELECT count(*) FROM messages WHERE chat_id = ?1), ?2
             FROM (SELECT 1) LEFT JOIN (SELECT msg_id, from_me, ts FROM messages WHERE chat_id = ?1 ORDER BY id LIMIT 1) o
             WHERE true -- an upsert after INSERT ... SELECT needs a WHERE (SQLite parsing rule)
             ON CONFLICT (chat_id) DO UPDATE SET
                oldest_msg_id = excluded.oldest_msg_id, oldest_from_me = excluded.oldest_from_me,
                oldest_ts = excluded.oldest_ts, newest_ts = excluded.newest_ts,
                messages_synced = excluded.messages_synced, updated_at = excluded.updated_at",
        )
        .bind(chat_id)
        .bind(now_ms())
        .execute(self.writer()?)
        .await
        .map_err(|e| self.err(e))?;
        self.checkpoint(chat_jid).await?.ok_or_else(|| StoreError::NotFound {
            what: format!("The checkpoint of {chat_jid}"),
        })
    }

    /// Set a chat checkpoint's state (and error, when failed).
    pub async fn set_checkpoint_state(
        &self,
        chat_jid: &str,
        state: CheckpointState,
        error: Option<&str>,
    ) -> Result<()> {
        let Some(chat_id) = self.lookup_chat_id(chat_jid).await? else {
            return Err(StoreError::NotFound {
                what: format!("The chat {chat_jid}"),
            });
        };
        sqlx::query(
            "INSERT INTO sync_checkpoints (chat_id, state, last_error, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (chat_id) DO UPDATE SET state = excluded.state, last_error = excluded.last_error,
                updated_at = excluded.updated_at",
        )
        .bind(chat_id)
        .bind(state.as_str())
        .bind(error)
        .bind(now_ms())
        .execute(self.writer()?)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// How far back each chat's history reaches, most recently active chats
    /// first (the app's Sync page). Chats never synced on request have no
    /// checkpoint: their oldest stored message says it (ids are time-ordered,
    /// `ts << 12 | slot`, so the chat index finds it without a scan).
    pub async fn chat_reach(&self, limit: u32) -> Result<Vec<ChatReach>> {
        type Row = (
            String,
            Option<String>,
            Option<i64>,
            Option<i64>,
            String,
            i64,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT c.jid, c.name,
                    COALESCE(k.oldest_ts, (SELECT MIN(m.id) FROM messages m WHERE m.chat_id = c.id) >> 12),
                    COALESCE(k.newest_ts, c.last_message_ts),
                    COALESCE(k.state, 'idle'), COALESCE(k.messages_synced, 0), k.last_error
             FROM chats c LEFT JOIN sync_checkpoints k ON k.chat_id = c.id
             ORDER BY c.last_message_ts DESC, c.id LIMIT ?",
        )
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(ChatReach {
                    chat_jid: r.0,
                    name: r.1,
                    oldest_ts: r.2,
                    newest_ts: r.3,
                    state: CheckpointState::from_stored(&r.4)?,
                    messages_synced: r.5,
                    last_error: r.6,
                })
            })
            .collect()
    }

    /// A chat's checkpoint.
    pub async fn checkpoint(&self, chat_jid: &str) -> Result<Option<Checkpoint>> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<bool>,
            Option<i64>,
            Option<i64>,
            String,
            i64,
            Option<String>,
            i64,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT c.jid, k.oldest_msg_id, s.jid, k.oldest_from_me, k.oldest_ts, k.newest_ts, k.state,
                    k.messages_synced, k.last_error, k.updated_at
             FROM sync_checkpoints k JOIN chats c ON c.id = k.chat_id
             LEFT JOIN messages m ON m.chat_id = k.chat_id AND m.msg_id = k.oldest_msg_id
             LEFT JOIN contacts s ON s.id = m.sender_id
             WHERE c.jid = ?",
        )
        .bind(chat_jid)
        .fetch_optional(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        let Some(r) = row else { return Ok(None) };
        let oldest = match (r.1, r.2) {
            (Some(msg_id), Some(sender_jid)) => Some(MessageKey {
                chat_jid: r.0.clone(),
                msg_id,
                sender_jid,
            }),
            _ => None,
        };
        Ok(Some(Checkpoint {
            chat_jid: r.0,
            oldest,
            oldest_from_me: r.3,
            oldest_ts: r.4,
            newest_ts: r.5,
            state: CheckpointState::from_stored(&r.6)?,
            messages_synced: r.7,
            last_error: r.8,
            updated_at: r.9,
        }))
    }

    /// Create a sync job; it starts queued.
    pub async fn create_job(&self, kind: JobKind, target: Option<&str>, max_messages: Option<i64>) -> Result<SyncJob> {
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sync_jobs (kind, target, max_messages, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
             RETURNING id",
        )
        .bind(kind.as_str())
        .bind(target)
        .bind(max_messages)
        .bind(now)
        .bind(now)
        .fetch_one(self.writer()?)
        .await
        .map_err(|e| self.err(e))?;
        self.job(id).await?.ok_or_else(|| StoreError::NotFound {
            what: format!("Sync job {id}"),
        })
    }

    /// One job by id.
    pub async fn job(&self, id: i64) -> Result<Option<SyncJob>> {
        let sql = format!("{JOB_COLUMNS} WHERE id = ?");
        let row: Option<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        row.map(job_from_row).transpose()
    }

    /// Jobs that are not finished (queued, running, paused), oldest first: what a restart resumes.
    pub async fn open_jobs(&self) -> Result<Vec<SyncJob>> {
        let sql = format!("{JOB_COLUMNS} WHERE state IN ('queued', 'running', 'paused') ORDER BY id");
        let rows: Vec<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(job_from_row).collect()
    }

    /// Record a job's progress and state.
    pub async fn update_job(
        &self,
        id: i64,
        state: JobState,
        progress: (i64, i64, Option<i64>),
        error: Option<&str>,
    ) -> Result<()> {
        let (messages_done, chats_done, chats_total) = progress;
        let now = now_ms();
        let finished = matches!(state, JobState::Done | JobState::Failed | JobState::Cancelled);
        let changed = sqlx::query(
            "UPDATE sync_jobs SET state = ?, messages_done = ?, chats_done = ?,
                chats_total = coalesce(?, chats_total), last_error = ?, updated_at = ?,
                finished_at = CASE WHEN ? THEN coalesce(finished_at, ?) ELSE NULL END
             WHERE id = ?",
        )
        .bind(state.as_str())
        .bind(messages_done)
        .bind(chats_done)
        .bind(chats_total)
        .bind(error)
        .bind(now)
        .bind(finished)
        .bind(now)
        .bind(id)
        .execute(self.writer()?)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: format!("Sync job {id}"),
            });
        }
        Ok(())
    }
}
