//! Bounded HTTP GETs for the feed follower: only to the allowed origins (checked before
//! connecting, and for every redirect), a total deadline per fetch, a cap on the body size (read
//! as a stream, so a lying or missing `Content-Length` cannot make us buffer more), a redirect
//! limit, conditional requests and long polling.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use service_kit::config::Secret;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::origins::{Forbidden, Origins};

/// Most redirects followed for one fetch.
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out")]
    Timeout,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("too many redirects or a bad redirect: {0}")]
    Redirect(String),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("document larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading the response failed: {0}")]
    Body(String),
    #[error("refused: {0}")]
    Forbidden(#[from] Forbidden),
    #[error("shutting down")]
    Cancelled,
}

impl FetchError {
    /// The `kind` label of `feed_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect(_) => "connect",
            Self::Redirect(_) => "redirect",
            Self::Status(_) => "http_status",
            Self::TooLarge(_) => "too_large",
            Self::Body(_) => "body",
            Self::Forbidden(_) => "forbidden_origin",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A fetched document.
#[derive(Debug, Clone)]
pub struct Document {
    /// Where it came from after redirects (relative links resolve against it).
    pub url: Url,
    pub body: Bytes,
    pub etag: Option<String>,
    /// The `Content-Type` it came with (its charset decides how the bytes are read).
    pub content_type: Option<String>,
    /// The server held the request (`Preference-Applied: wait=N`).
    pub held: bool,
}

#[derive(Debug, Clone)]
pub enum Fetched {
    Document(Document),
    /// `304`: unchanged since the ETag we sent.
    NotModified {
        held: bool,
    },
    /// `404` / `410` (only reported for contact look-ups).
    Gone,
}

/// Conditions for one GET.
#[derive(Debug, Clone, Default)]
pub struct Conditions<'a> {
    pub if_none_match: Option<&'a str>,
    /// Ask the server to hold the request up to this many seconds.
    pub wait_secs: Option<u64>,
    pub accept: &'a str,
    /// Report `404`/`410` as [`Fetched::Gone`] instead of an error.
    pub gone_is_ok: bool,
    /// A smaller byte limit than the fetcher's own (contact documents).
    pub max_bytes: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    origins: Arc<Origins>,
    max_bytes: usize,
    timeout: Duration,
    /// `CONTACTS_TOKEN`, sent as `Authorization: Bearer`.
    token: Option<Secret>,
}

impl Fetcher {
    pub fn new(
        max_bytes: usize,
        timeout: Duration,
        origins: Arc<Origins>,
        token: Option<Secret>,
    ) -> anyhow::Result<Self> {
        let allowed = origins.clone();
        // Redirects are followed only within the allowed origins (never to the public origin
        // the feed names itself by: that is mapped, and a redirect cannot be).
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else if allowed.fetchable(attempt.url()) {
                attempt.follow()
            } else {
                let forbidden = Forbidden(attempt.url().to_string());
                attempt.error(forbidden)
            }
        });
        let client = reqwest::Client::builder()
            .redirect(policy)
            .connect_timeout(timeout)
            .no_proxy()
            .user_agent(concat!("calendar/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, origins, max_bytes, timeout, token })
    }

    pub fn origins(&self) -> &Arc<Origins> {
        &self.origins
    }

    /// GETs `url`. The whole exchange, body included, must finish within the fetch timeout
    /// plus any long-poll wait; shutting down aborts it.
    pub async fn get(
        &self,
        url: &Url,
        conditions: Conditions<'_>,
        shutdown: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        if !self.origins.fetchable(url) {
            return Err(FetchError::Forbidden(Forbidden(url.to_string())));
        }
        let deadline = self.timeout + Duration::from_secs(conditions.wait_secs.unwrap_or(0));
        tokio::select! {
            () = shutdown.cancelled() => Err(FetchError::Cancelled),
            result = tokio::time::timeout(deadline, self.exchange(url, &conditions)) => {
                result.unwrap_or(Err(FetchError::Timeout))
            }
        }
    }

    async fn exchange(&self, url: &Url, conditions: &Conditions<'_>) -> Result<Fetched, FetchError> {
        let mut request = self.client.get(url.clone()).header(ACCEPT, conditions.accept);
        // Only fetchable origins get here (checked in `get`, and on every redirect).
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(etag) = conditions.if_none_match {
            request = request.header(IF_NONE_MATCH, etag);
            if let Some(wait) = conditions.wait_secs.filter(|w| *w > 0) {
                request = request.header("prefer", format!("wait={wait}"));
            }
        }
        let mut response = request.send().await.map_err(classify)?;
        let held = response
            .headers()
            .get("preference-applied")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|p| p.trim().to_ascii_lowercase().starts_with("wait")));
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified { held });
        }
        if conditions.gone_is_ok && matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
            return Ok(Fetched::Gone);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status));
        }
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let max_bytes = conditions.max_bytes.unwrap_or(self.max_bytes).min(self.max_bytes);
        if declared.is_some_and(|len| len > max_bytes as u64) {
            return Err(FetchError::TooLarge(max_bytes));
        }
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let etag = header(ETAG);
        let content_type = header(CONTENT_TYPE);
        let final_url = response.url().clone();
        let mut body = BytesMut::with_capacity(declared.map_or(0, |len| len as usize));
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Document(Document { url: final_url, body: body.freeze(), etag, content_type, held }))
    }
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else if let Some(forbidden) = cause_of::<Forbidden>(&e) {
        FetchError::Forbidden(forbidden.clone())
    } else if e.is_redirect() {
        FetchError::Redirect(root_cause(&e))
    } else if e.is_connect() {
        FetchError::Connect(root_cause(&e))
    } else {
        FetchError::Body(root_cause(&e))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The first error of type `T` in `e`'s chain of causes.
fn cause_of<'a, T: std::error::Error + 'static>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut cause = Some(e);
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        cause = current.source();
    }
    None
}
