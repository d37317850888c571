//! Parked feed entries: what the follower could not apply, kept with the reason until an
//! operator retries it or a later event for the same contact recovers it.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::handle::{Store, WriteTx, uuid_column};

/// A parked entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedEntry {
    pub id: Uuid,
    /// The Atom id of the entry.
    pub entry_id: String,
    pub sequence: Option<i64>,
    /// The event type (`contact-created`, ...; `unknown` when it could not be read).
    pub kind: String,
    pub contact_id: Option<Uuid>,
    /// Where the contact's current state can be fetched, when the entry named it.
    pub contact_url: Option<String>,
    /// The entry's content as it came (cut at a bound, see the follower).
    pub content: String,
    pub reason: String,
    pub attempts: i64,
    pub parked_at: i64,
    pub resolved_at: Option<i64>,
    /// How it was resolved (`retried`, `recovered by a later event`, ...).
    pub resolution: Option<String>,
}

/// A row to park.
#[derive(Debug, Clone)]
pub struct NewParked<'a> {
    pub entry_id: &'a str,
    pub sequence: Option<i64>,
    pub kind: &'a str,
    pub contact_id: Option<Uuid>,
    pub contact_url: Option<&'a str>,
    pub content: &'a str,
    pub reason: &'a str,
    pub attempts: i64,
}

const COLUMNS: &str = "id, entry_id, sequence, kind, contact_id, contact_url, content, reason, attempts, \
                       parked_at, resolved_at, resolution";

fn from_row(row: &AnyRow) -> Result<ParkedEntry, sqlx::Error> {
    Ok(ParkedEntry {
        id: uuid_column(&row.try_get::<String, _>("id")?)?,
        entry_id: row.try_get("entry_id")?,
        sequence: row.try_get("sequence")?,
        kind: row.try_get("kind")?,
        contact_id: row
            .try_get::<Option<String>, _>("contact_id")?
            .as_deref()
            .map(uuid_column)
            .transpose()?,
        contact_url: row.try_get("contact_url")?,
        content: row.try_get("content")?,
        reason: row.try_get("reason")?,
        attempts: row.try_get("attempts")?,
        parked_at: row.try_get("parked_at")?,
        resolved_at: row.try_get("resolved_at")?,
        resolution: row.try_get("resolution")?,
    })
}

impl Store {
    /// Parked entries, unresolved first, newest first within each group; at most `limit`.
    pub async fn parked_entries(&self, limit: u32) -> Result<Vec<ParkedEntry>, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM feed_parked \
             ORDER BY CASE WHEN resolved_at IS NULL THEN 0 ELSE 1 END, parked_at DESC, id DESC LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn parked_entry(&self, id: Uuid) -> Result<Option<ParkedEntry>, sqlx::Error> {
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM feed_parked WHERE id = $1")))
                .bind(id.to_string())
                .fetch_optional(self.reader())
                .await?;
        row.as_ref().map(from_row).transpose()
    }
}

impl WriteTx {
    /// Parks an entry; returns the row's id.
    pub async fn park(&mut self, entry: &NewParked<'_>) -> Result<Uuid, sqlx::Error> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO feed_parked (id, entry_id, sequence, kind, contact_id, contact_url, content, reason, \
             attempts, parked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id.to_string())
        .bind(entry.entry_id)
        .bind(entry.sequence)
        .bind(entry.kind)
        .bind(entry.contact_id.map(|c| c.to_string()))
        .bind(entry.contact_url.map(str::to_string))
        .bind(entry.content)
        .bind(entry.reason)
        .bind(entry.attempts)
        .bind(service_kit::db::now_millis())
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    /// Whether the contact has parked entries nobody has resolved yet.
    pub async fn has_open_parked(&mut self, contact: Uuid) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM feed_parked WHERE contact_id = $1 AND resolved_at IS NULL",
        )
        .bind(contact.to_string())
        .fetch_one(self.conn())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Marks the contact's open parked entries resolved; returns how many.
    pub async fn resolve_parked_of(&mut self, contact: Uuid, resolution: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE feed_parked SET resolved_at = $1, resolution = $2 WHERE contact_id = $3 AND resolved_at IS NULL",
        )
        .bind(service_kit::db::now_millis())
        .bind(resolution)
        .bind(contact.to_string())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }

    /// Marks one parked entry resolved, if it still is open; whether it was.
    pub async fn resolve_parked(&mut self, id: Uuid, resolution: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE feed_parked SET resolved_at = $1, resolution = $2 WHERE id = $3 AND resolved_at IS NULL",
        )
        .bind(service_kit::db::now_millis())
        .bind(resolution)
        .bind(id.to_string())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
