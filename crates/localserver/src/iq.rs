//! What the server answers to the stanzas a client sends.

use std::sync::Arc;

use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Node, NodeRef};

use crate::conn::attr;
use crate::{Error, Outbound, Seen, Shared};

fn result(id: &str) -> NodeBuilder {
    NodeBuilder::new("iq")
        .attr("from", "s.whatsapp.net")
        .attr("type", "result")
        .attr("id", id.to_owned())
}

fn error(id: &str, code: u16, text: &str) -> Node {
    NodeBuilder::new("iq")
        .attr("from", "s.whatsapp.net")
        .attr("type", "error")
        .attr("id", id.to_owned())
        .children([NodeBuilder::new("error")
            .attr("code", code.to_string())
            .attr("text", text.to_owned())
            .build()])
        .build()
}

pub(crate) fn stream_error_conflict(code: &str, conflict: &str) -> Node {
    NodeBuilder::new("stream:error")
        .attr("code", code.to_owned())
        .children([NodeBuilder::new("conflict").attr("type", conflict.to_owned()).build()])
        .build()
}

fn stream_error(code: &str) -> Node {
    NodeBuilder::new("stream:error").attr("code", code.to_owned()).build()
}

/// The answers to one stanza from connection `conn`.
// One arm per kind of IQ the client sends, in the order it sends them after a login: a table to read down.
#[allow(clippy::too_many_lines)]
pub(crate) fn answer(shared: &Arc<Shared>, conn: u64, node: &NodeRef<'_>) -> Result<Vec<Node>, Error> {
    if node.tag.as_ref() != "iq" {
        return Ok(Vec::new());
    }
    let id = attr(node, "id");
    let kind = attr(node, "type");
    let xmlns = attr(node, "xmlns");
    let child = node
        .children()
        .and_then(|c| c.first())
        .map(|c| c.tag.as_ref().to_owned())
        .unwrap_or_default();
    if kind == "result" {
        if child == "pair-device-sign" {
            return pair_device_signed(shared, conn, node);
        }
        return Ok(Vec::new());
    }
    let answer = match (xmlns.as_str(), child.as_str()) {
        // Leaving passive mode: WhatsApp then delivers what arrived while the
        // device was away, and says when it is done.
        ("passive", "active") => {
            let mut answers = vec![result(&id).build()];
            let mut state = shared.state();
            if let Some(device) = device_of(&state, conn) {
                let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut state.offline)
                    .into_iter()
                    .partition(|(d, _)| *d == device);
                state.offline = others;
                answers.extend(mine.into_iter().map(|(_, node)| node));
            }
            let count = answers.len() - 1;
            answers.push(
                NodeBuilder::new("ib")
                    .children([NodeBuilder::new("offline").attr("count", count.to_string()).build()])
                    .build(),
            );
            return Ok(answers);
        }
        ("passive" | "w:p" | "urn:xmpp:ping", _) => result(&id).build(),
        ("encrypt", "count") => {
            let state = shared.state();
            let left = device_of(&state, conn)
                .and_then(|d| state.bundles.get(&d))
                .map_or(0, |b| b.prekeys.len());
            result(&id)
                .children([NodeBuilder::new("count").attr("value", left.to_string()).build()])
                .build()
        }
        ("encrypt", "registration" | "list" | "identity" | "type" | "skey") => {
            let mut state = shared.state();
            match device_of(&state, conn) {
                Some(device) => {
                    let first = !state.bundles.contains_key(&device);
                    state.bundles.entry(device).or_default().upload(node);
                    if first {
                        // Like the phone after linking: share the app-state key
                        // as soon as the device can receive messages.
                        let shared = Arc::clone(shared);
                        tokio::spawn(async move {
                            if let Err(e) = crate::messages::share_app_state_key(&shared).await {
                                tracing::warn!(error = %e, "local server: the app-state key share failed");
                            }
                        });
                    }
                    result(&id).build()
                }
                None => error(&id, 401, "not-authorized"),
            }
        }
        ("encrypt", "digest") => {
            let state = shared.state();
            match device_of(&state, conn).and_then(|d| state.bundles.get(&d)) {
                Some(bundle) => result(&id).children([bundle.digest()]).build(),
                None => error(&id, 404, "item-not-found"),
            }
        }
        ("usync", "usync") => usync(shared, &id, node),
        // Where media goes: the hosts stand for WhatsApp's (the client's
        // HTTPS requests are sent to the local media host).
        ("w:m", "media_conn") => result(&id)
            .children([NodeBuilder::new("media_conn")
                .attr("auth", "local-media-auth")
                .attr("ttl", "3600")
                .attr("auth_ttl", "3600")
                .attr("max_buckets", "12")
                .children([NodeBuilder::new("host")
                    .attr("hostname", "mmg.whatsapp.net")
                    .attr("type", "primary")
                    .build()])
                .build()])
            .build(),
        ("w:g2", "participating") => {
            let state = shared.state();
            let groups: Vec<Node> = state.groups.keys().map(|jid| group_node(&state, jid)).collect();
            result(&id)
                .children([NodeBuilder::new("groups").children(groups).build()])
                .build()
        }
        ("w:g2", "query") => {
            let state = shared.state();
            let to = attr(node, "to");
            if state.groups.contains_key(&to) {
                result(&id)
                    .attr("from", to.clone())
                    .children([group_node(&state, &to)])
                    .build()
            } else {
                error(&id, 404, "item-not-found")
            }
        }
        ("w" | "abt", "props") => result(&id)
            .children([NodeBuilder::new("props")
                .attr("protocol", "1")
                .attr("hash", "local")
                .build()])
            .build(),
        ("blocklist", _) => result(&id).children([NodeBuilder::new("list").build()]).build(),
        ("privacy", "privacy") => result(&id)
            .children([NodeBuilder::new("privacy")
                .children(
                    [
                        ("readreceipts", "all"),
                        ("last", "all"),
                        ("online", "all"),
                        ("profile", "all"),
                    ]
                    .map(|(name, value)| {
                        NodeBuilder::new("category")
                            .attr("name", name)
                            .attr("value", value)
                            .build()
                    }),
                )
                .build()])
            .build(),
        ("w:sync:app:state", "sync") => app_state_sync(&id, node),
        ("md", "link_code_companion_reg") => return link_code(shared, conn, &id, node),
        ("md", "remove-companion-device") => {
            let device = shared.state().conns.get(&conn).and_then(|c| c.device);
            if let Some(device) = device {
                shared.state().account.devices.remove(&device);
            }
            result(&id).build()
        }
        _ => {
            shared.saw(Seen::UnhandledIq {
                xmlns: xmlns.clone(),
                child: child.clone(),
            });
            error(&id, 501, "feature-not-implemented")
        }
    };
    Ok(vec![answer])
}

