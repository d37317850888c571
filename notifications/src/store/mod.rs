//! The jobs database. [`Store`] owns the pools and picks the writer or a reader for each
//! statement, so the single-writer rule of SQLite lives here only; handlers and workers call its
//! methods and never see SQL. What differs between SQLite and PostgreSQL is in `dialect.rs`.
//!
//! Every "finish" statement matches on the lease token of the claim it finishes. When a worker
//! was too slow and its lease expired, another worker may have claimed the job again; the late
//! finish then changes nothing and reports `false`.

mod dialect;
mod rows;

use std::sync::Arc;

use service_kit::db::Db;
use sqlx::Row;
use uuid::Uuid;

use self::dialect::Dialect;
use self::rows::{job_columns, job_from_row, stored_message_from_row};
use crate::domain::{Job, JobStatus, NewNotification, ScopedKey};

pub use self::rows::{Created, Page, StoredMessage};

/// The jobs and mailbox tables, with the pools to reach them.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    dialect: Dialect,
    /// PostgreSQL: the channel on which replicas tell each other about new jobs.
    channel: Option<Arc<str>>,
}

/// The `sending` → `sent` transition, shared by the SMTP and the mailbox delivery.
const MARK_SENT: &str = "UPDATE jobs SET status = 'sent', sent_at = $3, updated_at = $3, lease_token = NULL, \
     lease_expires_at = NULL WHERE id = $1 AND status = 'sending' AND lease_token = $2";

impl Store {
    /// The store over a connected, migrated database.
    pub async fn open(db: Db) -> Result<Self, sqlx::Error> {
        let dialect = Dialect::of(db.backend());
        let channel = dialect.channel(&db.reader).await?.map(Arc::from);
        Ok(Self { db, dialect, channel })
    }

    /// The pools, for what the service kit does with them (health checks, closing).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// PostgreSQL: the channel to `LISTEN` on for jobs stored by other replicas.
    pub fn listen_channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// Stores a new `queued` job, or finds the job an earlier request of the same caller with
    /// the same idempotency key created (the `idempotency_key` column holds the scoped key). The insert commits before this returns.
    pub async fn create(
        &self,
        id: Uuid,
        notification: &NewNotification,
        key: Option<&ScopedKey>,
        message_id: &str,
        now: i64,
    ) -> Result<Created, sqlx::Error> {
        let recipients = serde_json::to_string(notification.recipients()).unwrap_or_else(|_| "[]".into());
        let parts = (!notification.parts().is_empty())
            .then(|| serde_json::to_string(notification.parts()))
            .transpose()
            .map_err(|e| sqlx::Error::Encode(e.into()))?;
        // The job is answered as inserted (`RETURNING`), not read again: once the insert commits,
        // a worker may claim it at any moment, and the answer would say `sending` for a job just
        // queued.
        let inserted = sqlx::query(concat!(
            "INSERT INTO jobs (id, idempotency_key, recipients, subject, body, parts, message_id, status, \
             attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $8, $8) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING ",
            job_columns!()
        ))
        .bind(id.to_string())
        .bind(key.map(|k| k.as_str().to_string()))
        .bind(recipients)
        .bind(notification.subject().to_string())
        .bind(notification.body().to_string())
        .bind(parts)
        .bind(message_id.to_string())
        .bind(now)
        .fetch_optional(&self.db.writer)
        .await?;
        if let Some(row) = inserted {
            return Ok(Created::New(job_from_row(&row)?));
        }
        let Some(key) = key else { return Err(sqlx::Error::RowNotFound) };
        let existing =
            sqlx::query(concat!("SELECT ", job_columns!(), " FROM jobs WHERE idempotency_key = $1"))
                .bind(key.as_str().to_string())
                .fetch_one(&self.db.writer)
                .await?;
        let existing = job_from_row(&existing)?;
        if existing.notification == *notification {
            Ok(Created::Replay(existing))
        } else {
            Ok(Created::KeyConflict)
        }
    }

