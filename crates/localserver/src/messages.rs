//! Messages both ways (stage 2 of issue 8): people send the linked device
//! Signal-encrypted messages; what the device sends is acknowledged, decrypted
//! by its recipients and recorded, so tests compare content exactly.

use std::sync::Arc;

use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Jid, Node, NodeRef};
use whatsapp_rust::waproto::whatsapp as wa;

use whatsapp_rust::wacore::download::{DownloadUtils, MediaType};
use whatsapp_rust::wacore::upload::encrypt_media;

use crate::conn::{attr, now};
use crate::signal::Person;
use crate::{Error, Outbound, Seen, Shared};

/// A message the linked device sent, as its recipient's phone decrypted it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The stanza id (the message id).
    pub id: String,
    /// Who the device addressed (a person's JID, or a group).
    pub to: String,
    /// Whose phone decrypted this copy (the recipient, or the account's own
    /// phone for the device-sent copy).
    pub decrypted_by: String,
    pub message: wa::Message,
}

/// Text of a message as a person reads it (device-sent copies unwrapped).
pub fn text_of(message: &wa::Message) -> Option<String> {
    let message = message
        .device_sent_message
        .as_option()
        .and_then(|d| d.message.as_option())
        .unwrap_or(message);
    message
        .conversation
        .clone()
        .or_else(|| message.extended_text_message.as_option().and_then(|m| m.text.clone()))
}

/// A message id in WhatsApp's shape.
fn message_id(n: u64) -> String {
    format!("3EB0LOCAL{n:08X}")
}

/// The linked devices that confirmed their identity (they can get messages).
fn linked_devices(shared: &Shared) -> Vec<u16> {
    shared
        .state()
        .account
        .devices
        .values()
        .filter(|d| d.confirmed)
        .map(|d| d.id)
        .collect()
}

/// A device's JID and what a session with it starts from (one pre-key taken).
fn session_start(shared: &Shared, device: u16) -> Result<(Jid, crate::keys::Bundle), Error> {
    let mut state = shared.state();
    let jid: Jid = state
        .account
        .jid(device)
        .parse()
        .map_err(|_| Error::Protocol("device JID".into()))?;
    let bundle = state
        .bundles
        .get_mut(&device)
        .map(crate::keys::Bundle::take_one)
        .ok_or_else(|| Error::Protocol(format!("device {device} uploaded no keys")))?;
    Ok((jid, bundle))
}

/// Person `from` sends `message` to every linked device of the account. Sent
/// now to connected devices, kept for the others until they come back.
pub(crate) async fn deliver(shared: &Arc<Shared>, from: &str, message: &wa::Message) -> Result<String, Error> {
    let id = message_id(shared.fresh());
    let devices = linked_devices(shared);
    if devices.is_empty() {
        return Err(Error::NotConnected);
    }
    shared
        .delivered
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id.clone(), (from.to_owned(), message.clone()));
    let mut people = shared.people.lock().await;
    let person = people
        .get_mut(from)
        .ok_or_else(|| Error::Protocol(format!("{from} is not a contact of this account")))?;
    for device in devices {
        send_pairwise(shared, person, device, &id, message).await?;
    }
    Ok(id)
}

/// One person's message to one device, encrypted for it.
async fn send_pairwise(
    shared: &Arc<Shared>,
    person: &mut crate::signal::Person,
    device: u16,
    id: &str,
    message: &wa::Message,
) -> Result<(), Error> {
    let (jid, mut bundle) = session_start(shared, device)?;
    let enc = person.encrypt_for(&jid, &mut bundle, message).await?;
    let stanza = NodeBuilder::new("message")
        .attr("from", person.jid.clone())
        .attr("id", id.to_owned())
        .attr("t", now().to_string())
        .attr(
            "type",
            if message.conversation.is_some() || message.extended_text_message.is_set() {
                "text"
            } else {
                "media"
            },
        )
        .attr("notify", person.name.clone())
        .children([enc])
        .build();
    shared.send_to_device(device, stanza);
    Ok(())
}

