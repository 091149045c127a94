//! Linking with a phone-number code: the phone's side of WhatsApp's
//! `link_code_companion_reg` exchange (companion_hello, primary_hello,
//! companion_finish), with the same key derivations the client uses, so a
//! wrong code fails exactly where it fails with WhatsApp.

use whatsapp_rust::wacore::crypto::hkdf_sha256_into;
use whatsapp_rust::wacore::libsignal::crypto::aes_256_gcm_decrypt;
use whatsapp_rust::wacore::libsignal::protocol::{KeyPair, PublicKey};
use whatsapp_rust::wacore::pair_code::PairCodeUtils;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Node, NodeRef};

use crate::Error;
use crate::phone::ScannedCode;

/// A companion waiting for its code to be typed on the phone.
pub(crate) struct Request {
    pub conn: u64,
    pub pairing_ref: String,
    /// The companion's Noise key (how the server will know it at login).
    pub noise: [u8; 32],
    /// Its ephemeral key, wrapped with the code.
    pub wrapped_ephemeral: Vec<u8>,
    /// Set once the code is typed: the phone's ephemeral key and the
    /// companion's, unwrapped with that code.
    pub typed: Option<(KeyPair, [u8; 32])>,
}

fn bytes<'a>(node: &'a NodeRef<'_>, tag: &str) -> &'a [u8] {
    node.get_optional_child(tag)
        .and_then(NodeRef::content_bytes)
        .unwrap_or_default()
}

fn key32(bytes: &[u8], what: &str) -> Result<[u8; 32], Error> {
    bytes
        .try_into()
        .map_err(|_| Error::Protocol(format!("{what} is {} bytes, not 32", bytes.len())))
}

/// Read `companion_hello`.
pub(crate) fn companion_hello(conn: u64, pairing_ref: String, reg: &NodeRef<'_>) -> Result<Request, Error> {
    Ok(Request {
        conn,
        pairing_ref,
        noise: key32(bytes(reg, "companion_server_auth_key_pub"), "companion noise key")?,
        wrapped_ephemeral: bytes(reg, "link_code_pairing_wrapped_companion_ephemeral_pub").to_vec(),
        typed: None,
    })
}

/// The person typed `code` on the phone: the `primary_hello` notification.
pub(crate) fn primary_hello(request: &mut Request, code: &str, account: &KeyPair) -> Result<Node, Error> {
    let companion_ephemeral = PairCodeUtils::decrypt_primary_ephemeral_pub(&request.wrapped_ephemeral, code)
        .map_err(|e| Error::BadCode(e.to_string()))?;
    let ephemeral = whatsapp_rust::wacore::crypto::generate_curve_key_pair();
    let mut public = [0; 32];
    public.copy_from_slice(ephemeral.public_key.public_key_bytes());
    let wrapped = PairCodeUtils::encrypt_ephemeral_pub(&public, code);
    request.typed = Some((ephemeral, companion_ephemeral));
    Ok(NodeBuilder::new("notification")
        .attr("type", "link_code_companion_reg")
        .attr("from", "s.whatsapp.net")
        .attr("id", format!("primary-hello-{}", request.conn))
        .children([NodeBuilder::new("link_code_companion_reg")
            .attr("stage", "primary_hello")
            .children([
                NodeBuilder::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                    .bytes(wrapped.to_vec())
                    .build(),
                NodeBuilder::new("primary_identity_pub")
                    .bytes(account.public_key.public_key_bytes().to_vec())
                    .build(),
                NodeBuilder::new("link_code_pairing_ref")
                    .bytes(request.pairing_ref.as_bytes().to_vec())
                    .build(),
            ])
            .build()])
        .build())
}

/// Read `companion_finish`: unwrap the key bundle and derive the ADV secret
/// both sides now share. What the phone then links is what the QR code would
/// have carried.
pub(crate) fn companion_finish(request: &Request, reg: &NodeRef<'_>, account: &KeyPair) -> Result<ScannedCode, Error> {
    let (ephemeral, companion_ephemeral) = request
        .typed
        .as_ref()
        .ok_or_else(|| Error::Protocol("companion_finish before the code was typed".into()))?;
    let crypto = |e: &dyn std::fmt::Display| Error::Protocol(format!("pair code: {e}"));
    let companion_ephemeral = PublicKey::from_djb_public_key_bytes(companion_ephemeral).map_err(|e| crypto(&e))?;
    let ephemeral_shared = ephemeral
        .private_key
        .calculate_agreement(&companion_ephemeral)
        .map_err(|e| crypto(&e))?;
    let wrapped = bytes(reg, "link_code_pairing_wrapped_key_bundle");
    if wrapped.len() < 32 + 12 + 16 {
        return Err(Error::Protocol("key bundle too short".into()));
    }
    let (salt, rest) = wrapped.split_at(32);
    let (iv, sealed) = rest.split_at(12);
    let mut key = [0; 32];
    hkdf_sha256_into(
        &ephemeral_shared,
        Some(salt),
        b"link_code_pairing_key_bundle_encryption_key",
        &mut key,
    )
    .map_err(|e| crypto(&e))?;
    let mut nonce = [0; 12];
    nonce.copy_from_slice(iv);
    let mut bundle = Vec::new();
    aes_256_gcm_decrypt(&key, &nonce, b"", sealed, &mut bundle)
        .map_err(|_| Error::BadCode("the key bundle does not open: the code typed was not this one".into()))?;
    if bundle.len() != 96 || bundle[32..64] != *account.public_key.public_key_bytes() {
        return Err(Error::Protocol("the key bundle names another phone".into()));
    }
    let identity = key32(&bundle[..32], "companion identity")?;
    if bytes(reg, "companion_identity_public") != identity {
        return Err(Error::Protocol("companion identity differs from the bundle's".into()));
    }
    let identity_key = PublicKey::from_djb_public_key_bytes(&identity).map_err(|e| crypto(&e))?;
    let identity_shared = account
        .private_key
        .calculate_agreement(&identity_key)
        .map_err(|e| crypto(&e))?;
    let secret = [&ephemeral_shared[..], &identity_shared[..], &bundle[64..]].concat();
    let mut adv_secret = [0; 32];
    hkdf_sha256_into(&secret, None, b"adv_secret", &mut adv_secret).map_err(|e| crypto(&e))?;
    Ok(ScannedCode {
        pairing_ref: request.pairing_ref.clone(),
        noise: request.noise,
        identity,
        adv_secret,
    })
}
