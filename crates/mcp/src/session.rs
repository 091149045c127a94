//! One MCP session over any byte stream: the app's local channel (a Unix
//! socket, a Windows named pipe), or the helper's stdin/stdout when it answers
//! from the archive itself. Every line passes the [`guard`](crate::guard) first.

use std::sync::Arc;

use rmcp::ServiceExt;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::server::{Core, WhatsAppMcp};

/// Serve one MCP session on `stream` until the client leaves.
pub async fn serve<S>(core: Arc<Core>, stream: S)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    serve_asked_by(core, stream, crate::Asker::Unknown).await;
}

/// [`serve`] for a session whose asker the system has told (wa-app's channel).
pub async fn serve_asked_by<S>(core: Arc<Core>, stream: S, asker: crate::Asker)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let server = WhatsAppMcp::asked_by(core, asker);
    match server.serve(crate::guard::guard(stream)).await {
        Ok(session) => {
            if let Err(e) = session.waiting().await {
                tracing::debug!(error = %e, "an MCP session ended with an error");
            }
        }
        Err(e) => tracing::debug!(error = %e, "an MCP client left during the handshake"),
    }
}

/// Answer a client that connected while the app cannot serve it (locked, for
/// example): its first request (initialize, newline-delimited as MCP's stdio
/// transport) gets a JSON-RPC error with `message`, at once, and the stream is
/// closed; garbage gets the same answer with a null id.
pub async fn refuse<S>(stream: S, message: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (read, mut write) = tokio::io::split(stream);
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, 1 << 20));
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), reader.read_line(&mut line)).await;
    let id = match read {
        Ok(Ok(n)) if n > 0 => serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("id").cloned())
            .unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    };
    let answer = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": -32000, "message": message },
    });
    if let Err(e) = write.write_all(format!("{answer}\n").as_bytes()).await {
        tracing::debug!(error = %e, "a refused client left before its answer");
    }
    if let Err(e) = write.shutdown().await {
        tracing::debug!(error = %e, "a refused client's stream did not close cleanly");
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

    /// A refused client gets an error in words at once, with its own id; garbage gets one too.
    #[tokio::test]
    async fn a_refused_client_is_answered_at_once_with_its_id() {
        for (request, id) in [
            (
                serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {}}).to_string(),
                serde_json::json!(7),
            ),
            (
                serde_json::json!({"jsonrpc": "2.0", "id": "a", "method": "initialize"}).to_string(),
                serde_json::json!("a"),
            ),
            ("hello".to_owned(), serde_json::Value::Null),
        ] {
            let (mut client, server) = tokio::io::duplex(4096);
            let refusing =
                tokio::spawn(async move { super::refuse(server, "It is locked: type the passphrase.").await });
            client
                .write_all(format!("{request}\n").as_bytes())
                .await
                .expect("write");
            let mut answer = String::new();
            tokio::io::BufReader::new(client)
                .read_line(&mut answer)
                .await
                .expect("read");
            let answer: serde_json::Value = serde_json::from_str(&answer).expect("json");
            assert_eq!(answer["id"], id);
            assert_eq!(answer["error"]["message"], "It is locked: type the passphrase.");
            refusing.await.expect("refused");
        }
    }
}
