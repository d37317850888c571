//! How a contact, an event and the head of the log map to and from rows.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row};
use uuid::Uuid;

use crate::domain::{Contact, ContactId, Event, EventData, EventKind};
use crate::feed::head::Head;

pub(super) type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

/// Every event, oldest first.
pub(super) const ALL_EVENTS: &str =
    "SELECT sequence, id, type, contact_id, occurred_at, data FROM contact_events ORDER BY sequence";

/// Binds a contact's columns as `$1` to `$7` in the order of `dialect::INSERT_CONTACT`: id,
/// names, email, then the derived lookup, sort and search columns.
pub(super) fn bind_contact<'q>(query: AnyQuery<'q>, contact: &Contact) -> AnyQuery<'q> {
    bind_contact_keyed(query, contact, contact.email_key())
}

/// [`bind_contact`] with the uniqueness key given: a rebuild keeps two contacts whose addresses
/// became look-alikes under newer rules apart this way (see `rebuild`).
pub(super) fn bind_contact_keyed<'q>(
    query: AnyQuery<'q>,
    contact: &Contact,
    email_key: String,
) -> AnyQuery<'q> {
    query
        .bind(contact.id.to_string())
        .bind(&contact.firstname)
        .bind(&contact.lastname)
        .bind(&contact.email)
        .bind(email_key)
        .bind(contact.sort_key())
        .bind(contact.search_text())
}

pub(super) fn contact_from_row(row: &AnyRow) -> Result<Contact, sqlx::Error> {
    let id: String = row.try_get("id")?;
    Ok(Contact {
        id: ContactId::parse(&id)
            .ok_or_else(|| sqlx::Error::Decode(format!("bad contact id {id:?}").into()))?,
        firstname: row.try_get("firstname")?,
        lastname: row.try_get("lastname")?,
        email: row.try_get("email")?,
    })
}

pub(super) fn event_from_row(row: &AnyRow) -> Result<Event, sqlx::Error> {
    let decode = |what: String| sqlx::Error::Decode(what.into());
    let kind: String = row.try_get("type")?;
    let kind = EventKind::parse(&kind).ok_or_else(|| decode(format!("unknown event type {kind:?}")))?;
    let id: String = row.try_get("id")?;
    let contact_id: String = row.try_get("contact_id")?;
    let data: String = row.try_get("data")?;
    Ok(Event {
        sequence: row.try_get("sequence")?,
        id: Uuid::try_parse(&id).map_err(|e| decode(format!("event id {id:?}: {e}")))?,
        contact_id: ContactId::parse(&contact_id)
            .ok_or_else(|| decode(format!("contact id {contact_id:?}")))?,
        occurred_at: row.try_get("occurred_at")?,
        data: EventData::from_json(kind, &data).map_err(|e| decode(format!("event data: {e}")))?,
    })
}

/// The head from a row of `last_sequence, contact_count` (the counter's columns).
pub(super) fn head_from_row(row: &AnyRow) -> Result<Head, sqlx::Error> {
    Ok(Head { sequence: row.try_get(0)?, contacts: row.try_get(1)? })
}

/// Where the log stands in the database.
pub(super) async fn read_head(pool: &AnyPool) -> Result<Head, sqlx::Error> {
    let row = sqlx::query("SELECT last_sequence, contact_count FROM event_counter WHERE id = 1")
        .fetch_one(pool)
        .await?;
    head_from_row(&row)
}
