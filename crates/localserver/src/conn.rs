//! One client connection: WebSocket, Noise handshake, then stanzas both ways.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_websockets::{Message, ServerBuilder, WebSocketStream};
use whatsapp_rust::futures::{SinkExt, StreamExt};
use whatsapp_rust::wacore::framing::FrameDecoder;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::marshal::{marshal, unmarshal_ref};
use whatsapp_rust::wacore_binary::util::unpack;
use whatsapp_rust::wacore_binary::{Node, NodeRef};

use crate::noise::{self, Ciphers, Hello};
use crate::{ConnInfo, Error, Fault, LoginRefusal, Outbound, Seen, Shared, State, phone};

/// How long a handshake step may take before the server gives up on a client.
const STEP: Duration = Duration::from_secs(20);

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    crate::accept_each(listener, shared, "connection ended", |stream, shared| async move {
        serve(stream, &shared).await
    })
    .await;
}

struct Socket {
    ws: WebSocketStream<TcpStream>,
    frames: FrameDecoder,
    /// The client's first bytes start with the connection header (`WA`, version).
    header: bool,
}

impl Socket {
    async fn next_frame(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if let Some(frame) = self.frames.decode_frame() {
                return Ok(Some(frame.to_vec()));
            }
            match self.ws.next().await {
                Some(Ok(message)) if message.is_binary() => {
                    let payload = message.into_payload();
                    let bytes: &[u8] = &payload;
                    let bytes = if std::mem::take(&mut self.header) {
                        noise::strip_header(bytes)
                    } else {
                        bytes
                    };
                    self.frames.feed(bytes);
                }
                Some(Ok(message)) if message.is_close() => return Ok(None),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Error::Protocol(format!("websocket: {e}"))),
                None => return Ok(None),
            }
        }
    }

    async fn send_frame(&mut self, payload: &[u8]) -> Result<(), Error> {
        let framed = noise::frame(payload)?;
        self.ws
            .send(Message::binary(framed))
            .await
            .map_err(|e| Error::Protocol(format!("websocket: {e}")))
    }

    async fn step(&mut self) -> Result<Vec<u8>, Error> {
        match tokio::time::timeout(STEP, self.next_frame()).await {
            Ok(Ok(Some(frame))) => Ok(frame),
            Ok(Ok(None)) => Err(Error::Protocol("client left during the handshake".into())),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Timeout("handshake step".into())),
        }
    }
}

async fn serve(stream: TcpStream, shared: &Arc<Shared>) -> Result<(), Error> {
    let (_request, ws) = ServerBuilder::new()
        .accept(stream)
        .await
        .map_err(|e| Error::Protocol(format!("websocket upgrade: {e}")))?;
    let mut socket = Socket {
        ws,
        frames: FrameDecoder::new(),
        header: true,
    };
    let hello = socket.step().await?;
    let hello = noise::read_hello(&shared.identity, &hello)?;
    let (established, ik) = match hello {
        Hello::Xx { client_ephemeral } => {
            let (server_hello, pending) = noise::xx_server_hello(&shared.identity, &client_ephemeral)?;
            socket.send_frame(&server_hello).await?;
            let finish = socket.step().await?;
            (noise::xx_finish(pending, &finish)?, false)
        }
        Hello::Ik(accepted) => {
            let (server_hello, established) = noise::ik_accept(&shared.identity, *accepted)?;
            socket.send_frame(&server_hello).await?;
            (established, true)
        }
    };
    let registering = established.payload.device_pairing_data.is_set();
    shared.saw(Seen::Handshake {
        ik,
        registered: !registering,
    });
    let mut ciphers = established.ciphers;

    let (out, mut queue) = mpsc::unbounded_channel();
    let id = {
        let mut state = shared.state();
        let id = state.next_conn;
        state.next_conn += 1;
        state.conns.insert(
            id,
            ConnInfo {
                out: out.clone(),
                device: None,
                registering: None,
            },
        );
        id
    };
    let result = async {
        if take_fault(shared, |f| matches!(f, Fault::DropAfterHandshake(_))).is_some() {
            return Ok(());
        }
        let cut = match take_fault(shared, |f| matches!(f, Fault::DropAfterStanzas { .. })) {
            Some(Fault::DropAfterStanzas { stanzas, .. }) => Some(stanzas),
            _ => None,
        };
        if registering {
            start_pairing(shared, id, &established.client_static, &established.payload)?;
        } else {
            login(shared, id, &established.client_static)?;
        }
        run(&mut socket, &mut ciphers, &mut queue, shared, id, cut).await
    }
    .await;
    let device = shared.state().conns.remove(&id).and_then(|c| c.device);
    shared.state().refs.remove(&id);
    shared.saw(Seen::Closed { device });
    let _ = socket.ws.close().await;
    result
}

