//! SQL for contacts and their events. Every write appends one event and updates the read model
//! in one transaction on `db.writer`; reads go to `db.reader`.

mod cache;
mod reads;
mod rebuild;

use std::sync::Arc;

use service_kit::db::{Backend, Db, is_unique_violation, now_millis};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use crate::domain::{Contact, ContactChanges, ContactId, EventData, NewContact};
use crate::feed::head::{FeedHead, Head};

pub use reads::{Cursor, ListQuery, Page};

/// Why a write did not happen. Nothing was written in every case.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("no such contact")]
    NotFound,
    #[error("email address already in use")]
    EmailTaken,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The contacts database plus the in-process feed head it advances on every commit.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    head: FeedHead,
    /// PostgreSQL channel that tells other replicas about new events.
    notify_channel: Option<Arc<str>>,
    /// Contacts by id; SQLite only (see [`cache`]).
    cache: Option<Arc<cache::ContactCache>>,
}

const INSERT_CONTACT: &str = "INSERT INTO contacts \
     (id, firstname, lastname, email, email_key, sort_key, search_text) VALUES ($1, $2, $3, $4, $5, $6, $7)";

const UPDATE_CONTACT: &str = "UPDATE contacts SET firstname = $2, lastname = $3, email = $4, email_key = $5, \
     sort_key = $6, search_text = $7 WHERE id = $1";

type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

/// Binds a contact's columns as `$1` to `$7` in the order of [`INSERT_CONTACT`]: id, names,
/// email, then the derived lookup, sort and search columns.
fn bind_contact<'q>(query: AnyQuery<'q>, contact: &Contact) -> AnyQuery<'q> {
    query
        .bind(contact.id.to_string())
        .bind(&contact.firstname)
        .bind(&contact.lastname)
        .bind(&contact.email)
        .bind(contact.email_key())
        .bind(contact.sort_key())
        .bind(contact.search_text())
}

/// [`INSERT_CONTACT`], then the counter and the event as in [`Store::append`]; `$n` names the
/// n-th argument in every statement.
const CREATE_ON_SQLITE: &str = "INSERT INTO contacts \
     (id, firstname, lastname, email, email_key, sort_key, search_text) VALUES ($1, $2, $3, $4, $5, $6, $7); \
     UPDATE event_counter SET last_sequence = last_sequence + 1, contact_count = contact_count + 1 \
     WHERE id = 1 RETURNING last_sequence, contact_count; \
     INSERT INTO contact_events (sequence, id, type, contact_id, occurred_at, data) \
     SELECT last_sequence, $8, $9, $1, $10, $11 FROM event_counter WHERE id = 1";

const SELECT_FOR_UPDATE_PG: &str =
    "SELECT id, firstname, lastname, email FROM contacts WHERE id = $1 FOR UPDATE";
// SQLite has one writer connection: a plain read inside the write transaction is already
// serialised with every other write.
const SELECT_FOR_UPDATE_SQLITE: &str = "SELECT id, firstname, lastname, email FROM contacts WHERE id = $1";

impl Store {
    /// Reads where the log stands and builds the store with a head starting there.
    pub async fn open(db: Db, notify_channel: Option<String>) -> Result<Self, sqlx::Error> {
        let head = reads::read_head(&db.reader).await?;
        let cache = (db.backend() == Backend::Sqlite).then(Arc::default);
        Ok(Self { db, head: FeedHead::new(head), notify_channel: notify_channel.map(Arc::from), cache })
    }

    pub fn head(&self) -> &FeedHead {
        &self.head
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn create(&self, new: NewContact) -> Result<Contact, WriteError> {
        let contact = new.into_contact(ContactId::generate());
        let data = EventData::created(&contact);
        if self.db.backend() == Backend::Sqlite {
            return self.create_on_sqlite(contact, &data).await;
        }
        let mut tx = self.db.writer.begin().await?;
        let inserted = bind_contact(sqlx::query(INSERT_CONTACT), &contact).execute(&mut *tx).await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(WriteError::EmailTaken),
            other => other?,
        };
        let head = self.append(&mut tx, contact.id, &data, 1).await?;
        self.commit(tx, head, &data).await?;
        Ok(contact)
    }

