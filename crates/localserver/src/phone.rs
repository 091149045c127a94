//! The account and its primary phone: who is linked, and the phone's side of
//! linking a new device (reading the QR code, signing the device identity with
//! the account key exactly as the client verifies it).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use hmac::{KeyInit, Mac};
use whatsapp_rust::buffa::Message;
use whatsapp_rust::wacore::libsignal::protocol::{KeyPair, PublicKey};
use whatsapp_rust::waproto::whatsapp as wa;

use crate::Error;

const ADV_PREFIX_ACCOUNT_SIGNATURE: &[u8] = &[6, 0];
const ADV_PREFIX_DEVICE_SIGNATURE: &[u8] = &[6, 1];
const ADV_PREFIX_KEY_INDEX_LIST: &[u8] = &[6, 2];

/// A companion device linked to the account.
#[derive(Debug, Clone)]
pub struct LinkedDevice {
    pub id: u16,
    /// The device's Signal identity key.
    pub identity: [u8; 32],
    /// The device's Noise static key: how the server recognises it at login.
    pub noise: [u8; 32],
    pub key_index: u32,
    /// The device confirmed the identity the phone signed (`pair-device-sign`).
    pub confirmed: bool,
}

/// The account: phone number, LID, the phone's account signing key and the
/// linked devices.
pub struct Account {
    pub phone: String,
    pub lid: String,
    pub push_name: String,
    pub keys: KeyPair,
    pub devices: BTreeMap<u16, LinkedDevice>,
    /// The key app-state patches are encrypted with, shared with each device.
    pub app_state_key_id: Vec<u8>,
    pub app_state_key: Vec<u8>,
    /// WhatsApp allows four companion devices.
    pub max_devices: usize,
    next_device: u16,
    next_key_index: u32,
}

impl Account {
    pub fn new(phone: &str, lid: &str, push_name: &str) -> Self {
        Self {
            phone: phone.into(),
            lid: lid.into(),
            push_name: push_name.into(),
            keys: whatsapp_rust::wacore::crypto::generate_curve_key_pair(),
            devices: BTreeMap::new(),
            app_state_key_id: vec![0, 0, 0, 1, 0, 0],
            app_state_key: rand::random::<[u8; 32]>().to_vec(),
            max_devices: 4,
            next_device: 1,
            next_key_index: 1,
        }
    }

    pub fn jid(&self, device: u16) -> String {
        if device == 0 {
            format!("{}@s.whatsapp.net", self.phone)
        } else {
            format!("{}:{device}@s.whatsapp.net", self.phone)
        }
    }

    pub fn lid_jid(&self, device: u16) -> String {
        if device == 0 {
            format!("{}@lid", self.lid)
        } else {
            format!("{}:{device}@lid", self.lid)
        }
    }

    /// The device logging in with this Noise key, if it is linked.
    pub fn device_by_noise(&self, noise: &[u8; 32]) -> Option<&LinkedDevice> {
        self.devices.values().find(|d| &d.noise == noise)
    }

