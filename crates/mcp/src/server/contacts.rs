//! Contacts: finding them, resolving a number or JID, a group's members.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::chats::ChatParams;
use super::{WhatsAppMcp, err};
use crate::format::{ContactOut, UNTRUSTED, to_jid};

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct QueryParams {
    /// Part of a name, push name, phone number or JID.
    pub query: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ContactsOut {
    pub notice: &'static str,
    pub contacts: Vec<ContactOut>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct ContactParams {
    /// A phone number, LID or JID.
    pub id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MembersOut {
    pub notice: &'static str,
    pub chat_jid: String,
    pub members: Vec<MemberOut>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MemberOut {
    pub contact: ContactOut,
    /// member, admin or superadmin.
    pub role: String,
}

impl WhatsAppMcp {
    /// Whether a contact shows in a chat assistants may see (their own chat,
    /// or a group they are in or wrote in): the chat scope applies to people too.
    async fn contact_in_scope(&self, policy: &crate::policy::Policy, jid: &str) -> Result<bool, String> {
        let scope = policy.scope();
        if scope.is_all() {
            return Ok(true);
        }
        let chats = self.store().contact_chats_in_scope(jid, 1, &scope).await.map_err(err)?;
        Ok(!chats.is_empty())
    }
}

#[tool_router(router = contacts_router, vis = "pub(super)")]
impl WhatsAppMcp {
    #[tool(
        description = "Find contacts by name, push name, phone number or JID.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn search_contacts(&self, Parameters(p): Parameters<QueryParams>) -> Result<Json<ContactsOut>, String> {
        let found = self.store().search_contacts(&p.query, 50).await.map_err(err)?;
        let policy = self.policy().await?;
        let mut contacts = Vec::with_capacity(found.len());
        for contact in &found {
            if self.contact_in_scope(&policy, &contact.jid).await? {
                contacts.push(ContactOut::from(contact));
            }
        }
        Ok(Json(ContactsOut {
            notice: UNTRUSTED,
            contacts,
        }))
    }

    #[tool(
        description = "Resolve a phone number, LID or JID to a contact and its names.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn get_contact(&self, Parameters(p): Parameters<ContactParams>) -> Result<Json<ContactOut>, String> {
        // A phone number, LID or JID, checked; the store finds a contact by any of them.
        let id = to_jid(&p.id)?;
        let contact = self
            .store()
            .get_contact(&id)
            .await
            .map_err(err)?
            .ok_or_else(|| format!("No contact {} is known.", p.id))?;
        // Known only through chats assistants may not see: as if unknown.
        if !self.contact_in_scope(&self.policy().await?, &contact.jid).await? {
            return Err(format!("No contact {} is known.", p.id));
        }
        Ok(Json(ContactOut::from(&contact)))
    }

    #[tool(
        description = "The members of a group and their roles.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn list_group_members(&self, Parameters(p): Parameters<ChatParams>) -> Result<Json<MembersOut>, String> {
        let policy = self.policy().await?;
        Self::check_chat(&policy, &p.chat_jid)?;
        let members = self.store().group_members(&p.chat_jid).await.map_err(err)?;
        if members.is_empty() {
            return Err(format!("No members are known for {} (is it a group?).", p.chat_jid));
        }
        Ok(Json(MembersOut {
            notice: UNTRUSTED,
            chat_jid: p.chat_jid,
            members: members
                .iter()
                .map(|(c, role)| MemberOut {
                    contact: ContactOut::from(c),
                    role: role.as_str().to_owned(),
                })
                .collect(),
        }))
    }
}
