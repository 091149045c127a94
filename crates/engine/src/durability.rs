//! Store first, acknowledge after.
//!
//! whatsapp-rust acknowledges an inbound message to WhatsApp's server (which then
//! forgets it) only after its inbound durability hook returns `Ok`. Ours writes
//! the batch to the message store in one transaction and returns `Ok` only when
//! that transaction committed; on any error WhatsApp keeps the messages and
//! delivers them again on the next connection, where the idempotent store
//! counts them as already present. So nothing acknowledged is ever missing.

use std::sync::Arc;

use wa_store::{BatchReport, Store, StoreError};
use whatsapp_rust::types::durability_hook::{InboundDurabilityHook, InboundMessage};
use whatsapp_rust::{Client, async_trait};

use crate::events::items_from_inbound;

/// Write a batch of decrypted inbound messages to the store, all or nothing.
pub async fn commit_inbound(store: &Store, own_jid: &str, batch: &[InboundMessage]) -> Result<BatchReport, StoreError> {
    let report = store.apply(&items_from_inbound(batch, own_jid)).await?;
    tracing::debug!(
        inserted = report.inserted,
        again = report.already_present,
        "inbound batch stored"
    );
    Ok(report)
}

/// The hook the real client calls before acknowledging messages.
#[derive(Debug, Clone)]
pub struct StoreFirst {
    store: Store,
}

impl StoreFirst {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[async_trait]
impl InboundDurabilityHook for StoreFirst {
    async fn on_messages(&self, client: Arc<Client>, batch: &[InboundMessage]) -> whatsapp_rust::anyhow::Result<()> {
        let own_jid = client.pn().map(|j| j.to_non_ad_string()).unwrap_or_default();
        match commit_inbound(&self.store, &own_jid, batch).await {
            Ok(_) => Ok(()),
            Err(e) => {
                // Not acknowledged: WhatsApp delivers the batch again later.
                tracing::warn!(error = %e, messages = batch.len(), "could not store inbound messages; not acknowledging");
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use whatsapp_rust::chrono::{TimeZone, Utc};
    use whatsapp_rust::wacore::types::events::InboundMessage;
    use whatsapp_rust::wacore::types::message::{MessageInfo, MessageSource};
    use whatsapp_rust::waproto::whatsapp as wa;

    use super::commit_inbound;
    use crate::test_support::{ANA, ME};

    fn inbound(id: &str, body: &str) -> InboundMessage {
        let info = MessageInfo {
            source: MessageSource {
                chat: ANA.parse().expect("jid"),
                sender: ANA.parse().expect("jid"),
                ..Default::default()
            },
            id: id.into(),
            timestamp: Utc.timestamp_millis_opt(1_700_000_000_000).single().expect("time"),
            ..Default::default()
        };
        let message = wa::Message {
            conversation: Some(body.into()),
            ..Default::default()
        };
        InboundMessage::builder()
            .message(Arc::new(message))
            .info(Arc::new(info))
            .build()
    }

    #[tokio::test]
    async fn a_committed_batch_is_stored_and_a_redelivery_is_harmless() {
        let dir = tempfile::tempdir().expect("dir");
        let store = wa_store::Store::open(dir.path().join("messages.db"))
            .await
            .expect("store");
        let batch = [inbound("A", "one"), inbound("B", "two")];
        let first = commit_inbound(&store, ME, &batch).await.expect("commit");
        assert_eq!(first.inserted, 2);
        // WhatsApp redelivers what it did not see acknowledged: nothing doubles.
        let again = commit_inbound(&store, ME, &batch).await.expect("commit again");
        assert_eq!((again.inserted, again.already_present), (0, 2));
        assert_eq!(store.statistics().await.expect("stats").messages, 2);
    }

    #[tokio::test]
    async fn a_store_that_cannot_write_refuses_so_nothing_is_acknowledged() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("messages.db");
        wa_store::Store::open(&path).await.expect("create").close().await;
        let read_only = wa_store::Store::open_read_only(&path).await.expect("open read-only");
        let err = commit_inbound(&read_only, ME, &[inbound("A", "one")])
            .await
            .expect_err("must refuse");
        assert!(matches!(err, wa_store::StoreError::ReadOnly { .. }), "{err}");
    }
}
