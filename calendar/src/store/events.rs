//! Events and their participants. Adding participants writes their notification jobs to the
//! outbox in the same transaction.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::handle::{Store, WriteTx, uuid_column};
use super::outbox::NewJob;
use super::users::{self, User};

/// The people of a set of events (see [`Store::people_of`]).
#[derive(Debug, Default)]
pub struct EventPeople {
    pub owners: std::collections::HashMap<Uuid, User>,
    pub participants: std::collections::HashMap<Uuid, Vec<User>>,
}
use crate::domain::{EmailAddress, EventDraft, When};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub when: When,
    /// Incremented on every change (iCalendar `SEQUENCE`).
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, owner_id, title, description, location, all_day, start_date, start_at, end_at, \
                       revision, created_at, updated_at";

/// Builds the outbox job telling a participant (the `User`) about an event.
pub type JobFor<'a> = dyn Fn(&StoredEvent, &User) -> NewJob + Sync + 'a;

/// The events on the calendar of the user bound as `$1`: those they own and those they take part in.
const OF_USER: &str = "owner_id = $1 OR id IN (SELECT event_id FROM participants WHERE user_id = $1)";

fn from_row(row: &AnyRow) -> Result<StoredEvent, sqlx::Error> {
    let all_day: i64 = row.try_get("all_day")?;
    let when = if all_day != 0 {
        let raw: String = row.try_get::<Option<String>, _>("start_date")?.unwrap_or_default();
        let date = NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
            .map_err(|e| sqlx::Error::Decode(format!("bad start_date {raw:?}: {e}").into()))?;
        When::AllDay(date)
    } else {
        let instant = |column: &str| -> Result<DateTime<Utc>, sqlx::Error> {
            let ms: i64 = row.try_get(column)?;
            DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| sqlx::Error::Decode(format!("bad {column} {ms}").into()))
        };
        When::Timed { start: instant("start_at")?, end: instant("end_at")? }
    };
    Ok(StoredEvent {
        id: uuid_column(&row.try_get::<String, _>("id")?)?,
        owner_id: uuid_column(&row.try_get::<String, _>("owner_id")?)?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        location: row.try_get("location")?,
        when,
        revision: row.try_get("revision")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn start_date_column(when: &When) -> Option<String> {
    match when {
        When::AllDay(date) => Some(date.format("%Y-%m-%d").to_string()),
        When::Timed { .. } => None,
    }
}

/// A position in a calendar listing: after the event starting at `start_ms` with id `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub start_ms: i64,
    pub id: Uuid,
}

/// What adding participants did.
#[derive(Debug)]
pub enum AddOutcome {
    /// All were known; `added` are the ones that were not participants yet.
    Added { added: Vec<User> },
    /// These e-mails belong to no known user; nothing was changed.
    Unknown(Vec<String>),
    /// The event does not exist.
    NoEvent,
}

impl Store {
    pub async fn insert_event(&self, owner: Uuid, draft: &EventDraft) -> Result<StoredEvent, sqlx::Error> {
        let now = service_kit::db::now_millis();
        let event = StoredEvent {
            id: Uuid::now_v7(),
            owner_id: owner,
            title: draft.title.as_str().to_string(),
            description: draft.description.clone(),
            location: draft.location.clone(),
            when: draft.when,
            revision: 0,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(event.id.to_string())
        .bind(owner.to_string())
        .bind(&event.title)
        .bind(event.description.clone())
        .bind(event.location.clone())
        .bind(i64::from(matches!(event.when, When::AllDay(_))))
        .bind(start_date_column(&event.when))
        .bind(event.when.start_ms())
        .bind(event.when.end_ms())
        .bind(event.revision)
        .bind(now)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(event)
    }

    pub async fn event(&self, id: Uuid) -> Result<Option<StoredEvent>, sqlx::Error> {
        Self::event_on(self.reader(), id).await
    }

    async fn event_on(pool: &sqlx::AnyPool, id: Uuid) -> Result<Option<StoredEvent>, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM events WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The events of the user's calendar (owned or invited to) overlapping `[from_ms, to_ms)`,
    /// ordered by start, after `cursor`.
    pub async fn events(
        &self,
        owner: Uuid,
        from_ms: i64,
        to_ms: i64,
        cursor: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, sqlx::Error> {
        let (after_ms, after_id) =
            cursor.map_or((i64::MIN, String::new()), |c| (c.start_ms, c.id.to_string()));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM events WHERE ({OF_USER}) AND end_at > $2 AND start_at < $3 \
             AND (start_at > $4 OR (start_at = $4 AND id > $5)) ORDER BY start_at, id LIMIT $6"
        )))
        .bind(owner.to_string())
        .bind(from_ms)
        .bind(to_ms)
        .bind(after_ms)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Every event the user owns or was invited to (the iCalendar export: a subscription shows
    /// everything its user takes part in).
    pub async fn events_of(&self, user: Uuid) -> Result<Vec<StoredEvent>, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM events WHERE {OF_USER} ORDER BY start_at, id"
        )))
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Who takes part in the events of [`Self::events_of`]: the users who own them (by id) and
    /// each event's participants in the order they were added (by event id).
    pub async fn people_of(&self, user: Uuid) -> Result<EventPeople, sqlx::Error> {
        let user = user.to_string();
        let events_of = format!("SELECT id FROM events WHERE {OF_USER}");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE id IN (SELECT owner_id FROM events WHERE id IN ({events_of}))",
            COLUMNS = users::COLUMNS
        )))
        .bind(&user)
        .fetch_all(self.reader())
        .await?;
        let mut people = EventPeople::default();
        for row in &rows {
            let owner = users::from_row(row)?;
            people.owners.insert(owner.id, owner);
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT p.event_id, {COLUMNS} FROM participants p JOIN users ON users.id = p.user_id \
             WHERE p.event_id IN ({events_of}) ORDER BY p.event_id, p.added_at, users.id",
            // No column of `participants` shares a name with one of `users`.
            COLUMNS = users::COLUMNS
        )))
        .bind(&user)
        .fetch_all(self.reader())
        .await?;
        for row in &rows {
            let event = uuid_column(&row.try_get::<String, _>("event_id")?)?;
            people.participants.entry(event).or_default().push(users::from_row(row)?);
        }
        Ok(people)
    }

    /// Replaces an event's content; `None` when it does not exist. With `announce`, in the same
    /// transaction, each participant gets a new outbox job built by it from the changed event,
    /// superseding their undelivered one (cancelled, so they get one mail, the current one).
    pub async fn update_event(
        &self,
        id: Uuid,
        draft: &EventDraft,
        request_id: &str,
        announce: Option<&JobFor<'_>>,
    ) -> Result<Option<StoredEvent>, sqlx::Error> {
        let mut tx = self.begin().await?;
        let result = sqlx::query(
            "UPDATE events SET title = $2, description = $3, location = $4, all_day = $5, start_date = $6, \
             start_at = $7, end_at = $8, revision = revision + 1, updated_at = $9 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(draft.title.as_str().to_string())
        .bind(draft.description.clone())
        .bind(draft.location.clone())
        .bind(i64::from(matches!(draft.when, When::AllDay(_))))
        .bind(start_date_column(&draft.when))
        .bind(draft.when.start_ms())
        .bind(draft.when.end_ms())
        .bind(service_kit::db::now_millis())
        .execute(tx.conn())
        .await?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM events WHERE id = $1")))
            .bind(id.to_string())
            .fetch_one(tx.conn())
            .await?;
        let event = from_row(&row)?;
        if let Some(job) = announce {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM participants p JOIN users ON users.id = p.user_id \
                 WHERE p.event_id = $1 ORDER BY p.added_at, users.id",
                COLUMNS = users::COLUMNS
            )))
            .bind(id.to_string())
            .fetch_all(tx.conn())
            .await?;
            for row in &rows {
                let participant = users::from_row(row)?;
                let (event_id, user_id) = (id.to_string(), participant.id.to_string());
                tx.cancel_jobs_to(&user_id, Some(&event_id), "superseded by a later update").await?;
                tx.insert_job(id, participant.id, &job(&event, &participant), request_id).await?;
            }
        }
        tx.commit().await?;
        Ok(Some(event))
    }

    /// Deletes an event with its participants and cancels its undelivered invitations; each
    /// participant whose invitation was delivered gets the job `cancel` builds (written in the
    /// same transaction). Returns the owner of the deleted event, `None` when there was no such
    /// event.
    pub async fn delete_event(
        &self,
        id: Uuid,
        request_id: &str,
        cancel: &JobFor<'_>,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        let mut tx = self.begin().await?;
        let Some(event) = tx.event(id).await? else { return Ok(None) };
        let informed = tx.informed_participants(id, None).await?;
        let id = id.to_string();
        tx.cancel_jobs_of_event(&id).await?;
        for participant in &informed {
            tx.insert_job(event.id, participant.id, &cancel(&event, participant), request_id).await?;
        }
        sqlx::query("DELETE FROM participants WHERE event_id = $1").bind(&id).execute(tx.conn()).await?;
        sqlx::query("DELETE FROM events WHERE id = $1").bind(&id).execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(Some(event.owner_id))
    }

    /// The event's participants, in the order they were added.
    pub async fn participants(&self, event_id: Uuid) -> Result<Vec<User>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.firstname, u.lastname, u.contact_url, u.updated_at \
             FROM participants p JOIN users u ON u.id = p.user_id WHERE p.event_id = $1 ORDER BY p.added_at, u.id",
        )
        .bind(event_id.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(users::from_row).collect()
    }

    /// Adds the users with these e-mails as participants, all or nothing, and writes one outbox
    /// job per new participant in the same transaction. `job` builds the job for a new
    /// participant.
    pub async fn add_participants(
        &self,
        event_id: Uuid,
        emails: &[EmailAddress],
        request_id: &str,
        job: impl Fn(&User) -> NewJob,
    ) -> Result<AddOutcome, sqlx::Error> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT id FROM events WHERE id = $1")
            .bind(event_id.to_string())
            .fetch_optional(tx.conn())
            .await?
            .is_some();
        if !exists {
            return Ok(AddOutcome::NoEvent);
        }
        let mut found = Vec::with_capacity(emails.len());
        let mut unknown = Vec::new();
        for email in emails {
            match tx.user_by_email(email).await? {
                Some(user) => found.push(user),
                None => unknown.push(email.as_str().to_string()),
            }
        }
        if !unknown.is_empty() {
            unknown.dedup();
            return Ok(AddOutcome::Unknown(unknown));
        }
        let now = service_kit::db::now_millis();
        let mut added: Vec<User> = Vec::new();
        for user in found {
            if added.iter().any(|u| u.id == user.id) {
                continue;
            }
            let inserted = sqlx::query(
                "INSERT INTO participants (event_id, user_id, added_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (event_id, user_id) DO NOTHING",
            )
            .bind(event_id.to_string())
            .bind(user.id.to_string())
            .bind(now)
            .execute(tx.conn())
            .await?;
            if inserted.rows_affected() == 1 {
                tx.insert_job(event_id, user.id, &job(&user), request_id).await?;
                added.push(user);
            }
        }
        tx.commit().await?;
        Ok(AddOutcome::Added { added })
    }

    /// Removes a participant and cancels their invitation if it has not gone to notifications
    /// yet; if it has, they get the job `cancel` builds (in the same transaction). `false` when
    /// they were not a participant.
    pub async fn remove_participant(
        &self,
        event_id: Uuid,
        user_id: Uuid,
        request_id: &str,
        cancel: &JobFor<'_>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin().await?;
        let event = tx.event(event_id).await?;
        let informed = tx.informed_participants(event_id, Some(user_id)).await?;
        let (event_key, user_key) = (event_id.to_string(), user_id.to_string());
        let removed = sqlx::query("DELETE FROM participants WHERE event_id = $1 AND user_id = $2")
            .bind(&event_key)
            .bind(&user_key)
            .execute(tx.conn())
            .await?;
        tx.cancel_jobs_to(&user_key, Some(&event_key), "the participant was removed").await?;
        if let (Some(event), Some(participant)) = (event, informed.first()) {
            tx.insert_job(event_id, user_id, &cancel(&event, participant), request_id).await?;
        }
        tx.commit().await?;
        Ok(removed.rows_affected() > 0)
    }
}

impl WriteTx {
    /// The event, read inside the transaction.
    async fn event(&mut self, id: Uuid) -> Result<Option<StoredEvent>, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM events WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The event's participants (or only `only`) whose invitation notifications accepted: those a
    /// cancellation must reach.
    async fn informed_participants(
        &mut self,
        event_id: Uuid,
        only: Option<Uuid>,
    ) -> Result<Vec<User>, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM participants p JOIN users ON users.id = p.user_id \
             WHERE p.event_id = $1 AND ($2 IS NULL OR p.user_id = $2) AND EXISTS (SELECT 1 FROM outbox o \
             WHERE o.event_id = p.event_id AND o.user_id = p.user_id AND o.status = 'sent') \
             ORDER BY p.added_at, users.id",
            COLUMNS = users::COLUMNS
        )))
        .bind(event_id.to_string())
        .bind(only.map(|id| id.to_string()))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(users::from_row).collect()
    }
}
