//! The people on the other end (the account's own phone, and contacts): each
//! holds real Signal state (wacore-libsignal) and talks to the linked device
//! with pre-key bundles, sessions and ratchets, exactly as their phones would.

use std::collections::{BTreeMap, HashMap};

use whatsapp_rust::wacore::libsignal::protocol::{
    CiphertextMessage, Direction, GenericSignedPreKey, IdentityChange, IdentityKey, IdentityKeyPair, IdentityKeyStore,
    KeyPair, PreKeyBundle, PreKeyId, PreKeyRecord, PreKeySignalMessage, PreKeyStore, ProtocolAddress, PublicKey,
    SenderKeyDistributionMessage, SenderKeyName, SenderKeyRecord, SenderKeyStore, SessionRecord, SessionStore,
    SignalMessage, SignalProtocolError, SignedPreKeyId, SignedPreKeyRecord, SignedPreKeyStore, Timestamp, UsePQRatchet,
    create_sender_key_distribution_message, group_decrypt, group_encrypt, message_decrypt, message_encrypt,
    process_prekey_bundle, process_sender_key_distribution_message,
};
use whatsapp_rust::wacore::messages::MessageUtils;
use whatsapp_rust::wacore::types::jid::JidExt;
use whatsapp_rust::wacore_binary::Jid;
use whatsapp_rust::wacore_binary::Node;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::Error;
use crate::keys::Bundle;

type SignalResult<T> = Result<T, SignalProtocolError>;

fn signal(e: impl std::fmt::Display) -> Error {
    Error::Protocol(format!("signal: {e}"))
}

fn rng() -> rand::rngs::StdRng {
    rand::make_rng::<rand::rngs::StdRng>()
}

/// Sessions with other devices, by Signal address.
#[derive(Default)]
struct Sessions(HashMap<String, SessionRecord>);

/// This person's identity, and the identities of devices it talked to.
struct Identities {
    pair: IdentityKeyPair,
    registration_id: u32,
    known: HashMap<String, IdentityKey>,
}

/// One-time pre-keys handed out and not yet used.
#[derive(Default)]
struct PreKeys(BTreeMap<u32, KeyPair>);

/// The signed pre-key: id, key pair, signature by the identity key.
struct Signed(u32, KeyPair, Vec<u8>);

#[whatsapp_rust::async_trait]
impl SessionStore for Sessions {
    async fn load_session(&self, address: &ProtocolAddress) -> SignalResult<Option<SessionRecord>> {
        Ok(self.0.get(&key(address)).cloned())
    }

    async fn has_session(&self, address: &ProtocolAddress) -> SignalResult<bool> {
        Ok(self.0.contains_key(&key(address)))
    }

    async fn store_session(&mut self, address: &ProtocolAddress, record: SessionRecord) -> SignalResult<()> {
        self.0.insert(key(address), record);
        Ok(())
    }
}

#[whatsapp_rust::async_trait]
impl IdentityKeyStore for Identities {
    async fn get_identity_key_pair(&self) -> SignalResult<IdentityKeyPair> {
        Ok(self.pair.clone())
    }

    async fn get_local_registration_id(&self) -> SignalResult<u32> {
        Ok(self.registration_id)
    }

    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> SignalResult<IdentityChange> {
        let previous = self.known.insert(key(address), *identity);
        Ok(match previous {
            Some(old) if old != *identity => IdentityChange::ReplacedExisting,
            _ => IdentityChange::NewOrUnchanged,
        })
    }

    async fn is_trusted_identity(
        &self,
        _address: &ProtocolAddress,
        _identity: &IdentityKey,
        _direction: Direction,
    ) -> SignalResult<bool> {
        // Like WhatsApp: identity changes are shown, never refused.
        Ok(true)
    }

    async fn get_identity(&self, address: &ProtocolAddress) -> SignalResult<Option<IdentityKey>> {
        Ok(self.known.get(&key(address)).copied())
    }
}

