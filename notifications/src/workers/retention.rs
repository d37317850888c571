//! The retention sweep: finished jobs (`sent` or `failed`) and their mailbox messages are
//! deleted once they have not changed for `RETENTION_DAYS`, so the database does not grow
//! forever. Queued and sending jobs are never touched. Several replicas may sweep at once.

use std::time::Duration;

use service_kit::db::now_millis;
use tokio_util::sync::CancellationToken;

use crate::metrics;
use crate::store::Store;

/// Jobs deleted per transaction, so a sweep never holds the writer for long.
const BATCH: u32 = 500;
/// Time between sweeps.
const INTERVAL: Duration = Duration::from_secs(3600);
/// The first sweep runs this long after start (not an hour later, so that a service restarted
/// more often than hourly still sweeps; not at once, so that start-up stays fast).
const FIRST_AFTER: Duration = Duration::from_secs(60);

/// The retention sweep over one store.
#[derive(Debug, Clone)]
pub struct Retention {
    store: Store,
    keep: Duration,
}

impl Retention {
    pub fn new(store: Store, keep: Duration) -> Self {
        Self { store, keep }
    }

    /// Deletes every finished job that last changed more than the retention period before
    /// `now` (epoch milliseconds); returns how many. One sweep of [`Retention::run`], which
    /// tests call with a time of their choosing.
    pub async fn step(&self, now: i64) -> Result<u64, sqlx::Error> {
        let keep_ms = i64::try_from(self.keep.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(keep_ms);
        let mut total = 0;
        loop {
            let deleted = self.store.delete_finished_before(cutoff, BATCH).await?;
            metrics::jobs_deleted(deleted);
            total += deleted;
            if deleted < u64::from(BATCH) {
                return Ok(total);
            }
        }
    }

    /// Sweeps a minute after start, then every hour until `shutdown`. A failed sweep is logged
    /// and tried again next time.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut wait = FIRST_AFTER;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
            wait = INTERVAL;
            match self.step(now_millis()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(
                    deleted,
                    keep_days = self.keep.as_secs() / 86_400,
                    "deleted finished jobs past retention"
                ),
                Err(e) => tracing::warn!(error = %e, "retention sweep failed; trying again in an hour"),
            }
        }
    }
}
