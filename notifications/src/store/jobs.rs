//! SQL for the `jobs` table: creating jobs (idempotently), reading them, and the queue
//! operations of the delivery worker (claim with a lease, then finish with the lease token).
//!
//! Every "finish" statement matches on the lease token of the claim it finishes. When a worker
//! was too slow and its lease expired, another worker may have claimed the job again; the late
//! finish then changes nothing and reports `false`.

use service_kit::db::{Backend, Db};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::domain::{IdempotencyKey, Job, JobStatus, NewNotification};

macro_rules! job_columns {
    () => {
        "seq, id, recipients, subject, body, message_id, status, attempts, last_error, next_attempt_at, \
         created_at, updated_at, sent_at"
    };
}

/// What creating a job did.
#[derive(Debug)]
pub enum Created {
    /// A new job was stored.
    New(Job),
    /// The idempotency key was used before for the same notification: that job.
    Replay(Job),
    /// The idempotency key was used before for a different notification.
    KeyConflict,
}

/// Stores a new `queued` job, or finds the job an earlier request with the same idempotency key
/// created. The insert commits before this returns.
pub async fn create(
    db: &Db,
    id: Uuid,
    notification: &NewNotification,
    key: Option<&IdempotencyKey>,
    message_id: &str,
    now: i64,
) -> Result<Created, sqlx::Error> {
    let recipients = serde_json::to_string(notification.recipients()).unwrap_or_else(|_| "[]".into());
    // The job is answered as inserted (`RETURNING`), not read again: once the insert commits, a
    // worker may claim it at any moment, and the answer would say `sending` for a job just queued.
    let inserted = sqlx::query(concat!(
        "INSERT INTO jobs (id, idempotency_key, recipients, subject, body, message_id, status, attempts, \
         next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7, $7) \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING ",
        job_columns!()
    ))
    .bind(id.to_string())
    .bind(key.map(|k| k.as_str().to_string()))
    .bind(recipients)
    .bind(notification.subject().to_string())
    .bind(notification.body().to_string())
    .bind(message_id.to_string())
    .bind(now)
    .fetch_optional(&db.writer)
    .await?;
    if let Some(row) = inserted {
        return Ok(Created::New(job_from_row(&row)?));
    }
    let Some(key) = key else { return Err(sqlx::Error::RowNotFound) };
    let existing = sqlx::query(concat!("SELECT ", job_columns!(), " FROM jobs WHERE idempotency_key = $1"))
        .bind(key.as_str().to_string())
        .fetch_one(&db.writer)
        .await?;
    let existing = job_from_row(&existing)?;
    if existing.notification == *notification {
        Ok(Created::Replay(existing))
    } else {
        Ok(Created::KeyConflict)
    }
}

/// Tells the workers of every replica that a job was stored (PostgreSQL `NOTIFY`; a no-op on
/// SQLite, where one process owns the queue).
pub async fn announce_new_job(db: &Db) -> Result<(), sqlx::Error> {
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(crate::workers::listener::CHANNEL)
            .execute(&db.writer)
            .await?;
    }
    Ok(())
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<Job>, sqlx::Error> {
    let row = sqlx::query(concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&db.reader)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

/// Jobs newest first, optionally only those with `status`, starting below the cursor `before`.
pub async fn list(
    db: &Db,
    status: Option<JobStatus>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Job>, sqlx::Error> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE ($1 = '' OR status = $1) AND seq < $2 ORDER BY seq DESC LIMIT $3"
    ))
    .bind(status.map_or("", JobStatus::as_str).to_string())
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&db.reader)
    .await?;
    rows.iter().map(job_from_row).collect()
}

const CLAIM_SQLITE: &str = concat!(
    "UPDATE jobs SET status = 'sending', attempts = attempts + 1, lease_token = $1, lease_expires_at = $2, \
     updated_at = $3 WHERE id IN (SELECT id FROM jobs \
     WHERE (status = 'queued' AND next_attempt_at <= $3) OR (status = 'sending' AND lease_expires_at <= $3) \
     ORDER BY next_attempt_at, seq LIMIT $4) RETURNING ",
    job_columns!()
);

const CLAIM_POSTGRES: &str = concat!(
    "UPDATE jobs SET status = 'sending', attempts = attempts + 1, lease_token = $1, lease_expires_at = $2, \
     updated_at = $3 WHERE id IN (SELECT id FROM jobs \
     WHERE (status = 'queued' AND next_attempt_at <= $3) OR (status = 'sending' AND lease_expires_at <= $3) \
     ORDER BY next_attempt_at, seq LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING ",
    job_columns!()
);

/// Claims up to `limit` due jobs: queued ones whose time has come, and `sending` ones whose
/// lease expired (their worker died). They become `sending`, owned by `token` until
/// `lease_until`, with one more attempt counted. On PostgreSQL, rows another replica is claiming
/// at the same moment are skipped, not waited for; on SQLite the single writer serialises claims.
pub async fn claim(
    db: &Db,
    token: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Job>, sqlx::Error> {
    let sql = match db.backend() {
        Backend::Sqlite => CLAIM_SQLITE,
        Backend::Postgres => CLAIM_POSTGRES,
    };
    let rows = sqlx::query(sql)
        .bind(token.to_string())
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&db.writer)
        .await?;
    let mut jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>, _>>()?;
    jobs.sort_by_key(|job| (job.next_attempt_at, job.seq));
    Ok(jobs)
}