/// The companion's half of linking with a code.
fn link_code(shared: &Shared, conn: u64, id: &str, node: &NodeRef<'_>) -> Result<Vec<Node>, Error> {
    let Some(reg) = node.get_optional_child("link_code_companion_reg") else {
        return Ok(vec![error(id, 400, "bad-request")]);
    };
    let mut state = shared.state();
    match attr(reg, "stage").as_str() {
        "companion_hello" => {
            if attr(reg, "jid") != state.account.jid(0) {
                // WhatsApp sends the code to that number's phone: not ours.
                return Ok(vec![error(id, 400, "bad-request")]);
            }
            let pairing_ref = format!("2@local-code-ref-{}", state.fresh());
            state.pair_code = Some(crate::pair_code::companion_hello(conn, pairing_ref.clone(), reg)?);
            Ok(vec![
                result(id)
                    .children([NodeBuilder::new("link_code_companion_reg")
                        .children([NodeBuilder::new("link_code_pairing_ref")
                            .bytes(pairing_ref.into_bytes())
                            .build()])
                        .build()])
                    .build(),
            ])
        }
        "companion_finish" => {
            let request = state
                .pair_code
                .take()
                .filter(|r| r.conn == conn)
                .ok_or_else(|| Error::Protocol("companion_finish without a companion_hello".into()))?;
            let scanned = match crate::pair_code::companion_finish(&request, reg, &state.account.keys) {
                Ok(scanned) => scanned,
                Err(e) => {
                    tracing::info!(error = %e, "local server: linking with a code failed");
                    return Ok(vec![error(id, 401, "not-authorized")]);
                }
            };
            // The answer first, then the phone's pair-success.
            let answer = result(id).build();
            if let Some(c) = state.conns.get(&conn) {
                let _ = c.out.send(Outbound::Node(answer));
            }
            crate::conn::pair_success(&mut state, conn, &scanned)?;
            Ok(Vec::new())
        }
        _ => Ok(vec![error(id, 400, "bad-request")]),
    }
}

/// Pre-key bundles of the people asked for (`<iq xmlns="encrypt" type="get"><key>`).
pub(crate) async fn prekey_fetch(shared: &Shared, iq: &Node) -> Node {
    let iq = iq.as_node_ref();
    let id = attr(&iq, "id");
    let users = iq
        .get_optional_child("key")
        .and_then(NodeRef::children)
        .unwrap_or_default();
    let (phone, lid) = {
        let state = shared.state();
        (state.account.phone.clone(), state.account.lid.clone())
    };
    let mut people = shared.people.lock().await;
    let mut listed = Vec::new();
    for user in users {
        let jid = attr(user, "jid");
        let mut number = jid.split(['@', ':']).next().unwrap_or_default();
        // The account's phone is also asked for by its LID.
        if number == lid {
            number = &phone;
        }
        match people.get_mut(number) {
            Some(person) if !jid.contains(':') => listed.push(person.bundle_node(&jid)),
            _ => listed.push(
                NodeBuilder::new("user")
                    .attr("jid", jid.clone())
                    .children([NodeBuilder::new("error")
                        .attr("code", "404")
                        .attr("text", "item-not-found")
                        .build()])
                    .build(),
            ),
        }
    }
    result(&id)
        .children([NodeBuilder::new("list").children(listed).build()])
        .build()
}

