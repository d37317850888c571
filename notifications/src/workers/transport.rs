//! Where rendered messages go: an SMTP server through a small pool of `lettre` connections, or
//! the database (mailbox mode, handled by the sender itself).
//!
//! Why not `lettre`'s own pooled transport: `lettre` 0.11.23 opens its sockets without
//! `TCP_NODELAY` and writes a message's final `.` separately, so with Nagle's algorithm every
//! message waits for the server's delayed ACK (40 ms on Linux): about 22 messages a second per
//! connection, about 90 a second at the default `SMTP_MAX_CONCURRENCY` of 4. Its transport takes no
//! socket from outside, but its connection type does
//! (`AsyncSmtpConnection::connect_with_transport`), so the `server` module connects with
//! `TCP_NODELAY` itself and `lettre` still does all of SMTP (commands, dot-stuffing, replies,
//! `STARTTLS`, `AUTH`). What is left here is the pool, which is small. Pipelining (RFC 2920)
//! would save round trips on top, but `lettre` does not implement it and the target is met
//! without it; another client crate would mean a second SMTP and TLS stack next to the
//! `lettre` message builder.

mod server;

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use tokio::task::{JoinHandle, JoinSet};

use crate::mail::Rendered;
use service_kit::config::Secret;

use server::{ConnectError, Server};

/// `SMTP_URL` as the pages name it: `host:port` and the TLS mode, never the credentials.
pub fn describe_url(url: &str) -> Option<String> {
    Server::from_url(url, &[]).ok().map(|server| server.describe())
}

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

/// How long a connection may sit unused in the pool before it is closed (`QUIT`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The pool's settings; [`SmtpSender::new`] takes the defaults.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// Deadline for one send, connecting included (`SMTP_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Most idle connections kept (`SMTP_MAX_CONCURRENCY`: more are never in use at once).
    pub max_idle: usize,
    /// An idle connection older than this is closed.
    pub idle_timeout: Duration,
    /// PEM certificates trusted besides the Mozilla roots for `STARTTLS` and `smtps://` (a
    /// private CA; the tests' own).
    pub extra_roots_pem: Vec<Vec<u8>>,
}

impl SenderOptions {
    pub fn new(timeout: Duration, max_idle: usize) -> Self {
        Self { timeout, max_idle, idle_timeout: IDLE_TIMEOUT, extra_roots_pem: Vec::new() }
    }
}

/// Sends over pooled SMTP connections, one transaction per message, each send under a deadline.
///
/// - A send takes the most recently used idle connection, checks it with `NOOP` and uses it, or
///   opens a new one (`TCP_NODELAY`, TLS, `AUTH`: see the `server` module). While it sends, the
///   connection is its own, so connections in use never exceed sends in flight, which the
///   delivery worker's bulkhead bounds (`SMTP_MAX_CONCURRENCY`), and the pool keeps at most
///   [`SenderOptions::max_idle`] of them between sends.
/// - Back in the pool goes only a connection whose transaction ended cleanly. One that failed
///   (`lettre` sends `QUIT` and marks it broken after any error reply or I/O error) is closed, and
///   so is one that finds the pool full.
/// - The deadline covers the whole send, connecting included. A send cut off by it drops its
///   connection in the middle of the conversation: the socket closes and the connection is never
///   reused (the server may still have accepted the message: the window in the crate docs).
/// - Idle connections older than [`SenderOptions::idle_timeout`] are closed by a background
///   task; [`SmtpSender::shutdown`] closes the rest.
#[derive(Debug)]
pub struct SmtpSender {
    pool: Arc<Pool>,
    reaper: JoinHandle<()>,
}

struct Pool {
    server: Server,
    options: SenderOptions,
    /// Idle connections, most recently used last; `None` once shut down.
    idle: Mutex<Option<Vec<Parked>>>,
}

struct Parked {
    conn: AsyncSmtpConnection,
    since: Instant,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(Vec::len);
        f.debug_struct("Pool")
            .field("server", &self.server)
            .field("options", &self.options)
            .field("idle", &idle)
            .finish()
    }
}

/// Why a send failed before the server accepted the message.
enum SendError {
    Connect(ConnectError),
    Smtp(lettre::transport::smtp::Error),
}

impl SmtpSender {
    /// Builds the sender (must run inside the Tokio runtime: it starts the idle reaper). Fails
    /// on a URL the configuration would refuse too.
    pub fn new(url: &Secret, timeout: Duration, pool_size: usize) -> anyhow::Result<Self> {
        Self::with_options(url, SenderOptions::new(timeout, pool_size))
    }