/// `sending` → `sent`.
pub async fn mark_sent(db: &Db, id: Uuid, token: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'sent', sent_at = $3, updated_at = $3, lease_token = NULL, \
         lease_expires_at = NULL WHERE id = $1 AND status = 'sending' AND lease_token = $2",
    )
    .bind(id.to_string())
    .bind(token.to_string())
    .bind(now)
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Mailbox mode: stores the rendered message and marks the job `sent` in one transaction, so a
/// job lands in the mailbox exactly once.
pub async fn deliver_to_mailbox(
    db: &Db,
    id: Uuid,
    token: &str,
    raw: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.writer.begin().await?;
    let done = sqlx::query(
        "UPDATE jobs SET status = 'sent', sent_at = $3, updated_at = $3, lease_token = NULL, \
         lease_expires_at = NULL WHERE id = $1 AND status = 'sending' AND lease_token = $2",
    )
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
    db: &Db,
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
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// `sending` → `failed`, keeping the reason.
pub async fn mark_failed(db: &Db, id: Uuid, token: &str, error: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'failed', last_error = $3, updated_at = $4, lease_token = NULL, \
         lease_expires_at = NULL WHERE id = $1 AND status = 'sending' AND lease_token = $2",
    )
    .bind(id.to_string())
    .bind(token.to_string())
    .bind(error.to_string())
    .bind(now)
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes up to `batch` finished jobs (`sent` or `failed`) that last changed before `cutoff`,
/// with their mailbox messages, in one transaction; returns how many jobs went. Their
/// idempotency keys go with them: a key is remembered as long as its job.
pub async fn delete_finished_before(db: &Db, cutoff: i64, batch: u32) -> Result<u64, sqlx::Error> {
    let mut tx = db.writer.begin().await?;
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
    // The chosen ids, not the condition again: on PostgreSQL another replica's sweep may commit
    // in between, and a second look could pick jobs whose messages were not deleted first.
    delete_listed(&mut tx, "DELETE FROM mailbox WHERE job_id", &ids).await?;
    let deleted = delete_listed(&mut tx, "DELETE FROM jobs WHERE id", &ids).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Runs `delete` (a `DELETE ... WHERE column`) with `IN` and the given ids; returns the rows deleted.
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

/// Jobs waiting to be sent (queued, including those waiting for a retry).
pub async fn queue_depth(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'")
        .fetch_one(&db.reader)
        .await?
        .try_get("n")
}

/// When the oldest queued job was created (epoch milliseconds), if any is queued.
pub async fn oldest_queued_created_at(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT MIN(created_at) AS t FROM jobs WHERE status = 'queued'")
        .fetch_one(&db.reader)
        .await?
        .try_get("t")
}

/// The earliest time at which a job becomes claimable (a queued job's next attempt, or a
/// sending job's lease expiry), if any.
pub async fn next_due(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    let queued: Option<i64> =
        sqlx::query("SELECT MIN(next_attempt_at) AS t FROM jobs WHERE status = 'queued'")
            .fetch_one(&db.reader)
            .await?
            .try_get("t")?;
    let leased: Option<i64> =
        sqlx::query("SELECT MIN(lease_expires_at) AS t FROM jobs WHERE status = 'sending'")
            .fetch_one(&db.reader)
            .await?
            .try_get("t")?;
    Ok(match (queued, leased) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

fn job_from_row(row: &AnyRow) -> Result<Job, sqlx::Error> {
    let decode =
        |column: &str, e: String| sqlx::Error::ColumnDecode { index: column.into(), source: e.into() };
    let id: String = row.try_get("id")?;
    let id = Uuid::parse_str(&id).map_err(|e| decode("id", e.to_string()))?;
    let recipients: String = row.try_get("recipients")?;
    let recipients: Vec<String> =
        serde_json::from_str(&recipients).map_err(|e| decode("recipients", e.to_string()))?;
    let status: String = row.try_get("status")?;
    let status =
        JobStatus::parse(&status).ok_or_else(|| decode("status", format!("unknown status {status:?}")))?;
    Ok(Job {
        seq: row.try_get("seq")?,
        id,
        notification: NewNotification::from_stored(recipients, row.try_get("subject")?, row.try_get("body")?),
        message_id: row.try_get("message_id")?,
        status,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

/// A message stored in mailbox mode, with its job.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub job: Job,
    pub raw: String,
    pub stored_at: i64,
}

/// Mailbox messages newest first, starting below the cursor `before` (a job `seq`).
pub async fn list_mailbox(
    db: &Db,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StoredMessage>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT j.seq, j.id, j.recipients, j.subject, j.body, j.message_id, j.status, j.attempts, \
         j.last_error, j.next_attempt_at, j.created_at, j.updated_at, j.sent_at, m.raw, m.stored_at \
         FROM mailbox m JOIN jobs j ON j.id = m.job_id WHERE j.seq < $1 ORDER BY j.seq DESC LIMIT $2",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&db.reader)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredMessage {
                job: job_from_row(row)?,
                raw: row.try_get("raw")?,
                stored_at: row.try_get("stored_at")?,
            })
        })
        .collect()
}

/// The stored message of one job, if it was delivered to the mailbox.
pub async fn mailbox_message(db: &Db, id: Uuid) -> Result<Option<(String, i64)>, sqlx::Error> {
    let row = sqlx::query("SELECT raw, stored_at FROM mailbox WHERE job_id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.reader)
        .await?;
    row.map(|row| Ok((row.try_get("raw")?, row.try_get("stored_at")?))).transpose()
}
