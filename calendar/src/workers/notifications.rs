//! One delivery to notifications (`POST /notifications`), as a `tower::Service` so the circuit
//! breaker can wrap it. Temporary failures (5xx, 408, 429, timeouts, refused connections, and
//! 401/403/404, which mean our configuration is wrong rather than the job) are
//! the service's `Err` and count against the breaker; answers that settle a job for good
//! (accepted, or refused for a reason a retry cannot fix) are `Ok`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;
use service_kit::config::Secret;
use url::Url;

use crate::store::Job;

/// How a delivery settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// `202` (or `200` for a replay of the same key), with the id notifications gave the job
    /// (its body's `id`; `None` if the body did not name one).
    Delivered { job: Option<uuid::Uuid> },
    /// Refused for good (`409`: the key was used with another body; `400`/`413`/`422`: the job
    /// itself is unacceptable).
    Rejected(String),
}

/// A failure worth retrying later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Temporary {
    pub reason: String,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

/// The part of notifications' `202` body calendar keeps.
#[derive(serde::Deserialize)]
struct Accepted {
    id: uuid::Uuid,
}

#[derive(Serialize)]
struct Body<'a> {
    email: &'a str,
    subject: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Part<'a>>,
}

/// An extra part of the mail (notifications' `attachments`): here the iMIP message, an
/// alternative of the text (no filename).
#[derive(Serialize)]
struct Part<'a> {
    content_type: String,
    content: &'a str,
}

impl<'a> Part<'a> {
    /// The iMIP part for an iTIP message: RFC 6047 2.4 wants its `METHOD` as the `method`
    /// parameter of the content type too.
    fn imip(calendar: &'a str) -> Self {
        let method = calendar.lines().find_map(|line| line.strip_prefix("METHOD:")).unwrap_or("REQUEST");
        Self { content_type: format!("text/calendar; method={}", method.trim_end()), content: calendar }
    }
}

/// The HTTP client of notifications: sends jobs to `{NOTIFICATION_SERVICE}/notifications`.
#[derive(Debug, Clone)]
pub struct NotificationsClient {
    client: reqwest::Client,
    endpoint: Url,
    token: Secret,
    timeout: Duration,
}

impl NotificationsClient {
    pub fn new(
        client: reqwest::Client,
        service: &Url,
        token: Secret,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let endpoint = service.join("notifications")?;
        Ok(Self { client, endpoint, token, timeout })
    }

    async fn send(self, job: Job) -> Result<Settled, Temporary> {
        let temporary = |reason: String| Temporary { reason, retry_after: None };
        let mut request = self
            .client
            .post(self.endpoint.clone())
            .bearer_auth(self.token.expose())
            .header("idempotency-key", job.id.to_string())
            .timeout(self.timeout)
            .json(&Body {
                email: &job.email,
                subject: &job.subject,
                message: &job.message,
                attachments: job.calendar.as_deref().map(Part::imip).into_iter().collect(),
            });
        if let Some(request_id) = &job.request_id {
            request = request.header(service_kit::http::REQUEST_ID_HEADER.as_str(), request_id);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Err(temporary(format!("timed out after {:?}", self.timeout))),
            Err(e) if e.is_connect() => return Err(temporary(format!("cannot connect: {}", root_cause(&e)))),
            Err(e) => return Err(temporary(format!("request failed: {}", root_cause(&e)))),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.min(3600)));
        match status {
            StatusCode::OK | StatusCode::ACCEPTED | StatusCode::CREATED => {
                // The job is accepted whatever the body says; its id only serves a link.
                let job = response.json::<Accepted>().await.ok().map(|a| a.id);
                Ok(Settled::Delivered { job })
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
                Err(Temporary { reason: format!("answered {status}"), retry_after })
            }
            s if s.is_server_error() => Err(Temporary { reason: format!("answered {status}"), retry_after }),
            // Our token refused, or no such endpoint: the configuration is wrong, not the job.
            // Keep the invitation and retry (the breaker opens meanwhile) until an operator
            // fixes NOTIFICATION_SERVICE / NOTIFICATION_TOKEN; failing it would lose it.
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Err(Temporary {
                reason: format!("answered {status}: check NOTIFICATION_SERVICE and NOTIFICATION_TOKEN"),
                retry_after,
            }),
            StatusCode::CONFLICT => {
                Ok(Settled::Rejected("409: the idempotency key was already used with another body".into()))
            }
            s if s.is_client_error() => Ok(Settled::Rejected(format!("answered {status}"))),
            other => Err(temporary(format!("unexpected answer {other}"))),
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

impl tower::Service<Job> for NotificationsClient {
    type Response = Settled;
    type Error = Temporary;
    type Future = Pin<Box<dyn Future<Output = Result<Settled, Temporary>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, job: Job) -> Self::Future {
        Box::pin(self.clone().send(job))
    }
}