#[whatsapp_rust::async_trait]
impl PreKeyStore for PreKeys {
    async fn get_pre_key(&self, prekey_id: PreKeyId) -> SignalResult<PreKeyRecord> {
        self.0
            .get(&u32::from(prekey_id))
            .map(|pair| PreKeyRecord::new(prekey_id, pair))
            .ok_or(SignalProtocolError::InvalidPreKeyId)
    }

    async fn save_pre_key(&mut self, prekey_id: PreKeyId, record: &PreKeyRecord) -> SignalResult<()> {
        let pair = record.key_pair()?;
        self.0.insert(u32::from(prekey_id), pair);
        Ok(())
    }

    async fn remove_pre_key(&mut self, prekey_id: PreKeyId) -> SignalResult<()> {
        self.0.remove(&u32::from(prekey_id));
        Ok(())
    }
}

#[whatsapp_rust::async_trait]
impl SignedPreKeyStore for Signed {
    async fn get_signed_pre_key(&self, signed_prekey_id: SignedPreKeyId) -> SignalResult<SignedPreKeyRecord> {
        if u32::from(signed_prekey_id) != self.0 {
            return Err(SignalProtocolError::InvalidSignedPreKeyId);
        }
        Ok(SignedPreKeyRecord::new(
            signed_prekey_id,
            Timestamp::from_epoch_millis(0),
            &self.1,
            &self.2,
        ))
    }

    async fn save_signed_pre_key(&mut self, _id: SignedPreKeyId, _record: &SignedPreKeyRecord) -> SignalResult<()> {
        Ok(())
    }
}

/// Sender keys (group chains), by sender-key name.
#[derive(Default)]
struct SenderKeys(HashMap<String, SenderKeyRecord>);

#[whatsapp_rust::async_trait]
impl SenderKeyStore for SenderKeys {
    async fn store_sender_key(&mut self, name: &SenderKeyName, record: SenderKeyRecord) -> SignalResult<()> {
        self.0.insert(name.cache_key().to_owned(), record);
        Ok(())
    }

    async fn load_sender_key(&self, name: &SenderKeyName) -> SignalResult<Option<SenderKeyRecord>> {
        Ok(self.0.get(name.cache_key()).cloned())
    }
}

/// One person's phone: identity, pre-keys and sessions with other devices.
pub struct Person {
    pub jid: String,
    pub name: String,
    sessions: Sessions,
    identities: Identities,
    prekeys: PreKeys,
    signed: Signed,
    sender_keys: SenderKeys,
    next_prekey: u32,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person").field("jid", &self.jid).finish_non_exhaustive()
    }
}

impl Person {
    /// A person with the Signal identity `identity` (the phone uses its
    /// account key, which is its identity key).
    pub fn new(jid: &str, name: &str, identity: &KeyPair) -> Result<Self, Error> {
        let pair = IdentityKeyPair::new(IdentityKey::new(identity.public_key), identity.private_key.clone());
        let signed_key = whatsapp_rust::wacore::crypto::generate_curve_key_pair();
        let signature = whatsapp_rust::wacore::crypto::calculate_curve_signature(
            &identity.private_key,
            &signed_key.public_key.serialize(),
        )
        .map_err(signal)?;
        Ok(Self {
            jid: jid.into(),
            name: name.into(),
            sessions: Sessions::default(),
            identities: Identities {
                pair,
                registration_id: u32::from(fastrand_u16(jid)) + 1,
                known: HashMap::new(),
            },
            prekeys: PreKeys::default(),
            signed: Signed(1, signed_key, signature.to_vec()),
            sender_keys: SenderKeys::default(),
            next_prekey: 1,
        })
    }

