//! What the store hands out: jobs decoded from their rows, mailbox messages, pages of either,
//! and what creating a job did.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::domain::{Job, JobStatus, NewNotification, Part};

/// The columns of a job, in the order every `SELECT` and `RETURNING` of a whole job names them.
macro_rules! job_columns {
    () => {
        "seq, id, recipients, subject, body, parts, message_id, status, attempts, last_error, \
         next_attempt_at, created_at, updated_at, sent_at"
    };
}
pub(super) use job_columns;

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

/// A message stored in mailbox mode, with its job.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub job: Job,
    pub raw: String,
    pub stored_at: i64,
}

/// One page of a listing, newest first.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next (older) page, if there is one: the `seq` of this page's last job.
    pub next: Option<i64>,
}

impl<T> Page<T> {
    /// Splits the `limit + 1` rows a listing fetched into the page and the next page's cursor.
    pub(super) fn of(mut found: Vec<T>, limit: u32, seq: impl Fn(&T) -> i64) -> Self {
        let more = found.len() > limit as usize;
        found.truncate(limit as usize);
        let next = if more { found.last().map(seq) } else { None };
        Self { items: found, next }
    }
}

pub(super) fn job_from_row(row: &AnyRow) -> Result<Job, sqlx::Error> {
    let decode =
        |column: &str, e: String| sqlx::Error::ColumnDecode { index: column.into(), source: e.into() };
    let id: String = row.try_get("id")?;
    let id = Uuid::parse_str(&id).map_err(|e| decode("id", e.to_string()))?;
    let recipients: String = row.try_get("recipients")?;
    let recipients: Vec<String> =
        serde_json::from_str(&recipients).map_err(|e| decode("recipients", e.to_string()))?;
    let parts: Option<String> = row.try_get("parts")?;
    let parts: Vec<Part> = match parts {
        Some(json) => serde_json::from_str(&json).map_err(|e| decode("parts", e.to_string()))?,
        None => Vec::new(),
    };
    let status: String = row.try_get("status")?;
    let status =
        JobStatus::parse(&status).ok_or_else(|| decode("status", format!("unknown status {status:?}")))?;
    Ok(Job {
        seq: row.try_get("seq")?,
        id,
        notification: NewNotification::from_stored(
            recipients,
            row.try_get("subject")?,
            row.try_get("body")?,
            parts,
        ),
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

pub(super) fn stored_message_from_row(row: &AnyRow) -> Result<StoredMessage, sqlx::Error> {
    Ok(StoredMessage {
        job: job_from_row(row)?,
        raw: row.try_get("raw")?,
        stored_at: row.try_get("stored_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_has_a_next_cursor_only_when_more_rows_were_found() {
        let full = Page::of(vec![9, 8, 7], 2, |n| *n);
        assert_eq!((full.items, full.next), (vec![9, 8], Some(8)));
        let last = Page::of(vec![9, 8], 2, |n| *n);
        assert_eq!((last.items, last.next), (vec![9, 8], None));
        let empty = Page::of(Vec::<i64>::new(), 2, |n| *n);
        assert_eq!((empty.items, empty.next), (vec![], None));
    }
}
