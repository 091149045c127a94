//! Read receipts: marking a chat read on WhatsApp and in the archive.
//!
//! The phone and the other person see the receipts; the chat's unread count is
//! cleared here at once. A "mark a community read" job calls this for each of
//! its chats (`jobs`).

use wa_store::{Item, Jid, JidKind};

use crate::clock::now_ms;
use crate::engine::Engine;
use crate::error::{EngineError, Result};

impl Engine {
    /// Mark a chat read: read receipts for its newest incoming messages (per
    /// sender in groups), and its unread count cleared. Returns the messages marked.
    pub async fn mark_read(&self, chat: &Jid) -> Result<u32> {
        let store = &self.inner.store;
        let summary = store.get_chat(chat).await?.ok_or_else(|| EngineError::NotFound {
            what: format!("The chat {chat}"),
        })?;
        let take = summary.unread_count.clamp(1, 100);
        let filter = wa_store::MessageFilter {
            chat_jid: Some(chat.clone()),
            from_me: Some(false),
            ..wa_store::MessageFilter::default()
        };
        let page = store
            .list_messages(&filter, wa_store::SortOrder::Newest, take, None)
            .await?;
        let group = chat.kind() == JidKind::Group;
        let mut by_sender: Vec<(Option<String>, Vec<String>)> = Vec::new();
        for m in &page.items {
            let sender = group.then(|| m.sender_jid.clone());
            match by_sender.iter_mut().find(|(s, _)| *s == sender) {
                Some((_, ids)) => ids.push(m.msg_id.clone()),
                None => by_sender.push((sender, vec![m.msg_id.clone()])),
            }
        }
        for (sender, ids) in &by_sender {
            self.inner.port.mark_read(chat, sender.as_deref(), ids).await?;
        }
        store
            .apply(&[Item::Chat(wa_store::ChatUpdate {
                jid: chat.to_string(),
                at: now_ms(),
                unread_count: Some(0),
                ..wa_store::ChatUpdate::default()
            })])
            .await?;
        Ok(u32::try_from(page.items.len()).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests;
