//! The chats assistants may see (the `mcp.chats` setting), applied inside the
//! SQL of every listing, so a page is never cut short by filtering after `LIMIT`.
//!
//! A chat's kind here is the one its JID implies ([`ChatKind::from_jid`]), not
//! the stored `chats.kind`: a chat first seen through a message is stored as
//! direct until its metadata arrives, and the single-chat check
//! ([`ChatScope::allows`]) has only the JID. Lists and checks therefore agree.

use sqlx::{QueryBuilder, Sqlite};

use crate::model::{ChatKind, ChatScope, JID_ENDINGS, MessageFilter};
use crate::{Result, Store};

use crate::model::GROUP_KINDS;

impl ChatScope {
    /// Append ` AND (<in scope>)` over the chat JID column `jid_column` (a
    /// column name of ours, never input); nothing for [`ChatScope::All`].
    pub(crate) fn push_condition(&self, qb: &mut QueryBuilder<Sqlite>, jid_column: &str) {
        let Self::Rules { groups, direct, jids } = self else {
            return;
        };
        qb.push(" AND (0");
        let kind = kind_sql(jid_column);
        if *groups {
            let kinds: Vec<String> = GROUP_KINDS.iter().map(|k| format!("'{k}'")).collect();
            qb.push(format!(" OR {kind} IN ({})", kinds.join(", ")));
        }
        if *direct {
            qb.push(format!(" OR {kind} = '{}'", ChatKind::Direct));
        }
        if !jids.is_empty() {
            qb.push(format!(" OR {jid_column} IN (SELECT value FROM json_each("))
                .push_bind(serde_json::Value::from(jids.clone()).to_string())
                .push("))");
        }
        qb.push(")");
    }
}

/// [`ChatKind::from_jid`] in SQL, over a JID column. GLOB, like `ends_with`,
/// is case-sensitive, and no ending holds a GLOB wildcard (a unit test checks).
fn kind_sql(jid_column: &str) -> String {
    let cases: Vec<String> = JID_ENDINGS
        .iter()
        .map(|(ending, kind)| format!("WHEN {jid_column} GLOB '*{ending}' THEN '{kind}'"))
        .collect();
    format!("CASE {} ELSE '{}' END", cases.join(" "), ChatKind::Direct)
}

/// How a scope narrows a query over messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Narrowing {
    /// Every chat: no condition.
    Everything,
    /// Exactly these chats (row ids), at most [`FEW_CHATS`] of them; none means nothing matches.
    Chats(Vec<i64>),
    /// Too many chats to list: a condition on each row's chat.
    EachRow,
}

/// Most chats a scope lists by id; beyond that each row's chat is checked.
pub(crate) const FEW_CHATS: usize = 64;

impl Store {
    /// The chats a message filter reads: its chat, when the scope allows it, or
    /// those of its scope.
    pub(crate) async fn filter_chats(&self, filter: &MessageFilter) -> Result<Narrowing> {
        if let Some(jid) = &filter.chat_jid {
            let id = self.lookup_chat_id(jid).await?.filter(|_| filter.scope.allows(jid));
            return Ok(Narrowing::Chats(id.into_iter().collect()));
        }
        self.narrowing(&filter.scope).await
    }

    /// How `scope` narrows a query: all chats, a few named by id, or a check per row.
    async fn narrowing(&self, scope: &ChatScope) -> Result<Narrowing> {
        if scope.is_all() {
            return Ok(Narrowing::Everything);
        }
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT c.id FROM chats c WHERE 1 = 1");
        scope.push_condition(&mut qb, "c.jid");
        qb.push(" ORDER BY c.id LIMIT ").push_bind(FEW_CHATS as i64 + 1);
        let ids: Vec<i64> = qb
            .build_query_scalar()
            .fetch_all(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        Ok(if ids.len() > FEW_CHATS {
            Narrowing::EachRow
        } else {
            Narrowing::Chats(ids)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jid_endings_hold_no_glob_wildcards() {
        for (ending, _) in JID_ENDINGS {
            assert!(!ending.contains(['*', '?', '[', ']', '\'']), "{ending}");
        }
    }

    #[test]
    fn rules_match_like_the_setting_says() {
        let rules = |r: &[&str]| ChatScope::from_rules(r);
        assert_eq!(rules(&["groups", "*"]), ChatScope::All);
        let groups = rules(&["groups"]);
        assert!(groups.allows("1@g.us") && !groups.allows("2@s.whatsapp.net") && !groups.allows("3@newsletter"));
        let direct = rules(&["direct"]);
        assert!(direct.allows("2@s.whatsapp.net") && direct.allows("9@lid") && !direct.allows("1@g.us"));
        assert!(!direct.allows("status@broadcast"));
        let one = rules(&["direct", "9@g.us"]);
        assert!(one.allows("2@s.whatsapp.net") && one.allows("9@g.us") && !one.allows("1@g.us"));
        let none = rules(&[]);
        assert!(!none.allows("1@g.us") && !none.allows("2@s.whatsapp.net") && !none.allows(""));
        assert_eq!(
            rules(&["b@g.us", "a@g.us", "b@g.us"]),
            ChatScope::Rules {
                groups: false,
                direct: false,
                jids: vec!["a@g.us".into(), "b@g.us".into()]
            }
        );
    }
}
