//! The feed follower's checkpoint: the last applied sequence and its event's timestamp.

use service_kit::db::Backend;
use sqlx::Row;

use super::Tx;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Last applied sequence (0 before the first event).
    pub sequence: i64,
    /// The applied event's own timestamp (epoch ms), for the lag metric.
    pub event_timestamp: i64,
}

pub async fn load(pool: &sqlx::AnyPool) -> Result<Checkpoint, sqlx::Error> {
    let row = sqlx::query("SELECT sequence, event_timestamp FROM feed_checkpoint WHERE id = 1")
        .fetch_one(pool)
        .await?;
    Ok(Checkpoint { sequence: row.try_get("sequence")?, event_timestamp: row.try_get("event_timestamp")? })
}

/// Reads the checkpoint inside a write transaction and, on PostgreSQL, locks it, so two calendar
/// replicas sharing a database never apply the same event twice.
pub async fn load_locked(tx: &mut Tx, backend: Backend) -> Result<Checkpoint, sqlx::Error> {
    let sql = match backend {
        Backend::Postgres => "SELECT sequence, event_timestamp FROM feed_checkpoint WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT sequence, event_timestamp FROM feed_checkpoint WHERE id = 1",
    };
    let row = sqlx::query(sql).fetch_one(&mut **tx).await?;
    Ok(Checkpoint { sequence: row.try_get("sequence")?, event_timestamp: row.try_get("event_timestamp")? })
}

pub async fn save(tx: &mut Tx, checkpoint: Checkpoint) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE feed_checkpoint SET sequence = $1, event_timestamp = $2, updated_at = $3 WHERE id = 1",
    )
    .bind(checkpoint.sequence)
    .bind(checkpoint.event_timestamp)
    .bind(service_kit::db::now_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
