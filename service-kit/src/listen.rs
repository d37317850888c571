//! PostgreSQL `LISTEN`/`NOTIFY` as a named background worker: replicas sharing one database tell
//! each other about new rows (events, jobs) at commit, instead of waiting for the next poll.
//!
//! Notifications sent while the listener is away are lost, so after every (re)connect the
//! handler's [`Notified::connected`] runs once to catch up with what the database holds. A lost
//! connection is logged and re-established with backoff; the worker ends only on shutdown.

use std::future::Future;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::app::Worker;
use crate::backoff::{Backoff, Delays};
use crate::config::Secret;

/// Reconnect schedule after the connection is lost.
const RECONNECT: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));

/// What a listener does with its channel.
pub trait Notified: Send + Sync + 'static {
    /// Runs after each (re)connect, once `LISTEN` is in place: read whatever was announced
    /// while the listener was away.
    fn connected(&self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// One notification's payload.
    fn notified(&self, payload: &str);

    /// The connection was lost (until the next [`Notified::connected`]).
    fn disconnected(&self) {}
}

/// The channel name for `base` in the current schema: services (and tests) that share one
/// PostgreSQL database in different schemas must not hear each other.
pub async fn channel_for(pool: &sqlx::AnyPool, base: &str) -> Result<String, sqlx::Error> {
    use sqlx::Row;
    let row = sqlx::query("SELECT current_schema()::text").fetch_one(pool).await?;
    let schema: String = row.try_get(0)?;
    let mut channel = format!("{base}_{schema}");
    // PostgreSQL truncates identifiers at 63 bytes; keep whole characters.
    while channel.len() > 63 {
        channel.pop();
    }
    Ok(channel)
}

/// A worker named `name` that listens on `channel` of the database at `url` until `shutdown`.
pub fn worker<H: Notified>(
    name: &'static str,
    url: Secret,
    channel: String,
    handler: H,
    shutdown: CancellationToken,
) -> Worker {
    (name, Box::pin(run(name, url, channel, handler, shutdown)))
}

async fn run<H: Notified>(
    name: &'static str,
    url: Secret,
    channel: String,
    handler: H,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut delays = RECONNECT.delays();
    loop {
        match listen(&url, &channel, &handler, &shutdown, &mut delays).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                handler.disconnected();
                let retry_in = delays.next().unwrap_or(RECONNECT.max);
                tracing::warn!(task = name, channel, error = %e, retry_in_ms = retry_in.as_millis() as u64,
                    "LISTEN connection lost; polling until it is back");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(retry_in) => {}
                }
            }
        }
    }
}

/// One connection's life: `Ok` on shutdown, `Err` when the connection is lost.
async fn listen<H: Notified>(
    url: &Secret,
    channel: &str,
    handler: &H,
    shutdown: &CancellationToken,
    delays: &mut Delays,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url.expose()).await?;
    listener.listen(channel).await?;
    handler.connected().await?;
    // Connected: the next loss starts the reconnect schedule over.
    *delays = RECONNECT.delays();
    tracing::debug!(channel, "listening");
    loop {
        let notification = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            received = listener.try_recv() => received?,
        };
        match notification {
            Some(notification) => handler.notified(notification.payload()),
            None => return Err(sqlx::Error::Protocol("notification connection closed".into())),
        }
    }
}
