//! The HTTPS hosts the client talks to (web.whatsapp.com's `sw.js` for the
//! version, later the media hosts), served as plain HTTP/1.1 on 127.0.0.1.
//! The client's HTTP client is pointed here by the engine's `https_to` option;
//! the original host arrives in the `x-original-host` header.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::Shared;

/// The WhatsApp Web revision the local server announces.
pub const CLIENT_REVISION: u32 = 1_029_000_000;

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    crate::accept_each(listener, shared, "HTTP request failed", |stream, shared| async move {
        one(stream, &shared).await.map_err(crate::Error::from)
    })
    .await;
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

async fn read_request(stream: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if stream.read_line(&mut header).await? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok(Some(Request { method, path, body }))
}

async fn one(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let (path, query) = request.path.split_once('?').unwrap_or((request.path.as_str(), ""));
    let (status, body): (u16, Vec<u8>) = match (request.method.as_str(), path) {
        ("GET", "/sw.js") => (
            200,
            format!("self.__swData=JSON.parse(\"{{\\\"client_revision\\\":{CLIENT_REVISION}}}\");").into_bytes(),
        ),
        // An upload's "is it there already?" check: it is not.
        ("POST", _) if query.contains("resume=1") => (200, b"{}".to_vec()),
        // An upload (`/mms/<type>/<token>`): kept under a new direct path.
        ("POST", upload) if upload.starts_with("/mms/") => {
            let token = upload.rsplit('/').next().unwrap_or_default();
            let direct_path = format!("/v/t62.local/{token}");
            shared.media_put(&direct_path, request.body);
            let answer = format!(r#"{{"url":"https://mmg.whatsapp.net{direct_path}","direct_path":"{direct_path}"}}"#);
            (200, answer.into_bytes())
        }
        ("GET", media) => match shared.media_get(media) {
            Ok(bytes) => (200, bytes),
            Err(status) => (status, Vec::new()),
        },
        _ => (404, b"not found".to_vec()),
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        410 => "Gone",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let stream = stream.get_mut();
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}
