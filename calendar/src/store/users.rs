//! The users replica: what calendar knows about contacts, kept only from the feed.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::handle::{Store, WriteTx, uuid_column};
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

/// The columns of [`User`], for the queries of other table groups too.
pub(super) const COLUMNS: &str = "id, email, firstname, lastname, contact_url, updated_at";

pub(super) fn from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: uuid_column(&row.try_get::<String, _>("id")?)?,
        email: row.try_get("email")?,
        firstname: row.try_get("firstname")?,
        lastname: row.try_get("lastname")?,
        contact_url: row.try_get("contact_url")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Users ordered by id, after `after` (the cursor), at most `limit`.
    pub async fn users(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<User>, sqlx::Error> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn user(&self, id: Uuid) -> Result<Option<User>, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(from_row).transpose()
    }
}

impl WriteTx {
    pub async fn user(&mut self, id: Uuid) -> Result<Option<User>, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The user with this address (case-insensitive), if any.
    pub async fn user_by_email(&mut self, email: &EmailAddress) -> Result<Option<User>, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE email_lower = $1 ORDER BY id LIMIT 1"
        )))
        .bind(email.lookup_key())
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Inserts or replaces a user (a `contact-created` event, or a full contact fetched later).
    /// Invitations to them not yet handed to notifications go to the new address.
    pub async fn upsert_user(&mut self, user: &User) -> Result<(), sqlx::Error> {
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
        .execute(self.conn())
        .await?;
        self.readdress_jobs(&user.id.to_string(), &user.email).await?;
        Ok(())
    }

    /// Removes a user with their participations and their own calendar's events; their
    /// undelivered invitations, and those of their events, are cancelled.
    pub async fn delete_user(&mut self, id: Uuid) -> Result<bool, sqlx::Error> {
        let id = id.to_string();
        sqlx::query("DELETE FROM participants WHERE user_id = $1").bind(&id).execute(self.conn()).await?;
        self.cancel_jobs_to(&id, None, "the contact was deleted").await?;
        self.cancel_jobs_of_owner(&id).await?;
        sqlx::query("DELETE FROM participants WHERE event_id IN (SELECT id FROM events WHERE owner_id = $1)")
            .bind(&id)
            .execute(self.conn())
            .await?;
        sqlx::query("DELETE FROM events WHERE owner_id = $1").bind(&id).execute(self.conn()).await?;
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1").bind(&id).execute(self.conn()).await?;
        Ok(deleted.rows_affected() > 0)
    }
}
