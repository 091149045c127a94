//! The Signal keys each linked device uploads (its pre-key bundle), kept as
//! WhatsApp's server keeps them: counted, digested, and handed out one
//! one-time pre-key at a time to whoever starts a session with the device.

use std::collections::BTreeMap;

use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Node, NodeRef};

/// One device's uploaded bundle.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub registration_id: u32,
    pub identity: Vec<u8>,
    pub signed_id: u32,
    pub signed_value: Vec<u8>,
    pub signed_signature: Vec<u8>,
    /// One-time pre-keys not yet handed out, by id.
    pub prekeys: BTreeMap<u32, Vec<u8>>,
}

fn uint(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |n, b| (n << 8) | u32::from(*b))
}

fn content<'a>(node: &'a NodeRef<'_>, path: &[&str]) -> &'a [u8] {
    node.get_optional_child_by_tag(path)
        .and_then(NodeRef::content_bytes)
        .unwrap_or_default()
}

impl Bundle {
    /// Apply an upload (`<iq xmlns="encrypt" type="set">`): new identity and
    /// signed pre-key replace the old, one-time pre-keys add up.
    pub fn upload(&mut self, iq: &NodeRef<'_>) {
        self.registration_id = uint(content(iq, &["registration"]));
        self.identity = content(iq, &["identity"]).to_vec();
        self.signed_id = uint(content(iq, &["skey", "id"]));
        self.signed_value = content(iq, &["skey", "value"]).to_vec();
        self.signed_signature = content(iq, &["skey", "signature"]).to_vec();
        let keys = iq
            .get_optional_child("list")
            .and_then(NodeRef::children)
            .unwrap_or_default();
        for key in keys {
            self.prekeys
                .insert(uint(content(key, &["id"])), content(key, &["value"]).to_vec());
        }
    }

    /// What a session with this device starts from: the bundle with one
    /// one-time pre-key, taken out of the pool (each is used once).
    pub fn take_one(&mut self) -> Bundle {
        let mut one = Bundle {
            prekeys: BTreeMap::new(),
            ..self.clone()
        };
        if let Some((id, key)) = self.prekeys.pop_first() {
            one.prekeys.insert(id, key);
        }
        one
    }

    /// The `<digest>` answer the client checks its local keys against.
    pub fn digest(&self) -> Node {
        let prekeys: Vec<&[u8]> = self.prekeys.values().map(Vec::as_slice).collect();
        let hash = whatsapp_rust::wacore::prekeys::compute_key_bundle_digest(
            &self.identity,
            &self.signed_value,
            &self.signed_signature,
            &prekeys,
        );
        NodeBuilder::new("digest")
            .children([
                NodeBuilder::new("registration")
                    .bytes(self.registration_id.to_be_bytes().to_vec())
                    .build(),
                NodeBuilder::new("type").bytes(vec![5]).build(),
                NodeBuilder::new("identity").bytes(self.identity.clone()).build(),
                NodeBuilder::new("skey")
                    .children([
                        NodeBuilder::new("id")
                            .bytes(self.signed_id.to_be_bytes()[1..].to_vec())
                            .build(),
                        NodeBuilder::new("value").bytes(self.signed_value.clone()).build(),
                        NodeBuilder::new("signature")
                            .bytes(self.signed_signature.clone())
                            .build(),
                    ])
                    .build(),
                NodeBuilder::new("list")
                    .children(
                        self.prekeys
                            .keys()
                            .map(|id| NodeBuilder::new("id").bytes(id.to_be_bytes()[1..].to_vec()).build()),
                    )
                    .build(),
                NodeBuilder::new("hash").bytes(hash).build(),
            ])
            .build()
    }
}
