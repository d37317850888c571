//! The events that change contacts, their stored form, and how replaying them gives the state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::contact::{Contact, ContactId, Updates};

/// The three things that can happen to a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Updated,
    Deleted,
}

impl EventKind {
    pub const ALL: [Self; 3] = [Self::Created, Self::Updated, Self::Deleted];

    /// The wire name, used in the feed and the `type` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "contact-created",
            Self::Updated => "contact-updated",
            Self::Deleted => "contact-deleted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// What an event says, without presentation (URLs are added when the feed is rendered, so a
/// change of `PUBLIC_URL` does not leave old addresses in stored events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    Created { firstname: String, lastname: String, email: String },
    Updated(Updates),
    Deleted,
}

/// The stored form of [`EventData`] (the `data` column).
#[derive(Serialize, Deserialize)]
struct CreatedData {
    firstname: String,
    lastname: String,
    email: String,
}

impl EventData {
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Created { .. } => EventKind::Created,
            Self::Updated(_) => EventKind::Updated,
            Self::Deleted => EventKind::Deleted,
        }
    }

    pub fn created(contact: &Contact) -> Self {
        Self::Created {
            firstname: contact.firstname.clone(),
            lastname: contact.lastname.clone(),
            email: contact.email.clone(),
        }
    }

    /// JSON for the `data` column.
    pub fn to_json(&self) -> String {
        let value = match self {
            Self::Created { firstname, lastname, email } => serde_json::to_value(CreatedData {
                firstname: firstname.clone(),
                lastname: lastname.clone(),
                email: email.clone(),
            }),
            Self::Updated(updates) => serde_json::to_value(updates),
            Self::Deleted => Ok(serde_json::Value::Object(serde_json::Map::new())),
        };
        value.map(|v| v.to_string()).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads the `data` column back.
    pub fn from_json(kind: EventKind, json: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            EventKind::Created => {
                let d: CreatedData = serde_json::from_str(json)?;
                Self::Created { firstname: d.firstname, lastname: d.lastname, email: d.email }
            }
            EventKind::Updated => Self::Updated(serde_json::from_str(json)?),
            EventKind::Deleted => Self::Deleted,
        })
    }
}

/// One committed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the log: 1, 2, 3, ... in commit order, without gaps.
    pub sequence: i64,
    pub id: Uuid,
    pub contact_id: ContactId,
    /// Milliseconds since the Unix epoch.
    pub occurred_at: i64,
    pub data: EventData,
}

impl Event {
    /// Applies this event to a state of all contacts.
    pub fn apply(&self, contacts: &mut BTreeMap<ContactId, Contact>) {
        match &self.data {
            EventData::Created { firstname, lastname, email } => {
                contacts.insert(
                    self.contact_id,
                    Contact {
                        id: self.contact_id,
                        firstname: firstname.clone(),
                        lastname: lastname.clone(),
                        email: email.clone(),
                    },
                );
            }
            EventData::Updated(updates) => {
                if let Some(contact) = contacts.get_mut(&self.contact_id) {
                    updates.apply_to(contact);
                }
            }
            EventData::Deleted => {
                contacts.remove(&self.contact_id);
            }
        }
    }
}

/// The state of all contacts after `events` (in sequence order), from nothing.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> BTreeMap<ContactId, Contact> {
    let mut contacts = BTreeMap::new();
    for event in events {
        event.apply(&mut contacts);
    }
    contacts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(sequence: i64, contact_id: ContactId, data: EventData) -> Event {
        Event { sequence, id: Uuid::now_v7(), contact_id, occurred_at: 0, data }
    }

    #[test]
    fn replaying_created_updated_deleted_gives_the_final_state() {
        let (a, b) = (ContactId::generate(), ContactId::generate());
        let created = |f: &str| EventData::Created {
            firstname: f.into(),
            lastname: "Doe".into(),
            email: format!("{f}@example.org"),
        };
        let events = [
            event(1, a, created("ann")),
            event(2, b, created("bob")),
            event(3, a, EventData::Updated(Updates { lastname: Some("Roe".into()), ..Updates::default() })),
            event(4, b, EventData::Deleted),
        ];
        let state = replay(&events);
        assert_eq!(state.len(), 1);
        assert_eq!(state[&a].lastname, "Roe");
        assert_eq!(state[&a].firstname, "ann");
    }

    #[test]
    fn event_data_survives_its_column() {
        for data in [
            EventData::Created { firstname: "a".into(), lastname: "b".into(), email: "c@d.org".into() },
            EventData::Updated(Updates { email: Some("x@y.org".into()), ..Updates::default() }),
            EventData::Deleted,
        ] {
            assert_eq!(EventData::from_json(data.kind(), &data.to_json()).unwrap(), data);
        }
    }
}
