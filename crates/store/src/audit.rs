//! The audit log: every assistant request that could act, and what became of it.

use serde::{Deserialize, Serialize};

use crate::model::{Page, string_enum};
use crate::query::{decode_cursor, encode_cursor, page_size, paginate};
use crate::{Result, Store, now_ms};

string_enum!(
    /// What happened to an assistant's request.
    Decision {
        Allowed => "allowed",
        Approved => "approved",
        Denied => "denied",
        Refused => "refused",
        Failed => "failed",
    }
);

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub client: String,
    pub tool: String,
    pub recipient: Option<String>,
    pub content_sha256: Option<String>,
    pub decision: Decision,
    pub detail: Option<String>,
}

impl Store {
    /// Add a line to the audit log.
    pub async fn audit(
        &self,
        client: &str,
        tool: &str,
        recipient: Option<&str>,
        content_sha256: Option<&str>,
        decision: Decision,
        detail: Option<&str>,
    ) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO audit_log (at, client, tool, recipient, content_sha256, decision, detail)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(now_ms())
        .bind(client)
        .bind(tool)
        .bind(recipient)
        .bind(content_sha256)
        .bind(decision.as_str())
        .bind(detail)
        .fetch_one(self.writer()?)
        .await
        .map_err(|e| self.err(e))
    }

    /// The audit log, newest first, optionally only lines mentioning `text`.
    pub async fn audit_log(&self, text: Option<&str>, limit: u32, cursor: Option<&str>) -> Result<Page<AuditEntry>> {
        type Row = (
            i64,
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
        );
        let limit = page_size(limit);
        let before = decode_cursor(cursor, 'a')?.unwrap_or(i64::MAX);
        let pattern = text.map(|t| format!("%{}%", t.replace('%', "")));
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, client, tool, recipient, content_sha256, decision, detail FROM audit_log
             WHERE id < ?1 AND (?2 IS NULL OR client LIKE ?2 OR tool LIKE ?2 OR recipient LIKE ?2 OR detail LIKE ?2)
             ORDER BY id DESC LIMIT ?3",
        )
        .bind(before)
        .bind(pattern)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.reader())
        .await
        .map_err(|e| self.err(e))?;
        let entries: Result<Vec<AuditEntry>> = rows
            .into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.0,
                    at: r.1,
                    client: r.2,
                    tool: r.3,
                    recipient: r.4,
                    content_sha256: r.5,
                    decision: Decision::from_stored(&r.6)?,
                    detail: r.7,
                })
            })
            .collect();
        Ok(paginate(entries?, limit, |_, e: &AuditEntry| encode_cursor('a', e.id)))
    }
}
