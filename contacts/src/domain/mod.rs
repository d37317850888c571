//! The contacts domain: validated input types, the contact, and the events that change it.
//!
//! Input is parsed once at the edge into these types ("parse, don't validate"); past that point
//! a name is known to be trimmed and non-empty and an email address known to be well-formed.

mod contact;
mod event;
mod field_error;
mod fold;

pub use contact::{
    Contact, ContactChanges, ContactId, EMAIL_MAX_CHARS, EmailAddress, NAME_MAX_CHARS, NewContact,
    PersonName, Updates,
};
pub use event::{Event, EventData, EventKind, replay};
pub use field_error::FieldError;
pub use fold::fold;
