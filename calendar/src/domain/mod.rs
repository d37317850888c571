//! Validated domain input: parsed once at the handler edge ("parse, don't validate").

mod email;
mod event;
mod invalid;
mod month;

pub use email::EmailAddress;
pub use event::{EventDraft, EventForm, EventInput, EventTitle, NumberOrText, When};
pub use invalid::Invalid;
pub use month::Month;
