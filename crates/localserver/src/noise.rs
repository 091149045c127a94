//! The server half of WhatsApp's Noise handshake (XX for a first connection,
//! IK when the client resumes with our cached static key) and the encrypted
//! frames that follow. Built from `wacore-noise`'s primitives, as the client
//! is: nothing here re-implements the cryptography.

use wacore_noise::{NoiseCipher, NoiseHandshake};
use whatsapp_rust::buffa::Message;
use whatsapp_rust::wacore::libsignal::protocol::KeyPair;
use whatsapp_rust::wacore_binary::consts::{NOISE_PATTERN_IK, NOISE_PATTERN_XX, WA_CONN_HEADER};
use whatsapp_rust::waproto::whatsapp as wa;

use crate::Error;

/// The server's long-lived Noise identity and the certificate chain naming it.
pub struct ServerIdentity {
    pub keys: KeyPair,
    pub cert_chain: Vec<u8>,
}

impl ServerIdentity {
    pub fn generate() -> Self {
        let keys = whatsapp_rust::wacore::crypto::generate_curve_key_pair();
        let cert_chain = wacore_noise::test_util::build_cert_chain_bytes(&public_bytes(&keys));
        Self { keys, cert_chain }
    }
}

fn public_bytes(keys: &KeyPair) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(keys.public_key.public_key_bytes());
    out
}

fn key32(bytes: &[u8], what: &str) -> Result<[u8; 32], Error> {
    bytes
        .try_into()
        .map_err(|_| Error::Protocol(format!("{what} is {} bytes, not 32", bytes.len())))
}

fn noise_err(e: impl std::fmt::Display) -> Error {
    Error::Protocol(format!("noise: {e}"))
}

/// What the client's first message held.
pub enum Hello {
    /// XX: the server answers with its static key and certificate, the client
    /// finishes with its own static key and payload.
    Xx { client_ephemeral: [u8; 32] },
    /// IK: the client already knows our static key and sent its own with the payload.
    Ik(Box<IkAccepted>),
}

pub struct IkAccepted {
    pub noise: NoiseHandshake,
    pub client_ephemeral: [u8; 32],
    pub client_static: [u8; 32],
    pub payload: Vec<u8>,
}

/// Strip the connection header (`WA` + version) from the first frame's bytes.
pub fn strip_header(first: &[u8]) -> &[u8] {
    first.strip_prefix(&WA_CONN_HEADER[..]).unwrap_or(first)
}

/// Read the ClientHello.
pub fn read_hello(identity: &ServerIdentity, bytes: &[u8]) -> Result<Hello, Error> {
    let message = wa::HandshakeMessage::decode_from_slice(bytes).map_err(noise_err)?;
    let hello = message
        .client_hello
        .into_option()
        .ok_or_else(|| Error::Protocol("first frame is not a ClientHello".into()))?;
    let client_ephemeral = key32(hello.ephemeral.as_deref().unwrap_or_default(), "client ephemeral")?;
    match (hello.r#static, hello.payload) {
        (Some(encrypted_static), Some(encrypted_payload)) => {
            let mut noise = NoiseHandshake::new(NOISE_PATTERN_IK, &WA_CONN_HEADER).map_err(noise_err)?;
            noise.authenticate(&public_bytes(&identity.keys));
            noise.authenticate(&client_ephemeral);
            noise
                .mix_shared_secret(identity.keys.private_key.serialize(), &client_ephemeral)
                .map_err(noise_err)?;
            let client_static = key32(&noise.decrypt(&encrypted_static).map_err(noise_err)?, "client static")?;
            noise
                .mix_shared_secret(identity.keys.private_key.serialize(), &client_static)
                .map_err(noise_err)?;
            let payload = noise.decrypt(&encrypted_payload).map_err(noise_err)?;
            Ok(Hello::Ik(Box::new(IkAccepted {
                noise,
                client_ephemeral,
                client_static,
                payload,
            })))
        }
        _ => Ok(Hello::Xx { client_ephemeral }),
    }
}

/// Half-done XX handshake: the ServerHello is out, the ClientFinish is awaited.
pub struct XxPending {
    noise: NoiseHandshake,
    ephemeral: KeyPair,
}

