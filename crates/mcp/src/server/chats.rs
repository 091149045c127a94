//! Chats: the list, one chat, the direct chat with a number, the chats shared
//! with a contact.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wa_store::ChatFilter;

use super::{WhatsAppMcp, err, fitted};
use crate::format::{ChatOut, UNTRUSTED, to_jid};

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct ListChatsParams {
    /// Part of the chat's name or JID.
    pub query: Option<String>,
    /// Chats per page, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// Page number from 0 (lharries/whatsapp-mcp); prefer `cursor`.
    pub page: Option<u32>,
    pub cursor: Option<String>,
    /// Include the last message's start (default true).
    pub include_last_message: Option<bool>,
    pub unread_only: Option<bool>,
    /// true: archived only; false: not archived; absent: both.
    pub archived: Option<bool>,
    /// Only the groups of this community.
    pub community_jid: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ChatsPage {
    pub notice: &'static str,
    pub chats: Vec<ChatOut>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct ChatParams {
    pub chat_jid: String,
    /// Include the last message's start (default true).
    pub include_last_message: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct PhoneParams {
    /// A phone number with country code, or a JID.
    pub sender_phone_number: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct ContactChatsParams {
    /// The contact's JID or phone number.
    pub jid: String,
    /// At most this many chats (default 20).
    pub limit: Option<u32>,
}

#[tool_router(router = chats_router, vis = "pub(super)")]
impl WhatsAppMcp {
    #[tool(
        description = "List chats, most recently active first, with unread counts and the last message; filter by name, unread, archived or community. Pages with next_cursor.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_chats(&self, Parameters(p): Parameters<ListChatsParams>) -> Result<Json<ChatsPage>, String> {
        let policy = self.policy().await?;
        let limit = p.limit.unwrap_or(20).clamp(1, 100);
        let mut filter = ChatFilter {
            name: p.query.filter(|q| !q.trim().is_empty()),
            archived: p.archived,
            unread_only: p.unread_only.unwrap_or(false),
            parent_jid: p.community_jid.as_deref().map(to_jid).transpose()?,
            limit,
            cursor: p.cursor,
            // Chats outside the scope are left out by the query itself, so pages are full.
            scope: policy.scope(),
            ..ChatFilter::default()
        };
        for _ in 0..p.page.unwrap_or(0).min(50) {
            let skipped = self.store().list_chats(&filter).await.map_err(err)?;
            filter.cursor = skipped.next_cursor;
            if filter.cursor.is_none() {
                return Ok(Json(ChatsPage {
                    notice: UNTRUSTED,
                    chats: Vec::new(),
                    next_cursor: None,
                }));
            }
        }
        let page = self.store().list_chats(&filter).await.map_err(err)?;
        let now = wa_store::now_ms();
        let include_last = p.include_last_message.unwrap_or(true);
        let (chats, next_cursor) = fitted(page, |c| ChatOut::new(c, include_last, now));
        Ok(Json(ChatsPage {
            notice: UNTRUSTED,
            chats,
            next_cursor,
        }))
    }

    #[tool(
        description = "One chat by JID: name, kind, community, unread count, last message.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_chat(&self, Parameters(p): Parameters<ChatParams>) -> Result<Json<ChatOut>, String> {
        let policy = self.policy().await?;
        Self::check_chat(&policy, &p.chat_jid)?;
        let chat = self.store().get_chat(&p.chat_jid).await.map_err(err)?.ok_or_else(|| {
            format!(
                "No chat {} is stored. list_chats shows the chats there are.",
                p.chat_jid
            )
        })?;
        Ok(Json(ChatOut::new(
            &chat,
            p.include_last_message.unwrap_or(true),
            wa_store::now_ms(),
        )))
    }

    #[tool(
        description = "The one-to-one chat with a phone number or contact JID.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_direct_chat_by_contact(
        &self,
        Parameters(p): Parameters<PhoneParams>,
    ) -> Result<Json<ChatOut>, String> {
        let jid = to_jid(&p.sender_phone_number)?;
        let policy = self.policy().await?;
        Self::check_chat(&policy, &jid)?;
        let chat = self
            .store()
            .get_chat(&jid)
            .await
            .map_err(err)?
            .ok_or_else(|| format!("There is no stored chat with {}.", p.sender_phone_number))?;
        Ok(Json(ChatOut::new(&chat, true, wa_store::now_ms())))
    }

    #[tool(
        description = "The chats shared with a contact: the direct chat, groups they are in, and chats they wrote in; most recent first.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_contact_chats(
        &self,
        Parameters(p): Parameters<ContactChatsParams>,
    ) -> Result<Json<ChatsPage>, String> {
        let jid = to_jid(&p.jid)?;
        let policy = self.policy().await?;
        let chats = self
            .store()
            .contact_chats_in_scope(&jid, p.limit.unwrap_or(20).clamp(1, 100), &policy.scope())
            .await
            .map_err(err)?;
        let now = wa_store::now_ms();
        Ok(Json(ChatsPage {
            notice: UNTRUSTED,
            chats: chats.iter().map(|c| ChatOut::new(c, true, now)).collect(),
            next_cursor: None,
        }))
    }
}