    /// The `<user>` answer of a pre-key fetch for this person's phone (device 0),
    /// with a fresh one-time pre-key.
    pub fn bundle_node(&mut self, asked_as: &str) -> Node {
        let id = self.next_prekey;
        self.next_prekey += 1;
        let key = whatsapp_rust::wacore::crypto::generate_curve_key_pair();
        let value = key.public_key.public_key_bytes().to_vec();
        self.prekeys.0.insert(id, key);
        let Signed(signed_id, signed_key, signature) = &self.signed;
        NodeBuilder::new("user")
            .attr("jid", asked_as.to_owned())
            .children([
                NodeBuilder::new("registration")
                    .bytes(self.identities.registration_id.to_be_bytes().to_vec())
                    .build(),
                NodeBuilder::new("type").bytes(vec![5]).build(),
                NodeBuilder::new("identity")
                    .bytes(self.identities.pair.public_key().public_key_bytes().to_vec())
                    .build(),
                NodeBuilder::new("skey")
                    .children([
                        NodeBuilder::new("id")
                            .bytes(signed_id.to_be_bytes()[1..].to_vec())
                            .build(),
                        NodeBuilder::new("value")
                            .bytes(signed_key.public_key.public_key_bytes().to_vec())
                            .build(),
                        NodeBuilder::new("signature").bytes(signature.clone()).build(),
                    ])
                    .build(),
                NodeBuilder::new("key")
                    .children([
                        NodeBuilder::new("id").bytes(id.to_be_bytes()[1..].to_vec()).build(),
                        NodeBuilder::new("value").bytes(value).build(),
                    ])
                    .build(),
            ])
            .build()
    }

    /// Drop the session with `device`: the next message starts a new one
    /// (after the device asked for a message again: it lost its side).
    pub fn forget_session(&mut self, device: &Jid) {
        self.sessions.0.remove(&key(&device.to_protocol_address()));
    }

    /// Encrypt `message` for `device` (a linked device whose uploaded `bundle`
    /// starts a session if there is none): the `<enc>` node.
    pub async fn encrypt_for(
        &mut self,
        device: &Jid,
        bundle: &mut Bundle,
        message: &wa::Message,
    ) -> Result<Node, Error> {
        let address = device.to_protocol_address();
        if !self.sessions.0.contains_key(&key(&address)) {
            let prekey = match bundle.prekeys.pop_first() {
                Some((id, value)) => Some((
                    PreKeyId::from(id),
                    PublicKey::from_djb_public_key_bytes(&value).map_err(signal)?,
                )),
                None => None,
            };
            let pre_key_bundle = PreKeyBundle::new(
                bundle.registration_id,
                address.device_id(),
                prekey,
                SignedPreKeyId::from(bundle.signed_id),
                PublicKey::from_djb_public_key_bytes(&bundle.signed_value).map_err(signal)?,
                bundle.signed_signature.clone(),
                IdentityKey::new(PublicKey::from_djb_public_key_bytes(&bundle.identity).map_err(signal)?),
            )
            .map_err(signal)?;
            process_prekey_bundle(
                &address,
                &mut self.sessions,
                &mut self.identities,
                &pre_key_bundle,
                &mut rng(),
                UsePQRatchet::No,
            )
            .await
            .map_err(signal)?;
        }
        let plaintext = MessageUtils::encode_and_pad(message);
        let ciphertext = message_encrypt(&plaintext, &address, &mut self.sessions, &mut self.identities)
            .await
            .map_err(signal)?;
        let (kind, bytes) = match ciphertext {
            CiphertextMessage::PreKeySignalMessage(m) => ("pkmsg", m.serialized().to_vec()),
            CiphertextMessage::SignalMessage(m) => ("msg", m.serialized().to_vec()),
            _ => return Err(Error::Protocol("unexpected ciphertext kind".into())),
        };
        Ok(NodeBuilder::new("enc")
            .attr("v", "2")
            .attr("type", kind)
            .bytes(bytes)
            .build())
    }

