//! Full-text search.
//!
//! Why it is fast: message ids are time-ordered, so "newest matches first" is
//! FTS5 walking its posting lists backwards and stopping after one page, never
//! sorting every match of a frequent word. Chat, sender, from-me and has-media
//! filters are words of the `tags` column, so FTS5 intersects them with the
//! query words instead of checking rows one by one; time ranges are id ranges.
//! A chat scope of a few chats is their chat words OR-ed together; a wider one
//! is a check on each match's chat, still inside the query, so pages stay full.

use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Sqlite};

use crate::ingest::id_floor;
use crate::model::{Message, MessageFilter, Page, SearchHit, SortOrder};
use crate::query::{MessageRow, decode_cursor, encode_cursor, message_columns, message_joins, page_size, paginate};
use crate::scope::Narrowing;
use crate::segment::{fts_query, strip_separators};
use crate::{Result, Store};

/// A full-text search.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Words, "phrases", prefix*, OR, NOT / -word, parentheses.
    pub text: String,
    pub filter: MessageFilter,
    pub order: SortOrder,
    pub limit: u32,
    pub cursor: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SearchRow {
    #[sqlx(flatten)]
    message: MessageRow,
    snippet: String,
}

impl From<SearchRow> for SearchHit {
    fn from(r: SearchRow) -> Self {
        SearchHit {
            message: Message::from(r.message),
            snippet: strip_separators(&r.snippet),
        }
    }
}

enum Paging {
    /// Continue after the last id returned.
    Keyset,
    /// Continue at this offset (relevance order).
    Offset(i64),
}

const SEARCH_SELECT: &str = concat!(
    "SELECT ",
    message_columns!(),
    ", snippet(messages_fts, 0, '«', '»', '…', 24) AS snippet
     FROM messages_fts f CROSS JOIN messages m ON m.id = f.rowid",
    message_joins!(),
    " WHERE messages_fts MATCH "
);

impl Store {
    /// Search message text, newest first (or oldest, or best match first).
    pub async fn search(&self, query: &SearchQuery) -> Result<Page<SearchHit>> {
        let limit = page_size(query.limit);
        let Some((mut qb, paging)) = self.prepare_search(query, limit, "").await? else {
            return Ok(Page::default());
        };
        let rows: Vec<SearchRow> = qb
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        Ok(match paging {
            Paging::Keyset => paginate(rows, limit, |_, r| encode_cursor('m', r.message.id)),
            Paging::Offset(start) => paginate(rows, limit, |i, _| encode_cursor('o', start + i as i64 + 1)),
        })
    }

    /// SQLite's plan for a search, one line per step (for tests and diagnostics).
    pub async fn search_plan(&self, query: &SearchQuery) -> Result<Vec<String>> {
        let limit = page_size(query.limit);
        let Some((mut qb, _)) = self.prepare_search(query, limit, "EXPLAIN QUERY PLAN ").await? else {
            return Ok(Vec::new());
        };
        let rows: Vec<(i64, i64, i64, String)> = qb
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(|r| r.3).collect())
    }

    async fn prepare_search(
        &self,
        query: &SearchQuery,
        limit: u32,
        prefix: &str,
    ) -> Result<Option<(QueryBuilder<Sqlite>, Paging)>> {
        let Some((expression, each_row)) = self.match_expression(&query.text, &query.filter).await? else {
            return Ok(None);
        };
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(format!("{prefix}{SEARCH_SELECT}"));
        qb.push_bind(expression);
        let f = &query.filter;
        if each_row {
            f.scope.push_condition(&mut qb, "c.jid");
        }
        if let Some(after) = f.after {
            qb.push(" AND f.rowid >= ").push_bind(id_floor(after));
        }
        if let Some(before) = f.before {
            qb.push(" AND f.rowid < ").push_bind(id_floor(before));
        }
        if !f.include_deleted {
            qb.push(" AND m.deleted_at IS NULL");
        }
        let paging = match query.order {
            SortOrder::Newest | SortOrder::Oldest => {
                let newest = query.order == SortOrder::Newest;
                if let Some(id) = decode_cursor(query.cursor.as_deref(), 'm')? {
                    qb.push(if newest { " AND f.rowid < " } else { " AND f.rowid > " })
                        .push_bind(id);
                }
                qb.push(if newest {
                    " ORDER BY f.rowid DESC LIMIT "
                } else {
                    " ORDER BY f.rowid ASC LIMIT "
                })
                .push_bind(i64::from(limit) + 1);
                Paging::Keyset
            }
            SortOrder::Relevance => {
                let offset = decode_cursor(query.cursor.as_deref(), 'o')?.unwrap_or(0).max(0);
                qb.push(" ORDER BY f.rank, f.rowid DESC LIMIT ")
                    .push_bind(i64::from(limit) + 1)
                    .push(" OFFSET ")
                    .push_bind(offset);
                Paging::Offset(offset)
            }
        };
        Ok(Some((qb, paging)))
    }

    /// The FTS5 MATCH expression for a query and its filters, and whether the
    /// chat scope is left to a check on each row; `None` when nothing can match
    /// (a chat or sender the archive does not have, a chat outside the scope).
    async fn match_expression(&self, text: &str, filter: &MessageFilter) -> Result<Option<(String, bool)>> {
        let mut expression = format!("body : ({})", fts_query(text)?);
        let mut each_row = false;
        match self.filter_chats(filter).await? {
            Narrowing::Everything => {}
            Narrowing::EachRow => each_row = true,
            Narrowing::Chats(ids) => match ids[..] {
                [] => return Ok(None),
                [id] => expression = format!("({expression}) AND tags : \"c{id}\""),
                _ => {
                    let words: Vec<String> = ids.iter().map(|id| format!("\"c{id}\"")).collect();
                    expression = format!("({expression}) AND tags : ({})", words.join(" OR "));
                }
            },
        }
        if let Some(jid) = &filter.sender_jid {
            let Some(id) = self.lookup_contact_id(jid).await? else {
                return Ok(None);
            };
            expression = format!("({expression}) AND tags : \"s{id}\"");
        }
        for (wanted, tag) in [(filter.from_me, "fm"), (filter.has_media, "hm")] {
            match wanted {
                Some(true) => expression = format!("({expression}) AND tags : \"{tag}\""),
                Some(false) => expression = format!("({expression}) NOT tags : \"{tag}\""),
                None => {}
            }
        }
        Ok(Some((expression, each_row)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn snippets_use_the_published_highlight_marks() {
        let marks = format!("'{}', '{}'", crate::HIGHLIGHT_START, crate::HIGHLIGHT_END);
        assert!(super::SEARCH_SELECT.contains(&marks));
    }
}