    /// Tells the workers of every replica that a job was stored (a no-op where one process owns
    /// the queue).
    pub async fn announce_new_job(&self) -> Result<(), sqlx::Error> {
        if let (Some(announce), Some(channel)) = (self.dialect.announce_new_job(), &self.channel) {
            sqlx::query(announce).bind(channel.as_ref()).execute(&self.db.writer).await?;
        }
        Ok(())
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<Job>, sqlx::Error> {
        let row = sqlx::query(concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.db.reader)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Up to `limit` jobs newest first, optionally only those with `status`, starting below the
    /// cursor `before`.
    pub async fn list(
        &self,
        status: Option<JobStatus>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Page<Job>, sqlx::Error> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE ($1 = '' OR status = $1) AND seq < $2 ORDER BY seq DESC LIMIT $3"
        ))
        .bind(status.map_or("", JobStatus::as_str).to_string())
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.db.reader)
        .await?;
        let found = rows.iter().map(job_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::of(found, limit, |job| job.seq))
    }

    /// Claims up to `limit` due jobs: queued ones whose time has come, and `sending` ones whose
    /// lease expired (their worker died). They become `sending`, owned by `token` until
    /// `lease_until`, with one more attempt counted. On PostgreSQL, rows another replica is
    /// claiming at the same moment are skipped, not waited for; on SQLite the single writer
    /// serialises claims.
    pub async fn claim(
        &self,
        token: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Job>, sqlx::Error> {
        let rows = sqlx::query(self.dialect.claim())
            .bind(token.to_string())
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.db.writer)
            .await?;
        let mut jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by_key(|job| (job.next_attempt_at, job.seq));
        Ok(jobs)
    }

    /// Moves the lease of a job its worker is still sending on to `lease_until`; `false` when
    /// the worker no longer owns it.
    pub async fn renew_lease(&self, id: Uuid, token: &str, lease_until: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $3 WHERE id = $1 AND status = 'sending' AND lease_token = $2",
        )
        .bind(id.to_string())
        .bind(token.to_string())
        .bind(lease_until)
        .execute(&self.db.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// SQLite, where one process owns the queue: the jobs a process that stopped without
    /// finishing them (killed mid-send) left `sending` are due again now, without waiting for
    /// their leases. Returns how many.
    pub async fn take_over_abandoned(&self, now: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', next_attempt_at = $1, lease_token = NULL, lease_expires_at = NULL, \
             updated_at = $1 WHERE status = 'sending'",
        )
        .bind(now)
        .execute(&self.db.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// `sending` → `sent`.
    pub async fn mark_sent(&self, id: Uuid, token: &str, now: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(MARK_SENT)
            .bind(id.to_string())
            .bind(token.to_string())
            .bind(now)
            .execute(&self.db.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Mailbox mode: stores the rendered message and marks the job `sent` in one transaction, so
    /// a job lands in the mailbox exactly once.
    pub async fn deliver_to_mailbox(
        &self,
        id: Uuid,
        token: &str,
        raw: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.writer.begin().await?;
        let done = sqlx::query(MARK_SENT)
            .bind(id.to_string())
            .bind(token.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("INSERT INTO mailbox (job_id, raw, stored_at) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(raw.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `sending` → `queued` again, not before `at`, keeping the reason.
    pub async fn schedule_retry(
        &self,
        id: Uuid,
        token: &str,
        at: i64,
        error: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', next_attempt_at = $3, last_error = $4, updated_at = $5, \
             lease_token = NULL, lease_expires_at = NULL WHERE id = $1 AND status = 'sending' AND lease_token = $2",
        )
        .bind(id.to_string())
        .bind(token.to_string())
        .bind(at)
        .bind(error.to_string())
        .bind(now)
        .execute(&self.db.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `sending` → `failed`, keeping the reason.
    pub async fn mark_failed(
        &self,
        id: Uuid,
        token: &str,
        error: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'failed', last_error = $3, updated_at = $4, lease_token = NULL, \
             lease_expires_at = NULL WHERE id = $1 AND status = 'sending' AND lease_token = $2",
        )
        .bind(id.to_string())
        .bind(token.to_string())
        .bind(error.to_string())
        .bind(now)
        .execute(&self.db.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes up to `batch` finished jobs (`sent` or `failed`) that last changed before
    /// `cutoff`, with their mailbox messages, in one transaction; returns how many jobs went.
    /// Their idempotency keys go with them: a key is remembered as long as its job.
    pub async fn delete_finished_before(&self, cutoff: i64, batch: u32) -> Result<u64, sqlx::Error> {
        let mut tx = self.db.writer.begin().await?;
        let ids: Vec<String> = sqlx::query(
            "SELECT id FROM jobs WHERE status IN ('sent', 'failed') AND updated_at < $1 ORDER BY seq LIMIT $2",
        )
        .bind(cutoff)
        .bind(i64::from(batch))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        // The chosen ids, not the condition again: on PostgreSQL another replica's sweep may
        // commit in between, and a second look could pick jobs whose messages were not deleted
        // first.
        delete_listed(&mut tx, "DELETE FROM mailbox WHERE job_id", &ids).await?;
        let deleted = delete_listed(&mut tx, "DELETE FROM jobs WHERE id", &ids).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Jobs waiting to be sent (queued, including those waiting for a retry).
    pub async fn queue_depth(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'")
            .fetch_one(&self.db.reader)
            .await?
            .try_get("n")
    }

    /// When the oldest queued job was created (epoch milliseconds), if any is queued.
    pub async fn oldest_queued_created_at(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query("SELECT MIN(created_at) AS t FROM jobs WHERE status = 'queued'")
            .fetch_one(&self.db.reader)
            .await?
            .try_get("t")
    }

    /// The earliest time at which a job becomes claimable (a queued job's next attempt, or a
    /// sending job's lease expiry), if any.
    pub async fn next_due(&self) -> Result<Option<i64>, sqlx::Error> {
        let queued: Option<i64> =
            sqlx::query("SELECT MIN(next_attempt_at) AS t FROM jobs WHERE status = 'queued'")
                .fetch_one(&self.db.reader)
                .await?
                .try_get("t")?;
        let leased: Option<i64> =
            sqlx::query("SELECT MIN(lease_expires_at) AS t FROM jobs WHERE status = 'sending'")
                .fetch_one(&self.db.reader)
                .await?
                .try_get("t")?;
        Ok(match (queued, leased) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Up to `limit` mailbox messages newest first, starting below the cursor `before` (a job
    /// `seq`).
    pub async fn list_mailbox(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Page<StoredMessage>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT j.seq, j.id, j.recipients, j.subject, j.body, j.parts, j.message_id, j.status, j.attempts, \
             j.last_error, j.next_attempt_at, j.created_at, j.updated_at, j.sent_at, m.raw, m.stored_at \
             FROM mailbox m JOIN jobs j ON j.id = m.job_id WHERE j.seq < $1 ORDER BY j.seq DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.db.reader)
        .await?;
        let found = rows.iter().map(stored_message_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::of(found, limit, |message| message.job.seq))
    }

    /// The stored message of one job, if it was delivered to the mailbox.
    pub async fn mailbox_message(&self, id: Uuid) -> Result<Option<(String, i64)>, sqlx::Error> {
        let row = sqlx::query("SELECT raw, stored_at FROM mailbox WHERE job_id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.db.reader)
            .await?;
        row.map(|row| Ok((row.try_get("raw")?, row.try_get("stored_at")?))).transpose()
    }
}

/// Runs `delete` (a `DELETE ... WHERE column`) with `IN` and the given ids; returns the rows
/// deleted.
async fn delete_listed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    delete: &str,
    ids: &[String],
) -> Result<u64, sqlx::Error> {
    let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("{delete} IN ({placeholders})")));
    for id in ids {
        query = query.bind(id.as_str());
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}
