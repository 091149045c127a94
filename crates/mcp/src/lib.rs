//! The MCP surface of WhatsApp MCP Desktop: it knows MCP and JSON-RPC, and
//! nothing of folders, keychains, windows or how the app starts.
//!
//! `server::WhatsAppMcp` is one MCP session with every tool, thin over the
//! store and the engine; `policy` is what assistants may see and do (chat
//! scope, send policy with approval, allowed folders, rate limit), enforced
//! here rather than in the UI; `approvals` is the queue behind "ask before
//! sending"; `format` is what tools return (ISO 8601 times, resolved names,
//! third-party text marked); `guard` checks every line before rmcp sees it;
//! `asker` is who asks as the system tells it; `session` serves one session on any byte stream (the app's local channel,
//! or the helper's stdio); `remote` serves sessions over Streamable HTTP for
//! assistants on other machines (off by default); `visible` refuses text
//! the approval window could not show (what is approved is what leaves).

pub mod approvals;
pub mod asker;
pub mod format;
pub mod guard;
pub mod policy;
pub mod remote;
pub mod server;
pub mod session;
pub mod visible;

pub use approvals::{Approvals, PendingApproval};
pub use asker::Asker;
pub use policy::{Approval, ApprovalRequest, Approver, NobodyToAsk, Policy, SendPolicy};
pub use server::{Core, WhatsAppMcp};