    /// Link a device: the signed identity (`ADVSignedDeviceIdentityHMAC`) the
    /// phone sends in `pair-success`, and the device's new id.
    pub fn link(&mut self, scanned: &ScannedCode, now: u64) -> Result<(u16, Vec<u8>), Error> {
        if self.devices.len() >= self.max_devices {
            return Err(Error::DeviceLimit);
        }
        let id = self.next_device;
        self.next_device += 1;
        let key_index = self.next_key_index;
        self.next_key_index += 1;
        let details = wa::ADVDeviceIdentity {
            raw_id: Some(fastrand_u32(now)),
            timestamp: Some(now),
            key_index: Some(key_index),
            account_type: Some(wa::ADVEncryptionType::E2EE),
            device_type: Some(wa::ADVEncryptionType::E2EE),
        }
        .encode_to_vec();
        let to_sign = [ADV_PREFIX_ACCOUNT_SIGNATURE, &details, &scanned.identity].concat();
        let signature = whatsapp_rust::wacore::crypto::calculate_curve_signature(&self.keys.private_key, &to_sign)
            .map_err(|e| Error::Protocol(format!("account signature: {e}")))?;
        let signed = wa::ADVSignedDeviceIdentity {
            details: Some(details),
            account_signature_key: Some(self.keys.public_key.public_key_bytes().to_vec()),
            account_signature: Some(signature.to_vec()),
            device_signature: None,
        }
        .encode_to_vec();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&scanned.adv_secret)
            .map_err(|e| Error::Protocol(format!("hmac: {e}")))?;
        mac.update(&signed);
        let container = wa::ADVSignedDeviceIdentityHMAC {
            details: Some(signed),
            hmac: Some(mac.finalize().into_bytes().to_vec()),
            account_type: Some(wa::ADVEncryptionType::E2EE),
        }
        .encode_to_vec();
        self.devices.insert(
            id,
            LinkedDevice {
                id,
                identity: scanned.identity,
                noise: scanned.noise,
                key_index,
                confirmed: false,
            },
        );
        Ok((id, container))
    }

    /// The signed list of valid key indexes (`ADVSignedKeyIndexList`) that
    /// accompanies the account's device list.
    pub fn key_index_list(&self) -> Vec<u8> {
        let valid: Vec<u32> = self
            .devices
            .values()
            .filter(|d| d.confirmed)
            .map(|d| d.key_index)
            .collect();
        let details = wa::ADVKeyIndexList {
            raw_id: Some(1),
            timestamp: Some(crate::conn::now()),
            current_index: valid.iter().copied().max(),
            valid_indexes: valid,
            ..Default::default()
        }
        .encode_to_vec();
        let signature = whatsapp_rust::wacore::crypto::calculate_curve_signature(
            &self.keys.private_key,
            &[ADV_PREFIX_KEY_INDEX_LIST, &details].concat(),
        )
        .map(|s| s.to_vec())
        .unwrap_or_default();
        wa::ADVSignedKeyIndexList {
            details: Some(details),
            account_signature: Some(signature),
            ..Default::default()
        }
        .encode_to_vec()
    }

    /// Check the device's own signature over the identity the phone signed
    /// (what the device returns in `pair-device-sign`).
    pub fn confirm(&mut self, device: u16, signed_identity: &[u8]) -> Result<(), Error> {
        let linked = self
            .devices
            .get_mut(&device)
            .ok_or_else(|| Error::Protocol(format!("device {device} is not linked")))?;
        let signed = wa::ADVSignedDeviceIdentity::decode_from_slice(signed_identity)
            .map_err(|e| Error::Protocol(format!("pair-device-sign: {e}")))?;
        let details = signed.details.unwrap_or_default();
        let device_signature = signed.device_signature.unwrap_or_default();
        let message = [
            ADV_PREFIX_DEVICE_SIGNATURE,
            &details,
            &linked.identity,
            self.keys.public_key.public_key_bytes(),
        ]
        .concat();
        let key = PublicKey::from_djb_public_key_bytes(&linked.identity)
            .map_err(|e| Error::Protocol(format!("device identity key: {e}")))?;
        if !key.verify_signature(&message, &device_signature) {
            return Err(Error::Protocol("the device's signature does not verify".into()));
        }
        linked.confirmed = true;
        Ok(())
    }
}

/// What the phone reads from a QR code.
#[derive(Debug, Clone)]
pub struct ScannedCode {
    pub pairing_ref: String,
    pub noise: [u8; 32],
    pub identity: [u8; 32],
    pub adv_secret: [u8; 32],
}

/// Read a QR code as the phone's camera does: `ref,noise,identity,adv[,type]`.
pub fn scan(code: &str) -> Result<ScannedCode, Error> {
    let parts: Vec<&str> = code.split(',').collect();
    if parts.len() < 4 {
        return Err(Error::BadCode(format!("{} fields, expected at least 4", parts.len())));
    }
    let key = |i: usize, what: &str| -> Result<[u8; 32], Error> {
        let bytes = BASE64_STANDARD
            .decode(parts[i])
            .map_err(|e| Error::BadCode(format!("{what}: {e}")))?;
        bytes
            .try_into()
            .map_err(|_| Error::BadCode(format!("{what} is not 32 bytes")))
    };
    Ok(ScannedCode {
        pairing_ref: parts[0].to_owned(),
        noise: key(1, "noise key")?,
        identity: key(2, "identity key")?,
        adv_secret: key(3, "adv secret")?,
    })
}

fn fastrand_u32(seed: u64) -> u32 {
    (seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        >> 33) as u32
}
