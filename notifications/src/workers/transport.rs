//! Where rendered messages go: an SMTP server through `lettre`'s pooled transport, or the
//! database (mailbox mode, handled by the sender itself).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::mail::Rendered;
use service_kit::config::Secret;

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted the message (`250` after `DATA`).
    Accepted,
    /// Worth another attempt later: connection refused or lost, timeout, `4xx`.
    Temporary(String),
    /// Will not succeed by retrying: `5xx`, or a message this server cannot take.
    Permanent(String),
}

type Smtp = AsyncSmtpTransport<Tokio1Executor>;

/// `lettre`'s pooled SMTP transport with a deadline around each send.
///
/// `lettre`'s own timeout covers connecting only; a server that stops answering in the middle
/// of a transaction would hold a send forever. The deadline here covers the whole send. A send
/// cut off mid-conversation leaves its connection in an unknown protocol state, and `lettre`
/// would put it back into its pool, so after a timeout the whole pool is replaced: sends still
/// running on the old pool finish on their own connections, which close with it.
///
/// Throughput: `lettre` 0.11.23 leaves Nagle's algorithm on and writes a message's final dot
/// separately, so every message waits for the server's delayed ACK (40 ms on Linux). One
/// connection carries about 25 messages a second; the sends in flight (`SMTP_MAX_CONCURRENCY`)
/// multiply that. A `lettre` release that sets `TCP_NODELAY` removes the wait.
#[derive(Debug)]
pub struct SmtpSender {
    url: Secret,
    timeout: Duration,
    pool_size: u32,
    current: Mutex<(u64, Arc<Smtp>)>,
}

impl SmtpSender {
    /// Builds the transport (must run inside the Tokio runtime: the pool starts its reaper).
    pub fn new(url: &Secret, timeout: Duration, pool_size: usize) -> anyhow::Result<Self> {
        let pool_size = u32::try_from(pool_size).unwrap_or(u32::MAX);
        let transport = build(url, timeout, pool_size)?;
        Ok(Self { url: url.clone(), timeout, pool_size, current: Mutex::new((0, Arc::new(transport))) })
    }

    /// Sends the rendered message to its envelope recipients.
    pub async fn send(&self, rendered: &Rendered) -> Outcome {
        let (generation, transport) = self.current.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let send = transport.send_raw(rendered.message.envelope(), &rendered.raw);
        match tokio::time::timeout(self.timeout, send).await {
            Ok(Ok(_)) => Outcome::Accepted,
            Ok(Err(e)) if e.is_permanent() || e.is_client() => Outcome::Permanent(reason(&e)),
            Ok(Err(e)) => Outcome::Temporary(reason(&e)),
            Err(_) => {
                self.replace_pool(generation);
                Outcome::Temporary(format!("no answer from the SMTP server within {:?}", self.timeout))
            }
        }
    }

    fn replace_pool(&self, generation: u64) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.0 != generation {
            return; // another timed-out send already replaced it
        }
        match build(&self.url, self.timeout, self.pool_size) {
            Ok(fresh) => *current = (generation + 1, Arc::new(fresh)),
            Err(e) => tracing::error!(error = %e, "cannot rebuild the SMTP transport"),
        }
    }

    /// Closes the pooled connections (`QUIT`).
    pub async fn shutdown(&self) {
        let transport = self.current.lock().unwrap_or_else(|e| e.into_inner()).1.clone();
        transport.shutdown().await;
    }
}

fn build(url: &Secret, timeout: Duration, pool_size: u32) -> anyhow::Result<Smtp> {
    let builder = Smtp::from_url(url.expose())
        .map_err(|e| anyhow::anyhow!("SMTP_URL {}: {e}", service_kit::config::redact_url(url.expose())))?;
    Ok(builder
        .timeout(Some(timeout))
        .pool_config(PoolConfig::new().max_size(pool_size).idle_timeout(Duration::from_secs(60)))
        .build())
}

/// The error as kept on the job: `lettre`'s text (with the server's reply), bounded.
fn reason(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    if text.len() > 1000 {
        let mut end = 1000;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