    /// This person's sender key for `group`, as the pairwise message that
    /// hands it to a device (`SenderKeyDistributionMessage`).
    pub async fn sender_key_distribution(&mut self, group: &str) -> Result<wa::Message, Error> {
        let own: Jid = self.jid.parse().map_err(|_| Error::Protocol("own JID".into()))?;
        let name = SenderKeyName::from_parts(group, own.to_protocol_address().as_str());
        let skdm = create_sender_key_distribution_message(&name, &mut self.sender_keys, &mut rng())
            .await
            .map_err(signal)?;
        Ok(wa::Message {
            sender_key_distribution_message: whatsapp_rust::buffa::MessageField::some(
                wa::message::SenderKeyDistributionMessage {
                    group_id: Some(group.to_owned()),
                    axolotl_sender_key_distribution_message: Some(skdm.serialized().to_vec()),
                },
            ),
            ..Default::default()
        })
    }

    /// `message` for everyone in `group`, under this person's sender key: the `skmsg` `<enc>`.
    pub async fn group_encrypt(&mut self, group: &str, message: &wa::Message) -> Result<Node, Error> {
        let own: Jid = self.jid.parse().map_err(|_| Error::Protocol("own JID".into()))?;
        let name = SenderKeyName::from_parts(group, own.to_protocol_address().as_str());
        let plaintext = MessageUtils::encode_and_pad(message);
        let sealed = group_encrypt(&mut self.sender_keys, &name, &plaintext, &mut rng())
            .await
            .map_err(signal)?;
        Ok(NodeBuilder::new("enc")
            .attr("v", "2")
            .attr("type", "skmsg")
            .bytes(sealed.serialized().to_vec())
            .build())
    }

    /// Take a sender key a device handed over, then open its group message.
    pub async fn group_decrypt(
        &mut self,
        group: &str,
        from: &Jid,
        distribution: Option<&wa::message::SenderKeyDistributionMessage>,
        skmsg: &[u8],
    ) -> Result<wa::Message, Error> {
        let name = SenderKeyName::from_parts(group, from.to_protocol_address().as_str());
        if let Some(bytes) = distribution.and_then(|d| d.axolotl_sender_key_distribution_message.as_deref()) {
            let skdm = SenderKeyDistributionMessage::try_from(bytes).map_err(signal)?;
            process_sender_key_distribution_message(&name, &skdm, &mut self.sender_keys)
                .await
                .map_err(signal)?;
        }
        let plaintext = group_decrypt(skmsg, &mut self.sender_keys, &name)
            .await
            .map_err(signal)?;
        whatsapp_rust::wacore::messages::decode_plaintext(&plaintext, 2).map_err(signal)
    }

    /// Decrypt an `<enc>` the linked device `from` sent to this person.
    pub async fn decrypt_from(&mut self, from: &Jid, kind: &str, bytes: &[u8]) -> Result<wa::Message, Error> {
        let address = from.to_protocol_address();
        let ciphertext = match kind {
            "pkmsg" => CiphertextMessage::PreKeySignalMessage(PreKeySignalMessage::try_from(bytes).map_err(signal)?),
            "msg" => CiphertextMessage::SignalMessage(SignalMessage::try_from(bytes).map_err(signal)?),
            other => return Err(Error::Protocol(format!("cannot decrypt enc type {other}"))),
        };
        let decrypted = message_decrypt(
            &ciphertext,
            &address,
            &mut self.sessions,
            &mut self.identities,
            &mut self.prekeys,
            &self.signed,
            &mut rng(),
            UsePQRatchet::No,
        )
        .await
        .map_err(signal)?;
        // A used one-time pre-key is gone for good, as on a phone.
        if let Some(id) = decrypted.consumed_prekey_id {
            self.prekeys.0.remove(&u32::from(id));
        }
        whatsapp_rust::wacore::messages::decode_plaintext(&decrypted.plaintext, 2).map_err(signal)
    }
}

fn key(address: &ProtocolAddress) -> String {
    format!("{}.{}", address.name(), u32::from(address.device_id()))
}

fn fastrand_u16(seed: &str) -> u16 {
    seed.bytes()
        .fold(7u16, |h, b| h.wrapping_mul(31).wrapping_add(u16::from(b)))
        & 0x3fff
}