/// Build the XX ServerHello.
pub fn xx_server_hello(identity: &ServerIdentity, client_ephemeral: &[u8; 32]) -> Result<(Vec<u8>, XxPending), Error> {
    let mut noise = NoiseHandshake::new(NOISE_PATTERN_XX, &WA_CONN_HEADER).map_err(noise_err)?;
    noise.authenticate(client_ephemeral);
    let ephemeral = whatsapp_rust::wacore::crypto::generate_curve_key_pair();
    noise.authenticate(ephemeral.public_key.public_key_bytes());
    noise
        .mix_shared_secret(ephemeral.private_key.serialize(), client_ephemeral)
        .map_err(noise_err)?;
    let encrypted_static = noise.encrypt(&public_bytes(&identity.keys)).map_err(noise_err)?;
    noise
        .mix_shared_secret(identity.keys.private_key.serialize(), client_ephemeral)
        .map_err(noise_err)?;
    let encrypted_cert = noise.encrypt(&identity.cert_chain).map_err(noise_err)?;
    let hello = server_hello(
        ephemeral.public_key.public_key_bytes(),
        Some(encrypted_static),
        encrypted_cert,
    );
    Ok((hello, XxPending { noise, ephemeral }))
}

fn server_hello(ephemeral: &[u8], encrypted_static: Option<Vec<u8>>, payload: Vec<u8>) -> Vec<u8> {
    wa::HandshakeMessage {
        server_hello: whatsapp_rust::buffa::MessageField::some(wa::handshake_message::ServerHello {
            ephemeral: Some(ephemeral.to_vec()),
            r#static: encrypted_static,
            payload: Some(payload),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The established session: ciphers for each direction, the client's static
/// key and its ClientPayload.
pub struct Established {
    pub ciphers: Ciphers,
    pub client_static: [u8; 32],
    pub payload: wa::ClientPayload,
}

/// Read the ClientFinish and derive the transport keys.
pub fn xx_finish(pending: XxPending, bytes: &[u8]) -> Result<Established, Error> {
    let XxPending { mut noise, ephemeral } = pending;
    let message = wa::HandshakeMessage::decode_from_slice(bytes).map_err(noise_err)?;
    let finish = message
        .client_finish
        .into_option()
        .ok_or_else(|| Error::Protocol("second frame is not a ClientFinish".into()))?;
    let client_static = key32(
        &noise
            .decrypt(finish.r#static.as_deref().unwrap_or_default())
            .map_err(noise_err)?,
        "client static",
    )?;
    noise
        .mix_shared_secret(ephemeral.private_key.serialize(), &client_static)
        .map_err(noise_err)?;
    let payload = noise
        .decrypt(finish.payload.as_deref().unwrap_or_default())
        .map_err(noise_err)?;
    established(noise, client_static, &payload)
}

/// Accept an IK resume: answer with a ServerHello without a static key.
pub fn ik_accept(identity: &ServerIdentity, accepted: IkAccepted) -> Result<(Vec<u8>, Established), Error> {
    let IkAccepted {
        mut noise,
        client_ephemeral,
        client_static,
        payload,
    } = accepted;
    let ephemeral = whatsapp_rust::wacore::crypto::generate_curve_key_pair();
    noise.authenticate(ephemeral.public_key.public_key_bytes());
    noise
        .mix_shared_secret(ephemeral.private_key.serialize(), &client_ephemeral)
        .map_err(noise_err)?;
    noise
        .mix_shared_secret(ephemeral.private_key.serialize(), &client_static)
        .map_err(noise_err)?;
    let encrypted_cert = noise.encrypt(&identity.cert_chain).map_err(noise_err)?;
    let hello = server_hello(ephemeral.public_key.public_key_bytes(), None, encrypted_cert);
    Ok((hello, established(noise, client_static, &payload)?))
}

fn established(noise: NoiseHandshake, client_static: [u8; 32], payload: &[u8]) -> Result<Established, Error> {
    let payload = wa::ClientPayload::decode_from_slice(payload).map_err(noise_err)?;
    let (write, read) = noise.finish().map_err(noise_err)?;
    // The initiator's write key is the responder's read key.
    Ok(Established {
        ciphers: Ciphers {
            read: write,
            write: read,
            read_counter: 0,
            write_counter: 0,
        },
        client_static,
        payload,
    })
}

/// Transport encryption after the handshake; one counter per direction.
pub struct Ciphers {
    read: NoiseCipher,
    write: NoiseCipher,
    read_counter: u32,
    write_counter: u32,
}

impl Ciphers {
    pub fn decrypt(&mut self, frame: &[u8]) -> Result<Vec<u8>, Error> {
        let mut buffer = frame.to_vec();
        self.read
            .decrypt_in_place_with_counter(self.read_counter, &mut buffer)
            .map_err(noise_err)?;
        self.read_counter += 1;
        Ok(buffer)
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let out = self
            .write
            .encrypt_with_counter(self.write_counter, plaintext)
            .map_err(noise_err)?;
        self.write_counter += 1;
        Ok(out)
    }
}

/// Put a 3-byte length before a payload.
pub fn frame(payload: &[u8]) -> Result<Vec<u8>, Error> {
    wacore_noise::framing::encode_frame(payload, None).map_err(noise_err)
}
