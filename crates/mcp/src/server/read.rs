//! The tools that mark chats read (others see blue ticks): one chat, or a
//! whole community in the background. Each goes through the gate
//! (`gate::Gate::act`), a community's every group checked.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wa_store::Jid;

use super::sync::JobOut;
use super::{WhatsAppMcp, err};
use crate::format::to_jid;

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct MarkReadParams {
    pub chat_jid: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::format::optional_not_null)]
pub struct CommunityReadParams {
    pub community_jid: String,
    /// Fetch up to this many recent messages of each group first.
    pub fetch_first: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MarkedOut {
    pub chat_jid: String,
    pub messages_marked: u32,
    pub decision: String,
}

impl WhatsAppMcp {
    /// The groups of `community` the archive knows (the ones its jobs touch).
    async fn community_groups(&self, community: &Jid) -> Result<Vec<String>, String> {
        let mut filter = wa_store::ChatFilter {
            parent_jid: Some(community.clone()),
            limit: 500,
            ..wa_store::ChatFilter::default()
        };
        let mut groups = Vec::new();
        loop {
            let page = self.store().list_chats(&filter).await.map_err(err)?;
            groups.extend(page.items.into_iter().map(|c| c.jid));
            match page.next_cursor {
                Some(cursor) => filter.cursor = Some(cursor),
                None => return Ok(groups),
            }
        }
    }
}

#[tool_router(router = read_router, vis = "pub(super)")]
impl WhatsAppMcp {
    #[tool(
        description = "Mark a chat as read on WhatsApp (senders see blue ticks). Subject to the send policy.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn mark_as_read(
        &self,
        Parameters(p): Parameters<MarkReadParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<MarkedOut>, String> {
        let chat = to_jid(&p.chat_jid)?;
        let (n, decision) = self
            .gate()
            .act(&cx, "mark_as_read", &chat, "mark as read", |permit| {
                let chat = chat.clone();
                async move {
                    let n = permit.mark_read(&chat).await.map_err(err)?;
                    Ok((n, format!("{n} messages")))
                }
            })
            .await?;
        Ok(Json(MarkedOut {
            chat_jid: p.chat_jid,
            messages_marked: n,
            decision: decision.as_str().to_owned(),
        }))
    }

    #[tool(
        description = "Same as mark_as_read (the name other WhatsApp MCP servers use).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn mark_messages_read(
        &self,
        params: Parameters<MarkReadParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<Json<MarkedOut>, String> {
        self.mark_as_read(params, cx).await
    }

    #[tool(
        description = "Mark every group of a community as read, in the background (optionally fetching recent messages of each first). Returns a job id at once. Subject to the send policy.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn mark_community_as_read(
        &self,
        Parameters(p): Parameters<CommunityReadParams>,
        mut cx: RequestContext<RoleServer>,
    ) -> Result<Json<JobOut>, String> {
        let community = to_jid(&p.community_jid)?;
        // The job marks the community and every group in it: all are checked.
        let groups = self.community_groups(&community).await?;
        let content = format!(
            "mark community read ({} groups){}",
            groups.len(),
            p.fetch_first
                .map(|n| format!(" after fetching {n}"))
                .unwrap_or_default()
        );
        let fetch_first = p.fetch_first;
        let (job, _) = self
            .gate()
            .act_covering(
                &cx,
                "mark_community_as_read",
                &community.clone(),
                &groups,
                &content,
                |permit| async move {
                    let job = permit.mark_community_read(community, fetch_first).await.map_err(err)?;
                    let detail = format!("job {}", job.id);
                    Ok((job, detail))
                },
            )
            .await?;
        let meta = std::mem::take(&mut cx.meta);
        let job = self.follow_job(job, &meta, &cx.peer, &cx.ct, None).await?;
        Ok(Json(Self::job_out(&job)))
    }
}
