//! PostgreSQL only: replicas sharing one database tell each other about new events with
//! LISTEN/NOTIFY, so a long-polling request held by one replica wakes when another commits.
//!
//! Writers `pg_notify` inside their transaction (delivered at commit, in commit order) with the
//! payload `"<sequence> <contacts>"`. After every (re)connect the head is read from the
//! database, since notifications sent while the listener was away are lost.

use std::time::Duration;

use service_kit::db::Db;
use sqlx::Row;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::head::Head;
use crate::store::Store;

const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// The channel for this database schema: tests (and deployments) that share one PostgreSQL
/// database in different schemas must not hear each other.
pub async fn channel_for(db: &Db) -> Result<String, sqlx::Error> {
    let row = sqlx::query("SELECT current_schema()::text").fetch_one(&db.reader).await?;
    let schema: String = row.try_get(0)?;
    let mut channel = format!("contact_events_{schema}");
    // PostgreSQL truncates identifiers at 63 bytes; keep whole characters.
    while channel.len() > 63 {
        channel.pop();
    }
    Ok(channel)
}

/// Listens until `shutdown`, reconnecting with backoff when the connection drops.
pub async fn run(
    url: String,
    channel: String,
    store: Store,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut backoff = RECONNECT_MIN;
    loop {
        match listen(&url, &channel, &store, &shutdown, &mut backoff).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "feed listener lost its connection")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

/// One connection's life: returns `Ok` on shutdown, `Err` when the connection is lost.
async fn listen(
    url: &str,
    channel: &str,
    store: &Store,
    shutdown: &CancellationToken,
    backoff: &mut Duration,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(channel).await?;
    *backoff = RECONNECT_MIN;
    // Anything committed before LISTEN took effect was not announced to us.
    store.head().advance(store.read_head().await?);
    tracing::debug!(channel, "feed listener connected");
    loop {
        let notification = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            received = listener.try_recv() => received?,
        };
        let Some(notification) = notification else {
            return Err(sqlx::Error::Protocol("notification connection closed".into()));
        };
        match parse_payload(notification.payload()) {
            Some(head) => {
                store.head().advance(head);
            }
            None => {
                tracing::warn!(payload = notification.payload(), "ignoring a malformed event notification")
            }
        }
    }
}

fn parse_payload(payload: &str) -> Option<Head> {
    let (sequence, contacts) = payload.split_once(' ')?;
    Some(Head { sequence: sequence.parse().ok()?, contacts: contacts.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_sequence_and_count() {
        assert_eq!(parse_payload("12 7"), Some(Head { sequence: 12, contacts: 7 }));
        assert_eq!(parse_payload("12"), None);
        assert_eq!(parse_payload("x 7"), None);
    }
}
