//! The users replica: what calendar knows about contacts, kept only from the feed.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Tx, uuid_column};
use crate::domain::EmailAddress;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    /// The contact's URL at contacts.
    pub contact_url: String,
    pub updated_at: i64,
}

impl User {
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.firstname, self.lastname);
        let name = name.trim();
        if name.is_empty() { self.email.clone() } else { name.to_string() }
    }
}

const COLUMNS: &str = "id, email, firstname, lastname, contact_url, updated_at";

fn from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: uuid_column(&row.try_get::<String, _>("id")?)?,
        email: row.try_get("email")?,
        firstname: row.try_get("firstname")?,
        lastname: row.try_get("lastname")?,
        contact_url: row.try_get("contact_url")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Users ordered by id, after `after` (the cursor), at most `limit`.
pub async fn list(pool: &sqlx::AnyPool, after: Option<Uuid>, limit: u32) -> Result<Vec<User>, sqlx::Error> {
    let after = after.map(|id| id.to_string()).unwrap_or_default();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"
    )))
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(pool: &sqlx::AnyPool, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get_in(tx: &mut Tx, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The user with this address (case-insensitive), if any.
pub async fn find_by_email_in(tx: &mut Tx, email: &EmailAddress) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE email_lower = $1 ORDER BY id LIMIT 1"
    )))
    .bind(email.lookup_key())
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Inserts or replaces a user (a `contact-created` event, or a full contact fetched later).
pub async fn upsert(tx: &mut Tx, user: &User) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, email, email_lower, firstname, lastname, contact_url, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET email = excluded.email, email_lower = excluded.email_lower, \
         firstname = excluded.firstname, lastname = excluded.lastname, contact_url = excluded.contact_url, \
         updated_at = excluded.updated_at",
    )
    .bind(user.id.to_string())
    .bind(&user.email)
    .bind(user.email.to_lowercase())
    .bind(&user.firstname)
    .bind(&user.lastname)
    .bind(&user.contact_url)
    .bind(user.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes a user with their participations and their own calendar's events.
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<bool, sqlx::Error> {
    let id = id.to_string();
    sqlx::query("DELETE FROM participants WHERE user_id = $1").bind(&id).execute(&mut **tx).await?;
    sqlx::query(
        "UPDATE outbox SET status = 'cancelled', last_error = 'the event was deleted', updated_at = $2 \
         WHERE status = 'pending' AND event_id IN (SELECT id FROM events WHERE owner_id = $1)",
    )
    .bind(&id)
    .bind(service_kit::db::now_millis())
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM participants WHERE event_id IN (SELECT id FROM events WHERE owner_id = $1)")
        .bind(&id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM events WHERE owner_id = $1").bind(&id).execute(&mut **tx).await?;
    let deleted = sqlx::query("DELETE FROM users WHERE id = $1").bind(&id).execute(&mut **tx).await?;
    Ok(deleted.rows_affected() > 0)
}

pub async fn count(pool: &sqlx::AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(pool).await?.try_get("n")
}
