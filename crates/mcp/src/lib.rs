//! The MCP surface of WhatsApp MCP Desktop.
//!
//! `server::WhatsAppMcp` is one MCP session with every tool, thin over the
//! store and the engine; `policy` is what assistants may see and do (chat
//! scope, send policy with approval, allowed folders, rate limit), enforced
//! here rather than in the UI; `format` is what tools return (ISO 8601 times,
//! resolved names, third-party text marked); `socket` serves sessions on the
//! app's user-only local socket; `remote` serves them over Streamable HTTP
//! for assistants on other machines (off by default).

pub mod approvals;
pub mod archive_key;
pub mod diagnostics;
pub mod format;
pub mod guard;
pub mod paths;
pub mod policy;
pub mod remote;
pub mod server;
pub mod socket;

pub use approvals::{Approvals, PendingApproval};
pub use policy::{Approval, ApprovalRequest, Approver, NobodyToAsk, Policy, SendPolicy};
pub use server::{Core, WhatsAppMcp};
