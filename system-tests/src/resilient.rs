//! Calling a service that may be down or restarting: retries on refused or broken connections,
//! timeouts and `5xx` answers, with backoff, until a deadline; and a record of whether an earlier
//! attempt may have reached the service, which is what a client needs to read the final answer
//! right (a `409` to a repeated create, or a `404` to a repeated delete, then means "done").

use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

/// How long one attempt may take before it counts as failed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A definitive answer, after retries.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// An earlier attempt failed in a way that leaves open whether the service acted on it
    /// (connection lost after sending, timeout, `5xx`).
    pub maybe_applied_before: bool,
    /// Attempts made (1 when the first one answered).
    pub attempts: u32,
}

/// No definitive answer before the deadline.
#[derive(Debug, Clone)]
pub struct GaveUp {
    pub last_error: String,
    /// Whether any attempt may have been acted on.
    pub maybe_applied: bool,
    pub attempts: u32,
}

/// Sends the request made by `build` until a non-retryable answer comes, or `deadline` passes.
/// Backoff starts at 50 ms and doubles up to 1 s.
pub async fn send(build: impl Fn() -> RequestBuilder, deadline: Duration) -> Result<Answer, GaveUp> {
    let until = Instant::now() + deadline;
    let mut delay = Duration::from_millis(50);
    let mut maybe_applied = false;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match build().timeout(ATTEMPT_TIMEOUT).send().await {
            Ok(response) if response.status().is_server_error() => {
                maybe_applied = true;
                format!("answered {}", response.status())
            }
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(bytes) => {
                        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        return Ok(Answer { status, body, maybe_applied_before: maybe_applied, attempts });
                    }
                    Err(e) => {
                        maybe_applied = true;
                        format!("reading the body of a {status} answer: {e}")
                    }
                }
            }
            Err(e) => {
                // A refused connection never reached the service; anything else may have.
                if !e.is_connect() {
                    maybe_applied = true;
                }
                format!("{e}")
            }
        };
        if Instant::now() + delay >= until {
            return Err(GaveUp { last_error: error, maybe_applied, attempts });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// Whether `status` is one of `expected`.
pub fn is(answer: &Answer, expected: &[StatusCode]) -> bool {
    expected.contains(&answer.status)
}