/// The device on connection `conn` could not decrypt message `id` (its side
/// of the session is gone or behind, for example after the app was killed
/// before saving it) and sent a retry receipt: as a phone does, the sender
/// drops its session with that device, starts a new one from the device's
/// keys, and sends the same message again under the same id.
pub(crate) async fn retry(shared: &Arc<Shared>, conn: u64, receipt: &Node) -> Result<(), Error> {
    let receipt = receipt.as_node_ref();
    let id = attr(&receipt, "id");
    let Some(device) = shared.state().conns.get(&conn).and_then(|c| c.device) else {
        return Err(Error::Protocol("a retry receipt before login".into()));
    };
    let Some((from, message)) = shared
        .delivered
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&id)
        .cloned()
    else {
        return Err(Error::Protocol(format!("a retry receipt for {id}, which nobody sent")));
    };
    let jid: Jid = shared
        .state()
        .account
        .jid(device)
        .parse()
        .map_err(|_| Error::Protocol("device JID".into()))?;
    let mut people = shared.people.lock().await;
    let person = people
        .get_mut(&from)
        .ok_or_else(|| Error::Protocol(format!("{from} is not a contact of this account")))?;
    person.forget_session(&jid);
    send_pairwise(shared, person, device, &id, &message).await?;
    shared.saw(Seen::Resent { id });
    Ok(())
}

/// Person `from` writes `message` in `group` to every linked device.
pub(crate) async fn deliver_to_group(
    shared: &Arc<Shared>,
    group: &str,
    from: &str,
    message: &wa::Message,
) -> Result<String, Error> {
    let id = {
        let mut state = shared.state();
        if !state
            .groups
            .get(group)
            .is_some_and(|(_, members)| members.iter().any(|m| m == from))
        {
            return Err(Error::Protocol(format!("{from} is not in {group}")));
        }
        message_id(state.fresh())
    };
    let devices = linked_devices(shared);
    let mut people = shared.people.lock().await;
    let person = people
        .get_mut(from)
        .ok_or_else(|| Error::Protocol(format!("{from} is not a contact of this account")))?;
    let distribution = person.sender_key_distribution(group).await?;
    let content = person.group_encrypt(group, message).await?;
    for device in devices {
        let (jid, mut bundle) = session_start(shared, device)?;
        let key = person.encrypt_for(&jid, &mut bundle, &distribution).await?;
        let stanza = NodeBuilder::new("message")
            .attr("from", group.to_owned())
            .attr("participant", person.jid.clone())
            .attr("id", id.clone())
            .attr("t", now().to_string())
            .attr("type", "text")
            .attr("notify", person.name.clone())
            .children([key, content.clone()])
            .build();
        shared.send_to_device(device, stanza);
    }
    Ok(id)
}