    /// The same three statements as [`Store::create`] and [`Store::append`], sent to SQLite as
    /// one command. SQLite runs on a worker thread and every round trip to it is a thread
    /// switch, which costs more than the statements themselves; this halves them for the most
    /// frequent write.
    async fn create_on_sqlite(&self, contact: Contact, data: &EventData) -> Result<Contact, WriteError> {
        let mut tx = self.db.writer.begin().await?;
        let rows = bind_contact(sqlx::query(CREATE_ON_SQLITE), &contact)
            .bind(Uuid::now_v7().to_string())
            .bind(data.kind().as_str())
            .bind(now_millis())
            .bind(data.to_json())
            .fetch_all(&mut *tx)
            .await;
        let rows = match rows {
            Err(e) if is_unique_violation(&e) => return Err(WriteError::EmailTaken),
            other => other?,
        };
        let row = rows.first().ok_or_else(|| sqlx::Error::Protocol("the counter returned no row".into()))?;
        let head = Head { sequence: row.try_get(0)?, contacts: row.try_get(1)? };
        self.commit(tx, head, data).await?;
        Ok(contact)
    }

    /// Applies the given fields. Changing nothing appends no event.
    pub async fn update(&self, id: ContactId, changes: &ContactChanges) -> Result<Contact, WriteError> {
        let mut tx = self.db.writer.begin().await?;
        let select = match self.db.backend() {
            Backend::Postgres => SELECT_FOR_UPDATE_PG,
            Backend::Sqlite => SELECT_FOR_UPDATE_SQLITE,
        };
        let row = sqlx::query(select).bind(id.to_string()).fetch_optional(&mut *tx).await?;
        let Some(row) = row else { return Err(WriteError::NotFound) };
        let mut contact = reads::contact_from_row(&row)?;
        let updates = changes.diff(&contact);
        if updates.is_empty() {
            return Ok(contact);
        }
        updates.apply_to(&mut contact);
        let updated = bind_contact(sqlx::query(UPDATE_CONTACT), &contact).execute(&mut *tx).await;
        match updated {
            Err(e) if is_unique_violation(&e) => return Err(WriteError::EmailTaken),
            other => other?,
        };
        let data = EventData::Updated(updates);
        let head = self.append(&mut tx, id, &data, 0).await?;
        self.commit(tx, head, &data).await?;
        Ok(contact)
    }

    pub async fn delete(&self, id: ContactId) -> Result<(), WriteError> {
        let mut tx = self.db.writer.begin().await?;
        let deleted =
            sqlx::query("DELETE FROM contacts WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            return Err(WriteError::NotFound);
        }
        let head = self.append(&mut tx, id, &EventData::Deleted, -1).await?;
        self.commit(tx, head, &EventData::Deleted).await?;
        Ok(())
    }

    /// Takes the next sequence number and appends the event. The counter row stays locked until
    /// the transaction ends, so the next writer gets the next number only after this commit.
    async fn append(
        &self,
        tx: &mut Transaction<'static, Any>,
        contact_id: ContactId,
        data: &EventData,
        contacts_delta: i64,
    ) -> Result<Head, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE event_counter SET last_sequence = last_sequence + 1, \
             contact_count = contact_count + $1 WHERE id = 1 RETURNING last_sequence, contact_count",
        )
        .bind(contacts_delta)
        .fetch_one(&mut **tx)
        .await?;
        let head = Head { sequence: row.try_get(0)?, contacts: row.try_get(1)? };
        sqlx::query(
            "INSERT INTO contact_events (sequence, id, type, contact_id, occurred_at, data) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(head.sequence)
        .bind(Uuid::now_v7().to_string())
        .bind(data.kind().as_str())
        .bind(contact_id.to_string())
        .bind(now_millis())
        .bind(data.to_json())
        .execute(&mut **tx)
        .await?;
        if let Some(channel) = &self.notify_channel {
            // Delivered at commit, in commit order, to every replica listening.
            sqlx::query("SELECT 1 FROM pg_notify($1, $2)")
                .bind(channel.as_ref())
                .bind(format!("{} {}", head.sequence, head.contacts))
                .execute(&mut **tx)
                .await?;
        }
        Ok(head)
    }

    async fn commit(
        &self,
        tx: Transaction<'static, Any>,
        head: Head,
        data: &EventData,
    ) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        self.head.advance(head);
        crate::metrics::record_event(data.kind());
        Ok(())
    }
}
