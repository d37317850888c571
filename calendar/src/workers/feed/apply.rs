//! Applying feed events to the users replica, each together with the checkpoint in one
//! transaction: an event is applied exactly once, whatever crashes in between.
//!
//! What comes from the feed gets the rules contacts' own API has: names trimmed, 1 to 100
//! characters, no control characters or noncharacters; an e-mail address of valid syntax and at
//! most 254 characters; a contact URL kept only when it is an `http(s)` URL on an origin the
//! follower may fetch from. An event breaking them is refused ([`Refusal`]), and the follower
//! parks it instead of storing anything of it.

use serde::Deserialize;
use serde_json::Value;
use service_kit::text::{describe, first_unsafe_char};
use url::Url;
use uuid::Uuid;

use super::document::FeedEvent;
use super::origins::Origins;
use crate::domain::EmailAddress;
use crate::store::{User, WriteTx};

pub const CREATED: &str = "contact-created";
pub const UPDATED: &str = "contact-updated";
pub const DELETED: &str = "contact-deleted";

/// Longest first or last name, in characters, as contacts allows.
const NAME_MAX_CHARS: usize = 100;

/// A contact as contacts publishes it (the `contact-created` payload, or `GET {contact}`).
#[derive(Debug, Clone, Deserialize)]
pub struct Contact {
    pub id: Uuid,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    #[serde(rename = "self", default)]
    pub self_url: Option<String>,
}