/// The linked device on connection `conn` sent a `<message>`: decrypt each copy
/// addressed to a person we play, record it, acknowledge it, and have the
/// recipient's phone confirm delivery.
// Decrypting, recording and acknowledging one stanza are one exchange with the client; split, its steps would pass half a stanza around.
#[allow(clippy::too_many_lines)]
pub(crate) async fn from_device(shared: &Arc<Shared>, conn: u64, node: &Node) -> Result<(), Error> {
    let node = node.as_node_ref();
    let id = attr(&node, "id");
    let to = attr(&node, "to");
    let Some(device) = shared.state().conns.get(&conn).and_then(|c| c.device) else {
        return Err(Error::Protocol(
            "a message from a connection that is not logged in".into(),
        ));
    };
    let sender: Jid = shared
        .state()
        .account
        .jid(device)
        .parse()
        .map_err(|_| Error::Protocol("device JID".into()))?;
    let mut copies: Vec<(String, &NodeRef<'_>)> = Vec::new();
    if let Some(participants) = node.get_optional_child("participants").and_then(NodeRef::children) {
        for target in participants {
            if let Some(enc) = target.get_optional_child("enc") {
                copies.push((attr(target, "jid"), enc));
            }
        }
    }
    if let Some(enc) = node.get_optional_child("enc") {
        copies.push((to.clone(), enc));
    }
    let group = to.ends_with("@g.us").then(|| to.clone());
    let mut group_copy: Option<Vec<u8>> = None;
    if group.is_some()
        && let Some(enc) = node.get_optional_child("enc")
        && attr(enc, "type") == "skmsg"
    {
        group_copy = enc.content_bytes().map(<[u8]>::to_vec);
        copies.retain(|(target, _)| *target != to);
    }
    let mut distributions: Vec<(String, wa::Message)> = Vec::new();
    let mut people = shared.people.lock().await;
    let (own_phone, own_lid) = {
        let state = shared.state();
        (state.account.phone.clone(), state.account.lid.clone())
    };
    let mut requests = Vec::new();
    for (target, enc) in copies {
        let target_jid: Jid = target
            .parse()
            .map_err(|_| Error::Protocol(format!("bad target {target}")))?;
        if target_jid.device != 0 {
            continue;
        }
        // The account's phone is also addressed by its LID.
        let user = if target_jid.user.as_str() == own_lid {
            own_phone.as_str()
        } else {
            target_jid.user.as_str()
        };
        let Some(person) = people.get_mut(user) else {
            continue;
        };
        let message = person
            .decrypt_from(&sender, &attr(enc, "type"), enc.content_bytes().unwrap_or_default())
            .await?;
        if user == own_phone
            && let Some(request) = on_demand_request(&message)
        {
            requests.push(request);
        }
        if group.is_some() && message.sender_key_distribution_message.is_set() {
            distributions.push((user.to_owned(), message));
            continue;
        }
        let received = Received {
            id: id.clone(),
            to: to.clone(),
            decrypted_by: person.jid.clone(),
            message,
        };
        shared
            .received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(received);
    }
    // A group message: every member's phone takes the sender key it was handed
    // and opens the one copy sealed under it.
    if let (Some(group), Some(sealed)) = (&group, &group_copy) {
        let members = shared
            .state()
            .groups
            .get(group)
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        for member in members {
            let Some(person) = people.get_mut(&member) else {
                continue;
            };
            let handed = distributions
                .iter()
                .find(|(user, _)| *user == member)
                .and_then(|(_, m)| m.sender_key_distribution_message.as_option());
            match person.group_decrypt(group, &sender, handed, sealed).await {
                Ok(message) => shared
                    .received
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Received {
                        id: id.clone(),
                        to: to.clone(),
                        decrypted_by: person.jid.clone(),
                        message,
                    }),
                Err(e) => tracing::warn!(error = %e, member, "local server: a member could not open a group message"),
            }
        }
    }
    drop(people);
    let ack = NodeBuilder::new("ack")
        .attr("class", "message")
        .attr("id", id.clone())
        .attr("from", to.clone())
        .attr("t", now().to_string())
        .build();
    // The recipient's phone confirms delivery; a message to our own phone
    // (category "peer") gets the phone's peer receipt instead.
    let mut delivered = NodeBuilder::new("receipt")
        .attr("from", to.clone())
        .attr("id", id.clone())
        .attr("t", now().to_string());
    if attr(&node, "category") == "peer" {
        delivered = delivered.attr("type", "peer_msg");
    }
    let delivered = delivered.build();
    if let Some(c) = shared.state().conns.get(&conn) {
        let _ = c.out.send(Outbound::Node(ack));
        let _ = c.out.send(Outbound::Node(delivered));
    }
    shared.saw(Seen::MessageFromDevice { id: id.clone(), to });
    for request in requests {
        answer_on_demand(shared, &id, &request).await?;
    }
    Ok(())
}

type OnDemandRequest = wa::message::peer_data_operation_request_message::HistorySyncOnDemandRequest;

/// A "send me older messages of this chat" request from the device to its phone.
fn on_demand_request(message: &wa::Message) -> Option<OnDemandRequest> {
    let protocol = message.protocol_message.as_option()?;
    let request = protocol.peer_data_operation_request_message.as_option()?;
    if request.peer_data_operation_request_type
        != Some(wa::message::PeerDataOperationRequestType::HISTORY_SYNC_ON_DEMAND)
    {
        return None;
    }
    request.history_sync_on_demand_request.as_option().cloned()
}

