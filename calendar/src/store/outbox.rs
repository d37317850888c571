//! The outbox: notification jobs written with the participants they announce, drained by the
//! dispatcher. A row's retry schedule (`attempts`, `next_attempt_at`) lives here, not in memory,
//! so it survives restarts. Status: `pending` → `sent` | `failed` | `cancelled`.

use service_kit::db::now_millis;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::handle::{Store, WriteTx, uuid_column};

/// Where an outbox row stands; stored as its text (`pending`, `sent`, `failed`, `cancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// Accepted by notifications.
    Sent,
    /// Given up: refused for good, or out of attempts.
    Failed,
    /// Its event was deleted before it was delivered.
    Cancelled,
}

impl JobStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Sent, Self::Failed, Self::Cancelled];

    /// The text stored in the `status` column (and shown on the event page).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a new job says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub email: String,
    pub subject: String,
    pub message: String,
    /// The iMIP part: an iCalendar `METHOD:REQUEST` for mail clients to answer.
    pub calendar: Option<String>,
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
    /// The iMIP part ([`NewJob::calendar`]), sent as a `text/calendar; method=REQUEST`
    /// alternative of the message.
    pub calendar: Option<String>,
    /// The id of the API request that created the row, forwarded as `x-request-id`.
    pub request_id: Option<String>,
    pub attempts: i64,
}

/// A row as the event page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    pub id: Uuid,
    pub email: String,
    pub status: JobStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// notifications' id of the job that carries it, once notifications accepted it.
    pub job_id: Option<Uuid>,
}

fn job_from_row(row: &AnyRow) -> Result<Job, sqlx::Error> {
    Ok(Job {
        id: uuid_column(&row.try_get::<String, _>("id")?)?,
        event_id: uuid_column(&row.try_get::<String, _>("event_id")?)?,
        email: row.try_get("email")?,
        subject: row.try_get("subject")?,
        message: row.try_get("message")?,
        calendar: row.try_get("calendar")?,
        request_id: row.try_get("request_id")?,
        attempts: row.try_get("attempts")?,
    })
}

fn summary_from_row(row: &AnyRow) -> Result<JobSummary, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(JobSummary {
        id: uuid_column(&row.try_get::<String, _>("id")?)?,
        email: row.try_get("email")?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown outbox status {status:?}").into()))?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        job_id: match row.try_get::<Option<String>, _>("job_id")? {
            Some(id) => Some(uuid_column(&id)?),
            None => None,
        },
    })
}

/// Error texts come from other services: keep what is stored short.
fn truncate(reason: &str) -> String {
    reason.chars().take(500).collect()
}

