//! The outbox: notification jobs written with the participants they announce, drained by the
//! dispatcher. A row's retry schedule (`attempts`, `next_attempt_at`) lives here, not in memory,
//! so it survives restarts. Status: `pending` → `sent` | `failed` | `cancelled`.

use service_kit::db::{Backend, now_millis};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Tx, uuid_column};

/// What a new job says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub email: String,
    pub subject: String,
    pub message: String,
}

/// A claimed row, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Also the `Idempotency-Key`.
    pub id: Uuid,
    pub event_id: Uuid,
    pub email: String,
    pub subject: String,
    pub message: String,
    /// The id of the API request that created the row, forwarded as `x-request-id`.
    pub request_id: Option<String>,
    pub attempts: i64,
}

/// A row as the status views show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub id: Uuid,
    pub email: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

pub async fn insert(
    tx: &mut Tx,
    event_id: Uuid,
    user_id: Uuid,
    job: &NewJob,
    request_id: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let now = now_millis();
    sqlx::query(
        "INSERT INTO outbox (id, event_id, user_id, email, subject, message, request_id, status, attempts, \
         next_attempt_at, last_error, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, NULL, $8, $8)",
    )
    .bind(id.to_string())
    .bind(event_id.to_string())
    .bind(user_id.to_string())
    .bind(&job.email)
    .bind(&job.subject)
    .bind(&job.message)
    .bind(request_id.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

fn job_from_row(row: &AnyRow) -> Result<Job, sqlx::Error> {
    Ok(Job {
        id: uuid_column(&row.try_get::<String, _>("id")?)?,
        event_id: uuid_column(&row.try_get::<String, _>("event_id")?)?,
        email: row.try_get("email")?,
        subject: row.try_get("subject")?,
        message: row.try_get("message")?,
        request_id: row.try_get("request_id")?,
        attempts: row.try_get("attempts")?,
    })
}

/// Claims up to `limit` due rows by moving their `next_attempt_at` to `lease_until`: another
/// dispatcher (a second replica on PostgreSQL) skips them, and if this process dies mid-send they
/// come due again after the lease (the Idempotency-Key makes the resend harmless).
pub async fn claim_due(
    pool: &sqlx::AnyPool,
    backend: Backend,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<Job>, sqlx::Error> {
    let sql = match backend {
        Backend::Postgres => {
            "UPDATE outbox SET next_attempt_at = $1, updated_at = $2 WHERE id IN (SELECT id FROM outbox \
             WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3 \
             FOR UPDATE SKIP LOCKED) \
             RETURNING id, event_id, email, subject, message, request_id, attempts, created_at"
        }
        Backend::Sqlite => {
            "UPDATE outbox SET next_attempt_at = $1, updated_at = $2 WHERE id IN (SELECT id FROM outbox \
             WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3) \
             RETURNING id, event_id, email, subject, message, request_id, attempts, created_at"
        }
    };
    let rows =
        sqlx::query(sql).bind(lease_until).bind(now_millis()).bind(i64::from(limit)).fetch_all(pool).await?;
    let mut jobs = rows
        .iter()
        .map(|row| Ok((row.try_get::<i64, _>("created_at")?, job_from_row(row)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    jobs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
    Ok(jobs.into_iter().map(|(_, job)| job).collect())
}

pub async fn mark_sent(pool: &sqlx::AnyPool, id: Uuid, attempts: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET status = 'sent', attempts = $2, last_error = NULL, updated_at = $3 WHERE id = $1 AND status = 'pending'")
        .bind(id.to_string())
        .bind(attempts)
        .bind(now_millis())
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn mark_failed(
    pool: &sqlx::AnyPool,
    id: Uuid,
    attempts: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET status = 'failed', attempts = $2, last_error = $3, updated_at = $4 WHERE id = $1 AND status = 'pending'")
        .bind(id.to_string())
        .bind(attempts)
        .bind(truncate(reason))
        .bind(now_millis())
        .execute(pool)
        .await?;
    Ok(())
}

/// Schedules another attempt after a temporary failure.
pub async fn retry_at(
    pool: &sqlx::AnyPool,
    id: Uuid,
    attempts: i64,
    next_attempt_at: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET attempts = $2, next_attempt_at = $3, last_error = $4, updated_at = $5 \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id.to_string())
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(truncate(reason))
    .bind(now_millis())
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives a claimed row back untried (the circuit is open): due again at `at`, no attempt counted.
pub async fn release(pool: &sqlx::AnyPool, id: Uuid, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $2, updated_at = $3 WHERE id = $1 AND status = 'pending'",
    )
    .bind(id.to_string())
    .bind(at)
    .bind(now_millis())
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn cancel_for_event(tx: &mut Tx, event_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET status = 'cancelled', last_error = 'the event was deleted', updated_at = $2 \
         WHERE event_id = $1 AND status = 'pending'",
    )
    .bind(event_id.to_string())
    .bind(now_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn pending_count(pool: &sqlx::AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")
        .fetch_one(pool)
        .await?
        .try_get("n")
}

/// When the oldest pending row was written (epoch milliseconds), if any row is pending.
pub async fn oldest_pending_created_at(pool: &sqlx::AnyPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT MIN(created_at) AS t FROM outbox WHERE status = 'pending'")
        .fetch_one(pool)
        .await?
        .try_get("t")
}

/// The jobs of one event, oldest first (the event page shows their delivery state).
pub async fn for_event(pool: &sqlx::AnyPool, event_id: Uuid) -> Result<Vec<JobStatus>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, email, status, attempts, last_error FROM outbox WHERE event_id = $1 ORDER BY created_at, id",
    )
    .bind(event_id.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(JobStatus {
                id: uuid_column(&row.try_get::<String, _>("id")?)?,
                email: row.try_get("email")?,
                status: row.try_get("status")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
            })
        })
        .collect()
}

/// Error texts come from other services: keep what is stored short.
fn truncate(reason: &str) -> String {
    reason.chars().take(500).collect()
}
