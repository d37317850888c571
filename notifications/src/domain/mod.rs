//! The notification job and the validated request that creates it.
//!
//! Input is parsed once at the edge ([`NewNotification::parse`], [`IdempotencyKey::parse`]);
//! past that point every address, subject and message is known to fit into an e-mail.

mod attachment;
mod invalid;
mod job;
mod request;

pub use attachment::{Content, MAX_PART_BYTES, MAX_PARTS, MAX_PARTS_BYTES, Part, PartRequest};
pub use invalid::InvalidField;
pub use job::{Job, JobStatus};
pub use request::{
    AddressRules, DEFAULT_SUBJECT, IdempotencyKey, MAX_MESSAGE_CHARS, MAX_RECIPIENTS, MAX_SUBJECT_CHARS,
    NewNotification, NotificationRequest, NotificationRequestSchema, ScopedKey,
};