/// Take one use of the first fault matching `want`.
fn take_fault(shared: &Shared, want: impl Fn(&Fault) -> bool) -> Option<Fault> {
    let mut state = shared.state();
    let index = state.faults.iter().position(want)?;
    let fault = state.faults[index];
    let left = match &mut state.faults[index] {
        Fault::RefuseLogin(_, n) | Fault::DropAfterHandshake(n) | Fault::DropAfterStanzas { times: n, .. } => {
            *n = n.saturating_sub(1);
            *n
        }
    };
    if left == 0 {
        state.faults.remove(index);
    }
    Some(fault)
}

/// A new client: remember its keys and send it the refs to show as QR codes.
fn start_pairing(
    shared: &Shared,
    id: u64,
    noise_key: &[u8; 32],
    payload: &whatsapp_rust::waproto::whatsapp::ClientPayload,
) -> Result<(), Error> {
    let data = payload.device_pairing_data.as_option().cloned().unwrap_or_default();
    let identity: [u8; 32] = data
        .e_ident
        .as_deref()
        .unwrap_or_default()
        .try_into()
        .map_err(|_| Error::Protocol("registration without a 32-byte identity key".into()))?;
    let mut state = shared.state();
    let refs: Vec<String> = (0..state.qr_refs)
        .map(|_| format!("2@local-ref-{id}-{}", state.fresh()))
        .collect();
    let sent = std::time::Instant::now();
    let valid = refs
        .iter()
        .zip(0u32..)
        .map(|(r, i)| (r.clone(), sent + Duration::from_secs(60 + 20 * u64::from(i))))
        .collect();
    state.refs.insert(id, valid);
    let conn = state.conns.get_mut(&id).ok_or(Error::NotConnected)?;
    conn.registering = Some(phone::ScannedCode {
        pairing_ref: String::new(),
        noise: *noise_key,
        identity,
        adv_secret: [0; 32],
    });
    let node = NodeBuilder::new("iq")
        .attr("from", "s.whatsapp.net")
        .attr("type", "set")
        .attr("id", format!("pair-{id}"))
        .attr("xmlns", "md")
        .children([NodeBuilder::new("pair-device")
            .children(
                refs.iter()
                    .map(|r| NodeBuilder::new("ref").bytes(r.as_bytes().to_vec()).build()),
            )
            .build()])
        .build();
    let _ = conn.out.send(Outbound::Node(node));
    drop(state);
    shared.saw(Seen::PairDevice { refs: refs.len() });
    Ok(())
}

/// A registered device logs in: `<success>`, or a `<failure>` saying why not.
fn login(shared: &Shared, id: u64, noise_key: &[u8; 32]) -> Result<(), Error> {
    let refusal = match take_fault(shared, |f| matches!(f, Fault::RefuseLogin(..))) {
        Some(Fault::RefuseLogin(refusal, _)) => Some(refusal),
        _ => None,
    };
    let mut state = shared.state();
    let device = state.account.device_by_noise(noise_key).map(|d| d.id);
    let node = match (refusal, device) {
        (Some(refusal), _) => failure(refusal),
        (None, None) => failure(LoginRefusal::LoggedOut),
        (None, Some(device)) => NodeBuilder::new("success")
            .attr("t", now().to_string())
            .attr("lid", state.account.lid_jid(device))
            .attr("props", "1")
            .attr("location", "local")
            .attr("creation", now().to_string())
            .build(),
    };
    let logged_in = node.tag == "success";
    let conn = state.conns.get_mut(&id).ok_or(Error::NotConnected)?;
    let _ = conn.out.send(Outbound::Node(node));
    if logged_in {
        conn.device = device;
    } else {
        let _ = conn.out.send(Outbound::Close);
    }
    drop(state);
    if let (true, Some(device)) = (logged_in, device) {
        shared.saw(Seen::LoggedIn { device });
    }
    Ok(())
}

