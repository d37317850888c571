//! The writes. Each appends one event and changes the read model in one transaction on the
//! writer pool, then moves the in-process head; nothing is written when one fails.

use service_kit::db::{is_unique_violation, now_millis};
use sqlx::{Any, Transaction};
use uuid::Uuid;

use super::Store;
use super::dialect::{INSERT_CONTACT, INSERT_EVENT, NEXT_SEQUENCE, NOTIFY};
use super::rows::{bind_contact, contact_from_row, head_from_row};
use crate::domain::{Contact, ContactChanges, ContactId, EventData, NewContact};
use crate::feed::head::Head;

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

const UPDATE_CONTACT: &str = "UPDATE contacts SET firstname = $2, lastname = $3, email = $4, email_key = $5, \
     sort_key = $6, search_text = $7 WHERE id = $1";

const DELETE_CONTACT: &str = "DELETE FROM contacts WHERE id = $1";

/// A unique violation is the email address (the only unique column a write can collide on).
fn email_taken<T>(result: Result<T, sqlx::Error>) -> Result<T, WriteError> {
    match result {
        Err(e) if is_unique_violation(&e) => Err(WriteError::EmailTaken),
        other => Ok(other?),
    }
}

impl Store {
    pub async fn create(&self, new: NewContact) -> Result<Contact, WriteError> {
        let contact = new.into_contact(ContactId::generate());
        let data = EventData::created(&contact);
        let mut tx = self.db.writer.begin().await?;
        let head = match self.dialect.create_in_one_command() {
            Some(command) => {
                let rows = bind_contact(sqlx::query(command), &contact)
                    .bind(Uuid::now_v7().to_string())
                    .bind(data.kind().as_str())
                    .bind(now_millis())
                    .bind(data.to_json())
                    .fetch_all(&mut *tx)
                    .await;
                let rows = email_taken(rows)?;
                let row = rows
                    .first()
                    .ok_or_else(|| sqlx::Error::Protocol("the counter returned no row".into()))?;
                head_from_row(row)?
            }
            None => {
                email_taken(bind_contact(sqlx::query(INSERT_CONTACT), &contact).execute(&mut *tx).await)?;
                self.append(&mut tx, contact.id, &data, 1).await?
            }
        };
        self.commit(tx, head, &data).await?;
        Ok(contact)
    }

    /// Applies the given fields. Changing nothing appends no event.
    pub async fn update(&self, id: ContactId, changes: &ContactChanges) -> Result<Contact, WriteError> {
        let mut tx = self.db.writer.begin().await?;
        let select = self.dialect.select_contact_for_update();
        let row = sqlx::query(select).bind(id.to_string()).fetch_optional(&mut *tx).await?;
        let Some(row) = row else { return Err(WriteError::NotFound) };
        let mut contact = contact_from_row(&row)?;
        let updates = changes.diff(&contact);
        if updates.is_empty() {
            return Ok(contact);
        }
        updates.apply_to(&mut contact);
        email_taken(bind_contact(sqlx::query(UPDATE_CONTACT), &contact).execute(&mut *tx).await)?;
        let data = EventData::Updated(updates);
        let head = self.append(&mut tx, id, &data, 0).await?;
        self.commit(tx, head, &data).await?;
        Ok(contact)
    }

    pub async fn delete(&self, id: ContactId) -> Result<(), WriteError> {
        let mut tx = self.db.writer.begin().await?;
        let deleted = sqlx::query(DELETE_CONTACT).bind(id.to_string()).execute(&mut *tx).await?;
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
        let row = sqlx::query(NEXT_SEQUENCE).bind(contacts_delta).fetch_one(&mut **tx).await?;
        let head = head_from_row(&row)?;
        sqlx::query(INSERT_EVENT)
            .bind(head.sequence)
            .bind(Uuid::now_v7().to_string())
            .bind(data.kind().as_str())
            .bind(contact_id.to_string())
            .bind(now_millis())
            .bind(data.to_json())
            .execute(&mut **tx)
            .await?;
        if let Some(channel) = &self.notify_channel {
            sqlx::query(NOTIFY)
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