/// The phone answers a request with up to the asked count of messages older
/// than the anchor, as an on-demand history chunk tagged with the request's id.
async fn answer_on_demand(shared: &Arc<Shared>, request_id: &str, request: &OnDemandRequest) -> Result<(), Error> {
    let chat = request.chat_jid.clone().unwrap_or_default();
    let anchor = request.oldest_msg_id.clone().unwrap_or_default();
    let count = usize::try_from(request.on_demand_msg_count.unwrap_or(50)).unwrap_or(50);
    let older: Vec<wa::WebMessageInfo> = {
        let history = shared
            .on_demand
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let all = history.get(&chat).map(Vec::as_slice).unwrap_or_default();
        let end = all
            .iter()
            .position(|m| m.key.as_option().and_then(|k| k.id.as_deref()) == Some(anchor.as_str()))
            .unwrap_or(0);
        all[end.saturating_sub(count)..end].to_vec()
    };
    let messages = older.len();
    let sync = wa::HistorySync {
        sync_type: wa::history_sync::HistorySyncType::ON_DEMAND,
        conversations: vec![wa::Conversation {
            id: chat.clone(),
            messages: older
                .into_iter()
                .map(|info| wa::HistorySyncMsg {
                    message: whatsapp_rust::buffa::MessageField::some(info),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut message = history_notification(shared, &sync)?;
    if let Some(notification) = message
        .protocol_message
        .as_option_mut()
        .and_then(|p| p.history_sync_notification.as_option_mut())
    {
        notification.peer_data_request_session_id = Some(request_id.to_owned());
    }
    let phone = shared.state().account.phone.clone();
    deliver(shared, &phone, &message).await?;
    shared.saw(Seen::OnDemandHistory { chat, messages });
    Ok(())
}

/// `person` read the messages `ids` it got from the device: a read receipt.
pub(crate) fn read(shared: &Shared, person: &str, ids: &[String]) {
    let Some((first, rest)) = ids.split_first() else {
        return;
    };
    let mut receipt = NodeBuilder::new("receipt")
        .attr("from", format!("{person}@s.whatsapp.net"))
        .attr("id", first.clone())
        .attr("type", "read")
        .attr("t", now().to_string());
    if !rest.is_empty() {
        receipt = receipt.children([NodeBuilder::new("list")
            .children(
                rest.iter()
                    .map(|id| NodeBuilder::new("item").attr("id", id.clone()).build()),
            )
            .build()]);
    }
    let receipt = receipt.build();
    let devices: Vec<u16> = shared.state().account.devices.keys().copied().collect();
    for device in devices {
        shared.send_to_device(device, receipt.clone());
    }
}

/// Make the contact `person`, known to the server by its phone number.
pub(crate) fn person(user: &str, name: &str) -> Result<Person, Error> {
    let keys = whatsapp_rust::wacore::crypto::generate_curve_key_pair();
    Person::new(&format!("{user}@s.whatsapp.net"), name, &keys)
}

/// What opening a media message needs: its type, direct path and key.
type MediaRef<'a> = (MediaType, Option<&'a str>, Option<&'a [u8]>);

/// The media type and the fields of a media message.
fn media_of(message: &wa::Message) -> Option<MediaRef<'_>> {
    if let Some(m) = message.image_message.as_option() {
        return Some((MediaType::Image, m.direct_path.as_deref(), m.media_key.as_deref()));
    }
    if let Some(m) = message.document_message.as_option() {
        return Some((MediaType::Document, m.direct_path.as_deref(), m.media_key.as_deref()));
    }
    if let Some(m) = message.audio_message.as_option() {
        return Some((MediaType::Audio, m.direct_path.as_deref(), m.media_key.as_deref()));
    }
    if let Some(m) = message.video_message.as_option() {
        return Some((MediaType::Video, m.direct_path.as_deref(), m.media_key.as_deref()));
    }
    None
}

pub(crate) fn open_media(shared: &Shared, message: &wa::Message) -> Result<Vec<u8>, Error> {
    let message = message
        .device_sent_message
        .as_option()
        .and_then(|d| d.message.as_option())
        .unwrap_or(message);
    let (kind, path, key) = media_of(message).ok_or_else(|| Error::Protocol("not a media message".into()))?;
    let path = path.ok_or_else(|| Error::Protocol("media without a direct path".into()))?;
    let key = key.ok_or_else(|| Error::Protocol("media without a key".into()))?;
    let encrypted = shared
        .media_get(path)
        .map_err(|status| Error::Protocol(format!("media host answered {status} for {path}")))?;
    DownloadUtils::verify_and_decrypt(&encrypted, key, kind).map_err(|e| Error::Protocol(format!("media: {e:?}")))
}

pub(crate) fn file_message(
    shared: &Shared,
    bytes: &[u8],
    mime: &str,
    name: &str,
) -> Result<(wa::Message, String, [u8; 32]), Error> {
    let image = mime.starts_with("image/");
    let kind = if image { MediaType::Image } else { MediaType::Document };
    let encrypted = encrypt_media(bytes, kind).map_err(|e| Error::Protocol(format!("media: {e}")))?;
    let direct_path = format!("/v/t62.7118-24/local-{}", shared.fresh());
    shared.media_put(&direct_path, encrypted.data_to_upload);
    let url = format!("https://mmg.whatsapp.net{direct_path}");
    let length = bytes.len() as u64;
    let message = if image {
        wa::Message {
            image_message: whatsapp_rust::buffa::MessageField::some(wa::message::ImageMessage {
                url: Some(url),
                direct_path: Some(direct_path.clone()),
                mimetype: Some(mime.to_owned()),
                media_key: Some(encrypted.media_key.to_vec()),
                file_sha256: Some(encrypted.file_sha256.to_vec()),
                file_enc_sha256: Some(encrypted.file_enc_sha256.to_vec()),
                file_length: Some(length),
                caption: Some(name.to_owned()),
                media_key_timestamp: Some(now() as i64),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else {
        wa::Message {
            document_message: whatsapp_rust::buffa::MessageField::some(wa::message::DocumentMessage {
                url: Some(url),
                direct_path: Some(direct_path.clone()),
                mimetype: Some(mime.to_owned()),
                media_key: Some(encrypted.media_key.to_vec()),
                file_sha256: Some(encrypted.file_sha256.to_vec()),
                file_enc_sha256: Some(encrypted.file_enc_sha256.to_vec()),
                file_length: Some(length),
                file_name: Some(name.to_owned()),
                title: Some(name.to_owned()),
                media_key_timestamp: Some(now() as i64),
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    Ok((message, direct_path, encrypted.media_key))
}

/// The device could not download the media of a message (expired) and asks
/// the sender's phone to upload it again (`<receipt type="server-error">`).
/// The phone checks the request was made with the message's media key, puts
/// the same encrypted file under a new direct path, and answers with an
/// encrypted `mediaretry` notification.
pub(crate) fn media_retry(shared: &Shared, conn: u64, receipt: &NodeRef<'_>) -> Result<(), Error> {
    use whatsapp_rust::buffa::Message as _;
    let id = attr(receipt, "id");
    let Some((media_key, old_path)) = shared
        .sent_media
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&id)
        .cloned()
    else {
        return Err(Error::Protocol(format!("a media retry for {id}, which no phone sent")));
    };
    let enc_p = receipt
        .get_optional_child_by_tag(&["encrypt", "enc_p"])
        .and_then(NodeRef::content_bytes)
        .unwrap_or_default();
    let enc_iv = receipt
        .get_optional_child_by_tag(&["encrypt", "enc_iv"])
        .and_then(NodeRef::content_bytes)
        .unwrap_or_default();
    let mut key = [0; 32];
    whatsapp_rust::wacore::crypto::hkdf_sha256_into(&media_key, None, b"WhatsApp Media Retry Notification", &mut key)
        .map_err(|e| Error::Protocol(format!("media retry key: {e}")))?;
    let nonce: [u8; 12] = enc_iv
        .try_into()
        .map_err(|_| Error::Protocol("media retry iv is not 12 bytes".into()))?;
    let mut plain = Vec::new();
    whatsapp_rust::wacore::libsignal::crypto::aes_256_gcm_decrypt(&key, &nonce, id.as_bytes(), enc_p, &mut plain)
        .map_err(|_| Error::Protocol("the media retry request was not made with this media key".into()))?;
    let asked = wa::ServerErrorReceipt::decode_from_slice(&plain).map_err(|e| Error::Protocol(e.to_string()))?;
    if asked.stanza_id.as_deref() != Some(id.as_str()) {
        return Err(Error::Protocol("media retry for another message".into()));
    }
    // Re-upload: the same encrypted file under a new path.
    let bytes = shared
        .media
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&old_path)
        .map(|(bytes, _)| bytes.clone())
        .ok_or_else(|| Error::Protocol("the phone no longer has that file".into()))?;
    let new_path = format!("{old_path}-again");
    shared.media_put(&new_path, bytes);
    if let Some(entry) = shared
        .sent_media
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_mut(&id)
    {
        entry.1.clone_from(&new_path);
    }
    let answer = wa::MediaRetryNotification {
        stanza_id: Some(id.clone()),
        direct_path: Some(new_path),
        result: Some(wa::media_retry_notification::ResultType::SUCCESS),
        ..Default::default()
    }
    .encode_to_vec();
    let iv: [u8; 12] = rand::random();
    let mut sealed = Vec::new();
    whatsapp_rust::wacore::libsignal::crypto::aes_256_gcm_encrypt(&key, &iv, id.as_bytes(), &answer, &mut sealed)
        .map_err(|e| Error::Protocol(format!("media retry: {e}")))?;
    let mut rmr = NodeBuilder::new("rmr");
    if let Some(rmr_in) = receipt.get_optional_child("rmr") {
        for key in ["jid", "from_me", "participant"] {
            let value = attr(rmr_in, key);
            if !value.is_empty() {
                rmr = rmr.attr(key, value);
            }
        }
    }
    let notification = NodeBuilder::new("notification")
        .attr("type", "mediaretry")
        .attr("id", id.clone())
        .attr("from", shared.state().account.jid(0))
        .attr("t", now().to_string())
        .children([
            NodeBuilder::new("encrypt")
                .children([
                    NodeBuilder::new("enc_p").bytes(sealed).build(),
                    NodeBuilder::new("enc_iv").bytes(iv.to_vec()).build(),
                ])
                .build(),
            rmr.build(),
        ])
        .build();
    if let Some(c) = shared.state().conns.get(&conn) {
        let _ = c.out.send(Outbound::Node(notification));
    }
    shared.saw(Seen::MediaReuploaded { id });
    Ok(())
}

/// A history-sync chunk put on the media host, and the notification about it.
pub(crate) fn history_notification(shared: &Shared, sync: &wa::HistorySync) -> Result<wa::Message, Error> {
    use std::io::Write as _;
    use whatsapp_rust::buffa::Message as _;
    let raw = sync.encode_to_vec();
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&raw)?;
    let compressed = zlib.finish()?;
    let encrypted =
        encrypt_media(&compressed, MediaType::History).map_err(|e| Error::Protocol(format!("media: {e}")))?;
    let direct_path = format!("/v/t62.15575-24/history-{}", shared.fresh());
    shared.media_put(&direct_path, encrypted.data_to_upload);
    let kind = match sync.sync_type {
        wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP => wa::message::HistorySyncType::INITIAL_BOOTSTRAP,
        wa::history_sync::HistorySyncType::ON_DEMAND => wa::message::HistorySyncType::ON_DEMAND,
        wa::history_sync::HistorySyncType::FULL => wa::message::HistorySyncType::FULL,
        wa::history_sync::HistorySyncType::PUSH_NAME => wa::message::HistorySyncType::PUSH_NAME,
        _ => wa::message::HistorySyncType::RECENT,
    };
    Ok(wa::Message {
        protocol_message: whatsapp_rust::buffa::MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::HISTORY_SYNC_NOTIFICATION),
            history_sync_notification: whatsapp_rust::buffa::MessageField::some(wa::message::HistorySyncNotification {
                file_sha256: Some(encrypted.file_sha256.to_vec()),
                file_length: Some(compressed.len() as u64),
                media_key: Some(encrypted.media_key.to_vec()),
                file_enc_sha256: Some(encrypted.file_enc_sha256.to_vec()),
                direct_path: Some(direct_path),
                sync_type: Some(kind),
                chunk_order: sync.chunk_order,
                progress: sync.progress,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The account's phone shares its app-state key with the linked devices.
pub(crate) async fn share_app_state_key(shared: &Arc<Shared>) -> Result<(), Error> {
    let (phone, key_id, key_data) = {
        let state = shared.state();
        (
            state.account.phone.clone(),
            state.account.app_state_key_id.clone(),
            state.account.app_state_key.clone(),
        )
    };
    let share = wa::Message {
        protocol_message: whatsapp_rust::buffa::MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
            app_state_sync_key_share: whatsapp_rust::buffa::MessageField::some(wa::message::AppStateSyncKeyShare {
                keys: vec![wa::message::AppStateSyncKey {
                    key_id: whatsapp_rust::buffa::MessageField::some(wa::message::AppStateSyncKeyId {
                        key_id: Some(key_id),
                    }),
                    key_data: whatsapp_rust::buffa::MessageField::some(wa::message::AppStateSyncKeyData {
                        key_data: Some(key_data),
                        fingerprint: whatsapp_rust::buffa::MessageField::some(
                            wa::message::AppStateSyncKeyFingerprint {
                                raw_id: Some(1),
                                current_index: Some(0),
                                device_indexes: vec![0],
                            },
                        ),
                        timestamp: Some(now() as i64 * 1000),
                    }),
                }],
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    deliver(shared, &phone, &share).await.map(drop)
}