    pub fn with_options(url: &Secret, options: SenderOptions) -> anyhow::Result<Self> {
        let roots: Vec<&[u8]> = options.extra_roots_pem.iter().map(Vec::as_slice).collect();
        let server = Server::from_url(url.expose(), &roots).map_err(|e| {
            anyhow::anyhow!("SMTP_URL {}: {e}", service_kit::config::redact_url(url.expose()))
        })?;
        let pool = Arc::new(Pool { server, options, idle: Mutex::new(Some(Vec::new())) });
        let reaper = tokio::spawn(reap(Arc::downgrade(&pool)));
        Ok(Self { pool, reaper })
    }

    /// Sends the rendered message to its envelope recipients: one SMTP transaction.
    pub async fn send(&self, rendered: &Rendered) -> Outcome {
        let timeout = self.pool.options.timeout;
        match tokio::time::timeout(timeout, self.pool.send(rendered.message.envelope(), &rendered.raw)).await
        {
            Ok(Ok(())) => Outcome::Accepted,
            Ok(Err(SendError::Smtp(e))) if e.is_permanent() || e.is_client() => {
                Outcome::Permanent(reason(&e))
            }
            Ok(Err(SendError::Smtp(e))) => Outcome::Temporary(reason(&e)),
            Ok(Err(SendError::Connect(ConnectError::Smtp(e)))) if e.is_permanent() || e.is_client() => {
                Outcome::Permanent(reason(&e))
            }
            Ok(Err(SendError::Connect(e))) => Outcome::Temporary(bounded(e.to_string())),
            Err(_) => Outcome::Temporary(format!("no answer from the SMTP server within {timeout:?}")),
        }
    }

    /// Idle connections in the pool now.
    pub fn idle_connections(&self) -> usize {
        self.pool.idle.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, Vec::len)
    }

    /// Closes the idle connections (`QUIT`) and stops pooling: a connection still sending is
    /// closed when its send ends.
    pub async fn shutdown(&self) {
        self.reaper.abort();
        let parked = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
        quit_all(parked, self.pool.options.timeout).await;
    }
}

impl Drop for SmtpSender {
    fn drop(&mut self) {
        self.reaper.abort();
    }
}

impl Pool {
    async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
        let mut conn = self.checkout().await?;
        let sent = conn.send(envelope, raw).await;
        self.checkin(conn);
        sent.map(drop).map_err(SendError::Smtp)
    }

    /// A live idle connection (`NOOP` answered), or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let parked = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.as_mut().and_then(Vec::pop)
            };
            match parked {
                Some(Parked { conn, since }) if since.elapsed() > self.options.idle_timeout => {
                    quit_later(conn, self.options.timeout);
                }
                Some(Parked { mut conn, .. }) => {
                    if conn.test_connected().await {
                        return Ok(conn);
                    }
                    // Closed by the server, or in a state that answers NOOP with an error.
                    tracing::debug!("dropping a pooled SMTP connection that failed NOOP");
                    drop(conn);
                }
                None => return self.server.connect().await.map_err(SendError::Connect),
            }
        }
    }

    fn checkin(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return; // lettre already sent QUIT and closed it
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        match idle.as_mut() {
            Some(idle) if idle.len() < self.options.max_idle => {
                idle.push(Parked { conn, since: Instant::now() })
            }
            _ => {
                drop(idle);
                quit_later(conn, self.options.timeout);
            }
        }
    }

    /// Takes the connections idle for longer than the idle timeout.
    fn expired(&self) -> Vec<Parked> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let Some(idle) = idle.as_mut() else { return Vec::new() };
        let timeout = self.options.idle_timeout;
        let (old, fresh): (Vec<Parked>, Vec<Parked>) =
            idle.drain(..).partition(|p| p.since.elapsed() > timeout);
        *idle = fresh;
        old
    }
}

/// Closes idle connections once they are past the idle timeout; ends with the pool.
async fn reap(pool: Weak<Pool>) {
    let every = match pool.upgrade() {
        Some(pool) => (pool.options.idle_timeout / 2).max(Duration::from_millis(10)),
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let (expired, timeout) = match pool.upgrade() {
            Some(pool) => (pool.expired(), pool.options.timeout),
            None => return,
        };
        if !expired.is_empty() {
            tracing::debug!(connections = expired.len(), "closing idle SMTP connections");
            quit_all(expired, timeout).await;
        }
    }
}

/// `QUIT` and close, without holding up the caller.
fn quit_later(mut conn: AsyncSmtpConnection, timeout: Duration) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(timeout, conn.quit()).await;
    });
}

async fn quit_all(parked: Vec<Parked>, timeout: Duration) {
    let mut quits = JoinSet::new();
    for Parked { mut conn, .. } in parked {
        quits.spawn(async move {
            let _ = tokio::time::timeout(timeout, conn.quit()).await;
        });
    }
    while quits.join_next().await.is_some() {}
}

/// The error as kept on the job: `lettre`'s text (with the server's reply), bounded.
fn reason(e: &lettre::transport::smtp::Error) -> String {
    bounded(e.to_string())
}

fn bounded(mut text: String) -> String {
    if text.len() > 1000 {
        let mut end = 1000;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
