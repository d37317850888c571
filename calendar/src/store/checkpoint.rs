//! The feed follower's checkpoint: where it stands in the feed, written in the same transaction
//! as the changes it stands for.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::dialect::CHECKPOINT;
use super::handle::{Store, WriteTx};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Last applied sequence (0 before the first event, and for feeds without sequences).
    pub sequence: i64,
    /// The applied event's own timestamp (epoch ms), for the lag metric.
    pub event_timestamp: i64,
    /// The Atom id of the last entry applied (or parked); empty before the first. Feeds without
    /// sequence numbers are followed by it.
    pub entry_id: String,
    /// How many entries have been applied or parked so far.
    pub applied: i64,
}

impl Checkpoint {
    /// The position metric: the sequence where the feed has them, else the count of entries.
    pub fn position(&self) -> i64 {
        if self.sequence > 0 { self.sequence } else { self.applied }
    }
}

fn from_row(row: &AnyRow) -> Result<Checkpoint, sqlx::Error> {
    Ok(Checkpoint {
        sequence: row.try_get("sequence")?,
        event_timestamp: row.try_get("event_timestamp")?,
        entry_id: row.try_get("entry_id")?,
        applied: row.try_get("applied")?,
    })
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

    /// Counts one feed entry applied (in the transaction that wrote its changes).
    pub async fn count_application(&mut self) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE feed_checkpoint SET applications = applications + 1 WHERE id = 1")
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn save_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE feed_checkpoint SET sequence = $1, event_timestamp = $2, entry_id = $3, applied = $4, \
             updated_at = $5 WHERE id = 1",
        )
        .bind(checkpoint.sequence)
        .bind(checkpoint.event_timestamp)
        .bind(&checkpoint.entry_id)
        .bind(checkpoint.applied)
        .bind(service_kit::db::now_millis())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
