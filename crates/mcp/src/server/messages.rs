//! Reading messages: a chat's messages page by page, one message's
//! neighbours, the last message with someone, a poll's votes.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wa_store::{MessageFilter, SearchQuery, SortOrder};

use super::{WhatsAppMcp, err, fitted};
use crate::format::{ContactOut, MessageOut, UNTRUSTED, parse_time, to_jid};

#[derive(Debug, Serialize, JsonSchema)]
pub struct MessagesPage<T> {
    pub notice: &'static str,
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct ListMessagesParams {
    /// Only this chat.
    pub chat_jid: Option<String>,
    /// Only messages from this phone number or JID (lharries/whatsapp-mcp's name for it).
    pub sender_phone_number: Option<String>,
    /// Words to find (as search_messages).
    pub query: Option<String>,
    /// From this time (ISO 8601).
    pub after: Option<String>,
    /// Before this time (ISO 8601).
    pub before: Option<String>,
    /// Messages per page, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// Page number from 0 (lharries/whatsapp-mcp); prefer `cursor`.
    pub page: Option<u32>,
    pub cursor: Option<String>,
    /// Also list messages deleted for everyone (kept in the archive).
    pub include_deleted: Option<bool>,
    /// oldest or newest (default).
    pub sort: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct MessageRefParams {
    /// The message id (`id` in results).
    pub message_id: String,
    /// The chat it is in (strongly recommended: ids are unique per chat).
    pub chat_jid: Option<String>,
    /// Messages before it (default 5).
    pub before: Option<u32>,
    /// Messages after it (default 5).
    pub after: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct JidParams {
    /// A contact's or chat's JID (or phone number).
    pub jid: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PollOut {
    pub notice: &'static str,
    pub question: Option<String>,
    pub options: Vec<PollOption>,
    pub voters: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PollOption {
    pub option: String,
    pub votes: usize,
    /// Who chose it ("Name (+phone)").
    pub voters: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ContextOut {
    pub notice: &'static str,
    /// The message and its neighbours, oldest first.
    pub messages: Vec<MessageOut>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LastInteractionOut {
    pub notice: &'static str,
    pub message: Option<MessageOut>,
}

#[tool_router(router = messages_router, vis = "pub(super)")]
impl WhatsAppMcp {
    #[tool(
        description = "List stored messages, newest first, optionally in one chat, from one sender, in a time range or matching words (compatible with lharries/whatsapp-mcp's list_messages). Pages with next_cursor.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_messages(
        &self,
        Parameters(p): Parameters<ListMessagesParams>,
    ) -> Result<Json<MessagesPage<MessageOut>>, String> {
        let policy = self.policy().await?;
        let chat = p.chat_jid.as_deref().map(to_jid).transpose()?;
        if let Some(chat) = &chat {
            Self::check_chat(&policy, chat)?;
        }
        let filter = MessageFilter {
            chat_jid: chat,
            sender_jid: p.sender_phone_number.as_deref().map(to_jid).transpose()?,
            after: p.after.as_deref().map(parse_time).transpose()?,
            before: p.before.as_deref().map(parse_time).transpose()?,
            include_deleted: p.include_deleted.unwrap_or(false),
            // Chats outside the scope are left out by the query itself, so pages are full.
            scope: policy.scope(),
            ..MessageFilter::default()
        };
        let order = match p.sort.as_deref().unwrap_or("newest") {
            "oldest" => SortOrder::Oldest,
            "newest" => SortOrder::Newest,
            other => return Err(format!("sort must be newest or oldest, not \"{other}\".")),
        };
        let limit = p.limit.unwrap_or(20).clamp(1, 100);
        if let Some(words) = p.query.filter(|q| !q.trim().is_empty()) {
            let page = self
                .store()
                .search(&SearchQuery {
                    text: words,
                    filter,
                    order,
                    limit,
                    cursor: p.cursor,
                })
                .await
                .map_err(err)?;
            let (items, next_cursor) = fitted(page, |h| MessageOut::from(&h.message));
            return Ok(Json(MessagesPage {
                notice: UNTRUSTED,
                items,
                next_cursor,
            }));
        }
        // lharries' page numbers: walk the cursor (pages are small).
        let mut cursor = p.cursor;
        for _ in 0..p.page.unwrap_or(0).min(50) {
            let skipped = self
                .store()
                .list_messages(&filter, order, limit, cursor.as_deref())
                .await
                .map_err(err)?;
            cursor = skipped.next_cursor;
            if cursor.is_none() {
                return Ok(Json(MessagesPage {
                    notice: UNTRUSTED,
                    items: Vec::new(),
                    next_cursor: None,
                }));
            }
        }
        let page = self
            .store()
            .list_messages(&filter, order, limit, cursor.as_deref())
            .await
            .map_err(err)?;
        let (items, next_cursor) = fitted(page, |m| MessageOut::from(m));
        Ok(Json(MessagesPage {
            notice: UNTRUSTED,
            items,
            next_cursor,
        }))
    }

    #[tool(
        description = "A message with the messages around it in its chat, oldest first.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_message_context(
        &self,
        Parameters(p): Parameters<MessageRefParams>,
    ) -> Result<Json<ContextOut>, String> {
        let policy = self.policy().await?;
        let message = self.message(p.chat_jid.as_deref(), &p.message_id).await?;
        Self::check_chat(&policy, &message.chat_jid)?;
        let around = self
            .store()
            .message_context(
                &message.key(),
                p.before.unwrap_or(5).min(50),
                p.after.unwrap_or(5).min(50),
            )
            .await
            .map_err(err)?;
        Ok(Json(ContextOut {
            notice: UNTRUSTED,
            messages: around.iter().map(MessageOut::from).collect(),
        }))
    }

    #[tool(
        description = "The most recent message with a contact or in a chat.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_last_interaction(
        &self,
        Parameters(p): Parameters<JidParams>,
    ) -> Result<Json<LastInteractionOut>, String> {
        let jid = to_jid(&p.jid)?;
        let policy = self.policy().await?;
        Self::check_chat(&policy, &jid)?;
        let filter = MessageFilter {
            chat_jid: Some(jid),
            ..MessageFilter::default()
        };
        let page = self
            .store()
            .list_messages(&filter, SortOrder::Newest, 1, None)
            .await
            .map_err(err)?;
        Ok(Json(LastInteractionOut {
            notice: UNTRUSTED,
            message: page.items.first().map(MessageOut::from),
        }))
    }

    #[tool(
        description = "The options and votes of a poll message.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_poll_results(&self, Parameters(p): Parameters<MessageRefParams>) -> Result<Json<PollOut>, String> {
        let policy = self.policy().await?;
        let message = self.message(p.chat_jid.as_deref(), &p.message_id).await?;
        Self::check_chat(&policy, &message.chat_jid)?;
        if message.kind != wa_store::MessageKind::Poll {
            return Err(format!("The message {} is not a poll.", p.message_id));
        }
        let options: Vec<String> = message
            .extra
            .as_ref()
            .and_then(|e| e["options"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|o| o.as_str().map(str::to_owned))
            .collect();
        let votes = self.store().poll_votes(&message.key()).await.map_err(err)?;
        let mut out: Vec<PollOption> = options
            .iter()
            .map(|o| PollOption {
                option: o.clone(),
                votes: 0,
                voters: Vec::new(),
            })
            .collect();
        for (voter, chosen) in &votes {
            let name = match self.store().get_contact(voter).await.map_err(err)? {
                Some(c) => ContactOut::from(&c).display,
                None => voter.clone(),
            };
            for c in chosen {
                if let Some(o) = out.iter_mut().find(|o| &o.option == c) {
                    o.votes += 1;
                    o.voters.push(name.clone());
                }
            }
        }
        Ok(Json(PollOut {
            notice: UNTRUSTED,
            question: message.text.clone(),
            options: out,
            voters: votes.len(),
        }))
    }
}
