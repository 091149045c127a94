//! Where the real client connects: WhatsApp itself, or (the engine's
//! real-client tests) a local server that stands in for it, with every HTTPS
//! request routed to one local origin.

use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse, UreqHttpClient};
use whatsapp_rust::wacore::net::{StreamingHttpResponse, UploadBody};

/// Where the client connects. The default is WhatsApp itself; the engine's
/// real-client tests point it at the local WhatsApp server (`wa-localserver`).
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// The chat socket (default: `wss://web.whatsapp.com/ws/chat`).
    pub chat_url: Option<String>,
    /// Send every HTTPS request (media hosts, the version check) to this
    /// `http://` origin instead, with the original host in `x-original-host`.
    pub https_to: Option<String>,
}

/// The client's own HTTP client, optionally sending everything to one local origin.
pub(super) struct Http {
    inner: UreqHttpClient,
    to: Option<String>,
}

impl Http {
    pub(super) fn new(endpoints: &Endpoints) -> Self {
        Self {
            inner: UreqHttpClient::new(),
            to: endpoints.https_to.clone(),
        }
    }

    fn route(&self, mut request: HttpRequest) -> HttpRequest {
        if let Some(to) = &self.to
            && let Some(rest) = request.url.strip_prefix("https://")
        {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            request.headers.insert("x-original-host".into(), host.to_owned());
            request.url = format!("{to}{path}");
        }
        request
    }
}

#[whatsapp_rust::async_trait]
impl HttpClient for Http {
    async fn execute(&self, request: HttpRequest) -> whatsapp_rust::anyhow::Result<HttpResponse> {
        self.inner.execute(self.route(request)).await
    }

    fn supports_streaming(&self) -> bool {
        self.inner.supports_streaming()
    }

    fn execute_streaming(&self, request: HttpRequest) -> whatsapp_rust::anyhow::Result<StreamingHttpResponse> {
        self.inner.execute_streaming(self.route(request))
    }

    fn supports_upload_streaming(&self) -> bool {
        self.inner.supports_upload_streaming()
    }

    fn execute_upload(
        &self,
        request: HttpRequest,
        body: UploadBody,
        content_length: u64,
    ) -> whatsapp_rust::anyhow::Result<HttpResponse> {
        self.inner.execute_upload(self.route(request), body, content_length)
    }
}
