//! Applying feed events to the users replica, each together with the checkpoint in one
//! transaction: an event is applied exactly once, whatever crashes in between.

use serde::Deserialize;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

use super::document::FeedEvent;
use crate::store::{User, WriteTx};

pub const CREATED: &str = "contact-created";
pub const UPDATED: &str = "contact-updated";
pub const DELETED: &str = "contact-deleted";

/// A contact as contacts publishes it (the `contact-created` payload, or `GET {contact}`).
#[derive(Debug, Clone, Deserialize)]
pub struct Contact {
    pub id: Uuid,
    pub email: String,
    #[serde(default)]
    pub firstname: String,
    #[serde(default)]
    pub lastname: String,
    #[serde(rename = "self", default)]
    pub self_url: Option<String>,
}

impl Contact {
    fn into_user(self, fallback_url: Option<&str>, at: i64) -> User {
        let contact_url =
            web_url(self.self_url.as_deref()).or_else(|| web_url(fallback_url)).unwrap_or_default();
        User {
            id: self.id,
            email: self.email,
            firstname: self.firstname,
            lastname: self.lastname,
            contact_url,
            updated_at: at,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Updated {
    id: Uuid,
    #[serde(default)]
    updates: serde_json::Map<String, Value>,
    contact: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Deleted {
    id: Uuid,
}

/// What applying one event came to.
#[derive(Debug)]
pub enum Applied {
    Done,
    /// An unknown type: skipped, but it still advances the checkpoint.
    Skipped,
    /// The update concerns a user the replica does not have (or lacks data the update needs):
    /// fetch the contact from this URL and apply again with it.
    NeedsContact(Url),
}

#[derive(Debug, thiserror::Error)]
#[error("event {sequence} ({kind}): {message}")]
pub struct Malformed {
    pub sequence: i64,
    pub kind: String,
    pub message: String,
}

fn malformed(event: &FeedEvent, message: impl std::fmt::Display) -> Malformed {
    Malformed { sequence: event.sequence, kind: event.kind.clone(), message: message.to_string() }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Malformed(#[from] Malformed),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Applies `event` inside `tx`. `fetched` is the contact fetched after a
/// [`Applied::NeedsContact`] (`Some(None)`: the contact no longer exists).
pub async fn apply(
    tx: &mut WriteTx,
    event: &FeedEvent,
    fetched: Option<Option<Contact>>,
) -> Result<Applied, ApplyError> {
    let at = event.timestamp;
    match event.kind.as_str() {
        CREATED => {
            let contact: Contact =
                serde_json::from_value(event.payload.clone()).map_err(|e| malformed(event, e))?;
            check_email(event, &contact.email)?;
            tx.upsert_user(&contact.into_user(None, at)).await?;
            Ok(Applied::Done)
        }
        UPDATED => {
            let update: Updated =
                serde_json::from_value(event.payload.clone()).map_err(|e| malformed(event, e))?;
            let mut fields = Fields::default();
            for (name, value) in &update.updates {
                let text = || {
                    value
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| malformed(event, format!("{name} is not a string")))
                };
                match name.as_str() {
                    "email" => {
                        let email = text()?;
                        check_email(event, &email)?;
                        fields.email = Some(email);
                    }
                    "firstname" => fields.firstname = Some(text()?),
                    "lastname" => fields.lastname = Some(text()?),
                    // Fields calendar does not keep.
                    _ => {}
                }
            }
            if let Some(fetched) = fetched {
                match fetched {
                    Some(contact) if contact.id == update.id => {
                        check_email(event, &contact.email)?;
                        tx.upsert_user(&contact.into_user(update.contact.as_deref(), at)).await?;
                    }
                    Some(contact) => {
                        return Err(malformed(
                            event,
                            format!("the contact URL answered for another contact {}", contact.id),
                        )
                        .into());
                    }
                    None => {
                        tracing::info!(contact = %update.id, "updated contact no longer exists; skipping")
                    }
                }
                return Ok(Applied::Done);
            }
            match tx.user(update.id).await? {
                Some(mut user) => {
                    fields.apply(&mut user);
                    user.updated_at = at;
                    if let Some(url) = web_url(update.contact.as_deref()) {
                        user.contact_url = url;
                    }
                    tx.upsert_user(&user).await?;
                    Ok(Applied::Done)
                }
                None => {
                    let url = update
                        .contact
                        .as_deref()
                        .and_then(|raw| Url::parse(raw).ok())
                        .filter(|u| matches!(u.scheme(), "http" | "https"))
                        .ok_or_else(|| malformed(event, "unknown contact and no usable contact URL"))?;
                    Ok(Applied::NeedsContact(url))
                }
            }
        }
        DELETED => {
            let deleted: Deleted =
                serde_json::from_value(event.payload.clone()).map_err(|e| malformed(event, e))?;
            tx.delete_user(deleted.id).await?;
            Ok(Applied::Done)
        }
        other => {
            tracing::warn!(sequence = event.sequence, kind = other, "unknown feed event type; skipping");
            Ok(Applied::Skipped)
        }
    }
}

#[derive(Debug, Default)]
struct Fields {
    email: Option<String>,
    firstname: Option<String>,
    lastname: Option<String>,
}

impl Fields {
    fn apply(self, user: &mut User) {
        if let Some(v) = self.email {
            user.email = v;
        }
        if let Some(v) = self.firstname {
            user.firstname = v;
        }
        if let Some(v) = self.lastname {
            user.lastname = v;
        }
    }
}

/// A contact URL fit to be a link on a page: an absolute `http(s)` URL. Anything else (a
/// `javascript:` or `data:` URL from a hostile or broken feed) is dropped, not stored.
fn web_url(raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    let url = Url::parse(raw).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| raw.to_string())
}

fn check_email(event: &FeedEvent, email: &str) -> Result<(), Malformed> {
    if email.trim().is_empty() || email.len() > 254 {
        return Err(malformed(event, "contact without a usable e-mail"));
    }
    Ok(())
}

/// The `type` label for `feed_events_processed_total` (bounded: unknown types share one).
pub fn type_label(kind: &str) -> &'static str {
    match kind {
        CREATED => CREATED,
        UPDATED => UPDATED,
        DELETED => DELETED,
        _ => "unknown",
    }
}