impl Store {
    /// Claims up to `limit` due rows by moving their `next_attempt_at` to `lease_until`: another
    /// dispatcher (a second replica on PostgreSQL) skips them, and if this process dies mid-send
    /// they come due again after the lease (the Idempotency-Key makes the resend harmless).
    /// Oldest first.
    pub async fn claim_due(&self, lease_until: i64, limit: u32) -> Result<Vec<Job>, sqlx::Error> {
        let rows = sqlx::query(self.dialect().claim_due)
            .bind(lease_until)
            .bind(now_millis())
            .bind(i64::from(limit))
            .fetch_all(self.writer())
            .await?;
        let mut jobs = rows
            .iter()
            .map(|row| Ok((row.try_get::<i64, _>("created_at")?, job_from_row(row)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        jobs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        Ok(jobs.into_iter().map(|(_, job)| job).collect())
    }

    /// Settles a row as accepted by notifications, which named its job `job_id` (absent when
    /// an answer carried no id).
    pub async fn mark_sent(&self, id: Uuid, attempts: i64, job_id: Option<Uuid>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE outbox SET status = 'sent', attempts = $2, last_error = NULL, updated_at = $3, job_id = $4 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id.to_string())
        .bind(attempts)
        .bind(now_millis())
        .bind(job_id.map(|j| j.to_string()))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn mark_failed(&self, id: Uuid, attempts: i64, reason: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE outbox SET status = 'failed', attempts = $2, last_error = $3, updated_at = $4 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id.to_string())
        .bind(attempts)
        .bind(truncate(reason))
        .bind(now_millis())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Schedules another attempt after a temporary failure.
    pub async fn retry_at(
        &self,
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
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Gives a claimed row back untried (the circuit is open): due again at `at`, no attempt
    /// counted.
    pub async fn release(&self, id: Uuid, at: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE outbox SET next_attempt_at = $2, updated_at = $3 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id.to_string())
        .bind(at)
        .bind(now_millis())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn pending_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")
            .fetch_one(self.reader())
            .await?
            .try_get("n")
    }

    /// When the oldest pending row was created (epoch milliseconds), if any is pending.
    pub async fn oldest_pending_created_at(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query("SELECT MIN(created_at) AS t FROM outbox WHERE status = 'pending'")
            .fetch_one(self.reader())
            .await?
            .try_get("t")
    }

    /// The jobs of one event, oldest first (the event page shows their delivery state).
    pub async fn jobs_of_event(&self, event_id: Uuid) -> Result<Vec<JobSummary>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, email, status, attempts, last_error, job_id FROM outbox WHERE event_id = $1 \
             ORDER BY created_at, id",
        )
        .bind(event_id.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(summary_from_row).collect()
    }
}

impl WriteTx {
    pub(super) async fn insert_job(
        &mut self,
        event_id: Uuid,
        user_id: Uuid,
        job: &NewJob,
        request_id: &str,
    ) -> Result<Uuid, sqlx::Error> {
        let id = Uuid::now_v7();
        let now = now_millis();
        sqlx::query(
            "INSERT INTO outbox (id, event_id, user_id, email, subject, message, calendar, request_id, status, \
             attempts, next_attempt_at, last_error, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, NULL, $9, $9)",
        )
        .bind(id.to_string())
        .bind(event_id.to_string())
        .bind(user_id.to_string())
        .bind(&job.email)
        .bind(&job.subject)
        .bind(&job.message)
        .bind(job.calendar.as_deref())
        .bind(request_id.to_string())
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    /// Cancels the undelivered jobs of the event with id `event_id`.
    pub(super) async fn cancel_jobs_of_event(&mut self, event_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE outbox SET status = 'cancelled', last_error = 'the event was deleted', updated_at = $2 \
             WHERE event_id = $1 AND status = 'pending'",
        )
        .bind(event_id.to_string())
        .bind(now_millis())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Points the undelivered jobs addressed to the user with id `user_id` at `email`, their
    /// current address.
    pub(super) async fn readdress_jobs(&mut self, user_id: &str, email: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            // The iMIP part named the old address as the attendee: the mail goes without it.
            "UPDATE outbox SET email = $2, calendar = NULL, updated_at = $3 \
             WHERE user_id = $1 AND status = 'pending' AND email <> $2",
        )
        .bind(user_id)
        .bind(email)
        .bind(now_millis())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Cancels the undelivered jobs addressed to the user with id `user_id` (of one event, or of
    /// all), giving `reason`.
    pub(super) async fn cancel_jobs_to(
        &mut self,
        user_id: &str,
        event_id: Option<&str>,
        reason: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE outbox SET status = 'cancelled', last_error = $3, updated_at = $4 \
             WHERE user_id = $1 AND status = 'pending' AND ($2 IS NULL OR event_id = $2)",
        )
        .bind(user_id)
        .bind(event_id)
        .bind(reason)
        .bind(now_millis())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Cancels the undelivered jobs of every event the user with id `owner_id` owns.
    pub(super) async fn cancel_jobs_of_owner(&mut self, owner_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE outbox SET status = 'cancelled', last_error = 'the event was deleted', updated_at = $2 \
             WHERE status = 'pending' AND event_id IN (SELECT id FROM events WHERE owner_id = $1)",
        )
        .bind(owner_id.to_string())
        .bind(now_millis())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_stored_as_their_names() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        let stored: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(stored, ["pending", "sent", "failed", "cancelled"]);
        assert_eq!(JobStatus::parse("queued"), None);
    }
}