impl Contact {
    /// The user to store: validated fields (names trimmed), and the contact URL only if kept.
    fn into_user(self, fallback_url: Option<&str>, at: i64, origins: &Origins) -> Result<User, Refusal> {
        let firstname = name("firstname", &self.firstname)?;
        let lastname = name("lastname", &self.lastname)?;
        let email = email(&self.email)?;
        let kept = |raw: Option<&str>| raw.filter(|url| origins.keeps(url)).map(str::to_string);
        let contact_url = kept(self.self_url.as_deref()).or_else(|| kept(fallback_url)).unwrap_or_default();
        Ok(User { id: self.id, email, firstname, lastname, contact_url, updated_at: at })
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

/// The event JSON's payload (the envelope was read with the document).
#[derive(Debug, Deserialize)]
struct Body {
    #[serde(default)]
    payload: Value,
}

/// What applying one event came to.
#[derive(Debug)]
pub enum Applied {
    Done,
    /// An unknown type: skipped, but it still advances the checkpoint.
    Skipped,
    /// The update concerns a user the replica does not have (or one with parked entries, whose
    /// stored state may be stale): fetch the contact from this URL and apply again with it.
    NeedsContact(Url),
}

/// Why an event cannot be applied: it is retried a bounded number of times, then parked.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub reason: String,
    /// The `kind` label of `feed_errors_total` for a failed attempt.
    pub kind: &'static str,
    pub contact_id: Option<Uuid>,
    pub contact_url: Option<String>,
}

impl Refusal {
    pub fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), kind, contact_id: None, contact_url: None }
    }

    fn malformed(reason: impl std::fmt::Display) -> Self {
        Self::new("malformed_entry", reason.to_string())
    }

    fn refused(reason: impl Into<String>) -> Self {
        Self::new("refused_entry", reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The contact an event concerns and where it lives, as far as the event says (for a parked
/// row, even when the event is refused).
pub fn contact_of(event: &FeedEvent) -> (Option<Uuid>, Option<String>) {
    let payload = serde_json::from_str::<Body>(&event.content).map(|b| b.payload).unwrap_or_default();
    let id = payload.get("id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
    let url = ["contact", "self"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(Value::as_str))
        .map(str::to_string)
        .or_else(|| event.related.clone());
    (id, url)
}

/// Applies `event` inside `tx`. `fetched` is the contact fetched after a
/// [`Applied::NeedsContact`] (`Some(None)`: the contact no longer exists).
///
/// Each application is counted in the same transaction as its changes
/// (`feed_checkpoint.applications`), apart from the checkpoint's own count of the entries it
/// has moved past: the two differ by more than the parked and skipped entries only if an entry
/// was applied twice.
pub async fn apply(
    tx: &mut WriteTx,
    event: &FeedEvent,
    fetched: Option<Option<Contact>>,
    origins: &Origins,
) -> Result<Applied, ApplyError> {
    let applied = apply_changes(tx, event, fetched, origins).await?;
    if matches!(applied, Applied::Done) {
        tx.count_application().await?;
    }
    Ok(applied)
}

async fn apply_changes(
    tx: &mut WriteTx,
    event: &FeedEvent,
    fetched: Option<Option<Contact>>,
    origins: &Origins,
) -> Result<Applied, ApplyError> {
    if let Some(why) = &event.unreadable {
        return Err(Refusal::malformed(why).into());
    }
    let at = event.timestamp;
    let payload = || -> Result<Value, Refusal> {
        serde_json::from_str::<Body>(&event.content)
            .map(|b| b.payload)
            .map_err(|e| Refusal::malformed(format!("event JSON: {e}")))
    };
    match event.kind.as_str() {
        CREATED => {
            let payload = payload()?;
            text_fields(&payload, &["firstname", "lastname", "email"])?;
            let contact: Contact =
                serde_json::from_value(payload).map_err(|e| Refusal::malformed(format!("payload: {e}")))?;
            let id = contact.id;
            tx.upsert_user(&contact.into_user(event.related.as_deref(), at, origins)?).await?;
            tx.resolve_parked_of(id, "recovered by a later contact-created").await?;
            Ok(Applied::Done)
        }
        UPDATED => {
            let update: Updated = serde_json::from_value(payload()?)
                .map_err(|e| Refusal::malformed(format!("payload: {e}")))?;
            let contact_url = update.contact.clone().or_else(|| event.related.clone());
            let mut fields = Fields::default();
            for (field, value) in &update.updates {
                let text =
                    || value.as_str().ok_or_else(|| Refusal::malformed(format!("{field} is not a string")));
                match field.as_str() {
                    "email" => fields.email = Some(email(text()?)?),
                    "firstname" => fields.firstname = Some(name("firstname", text()?)?),
                    "lastname" => fields.lastname = Some(name("lastname", text()?)?),
                    // Fields calendar does not keep.
                    _ => {}
                }
            }
            if let Some(fetched) = fetched {
                match fetched {
                    Some(contact) if contact.id == update.id => {
                        let user = contact.into_user(contact_url.as_deref(), at, origins)?;
                        tx.upsert_user(&user).await?;
                        tx.resolve_parked_of(update.id, "recovered by a later contact-updated").await?;
                    }
                    Some(contact) => {
                        return Err(Refusal::refused(format!(
                            "the contact URL answered for another contact {}",
                            contact.id
                        ))
                        .into());
                    }
                    None => {
                        tracing::info!(contact = %update.id, "updated contact no longer exists; skipping")
                    }
                }
                return Ok(Applied::Done);
            }
            let known = match tx.user(update.id).await? {
                Some(user) if !tx.has_open_parked(update.id).await? => Some(user),
                _ => None,
            };
            match known {
                Some(mut user) => {
                    fields.apply(&mut user);
                    user.updated_at = at;
                    if let Some(url) = contact_url.filter(|url| origins.keeps(url)) {
                        user.contact_url = url;
                    }
                    tx.upsert_user(&user).await?;
                    Ok(Applied::Done)
                }
                None => {
                    let url = contact_url
                        .as_deref()
                        .and_then(|raw| Url::parse(raw).ok())
                        .filter(|u| matches!(u.scheme(), "http" | "https"))
                        .ok_or_else(|| Refusal::refused("unknown contact and no usable contact URL"))?;
                    Ok(Applied::NeedsContact(url))
                }
            }
        }
        DELETED => {
            let deleted: Deleted = serde_json::from_value(payload()?)
                .map_err(|e| Refusal::malformed(format!("payload: {e}")))?;
            tx.delete_user(deleted.id).await?;
            tx.resolve_parked_of(deleted.id, "the contact was deleted").await?;
            Ok(Applied::Done)
        }
        other => {
            tracing::warn!(entry = %event.entry_id, kind = other, "unknown feed event type; skipping");
            Ok(Applied::Skipped)
        }
    }
}

/// Names the first of `fields` that is missing or no string (serde's message names no field).
fn text_fields(payload: &Value, fields: &[&str]) -> Result<(), Refusal> {
    for field in fields {
        match payload.get(*field) {
            Some(Value::String(_)) => {}
            None => return Err(Refusal::malformed(format!("{field} is missing"))),
            Some(other) => return Err(Refusal::malformed(format!("{field} is {other}, not a string"))),
        }
    }
    Ok(())
}

/// A contact fetched from its URL, for the operator's retry: validated as the feed's are.
pub fn fetched_user(contact: Contact, at: i64, origins: &Origins) -> Result<User, Refusal> {
    contact.into_user(None, at, origins)
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

/// A name as contacts takes it: at most 100 characters as sent, trimmed, not empty, nothing
/// XML cannot carry and no control characters.
fn name(field: &str, raw: &str) -> Result<String, Refusal> {
    let count = raw.chars().count();
    if count > NAME_MAX_CHARS {
        return Err(Refusal::refused(format!("{field} has {count} characters, more than {NAME_MAX_CHARS}")));
    }
    let trimmed = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if trimmed.is_empty() {
        return Err(Refusal::refused(format!("{field} is empty")));
    }
    if let Some(c) = first_unsafe_char(trimmed, false) {
        return Err(Refusal::refused(format!(
            "{field} holds {}, which calendar does not store",
            describe(c)
        )));
    }
    Ok(trimmed.to_string())
}

fn email(raw: &str) -> Result<String, Refusal> {
    if let Some(c) = first_unsafe_char(raw.trim(), false) {
        return Err(Refusal::refused(format!("email holds {}, which calendar does not store", describe(c))));
    }
    let count = raw.chars().count();
    if count > 254 {
        return Err(Refusal::refused(format!("email has {count} characters, more than 254")));
    }
    let address = service_kit::email::normalize(raw.trim())
        .map_err(|refused| Refusal::refused(format!("email {refused}")))?;
    EmailAddress::from_normalized(address)
        .map(|e| e.as_str().to_string())
        .map_err(|_| Refusal::refused("email is not a valid e-mail address"))
}

/// The `type` label for the feed counters (bounded: unknown types share one).
pub fn type_label(kind: &str) -> &'static str {
    match kind {
        CREATED => CREATED,
        UPDATED => UPDATED,
        DELETED => DELETED,
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_contacts_rules() {
        assert_eq!(name("firstname", "  Zoë ").unwrap(), "Zoë");
        assert!(name("firstname", "").is_err());
        assert!(name("firstname", "   ").is_err());
        assert!(name("firstname", &"x".repeat(101)).is_err());
        assert!(name("firstname", &"é".repeat(100)).is_ok());
        assert!(name("firstname", &"x".repeat(3 * 1024 * 1024)).is_err());
        for bad in ["a\u{0}b", "a\rb", "a\u{85}b", "a\u{FFFE}b", "a\u{FDD0}"] {
            let refusal = name("lastname", bad).unwrap_err();
            assert_eq!(refusal.kind, "refused_entry");
            assert!(refusal.reason.starts_with("lastname"), "{}", refusal.reason);
        }
    }

    #[test]
    fn addresses_get_contacts_rules() {
        assert_eq!(email(" ann@example.org ").unwrap(), "ann@example.org");
        for bad in ["", "ann", "a@b@c", "ann\u{FFFF}@example.org", "a\u{0}@example.org"] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert!(email(&format!("{}@example.org", "a".repeat(250))).is_err());
    }
}
