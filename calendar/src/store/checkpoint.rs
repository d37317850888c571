//! The feed follower's checkpoint: the last applied sequence and its event's timestamp.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::dialect::CHECKPOINT;
use super::handle::{Store, WriteTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Last applied sequence (0 before the first event).
    pub sequence: i64,
    /// The applied event's own timestamp (epoch ms), for the lag metric.
    pub event_timestamp: i64,
}

fn from_row(row: &AnyRow) -> Result<Checkpoint, sqlx::Error> {
    Ok(Checkpoint { sequence: row.try_get("sequence")?, event_timestamp: row.try_get("event_timestamp")? })
}

impl Store {
    /// Where the follower stands (for the metrics and the start of a step).
    pub async fn checkpoint(&self) -> Result<Checkpoint, sqlx::Error> {
        from_row(&sqlx::query(CHECKPOINT).fetch_one(self.reader()).await?)
    }
}

impl WriteTx {
    /// Reads the checkpoint and, on PostgreSQL, locks it until the transaction ends, so two
    /// calendar replicas sharing a database never apply the same event twice.
    pub async fn checkpoint_for_update(&mut self) -> Result<Checkpoint, sqlx::Error> {
        let sql = self.dialect().checkpoint_for_update;
        from_row(&sqlx::query(sql).fetch_one(self.conn()).await?)
    }

    pub async fn save_checkpoint(&mut self, checkpoint: Checkpoint) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE feed_checkpoint SET sequence = $1, event_timestamp = $2, updated_at = $3 WHERE id = 1",
        )
        .bind(checkpoint.sequence)
        .bind(checkpoint.event_timestamp)
        .bind(service_kit::db::now_millis())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