fn failure(refusal: LoginRefusal) -> Node {
    let builder = NodeBuilder::new("failure").attr("location", "local");
    match refusal {
        LoginRefusal::LoggedOut => builder.attr("reason", "401"),
        LoginRefusal::TempBanned { code, seconds } => builder
            .attr("reason", "402")
            .attr("code", code.to_string())
            .attr("expire", seconds.to_string()),
        LoginRefusal::ClientOutdated => builder.attr("reason", "405"),
        LoginRefusal::ServerError(code) => builder.attr("reason", code.to_string()),
    }
    .build()
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn send_node(socket: &mut Socket, ciphers: &mut Ciphers, node: &Node) -> Result<(), Error> {
    tracing::trace!(node = %whatsapp_rust::wacore::xml::DisplayableNode(node), "local server ->");
    let plain = marshal(node).map_err(|e| Error::Protocol(format!("marshal: {e}")))?;
    let encrypted = ciphers.encrypt(&plain)?;
    socket.send_frame(&encrypted).await
}

async fn run(
    socket: &mut Socket,
    ciphers: &mut Ciphers,
    queue: &mut mpsc::UnboundedReceiver<Outbound>,
    shared: &Arc<Shared>,
    id: u64,
    cut: Option<u32>,
) -> Result<(), Error> {
    let mut stanzas = 0u32;
    loop {
        tokio::select! {
            outbound = queue.recv() => match outbound {
                Some(Outbound::Node(node)) => send_node(socket, ciphers, &node).await?,
                Some(Outbound::Close) | None => return Ok(()),
            },
            frame = socket.next_frame() => {
                let Some(frame) = frame? else { return Ok(()) };
                stanzas += 1;
                if cut.is_some_and(|n| stanzas > n) {
                    tracing::debug!(stanzas, "local server: cutting the connection (fault)");
                    return Ok(());
                }
                let plain = ciphers.decrypt(&frame)?;
                let data = unpack(&plain).map_err(|e| Error::Protocol(format!("unpack: {e}")))?;
                let node = unmarshal_ref(&data).map_err(|e| Error::Protocol(format!("unmarshal: {e}")))?;
                tracing::trace!(node = %whatsapp_rust::wacore::xml::DisplayableNodeRef(&node), "local server <-");
                let answers = match node.tag.as_ref() {
                    "message" => {
                        let owned = node.to_owned();
                        if let Err(e) = crate::messages::from_device(shared, id, &owned).await {
                            tracing::warn!(error = %e, "local server: a message from the device could not be handled");
                            shared.saw(Seen::MessageNotHandled { error: e.to_string() });
                        }
                        Vec::new()
                    }
                    "receipt" if attr(&node, "type") == "retry" => {
                        if let Err(e) = crate::messages::retry(shared, id, &node.to_owned()).await {
                            tracing::warn!(error = %e, "local server: a retry receipt could not be answered");
                        }
                        Vec::new()
                    }
                    "receipt" if attr(&node, "type") == "server-error" && node.get_optional_child("rmr").is_some() => {
                        if let Err(e) = crate::messages::media_retry(shared, id, &node) {
                            tracing::warn!(error = %e, "local server: a media retry could not be answered");
                        }
                        Vec::new()
                    }
                    "iq" if attr(&node, "xmlns") == "encrypt" && node.get_optional_child("key").is_some() => {
                        vec![crate::iq::prekey_fetch(shared, &node.to_owned()).await]
                    }
                    _ => crate::iq::answer(shared, id, &node)?,
                };
                for answer in answers {
                    send_node(socket, ciphers, &answer).await?;
                }
            }
        }
    }
}

/// The phone scanned `code`: link the device and send `pair-success`.
pub(crate) fn scan(shared: &Shared, code: &str) -> Result<u16, Error> {
    let scanned = phone::scan(code)?;
    let mut state = shared.state();
    let conn_id = state
        .refs
        .iter()
        .find(|(_, refs)| {
            refs.iter()
                .any(|(r, until)| *r == scanned.pairing_ref && std::time::Instant::now() < *until)
        })
        .map(|(id, _)| *id)
        .ok_or(Error::UnknownRef)?;
    let registered = state
        .conns
        .get(&conn_id)
        .and_then(|c| c.registering.clone())
        .ok_or(Error::UnknownRef)?;
    if registered.noise != scanned.noise || registered.identity != scanned.identity {
        return Err(Error::BadCode(
            "the code's keys are not the ones the device registered".into(),
        ));
    }
    state.refs.remove(&conn_id);
    pair_success(&mut state, conn_id, &scanned)
}

/// The phone linked the device on connection `conn_id`: `pair-success`.
pub(crate) fn pair_success(state: &mut State, conn_id: u64, scanned: &phone::ScannedCode) -> Result<u16, Error> {
    let (device, identity) = state.account.link(scanned, now())?;
    let node = NodeBuilder::new("iq")
        .attr("from", "s.whatsapp.net")
        .attr("type", "set")
        .attr("id", format!("pair-success-{conn_id}"))
        .attr("t", now().to_string())
        .children([NodeBuilder::new("pair-success")
            .children([
                NodeBuilder::new("device-identity").bytes(identity).build(),
                NodeBuilder::new("device")
                    .attr("jid", state.account.jid(device))
                    .attr("lid", state.account.lid_jid(device))
                    .build(),
                NodeBuilder::new("platform").attr("name", "android").build(),
            ])
            .build()])
        .build();
    let conn = state.conns.get_mut(&conn_id).ok_or(Error::NotConnected)?;
    conn.device = Some(device);
    let _ = conn.out.send(Outbound::Node(node));
    Ok(device)
}

/// The person typed `code` on the phone: `primary_hello` to the companion that asked for it.
pub(crate) fn enter_code(shared: &Shared, code: &str) -> Result<(), Error> {
    let mut state = shared.state();
    let State {
        pair_code,
        conns,
        account,
        ..
    } = &mut *state;
    let request = pair_code.as_mut().ok_or(Error::UnknownRef)?;
    let notification = crate::pair_code::primary_hello(request, code, &account.keys)?;
    let conn = conns.get(&request.conn).ok_or(Error::NotConnected)?;
    let _ = conn.out.send(Outbound::Node(notification));
    Ok(())
}

/// Attribute as text.
pub(crate) fn attr(node: &NodeRef<'_>, key: &str) -> String {
    node.get_attr(key).map(|v| v.as_str().into_owned()).unwrap_or_default()
}
