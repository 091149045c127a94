//! A JSON-RPC line guard in front of each MCP session.
//!
//! MCP over stdio and sockets is one JSON message per line. The MCP library
//! skips a line that is not JSON without a word; JSON-RPC asks for a "parse
//! error" answer, and a client (or a person debugging one) deserves to know.
//! The guard also caps a line's size, so a runaway client cannot make the app
//! hold gigabytes. Everything else passes through unchanged, line by line.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// Largest request line accepted (a tool call with a long message fits easily).
pub const MAX_LINE: usize = 16 * 1024 * 1024;

fn parse_error(detail: &str) -> Vec<u8> {
    let answer = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32700, "message": format!("Parse error: {detail}")},
    });
    let mut line = answer.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// Read one line of at most `MAX_LINE` bytes; `Ok(None)` at the end.
/// A longer line is consumed and reported as `Err(len)`.
async fn read_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<Result<(), usize>>> {
    line.clear();
    let mut too_long = 0usize;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if line.is_empty() && too_long == 0 {
                None
            } else if too_long > 0 {
                Some(Err(too_long))
            } else {
                Some(Ok(()))
            });
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let n = chunk.len();
        if too_long > 0 || line.len() + n > MAX_LINE {
            too_long += line.len() + n;
            line.clear();
        } else {
            line.extend_from_slice(chunk);
        }
        reader.consume(n);
        if done {
            return Ok(Some(if too_long > 0 { Err(too_long) } else { Ok(()) }));
        }
    }
}

/// Put the guard between `client` (the assistant's side) and a new in-memory
/// stream, which is returned for the MCP server to serve.
pub fn guard<S>(client: S) -> tokio::io::DuplexStream
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (server_side, ours) = tokio::io::duplex(1 << 20);
    let (client_read, client_write) = tokio::io::split(client);
    let (ours_read, mut ours_write) = tokio::io::split(ours);
    let client_write = Arc::new(Mutex::new(client_write));

    // Assistant -> server: whole lines that are JSON; an answer for the rest.
    let to_client = Arc::clone(&client_write);
    tokio::spawn(async move {
        let mut reader = BufReader::new(client_read);
        let mut line = Vec::new();
        loop {
            match read_line(&mut reader, &mut line).await {
                Ok(None) | Err(_) => break,
                Ok(Some(Err(len))) => {
                    let msg = parse_error(&format!("a message of {len} bytes is more than the {MAX_LINE} allowed"));
                    if to_client.lock().await.write_all(&msg).await.is_err() {
                        break;
                    }
                }
                Ok(Some(Ok(()))) => {
                    let text = line.trim_ascii();
                    if text.is_empty() {
                        continue;
                    }
                    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(text) {
                        let msg = parse_error(&format!("the line is not JSON ({e})"));
                        if to_client.lock().await.write_all(&msg).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    if ours_write.write_all(&line).await.is_err() {
                        break;
                    }
                    if !line.ends_with(b"\n") && ours_write.write_all(b"\n").await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = ours_write.shutdown().await;
    });

    // Server -> assistant: line by line, so a parse error never lands mid-line.
    tokio::spawn(async move {
        let mut reader = BufReader::new(ours_read);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let mut out = client_write.lock().await;
                    if out.write_all(&line).await.is_err() || out.flush().await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = client_write.lock().await.shutdown().await;
    });
    server_side
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::guard;

    #[tokio::test]
    async fn bad_lines_get_parse_errors_and_good_lines_pass() {
        let (client, app_side) = tokio::io::duplex(1 << 16);
        let server = guard(app_side);
        // An echo "server": whatever arrives goes back.
        tokio::spawn(async move {
            let (r, mut w) = tokio::io::split(server);
            let mut lines = BufReader::new(r).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = w.write_all(format!("{l}\n").as_bytes()).await;
            }
        });
        let (r, mut w) = tokio::io::split(client);
        w.write_all(b"{not json\n{\"jsonrpc\":\"2.0\",\"id\":1}\n")
            .await
            .expect("write");
        let mut lines = BufReader::new(r).lines();
        let first = lines.next_line().await.expect("read").expect("line");
        assert!(first.contains("-32700") && first.contains("not JSON"), "{first}");
        let second = lines.next_line().await.expect("read").expect("line");
        assert_eq!(second, "{\"jsonrpc\":\"2.0\",\"id\":1}");
    }
}
