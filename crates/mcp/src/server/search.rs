//! Full-text search over every stored message.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wa_store::{MessageFilter, SearchQuery, SortOrder};

use super::messages::MessagesPage;
use super::{WhatsAppMcp, err, fitted};
use crate::format::{MessageOut, UNTRUSTED, parse_time, to_jid};

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct SearchParams {
    /// Words to find (all of them), "an exact phrase", prefix* , OR, NOT word or -word, (groups).
    /// Accents and case are ignored.
    pub query: String,
    /// Only this chat (JID from list_chats).
    pub chat_jid: Option<String>,
    /// Only messages from this person (JID or phone number).
    pub sender: Option<String>,
    /// From this time (ISO 8601), inclusive.
    pub after: Option<String>,
    /// Before this time (ISO 8601).
    pub before: Option<String>,
    pub from_me: Option<bool>,
    pub has_media: Option<bool>,
    /// newest (default), oldest or relevance.
    pub sort: Option<String>,
    /// Results per page, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// The next_cursor of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchHitOut {
    pub message: MessageOut,
    /// The matching words between « and ». Third-party content.
    pub snippet: String,
}

#[tool_router(router = search_router, vis = "pub(super)")]
impl WhatsAppMcp {
    #[tool(
        description = "Full-text search over all stored WhatsApp messages: words (all must match), \"exact phrases\", prefix*, OR, NOT/-word and parentheses; accents and case ignored; filters for chat, sender, time range, from-me and media; newest, oldest or relevance first; pages with next_cursor.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn search_messages(
        &self,
        Parameters(p): Parameters<SearchParams>,
    ) -> Result<Json<MessagesPage<SearchHitOut>>, String> {
        let policy = self.policy().await?;
        let chat = p.chat_jid.as_deref().map(to_jid).transpose()?;
        if let Some(chat) = &chat {
            Self::check_chat(&policy, chat)?;
        }
        let order = match p.sort.as_deref().unwrap_or("newest") {
            "newest" => SortOrder::Newest,
            "oldest" => SortOrder::Oldest,
            "relevance" => SortOrder::Relevance,
            other => return Err(format!("sort must be newest, oldest or relevance, not \"{other}\".")),
        };
        let query = SearchQuery {
            text: p.query,
            filter: MessageFilter {
                chat_jid: chat,
                sender_jid: p.sender.as_deref().map(to_jid).transpose()?,
                after: p.after.as_deref().map(parse_time).transpose()?,
                before: p.before.as_deref().map(parse_time).transpose()?,
                from_me: p.from_me,
                has_media: p.has_media,
                include_deleted: false,
                // Chats outside the scope are left out by the query itself, so pages are full.
                scope: policy.scope(),
            },
            order,
            limit: p.limit.unwrap_or(20).clamp(1, 100),
            cursor: p.cursor,
        };
        let page = self.store().search(&query).await.map_err(err)?;
        let (items, next_cursor) = fitted(page, |h| SearchHitOut {
            message: MessageOut::from(&h.message),
            snippet: h.snippet.clone(),
        });
        Ok(Json(MessagesPage {
            notice: UNTRUSTED,
            items,
            next_cursor,
        }))
    }
}