/// A group as WhatsApp describes it: id, subject, participants by phone number.
fn group_node(state: &crate::State, jid: &str) -> Node {
    let (subject, members) = state.groups.get(jid).cloned().unwrap_or_default();
    let id = jid.split('@').next().unwrap_or_default().to_owned();
    let creator = format!("{}@s.whatsapp.net", members.first().cloned().unwrap_or_default());
    NodeBuilder::new("group")
        .attr("id", id)
        .attr("subject", subject)
        .attr("s_t", "1700000000")
        .attr("creation", "1700000000")
        .attr("creator", creator)
        .attr("addressing_mode", "pn")
        .children(members.iter().enumerate().map(|(i, m)| {
            let builder = NodeBuilder::new("participant").attr("jid", format!("{m}@s.whatsapp.net"));
            if i == 0 {
                builder.attr("type", "superadmin")
            } else {
                builder
            }
            .build()
        }))
        .build()
}

fn device_of(state: &crate::State, conn: u64) -> Option<u16> {
    state.conns.get(&conn).and_then(|c| c.device)
}

/// Device lists: the account's own (the phone and its confirmed companions),
/// anyone else's is one phone.
fn usync(shared: &Shared, id: &str, node: &NodeRef<'_>) -> Node {
    let state = shared.state();
    let account = &state.account;
    let users = node
        .get_optional_child_by_tag(&["usync", "list"])
        .and_then(NodeRef::children)
        .unwrap_or_default();
    let own = [account.jid(0), account.lid_jid(0)];
    let listed = users.iter().map(|user| {
        let jid = attr(user, "jid");
        let mut devices = vec![NodeBuilder::new("device").attr("id", "0").build()];
        let mut lists = Vec::new();
        if own.contains(&jid) {
            let companions: Vec<_> = account.devices.values().filter(|d| d.confirmed).collect();
            devices.extend(companions.iter().map(|d| {
                NodeBuilder::new("device")
                    .attr("id", d.id.to_string())
                    .attr("key-index", d.key_index.to_string())
                    .build()
            }));
            if !companions.is_empty() {
                lists.push(
                    NodeBuilder::new("key-index-list")
                        .attr("ts", crate::conn::now().to_string())
                        .bytes(account.key_index_list())
                        .build(),
                );
            }
        }
        let mut children = vec![NodeBuilder::new("device-list").children(devices).build()];
        children.extend(lists);
        NodeBuilder::new("user")
            .attr("jid", jid)
            .children([NodeBuilder::new("devices").children(children).build()])
            .build()
    });
    result(id)
        .children([NodeBuilder::new("usync")
            .children([NodeBuilder::new("list").children(listed.collect::<Vec<_>>()).build()])
            .build()])
        .build()
}

/// The device signed the identity the phone gave it: linking is done. Like
/// WhatsApp, close the stream with 515 so the client logs in as the new device.
fn pair_device_signed(shared: &Arc<Shared>, conn: u64, node: &NodeRef<'_>) -> Result<Vec<Node>, Error> {
    let signed = node
        .get_optional_child_by_tag(&["pair-device-sign", "device-identity"])
        .and_then(NodeRef::content_bytes)
        .ok_or_else(|| Error::Protocol("pair-device-sign without device-identity".into()))?
        .to_vec();
    let device = {
        let mut state = shared.state();
        let device = state
            .conns
            .get(&conn)
            .and_then(|c| c.device)
            .ok_or_else(|| Error::Protocol("pair-device-sign on a connection that was not linking".into()))?;
        state.account.confirm(device, &signed)?;
        if let Some(c) = state.conns.get(&conn) {
            let _ = c.out.send(Outbound::Close);
        }
        device
    };
    shared.saw(Seen::Linked { device });
    Ok(vec![stream_error("515")])
}

/// App state: this account has none yet, so every collection asked for is
/// answered at version 0 with no patches.
fn app_state_sync(id: &str, node: &NodeRef<'_>) -> Node {
    let names: Vec<String> = node
        .get_optional_child("sync")
        .and_then(NodeRef::children)
        .unwrap_or_default()
        .iter()
        .map(|c| attr(c, "name"))
        .collect();
    result(id)
        .children([NodeBuilder::new("sync")
            .children(names.into_iter().map(|name| {
                NodeBuilder::new("collection")
                    .attr("name", name)
                    .attr("version", "0")
                    .build()
            }))
            .build()])
        .build()
}
