//! Remote use, off by default: MCP over Streamable HTTP for assistants on
//! other machines (for example over a VPN), served by rmcp's Streamable HTTP
//! service inside the app, beside the local socket.
//!
//! Guards, in the order a request meets them:
//! 1. **Rate limit per client address** (`mcp.remote.requests_per_minute`,
//!    default 300): a 429 with `Retry-After`, counted before the token check so
//!    guessing tokens is as slow as everything else.
//! 2. **Bearer token, on every address.** Decision: the issue asks for a token
//!    off loopback; we ask for it on loopback too, because a TCP port on
//!    127.0.0.1 is open to every user and program of the machine, unlike our
//!    user-only socket. The token is 32 random bytes in `<data>/remote-token`
//!    (0600, outside the database so a diagnostic bundle never carries it).
//! 3. **`Host` allowlist** against DNS rebinding (loopback names, the bound
//!    address, and `mcp.remote.hosts`) and **`Origin` allowlist** (none by
//!    default: any browser origin is refused; `mcp.remote.origins` adds some).
//! 4. **Request size cap** (`mcp.remote.max_request_kb`, default 4096): 413.
//!
//! Where it listens: `mcp.remote.address` (for example `127.0.0.1:8765` or a
//! VPN address), or the app's `--remote ADDRESS` option; unset means off.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sha2::{Digest, Sha256};
use wa_store::Store;

use crate::server::{Core, WhatsAppMcp};

pub const ADDRESS: &str = "mcp.remote.address";
pub const HOSTS: &str = "mcp.remote.hosts";
pub const ORIGINS: &str = "mcp.remote.origins";
pub const REQUESTS_PER_MINUTE: &str = "mcp.remote.requests_per_minute";
pub const MAX_REQUEST_KB: &str = "mcp.remote.max_request_kb";
/// The token's file, in the data folder.
pub const TOKEN_FILE: &str = "remote-token";
/// The path clients connect to: `http://<address>/mcp`.
pub const PATH: &str = "/mcp";

/// Why remote use could not start.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("The remote address \"{0}\" is not an address and port (for example 127.0.0.1:8765 or 100.64.0.2:8765).")]
    BadAddress(String),
    #[error(
        "Remote use cannot listen on {address}: another program already uses that port. Choose another port (setting {ADDRESS})."
    )]
    PortInUse { address: SocketAddr },
    #[error("Remote use cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("The remote access token {path} could not be read or created: {source}")]
    Token { path: PathBuf, source: std::io::Error },
    #[error("The remote settings could not be read: {0}")]
    Settings(#[from] wa_store::StoreError),
}

/// Everything the remote server needs, resolved from settings.
#[derive(Clone)]
pub struct RemoteConfig {
    pub address: SocketAddr,
    pub token: String,
    /// Extra `Host` names clients use to reach this machine (VPN names).
    pub hosts: Vec<String>,
    /// Browser origins allowed; empty refuses every request that carries one.
    pub origins: Vec<String>,
    pub requests_per_minute: NonZeroU32,
    pub max_request_bytes: usize,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("RemoteConfig")
            .field("address", &self.address)
            .field("hosts", &self.hosts)
            .field("origins", &self.origins)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

impl RemoteConfig {
    /// The settings in force, or `None` when remote use is off. `address`
    /// (the app's `--remote` option) overrides the setting.
    pub async fn load(store: &Store, data_dir: &Path, address: Option<&str>) -> Result<Option<Self>, RemoteError> {
        let s = store.settings("mcp.remote.").await?;
        let address = match address.map(str::to_owned).or(s.get::<String>(ADDRESS)?) {
            Some(a) if !a.trim().is_empty() => a,
            _ => return Ok(None),
        };
        let address: SocketAddr = address
            .trim()
            .parse()
            .map_err(|_| RemoteError::BadAddress(address.clone()))?;
        let requests = s.get::<u32>(REQUESTS_PER_MINUTE)?.unwrap_or(300).max(1);
        Ok(Some(Self {
            address,
            token: token(data_dir)?,
            hosts: s.get(HOSTS)?.unwrap_or_default(),
            origins: s.get(ORIGINS)?.unwrap_or_default(),
            requests_per_minute: NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN),
            max_request_bytes: s.get::<usize>(MAX_REQUEST_KB)?.unwrap_or(4096).max(1) * 1024,
        }))
    }

    /// The `Host` values accepted: loopback names, the bound address, and the configured names.
    pub fn allowed_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        let ip = self.address.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            hosts.push(ip.to_string());
        }
        hosts.extend(self.hosts.iter().cloned());
        hosts
    }

    /// The address clients use, for the settings page and the log.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.address)
    }
}

