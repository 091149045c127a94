//! Why WhatsApp cannot be reached, in words.
//!
//! The client retries failed connections by itself without saying why, so when
//! it stays disconnected the engine looks for itself: can this computer look up
//! WhatsApp's address (no network, DNS), open a connection to it (firewall,
//! proxy), or does the connection open and the secure handshake fail (often a
//! wrong date and time, or an intercepting proxy)?

use std::time::Duration;

/// WhatsApp Web's server, which the client connects to.
pub const WHATSAPP_HOST: &str = "web.whatsapp.com";

/// Marks a disconnect reason that carries a diagnosis sentence.
pub const DIAGNOSIS_PREFIX: &str = "diagnosis: ";

/// What the network check found, as the end of "Can't reach WhatsApp: …".
pub async fn diagnose(host: &str, port: u16) -> String {
    let addresses = match tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host, port))).await {
        Ok(Ok(found)) => found.collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    let Some(first) = addresses.first().copied() else {
        return format!(
            "this computer cannot look up {host}. Check that it is connected to the internet (Wi-Fi or cable)"
        );
    };
    match tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(first)).await {
        Ok(Ok(_)) => "the connection opens but the secure handshake fails. Check that this computer's date, time \
                      and time zone are right; a proxy or antivirus that inspects secure connections can also \
                      cause this"
            .to_owned(),
        _ => format!("{host} does not answer. A firewall or proxy on this network may be blocking WhatsApp"),
    }
}

#[cfg(test)]
mod tests {
    use super::diagnose;

    #[tokio::test]
    async fn each_failure_is_told_apart() {
        let dns = diagnose("no-such-host.invalid", 443).await;
        assert!(dns.contains("cannot look up no-such-host.invalid"), "{dns}");

        // A port nobody listens on: the address resolves, the connection is refused.
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let refused = diagnose("127.0.0.1", closed).await;
        assert!(refused.contains("does not answer"), "{refused}");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let open = listener.local_addr().expect("addr").port();
        let handshake = diagnose("127.0.0.1", open).await;
        assert!(handshake.contains("date, time"), "{handshake}");
    }
}