/// The access token, created (32 random bytes, hex, file 0600) on first use.
pub fn token(data_dir: &Path) -> Result<String, RemoteError> {
    let path = data_dir.join(TOKEN_FILE);
    let err = |source| RemoteError::Token {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(t) if t.trim().len() >= 32 => return Ok(t.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let bytes: [u8; 32] = rand::random();
    let token = bytes.iter().fold(String::with_capacity(64), |mut hex, b| {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
        hex
    });
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(err)?;
        file.write_all(token.as_bytes()).map_err(err)?;
        file.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(token)
}

/// Open the TCP listener (a clear sentence when the port is taken).
pub async fn bind(config: &RemoteConfig) -> Result<tokio::net::TcpListener, RemoteError> {
    tokio::net::TcpListener::bind(config.address).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            RemoteError::PortInUse {
                address: config.address,
            }
        } else {
            RemoteError::Listen {
                address: config.address,
                source,
            }
        }
    })
}

type Limiter = governor::DefaultKeyedRateLimiter<IpAddr>;

struct Guard {
    token_hash: [u8; 32],
    limiter: Limiter,
}

fn hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A plain-words error body (JSON, so MCP clients can show it).
fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn guard(
    State(guard): State<Arc<Guard>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(not_until) = guard.limiter.check_key(&peer.ip()) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        let secs = wait.as_secs().max(1);
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many requests from {}: wait {secs} s and try again.", peer.ip()),
        );
        if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    // Compare hashes, so the time taken says nothing about the token.
    let authorized = presented.is_some_and(|t| hash(t.as_bytes()) == guard.token_hash);
    if !authorized {
        tracing::info!(peer = %peer.ip(), "remote MCP request without a valid token refused");
        let mut response = refuse(
            StatusCode::UNAUTHORIZED,
            "This WhatsApp MCP server needs its access token: send the header \"Authorization: Bearer <token>\". \
             The token is shown in the app under Settings > Assistants > Remote use.",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

/// Serve MCP over Streamable HTTP on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: RemoteConfig,
    core: Arc<Core>,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let http = StreamableHttpServerConfig::default()
        .with_allowed_hosts(config.allowed_hosts())
        .with_allowed_origins(config.origins.clone())
        .enforce_origin_validation()
        .with_max_request_body_bytes(config.max_request_bytes)
        .with_cancellation_token(stop.child_token());
    let service = StreamableHttpService::new(
        move || Ok(WhatsAppMcp::asked_by(Arc::clone(&core), crate::Asker::Remote)),
        Arc::new(LocalSessionManager::default()),
        http,
    );
    let guard = Arc::new(Guard {
        token_hash: hash(config.token.as_bytes()),
        limiter: governor::RateLimiter::keyed(governor::Quota::per_minute(config.requests_per_minute)),
    });
    let app = axum::Router::new()
        .route_service(PATH, service)
        .layer(axum::middleware::from_fn_with_state(guard, self::guard));
    tracing::info!(url = %config.url(), "remote MCP (Streamable HTTP) listening");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remote_use_is_off_until_an_address_is_set_and_bad_addresses_are_explained() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("m.db")).await.expect("store");
        assert!(
            RemoteConfig::load(&store, dir.path(), None)
                .await
                .expect("load")
                .is_none()
        );
        assert!(
            !dir.path().join(TOKEN_FILE).exists(),
            "no token while remote use is off"
        );

        store.set_setting(ADDRESS, "100.64.0.2:8765").await.expect("set");
        store.set_setting(HOSTS, &["box.tailnet.ts.net"]).await.expect("set");
        let config = RemoteConfig::load(&store, dir.path(), None)
            .await
            .expect("load")
            .expect("on");
        assert_eq!(config.address, "100.64.0.2:8765".parse::<SocketAddr>().expect("addr"));
        assert_eq!(config.max_request_bytes, 4096 * 1024);
        let hosts = config.allowed_hosts();
        assert!(hosts.contains(&"100.64.0.2".to_owned()) && hosts.contains(&"box.tailnet.ts.net".to_owned()));
        assert!(
            !format!("{config:?}").contains(&config.token),
            "Debug never shows the token"
        );

        // The token is kept: the same on the next start, 64 hex digits, 0600.
        let again = RemoteConfig::load(&store, dir.path(), None)
            .await
            .expect("load")
            .expect("on");
        assert_eq!(again.token, config.token);
        assert_eq!(config.token.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // The option overrides the setting; nonsense is explained.
        let err = RemoteConfig::load(&store, dir.path(), Some("my-laptop"))
            .await
            .expect_err("not an address");
        assert!(err.to_string().contains("not an address and port"), "{err}");
        store.close().await;
    }

    #[tokio::test]
    async fn a_port_in_use_is_said_in_words() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let config = RemoteConfig {
            address: taken.local_addr().expect("addr"),
            token: "x".repeat(64),
            hosts: vec![],
            origins: vec![],
            requests_per_minute: NonZeroU32::MIN,
            max_request_bytes: 1024,
        };
        let err = bind(&config).await.expect_err("in use");
        assert!(
            err.to_string().contains("another program already uses that port"),
            "{err}"
        );
    }
}
